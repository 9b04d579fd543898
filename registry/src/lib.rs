//! The DappMesh registry: a durable service registry for widgets and a catalog of data
//! products, compatible with the idea-lab registry API.
//!
//! Data moves one way: [`http`] takes a request, has it authorized ([`auth`], by the
//! tokens [`keyring`] holds in force) and its body parsed and checked ([`service`],
//! [`catalog`], [`input`], with the shared rules of [`registry_api`]); the single writer commits it to SQLite ([`state`], [`store`]), and
//! only then is it visible to reads and watchers ([`http::watch`]). Nothing below [`http`]
//! imports from it. [`app`] builds the HTTP service for `main` and for tests alike.
//!
//! It depends on `registry-api` (what it shares with its clients) and `dappmesh-service`
//! (what it shares with the other services), never on a client of its own.

pub mod auth;
pub mod catalog;
pub mod clock;
pub mod heartbeat;
pub mod http;
pub mod input;
pub mod keyring;
pub mod metrics;
pub mod service;
pub mod state;
pub mod store;
pub mod ttl;

pub use http::{AppState, app};
