//! What the DappMesh services (the registry, the dashboard, the operator) share, so that
//! they answer, compress, stop and report alike: the JSON error response ([`error`]),
//! gzip negotiation ([`encoding`]), shutdown signals ([`shutdown`]), process set-up
//! ([`startup`]), the Prometheus text format ([`prometheus`]) and serving connections
//! under hostile load ([`server`]).
//!
//! It knows nothing of any one service: no registry types, no routes, no state. It may
//! depend on axum, tokio and tracing, never on a service crate.

pub mod encoding;
pub mod error;
pub mod prometheus;
pub mod server;
pub mod shutdown;
pub mod startup;
