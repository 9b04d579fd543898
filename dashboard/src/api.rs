//! The HTTP service: the page, the cached lists, the bundle proxy and the probes, and which
//! refusal each failure is (as the services' shared JSON [`ErrorResponse`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dappmesh_service::error::{ErrorResponse, no_route, panic_response, wrong_method};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use url::Url;

use crate::bundle::{BundleError, Bundles, Kind};
use crate::listing::{Current, Listing};
use crate::page;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub listing: Arc<Listing>,
    pub bundles: Arc<Bundles>,
    /// The Content-Security-Policy header, computed once.
    pub csp: HeaderValue,
}

/// The one answer to every bundle that cannot be served, whatever the reason: a refused
/// address, a closed port, a timeout, an upstream error, a wrong type, a size over the
/// limit, a changed body. Telling them apart would make the proxy a port scanner for
/// anyone who can register a widget; the reason goes to the log.
fn unavailable(id: &str, url: &Url, e: &BundleError) -> ErrorResponse {
    match e {
        BundleError::Changed { .. } => {
            tracing::error!(widget = id, %url, error = %e, "bundle refused: it changed under its registration");
        }
        _ => tracing::warn!(widget = id, %url, error = %e, "bundle not served"),
    }
    ErrorResponse::new(
        StatusCode::BAD_GATEWAY,
        "bundle_unavailable",
        "the widget's bundle cannot be served",
    )
}

fn json_bytes(body: axum::body::Bytes) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

fn list(current: Current) -> Result<Response, ErrorResponse> {
    match current {
        Current::Ready(body) => Ok(json_bytes(body)),
        Current::Unavailable(reason) => Err(ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "registry_unavailable",
            format!("no list has been read from the registry yet: {reason}"),
        )),
    }
}

async fn widgets(State(state): State<AppState>) -> Result<Response, ErrorResponse> {
    list(state.listing.widgets())
}

async fn products(State(state): State<AppState>) -> Result<Response, ErrorResponse> {
    list(state.listing.products())
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ErrorResponse> {
    if state.listing.is_ready() {
        Ok(Json(json!({"status": "ready"})))
    } else {
        Err(ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the registry has not been read yet",
        ))
    }
}

/// The registered bundle a request names: `{id}` and `?url=…`, which must be the widget's
/// `jsUrl` or `cssUrl`.
fn registered(
    state: &AppState,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<(String, Kind, Url), ErrorResponse> {
    let Path(id) =
        id.map_err(|r| ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text()))?;
    let Query(query) = query
        .map_err(|r| ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text()))?;
    let Some(asked) = query.get("url") else {
        return Err(ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "missing_url",
            "give the bundle URL as ?url=…",
        ));
    };
    let Some(registered) = state.listing.bundle(&id) else {
        return Err(ErrorResponse::new(
            StatusCode::NOT_FOUND,
            "unknown_widget",
            "no widget with this id is registered",
        ));
    };
    // The URL asked for is compared, after parsing, with the ones registered: the proxy
    // never fetches anything else.
    let asked = Url::parse(asked).ok();
    let kind_and_url = match (&asked, registered.js, registered.css) {
        (Some(a), Some(js), _) if *a == js => Some((Kind::Script, js)),
        (Some(a), _, Some(css)) if *a == css => Some((Kind::Style, css)),
        _ => None,
    };
    let Some((kind, url)) = kind_and_url else {
        return Err(ErrorResponse::new(
            StatusCode::FORBIDDEN,
            "not_registered",
            "this URL is not a bundle registered for this widget",
        ));
    };
    Ok((id, kind, url))
}

/// `GET /api/bundles/{id}?url=…`: the widget's registered script or stylesheet.
async fn bundle(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let (id, kind, url) = registered(&state, id, query)?;
    let fetched = state
        .bundles
        .get(&url, kind)
        .await
        .map_err(|e| unavailable(&id, &url, &e))?;
    let etag = HeaderValue::from_str(&fetched.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = [
        (ETAG, etag),
        (
            CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        ),
    ];
    if page::not_modified(&headers, &fetched.etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(CONTENT_TYPE, HeaderValue::from_static(kind.content_type()))],
        fetched.body,
    )
        .into_response())
}

/// `GET /api/bundles/{id}/integrity?url=…`: `{"integrity":"sha256-…"}`, the value the page
/// puts in the `integrity` attribute of the bundle's `<script>` or `<link>`. It fetches
/// (and pins) the bundle when it is not cached, so the load that follows is a cache hit.
async fn bundle_integrity(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ErrorResponse> {
    let (id, kind, url) = registered(&state, id, query)?;
    let fetched = state
        .bundles
        .get(&url, kind)
        .await
        .map_err(|e| unavailable(&id, &url, &e))?;
    Ok(json_bytes(axum::body::Bytes::from(
        json!({"integrity": fetched.integrity}).to_string(),
    )))
}

async fn page_or_not_found(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if (method == Method::GET || method == Method::HEAD)
        && let Some(response) = page::serve(uri.path(), &headers)
    {
        return response;
    }
    no_route(method, uri).await.into_response()
}

async fn security_headers(State(csp): State<HeaderValue>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    page::secure(response.headers_mut(), &csp);
    response
}

/// The whole HTTP service.
pub fn app(state: AppState) -> Router {
    let csp = state.csp.clone();
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/widgets", get(widgets))
        .route("/api/products", get(products))
        .route("/api/bundles/{id}", get(bundle))
        .route("/api/bundles/{id}/integrity", get(bundle_integrity))
        .fallback(page_or_not_found)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(csp, security_headers))
        .layer(CatchPanicLayer::custom(panic_response))
}
