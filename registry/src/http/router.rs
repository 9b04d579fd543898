//! The router: the one list of endpoints (which the OpenAPI test compares with the
//! document), the fallbacks that keep unknown routes and methods in the JSON error shape,
//! and the layers every request passes (body limit, CORS, metrics, panic catching).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use dappmesh_service::error::{no_route, panic_response, wrong_method};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{AppState, INDEX_HEADER, MAX_BODY_BYTES, routes};
use crate::metrics::Metrics;

/// The methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Delete => "delete",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One route: the single list that the router is built from and that the OpenAPI test
/// compares the document with.
pub struct Endpoint {
    pub verb: Verb,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn ep<H, T>(verb: Verb, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Endpoint {
        verb,
        path,
        handler: on(verb.filter(), handler),
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    use Verb::{Delete, Get, Post, Put};
    vec![
        ep(Get, "/health", routes::health),
        ep(Get, "/ready", routes::ready),
        ep(Get, METRICS_PATH, routes::metrics),
        ep(Get, "/openapi.json", routes::openapi),
        ep(Get, "/api/v1/registry", routes::list_registrations),
        ep(Get, "/api/v1/registry/{id}", routes::get_registration),
        ep(Post, "/api/v1/registry/{id}", routes::register),
        ep(Delete, "/api/v1/registry/{id}", routes::deregister),
        ep(Get, "/api/v1/products", routes::list_products),
        ep(Get, "/api/v1/products/{id}", routes::get_product),
        ep(Put, "/api/v1/products/{id}", routes::put_product),
        ep(Delete, "/api/v1/products/{id}", routes::delete_product),
        ep(Get, "/api/v1/watch/registry", routes::registry_events),
        ep(Get, "/api/v1/watch/products", routes::product_events),
    ]
}

/// Where Prometheus scrapes: on the API's port, or alone on `--metrics-port`.
const METRICS_PATH: &str = "/metrics";

/// The whole HTTP service on one port.
pub fn app(state: AppState) -> Router {
    build(state, endpoints())
}

/// The HTTP service split for a metrics port of its own: the API without `/metrics` (a
/// request for it there is a JSON 404 like any unknown path), and `/metrics` alone. Both
/// have the same fallbacks and layers, so scrapes are counted and every other path on the
/// metrics port is a JSON 404 too.
pub fn app_with_metrics_apart(state: AppState) -> (Router, Router) {
    let (metrics, api): (Vec<Endpoint>, Vec<Endpoint>) = endpoints()
        .into_iter()
        .partition(|e| e.path == METRICS_PATH);
    (build(state.clone(), api), build(state, metrics))
}

fn build(state: AppState, endpoints: Vec<Endpoint>) -> Router {
    let mut router = Router::new();
    for e in endpoints {
        router = router.route(e.path, e.handler);
    }
    let mut router = router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
    if !state.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(state.cors_origins.clone()))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([CONTENT_TYPE, axum::http::header::AUTHORIZATION])
                .expose_headers([INDEX_HEADER.clone(), ALLOW])
                .max_age(Duration::from_secs(600)),
        );
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            track,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Middleware: counts every response by route template (`other` for unmatched paths).
async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    // The router sets the matched route's template, so the label set is bounded by the
    // routes it has, whatever paths clients send.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    metrics.observe(
        route.as_ref().map_or("other", MatchedPath::as_str),
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A `'static` label for the methods the API knows; any other is `OTHER`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Checks a CORS origin (`https://host[:port]`, nothing else) and turns it into the header
/// value the CORS layer compares with.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    crate::input::check_url("--cors-origin", origin).map_err(|e| e.to_string())?;
    let url = url::Url::parse(origin).map_err(|e| e.to_string())?;
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || origin.ends_with('/')
    {
        return Err(format!(
            "--cors-origin {origin}: an origin is scheme://host[:port], without a path"
        ));
    }
    HeaderValue::from_str(origin).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_bare() {
        assert!(parse_origin("https://dash.example").is_ok());
        assert!(parse_origin("http://localhost:3000").is_ok());
        for bad in [
            "https://dash.example/",
            "https://d.example/x",
            "*",
            "null",
            "javascript:x",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
