//! The DappMesh registry: a durable service registry for widgets and a catalog of data
//! products, compatible with the idea-lab registry API.
//!
//! Data moves one way: a request body is parsed and checked ([`service`], [`catalog`],
//! [`input`], with the shared rules of [`registry_api`]), authorized ([`auth`]), committed to SQLite by the single writer
//! ([`state`], [`store`]), and only then visible to reads and watchers ([`watch`]).
//! [`app`] builds the HTTP service for `main` and for tests alike.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod heartbeat;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod service;
pub mod state;
pub mod store;
pub mod ttl;
pub mod watch;

pub use api::{AppState, app};
