//! The HTTP API: the routes, their handlers, and how every refusal becomes a JSON error
//! `{"error": code, "message": text}` with the right status.
//!
//! Handlers are plain async functions over [`AppState`]. Bodies and path ids go through
//! this module's own extractors so that axum's rejections (wrong content type, body too
//! large, malformed path) come out in the same JSON shape as everything else; unknown
//! routes and methods do too. Internal errors are logged here and reach the client only as
//! "internal error": SQL and file paths stay on the server.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::handler::Handler;
use axum::http::header::{ALLOW, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use dappmesh_service::encoding::accepts_gzip;
pub use dappmesh_service::error::ErrorResponse as AppError;
use dappmesh_service::error::panic_response;
use dappmesh_service::prometheus;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{Denied, Need, ReadAccess, Tokens};
use crate::catalog::parse_product;
use registry_api::text::{IdKind, Invalid, check_id};

use crate::input::BodyError;
use crate::metrics::Metrics;
use crate::service::parse_registration;
use crate::state::{Registry, WriteError};
use crate::store::Collection;
use crate::watch::{Watch, events, wait_for_change};

/// Largest request body: a registration is a few hundred bytes, a product a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The change index of the collection a response shows (as Consul's `X-Consul-Index`).
pub static INDEX_HEADER: HeaderName = HeaderName::from_static("x-registry-index");

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub tokens: Arc<Tokens>,
    pub reads: ReadAccess,
    pub metrics: Arc<Metrics>,
    /// Open long-polls and event streams; a request beyond the limit gets 503.
    pub watchers: Arc<Semaphore>,
    /// Turns true when the server is shutting down, which ends event streams.
    pub shutdown: watch::Receiver<bool>,
    /// Origins allowed to call from a browser; none means no CORS headers at all.
    pub cors_origins: Vec<HeaderValue>,
}

/// idea-lab answered a missing registration with `{"message":"Not Found"}`.
fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

pub(crate) fn busy() -> AppError {
    AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_watchers",
        "too many open long-polls and event streams; retry later",
    )
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Unauthenticated => AppError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required (Authorization: Bearer <token>)",
            ),
            Denied::Forbidden => AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is not allowed to do this",
            ),
        }
    }
}

impl From<BodyError> for AppError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Syntax(detail) => AppError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {detail}"),
            ),
            BodyError::Invalid(e) => invalid_body(&e),
        }
    }
}

fn invalid_body(e: &Invalid) -> AppError {
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        e.to_string(),
    )
}

impl From<WriteError> for AppError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Capacity(..) => {
                AppError::new(StatusCode::INSUFFICIENT_STORAGE, "capacity", e.to_string())
            }
            WriteError::Timeout | WriteError::Stopped => {
                tracing::warn!(error = %e, "write not committed");
                AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the write could not be committed in time; retry",
                )
            }
            WriteError::Store(e) => {
                tracing::error!(error = %e, "write failed");
                AppError::internal()
            }
        }
    }
}

/// A JSON request body, as bytes: the content type is checked and the size limited here,
/// and each endpoint parses it into its own checked type.
struct JsonBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    status,
                    "payload_too_large",
                    format!("the body must be at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                AppError::new(status, "bad_body", rejection.body_text())
            }
        })?;
        Ok(JsonBody(bytes))
    }
}

async fn path_id(parts: &mut Parts, kind: IdKind) -> Result<String, AppError> {
    let Path(id) = Path::<String>::from_request_parts(parts, &())
        .await
        .map_err(|r| AppError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text()))?;
    check_id(kind, &id)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()))?;
    Ok(id)
}

/// A registration id from the path, checked.
struct RegistrationId(String);

impl<S: Send + Sync> FromRequestParts<S> for RegistrationId {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        path_id(parts, IdKind::Registration)
            .await
            .map(RegistrationId)
    }
}

/// A product id (a name or a DPDS URN) from the path, checked.
struct ProductId(String);

impl<S: Send + Sync> FromRequestParts<S> for ProductId {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        path_id(parts, IdKind::Product).await.map(ProductId)
    }
}

pub(crate) fn check(state: &AppState, headers: &HeaderMap, need: Need<'_>) -> Result<(), AppError> {
    Ok(state.tokens.check(headers, need, state.reads)?)
}

pub(crate) fn json_response(status: StatusCode, body: Bytes, index: Option<u64>) -> Response {
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    if let Some(index) = index {
        response
            .headers_mut()
            .insert(INDEX_HEADER.clone(), HeaderValue::from(index));
    }
    response
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    state.registry.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is not reachable",
        )
    })?;
    Ok(Json(json!({"status": "ready"})))
}

async fn metrics(State(state): State<AppState>) -> Response {
    prometheus::response(state.metrics.render(&state.registry))
}

async fn openapi() -> Response {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    let doc = DOC.get_or_init(|| Bytes::from(crate::openapi::document().to_string()));
    json_response(StatusCode::OK, doc.clone(), None)
}

async fn list_registrations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Watch(params): Watch,
) -> Result<Response, AppError> {
    check(&state, &headers, Need::Read)?;
    wait_for_change(&state, Collection::Registry, &params).await?;
    if accepts_gzip(&headers) {
        let (index, body) = state.registry.list_gzip();
        let mut response = json_response(StatusCode::OK, body, Some(index));
        let h = response.headers_mut();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
        return Ok(response);
    }
    let (index, body) = state.registry.list_json();
    let mut response = json_response(StatusCode::OK, body, Some(index));
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

async fn get_registration(
    State(state): State<AppState>,
    headers: HeaderMap,
    RegistrationId(id): RegistrationId,
) -> Result<Response, AppError> {
    check(&state, &headers, Need::Read)?;
    let body = state
        .registry
        .registration_json(&id)
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, body, None))
}

/// Registers or heartbeats, and echoes the body back as idea-lab did (200 either way:
/// idea-lab-era clients know no 201).
async fn register(
    State(state): State<AppState>,
    RegistrationId(id): RegistrationId,
    req: Request,
) -> Result<Response, AppError> {
    // The token is checked before the body is read, so an unauthenticated client learns
    // nothing about the body rules.
    check(
        &state,
        req.headers(),
        Need::Write(Collection::Registry, &id),
    )?;
    let JsonBody(body) = JsonBody::from_request(req, &()).await?;
    let reg = parse_registration(&body, state.registry.policy())?;
    let service = Bytes::from(reg.service.get().to_owned());
    state.registry.register(id, reg).await?;
    Ok(json_response(
        StatusCode::OK,
        service,
        Some(state.registry.index(Collection::Registry)),
    ))
}

async fn deregister(
    State(state): State<AppState>,
    headers: HeaderMap,
    RegistrationId(id): RegistrationId,
) -> Result<StatusCode, AppError> {
    check(&state, &headers, Need::Write(Collection::Registry, &id))?;
    if state.registry.deregister(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

async fn list_products(
    State(state): State<AppState>,
    headers: HeaderMap,
    Watch(params): Watch,
) -> Result<Response, AppError> {
    check(&state, &headers, Need::Read)?;
    wait_for_change(&state, Collection::Products, &params).await?;
    let (index, body) = state.registry.products_json();
    Ok(json_response(StatusCode::OK, body, Some(index)))
}

async fn get_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    ProductId(id): ProductId,
) -> Result<Response, AppError> {
    check(&state, &headers, Need::Read)?;
    let body = state.registry.product_json(&id).ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, body, None))
}

async fn put_product(
    State(state): State<AppState>,
    ProductId(id): ProductId,
    req: Request,
) -> Result<Response, AppError> {
    check(
        &state,
        req.headers(),
        Need::Write(Collection::Products, &id),
    )?;
    let JsonBody(body) = JsonBody::from_request(req, &()).await?;
    let product = parse_product(&id, &body)?;
    let created = state.registry.put_product(id.clone(), product).await?;
    let body = state.registry.product_json(&id).ok_or_else(not_found)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        body,
        Some(state.registry.index(Collection::Products)),
    ))
}

async fn delete_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    ProductId(id): ProductId,
) -> Result<StatusCode, AppError> {
    check(&state, &headers, Need::Write(Collection::Products, &id))?;
    if state.registry.delete_product(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

async fn registry_events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    events(state, &headers, Collection::Registry)
}

async fn product_events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    events(state, &headers, Collection::Products)
}

async fn no_route(method: Method, uri: axum::http::Uri) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn wrong_method(method: Method) -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here (see the Allow header)"),
    )
}

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
        ep(Get, "/health", health),
        ep(Get, "/ready", ready),
        ep(Get, "/metrics", metrics),
        ep(Get, "/openapi.json", openapi),
        ep(Get, "/api/v1/registry", list_registrations),
        ep(Get, "/api/v1/registry/{id}", get_registration),
        ep(Post, "/api/v1/registry/{id}", register),
        ep(Delete, "/api/v1/registry/{id}", deregister),
        ep(Get, "/api/v1/products", list_products),
        ep(Get, "/api/v1/products/{id}", get_product),
        ep(Put, "/api/v1/products/{id}", put_product),
        ep(Delete, "/api/v1/products/{id}", delete_product),
        ep(Get, "/api/v1/watch/registry", registry_events),
        ep(Get, "/api/v1/watch/products", product_events),
    ]
}

/// The route template a matched path came from, as a `'static` metric label.
pub fn route_label(matched: &str) -> &'static str {
    static PATHS: OnceLock<Vec<&'static str>> = OnceLock::new();
    PATHS
        .get_or_init(|| endpoints().into_iter().map(|e| e.path).collect())
        .iter()
        .find(|p| **p == matched)
        .copied()
        .unwrap_or("other")
}

/// The whole HTTP service.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for e in endpoints() {
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
            crate::metrics::track,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
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
    use crate::clock::ManualClock;
    use crate::state::Limits;
    use crate::store::Store;
    use crate::ttl::TtlPolicy;
    use axum::body::Body;
    use tower::ServiceExt;

    const ADMIN: &str = "admin-token-0123456789";
    const TEAM_A: &str = "team-a-token-0123456789";
    const IDEA_LAB: &str = r#"{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css","componentId":"<w-tag param_one=\"x\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}"#;

    fn state(reads: ReadAccess) -> AppState {
        let mut tokens = Tokens::default();
        tokens
            .add(
                "test",
                &format!("{ADMIN} registry:* products:* read\n{TEAM_A} registry:team-a.*"),
            )
            .unwrap();
        let (registry, _writer) = Registry::start(
            Store::open_in_memory().unwrap(),
            Arc::new(ManualClock::at(1_697_921_633_893_639)),
            TtlPolicy::default(),
            Limits {
                max_registrations: 100,
                max_products: 100,
            },
        )
        .unwrap();
        // A dropped sender means "shut down"; these tests never do.
        let (stop, shutdown) = watch::channel(false);
        Box::leak(Box::new(stop));
        AppState {
            registry,
            tokens: Arc::new(tokens),
            reads,
            metrics: Arc::new(Metrics::default()),
            watchers: Arc::new(Semaphore::new(4)),
            shutdown,
            cors_origins: vec![HeaderValue::from_static("https://dash.example")],
        }
    }

    struct Sent {
        status: StatusCode,
        headers: HeaderMap,
        json: serde_json::Value,
    }

    async fn send(app: &Router, req: axum::http::Request<Body>) -> Sent {
        let response = app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Sent {
            status,
            headers,
            json,
        }
    }

    fn post(path: &str, token: Option<&str>, body: impl Into<Body>) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::post(path).header(CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(body.into()).unwrap()
    }

    fn get(path: &str) -> axum::http::Request<Body> {
        axum::http::Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn idea_lab_shapes() {
        let app = app(state(ReadAccess::Open));
        let r = send(&app, post("/api/v1/registry/w", Some(ADMIN), IDEA_LAB)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.json,
            serde_json::from_str::<serde_json::Value>(IDEA_LAB).unwrap()
        );
        let list = send(&app, get("/api/v1/registry")).await;
        assert_eq!(list.status, StatusCode::OK);
        let item = &list.json[0];
        assert_eq!(item["id"], "w");
        assert_eq!(item["service"], r.json);
        assert_eq!(item["lastUpdated"], "2023-10-21T20:53:53.893639Z");
        assert_eq!(
            item["widget"],
            serde_json::json!({"tag": "w-tag", "attributes": {"param_one": "x"}})
        );
        let one = send(&app, get("/api/v1/registry/w")).await;
        assert_eq!(one.json["service"], r.json);
        assert_eq!(one.json["lastUpdated"], item["lastUpdated"]);
        let missing = send(&app, get("/api/v1/registry/nope")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.json,
            serde_json::json!({"error": "not_found", "message": "Not Found"})
        );
        assert_eq!(send(&app, get("/health")).await.status, StatusCode::OK);
        assert_eq!(send(&app, get("/ready")).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn every_rejection_is_json_with_the_right_status() {
        let app = app(state(ReadAccess::Open));
        let big = format!(r#"{{"label":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let cases: Vec<(axum::http::Request<Body>, StatusCode, &str)> = vec![
            (
                post("/api/v1/registry/w", Some(ADMIN), "{"),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                post(
                    "/api/v1/registry/w",
                    Some(ADMIN),
                    "{\"label\":\"a\",\"label\":\"b\"}",
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                post("/api/v1/registry/w", Some(ADMIN), big),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                axum::http::Request::post("/api/v1/registry/w")
                    .header("authorization", format!("Bearer {ADMIN}"))
                    .header(CONTENT_TYPE, "text/plain")
                    .body(Body::from("{}"))
                    .unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                post("/api/v1/registry/w", None, "{}"),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                post("/api/v1/registry/w", Some("wrong-token-0123456789"), "{}"),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                post("/api/v1/registry/w", Some(TEAM_A), "{}"),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                post("/api/v1/registry/bad%2Fid", Some(ADMIN), "{}"),
                StatusCode::BAD_REQUEST,
                "invalid_id",
            ),
            (
                post("/api/v1/registry/%FF", Some(ADMIN), "{}"),
                StatusCode::BAD_REQUEST,
                "invalid_path",
            ),
            (
                get("/api/v1/registry?index=x"),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                get("/api/v1/registry?index=1&wait=forever"),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (get("/nowhere"), StatusCode::NOT_FOUND, "no_route"),
            (
                axum::http::Request::patch("/api/v1/registry/w")
                    .body(Body::empty())
                    .unwrap(),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
            (
                axum::http::Request::put("/api/v1/products/p")
                    .header("authorization", format!("Bearer {TEAM_A}"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
        ];
        for (req, status, code) in cases {
            let what = format!("{} {}", req.method(), req.uri());
            let r = send(&app, req).await;
            assert_eq!(
                (r.status, r.json["error"].as_str()),
                (status, Some(code)),
                "{what}: {}",
                r.json
            );
            assert!(r.json["message"].is_string(), "{what}");
        }
        let r = send(&app, post("/api/v1/registry/w", None, "{}")).await;
        assert_eq!(r.headers[axum::http::header::WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn protected_reads_need_the_read_grant() {
        let app = app(state(ReadAccess::Token));
        assert_eq!(
            send(&app, get("/api/v1/registry")).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&app, get("/api/v1/products")).await.status,
            StatusCode::UNAUTHORIZED
        );
        let authed = |path: &str, token: &str| {
            axum::http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            send(&app, authed("/api/v1/registry", ADMIN)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, authed("/api/v1/registry", TEAM_A)).await.status,
            StatusCode::FORBIDDEN
        );
        // Probes and metrics stay open for the kubelet and Prometheus.
        assert_eq!(send(&app, get("/health")).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn cors_answers_only_configured_origins() {
        let app = app(state(ReadAccess::Open));
        let from = |origin: &str| {
            axum::http::Request::get("/api/v1/registry")
                .header("origin", origin)
                .body(Body::empty())
                .unwrap()
        };
        let ok = send(&app, from("https://dash.example")).await;
        assert_eq!(
            ok.headers["access-control-allow-origin"],
            "https://dash.example"
        );
        let other = send(&app, from("https://evil.example")).await;
        assert!(other.headers.get("access-control-allow-origin").is_none());
    }

    #[tokio::test]
    async fn deregistering_and_the_catalog_round_trip() {
        let app = app(state(ReadAccess::Open));
        send(&app, post("/api/v1/registry/team-a.w", Some(TEAM_A), "{}")).await;
        let del = |path: &str, token: &str| {
            axum::http::Request::delete(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            send(&app, del("/api/v1/registry/team-a.w", TEAM_A))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send(&app, del("/api/v1/registry/team-a.w", TEAM_A))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let put = |body: &str| {
            axum::http::Request::put("/api/v1/products/urn:dpds:acme:dataproducts:orders:1")
                .header("authorization", format!("Bearer {ADMIN}"))
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_owned()))
                .unwrap()
        };
        let doc = r#"{"name":"orders","domain":"sales","owner":"team","version":"1.2.0","status":"active"}"#;
        let created = send(&app, put(doc)).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.json["id"], "urn:dpds:acme:dataproducts:orders:1");
        assert_eq!(send(&app, put(doc)).await.status, StatusCode::OK);
        let wrong_major = doc.replace("1.2.0", "2.0.0");
        assert_eq!(
            send(&app, put(&wrong_major)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let list = send(&app, get("/api/v1/products")).await;
        assert_eq!(list.json[0]["product"]["version"], "1.2.0");
        assert_eq!(
            send(
                &app,
                del(
                    "/api/v1/products/urn:dpds:acme:dataproducts:orders:1",
                    ADMIN
                )
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
    }

    #[tokio::test]
    async fn a_long_poll_answers_when_the_index_moves() {
        let app = app(state(ReadAccess::Open));
        let first = send(&app, get("/api/v1/registry")).await;
        let index: u64 = first.headers[&INDEX_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let waiting = tokio::spawn({
            let app = app.clone();
            async move {
                send(
                    &app,
                    get(&format!("/api/v1/registry?index={index}&wait=30s")),
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        send(&app, post("/api/v1/registry/w", Some(ADMIN), IDEA_LAB)).await;
        let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        let next: u64 = answer.headers[&INDEX_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(next > index);
        assert_eq!(answer.json[0]["id"], "w");
        // An index from the future (another server, a reset) answers at once.
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            send(
                &app,
                get(&format!("/api/v1/registry?index={}&wait=30s", next + 100)),
            ),
        )
        .await
        .unwrap();
        assert_eq!(r.status, StatusCode::OK);
    }

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

    #[test]
    fn every_route_has_a_metric_label() {
        for e in endpoints() {
            assert_eq!(route_label(e.path), e.path);
        }
        assert_eq!(route_label("/x/{y}"), "other");
    }
}
