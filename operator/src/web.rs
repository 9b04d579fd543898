//! The operator's HTTP endpoints: `/metrics` for Prometheus, `/healthz` (the process
//! answers) and `/readyz` (the API server answers it and serves DataProducts).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use dappmesh_service::error::{ErrorResponse, no_route, wrong_method};
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
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(shared)
}

async fn metrics(State(shared): State<Shared>) -> Response {
    prometheus::response(shared.metrics.render())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Not ready is the services' JSON error (`not_ready`, with `Retry-After`), as at the
/// registry and the dashboard.
async fn readyz(State(shared): State<Shared>) -> Result<&'static str, ErrorResponse> {
    if shared.ready.load(Ordering::Relaxed) {
        Ok("ok")
    } else {
        Err(ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the API server has not listed DataProducts yet",
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test]
    async fn readiness_follows_the_first_listing() {
        let shared = Shared::default();
        let r = readyz(State(shared.clone())).await.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()["content-type"], "application/json");
        shared.ready.store(true, Ordering::Relaxed);
        let r = readyz(State(shared)).await.into_response();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
