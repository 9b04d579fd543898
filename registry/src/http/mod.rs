//! The HTTP layer, the only part of the registry that knows about requests: the
//! [`router`], the handlers ([`routes`]), what they take from a request ([`extract`]:
//! ids, the JSON body and the token's grants), long-polls and event streams ([`watch`]),
//! the OpenAPI document ([`openapi`]), and how failures become responses ([`error`]).
//!
//! Data flows one way: this layer calls [`crate::state`], [`crate::catalog`],
//! [`crate::service`] and [`crate::auth`]; nothing there imports from here.

mod error;
mod extract;
pub mod openapi;
mod router;
mod routes;
pub mod watch;

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use tokio::sync::watch as flag;

pub use router::{Endpoint, Verb, app, app_with_metrics_apart, endpoints, parse_origin};

use crate::auth::ReadAccess;
use crate::keyring::Keyring;
use crate::metrics::Metrics;
use crate::state::Registry;

/// Largest request body: a registration is a few hundred bytes, a product a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The change index of the collection a response shows (as Consul's `X-Consul-Index`).
pub static INDEX_HEADER: HeaderName = HeaderName::from_static("x-registry-index");

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    /// The tokens in force; a reload swaps them between requests.
    pub keyring: Arc<Keyring>,
    pub reads: ReadAccess,
    pub metrics: Arc<Metrics>,
    /// Open long-polls and event streams; a request beyond the limits gets 503.
    pub watchers: Arc<watch::Watchers>,
    /// Turns true when the server is shutting down, which ends event streams.
    pub shutdown: flag::Receiver<bool>,
    /// Origins allowed to call from a browser; none means no CORS headers at all.
    pub cors_origins: Vec<HeaderValue>,
}
