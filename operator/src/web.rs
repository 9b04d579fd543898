//! The operator's HTTP endpoints: `/metrics` for Prometheus, `/healthz` (the process
//! answers) and `/readyz` (the API server answers it and serves DataProducts).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use dappmesh_service::prometheus;

use crate::metrics::Metrics;

/// What the endpoints read, shared with the controller.
#[derive(Clone, Default)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Set once the API server has listed DataProducts for the operator.
    pub ready: Arc<AtomicBool>,
}

pub fn app(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

async fn metrics(State(shared): State<Shared>) -> Response {
    prometheus::response(shared.metrics.render())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(shared): State<Shared>) -> (StatusCode, &'static str) {
    if shared.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the API server has not listed DataProducts yet",
        )
    }
}
