//! The handlers, one per endpoint: each takes its checked inputs from [`super::extract`]
//! and answers with the registry's JSON (or a shared [`ErrorResponse`]).

use std::sync::OnceLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dappmesh_service::encoding::accepts_gzip;
use dappmesh_service::error::ErrorResponse;
use dappmesh_service::prometheus;
use serde_json::json;

use super::error::not_found;
use super::extract::{
    JsonBody, Presented, ProductId, Reader, RegistrationId, WatchCaller, WritableProduct,
    WritableRegistration,
};
use super::watch::{Watch, events, wait_for_change};
use super::{AppState, INDEX_HEADER};
use crate::catalog::parse_product;
use crate::service::parse_registration;
use crate::store::Collection;

pub(super) fn json_response(status: StatusCode, body: Bytes, index: Option<u64>) -> Response {
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

pub(super) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

pub(super) async fn ready(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ErrorResponse> {
    let pinged = state.registry.ping().await;
    if state.registry.disk_full() {
        // Logged once by the writer when the disk filled up; the probe above tried a
        // write, so a freed disk turns this green without any client write.
        return Err(ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the disk is full: writes fail",
        ));
    }
    pinged.map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        ErrorResponse::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is not reachable",
        )
    })?;
    Ok(Json(json!({"status": "ready"})))
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    prometheus::response(state.metrics.render(&state.registry))
}

pub(super) async fn openapi() -> Response {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    let doc = DOC.get_or_init(|| Bytes::from(super::openapi::document().to_string()));
    json_response(StatusCode::OK, doc.clone(), None)
}

pub(super) async fn list_registrations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Watch(params): Watch,
    _: Reader,
    WatchCaller(caller): WatchCaller,
) -> Result<Response, ErrorResponse> {
    wait_for_change(&state, Collection::Registry, &params, caller).await?;
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

pub(super) async fn get_registration(
    State(state): State<AppState>,
    RegistrationId(id): RegistrationId,
    _: Reader,
) -> Result<Response, ErrorResponse> {
    let body = state
        .registry
        .registration_json(&id)
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, body, None))
}

/// Registers or heartbeats, and echoes the body back as idea-lab did (200 either way:
/// idea-lab-era clients know no 201).
pub(super) async fn register(
    State(state): State<AppState>,
    WritableRegistration(id): WritableRegistration,
    JsonBody(body): JsonBody,
) -> Result<Response, ErrorResponse> {
    let reg = parse_registration(&body, state.registry.policy())?;
    let service = Bytes::from(reg.service.get().to_owned());
    state.registry.register(id, reg).await?;
    Ok(json_response(
        StatusCode::OK,
        service,
        Some(state.registry.index(Collection::Registry)),
    ))
}

pub(super) async fn deregister(
    State(state): State<AppState>,
    WritableRegistration(id): WritableRegistration,
) -> Result<StatusCode, ErrorResponse> {
    if state.registry.deregister(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

pub(super) async fn list_products(
    State(state): State<AppState>,
    Watch(params): Watch,
    _: Reader,
    WatchCaller(caller): WatchCaller,
) -> Result<Response, ErrorResponse> {
    wait_for_change(&state, Collection::Products, &params, caller).await?;
    let (index, body) = state.registry.products_json();
    Ok(json_response(StatusCode::OK, body, Some(index)))
}

pub(super) async fn get_product(
    State(state): State<AppState>,
    ProductId(id): ProductId,
    _: Reader,
) -> Result<Response, ErrorResponse> {
    let body = state.registry.product_json(&id).ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, body, None))
}

pub(super) async fn put_product(
    State(state): State<AppState>,
    WritableProduct(id): WritableProduct,
    JsonBody(body): JsonBody,
) -> Result<Response, ErrorResponse> {
    let product = parse_product(&id, &body)?;
    // The answer is what this write committed: read back from the view, it could already
    // show a concurrent write to the same id.
    let put = state.registry.put_product(id, product).await?;
    let status = if put.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, put.body, Some(put.index)))
}

pub(super) async fn delete_product(
    State(state): State<AppState>,
    WritableProduct(id): WritableProduct,
) -> Result<StatusCode, ErrorResponse> {
    if state.registry.delete_product(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

pub(super) async fn registry_events(
    State(state): State<AppState>,
    _: Reader,
    WatchCaller(caller): WatchCaller,
    Presented(token): Presented,
) -> Result<Response, ErrorResponse> {
    events(state, Collection::Registry, caller, token)
}

pub(super) async fn product_events(
    State(state): State<AppState>,
    _: Reader,
    WatchCaller(caller): WatchCaller,
    Presented(token): Presented,
) -> Result<Response, ErrorResponse> {
    events(state, Collection::Products, caller, token)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::auth::ReadAccess;
    use crate::clock::ManualClock;
    use crate::http::watch::{WatcherLimits, Watchers};
    use crate::http::{MAX_BODY_BYTES, app};
    use crate::keyring::Keyring;
    use crate::metrics::Metrics;
    use crate::state::Limits;
    use crate::state::Registry;
    use crate::store::Store;
    use crate::ttl::TtlPolicy;
    use axum::Router;
    use axum::body::Body;
    use axum::http::header::WWW_AUTHENTICATE;
    use tokio::sync::watch;
    use tower::ServiceExt;

    const ADMIN: &str = "admin-token-0123456789";
    const TEAM_A: &str = "team-a-token-0123456789";
    const IDEA_LAB: &str = r#"{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css","componentId":"<w-tag param_one=\"x\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}"#;

    fn state(reads: ReadAccess) -> AppState {
        let keyring = Keyring::load(
            Vec::new(),
            Some(format!(
                "{ADMIN} registry:* products:* read\n{TEAM_A} registry:team-a.*"
            )),
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
            keyring: Arc::new(keyring),
            reads,
            metrics: Arc::new(Metrics::default()),
            watchers: Arc::new(Watchers::new(WatcherLimits {
                max: 4,
                reserve: 1,
                per_client: 2,
                per_token: 2,
            })),
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
        assert_eq!(r.headers[WWW_AUTHENTICATE], "Bearer");
    }

    /// A body stream that records whether anything read from it.
    fn watched_body() -> (Body, Arc<std::sync::atomic::AtomicBool>) {
        use std::sync::atomic::{AtomicBool, Ordering};
        let polled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&polled);
        let stream = futures_util::stream::poll_fn(move |_| {
            flag.store(true, Ordering::SeqCst);
            let chunk = Bytes::from(vec![b'x'; MAX_BODY_BYTES * 4]);
            std::task::Poll::Ready(Some(Ok::<_, std::io::Error>(chunk)))
        });
        (Body::from_stream(stream), polled)
    }

    #[tokio::test]
    async fn the_token_is_checked_before_the_body_is_read() {
        use std::sync::atomic::Ordering;
        let app = app(state(ReadAccess::Open));
        let writes = [
            ("POST", "/api/v1/registry/w", None, StatusCode::UNAUTHORIZED),
            (
                "PUT",
                "/api/v1/products/p",
                Some(TEAM_A),
                StatusCode::FORBIDDEN,
            ),
        ];
        for (method, path, token, status) in writes {
            let (body, polled) = watched_body();
            let mut req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header(CONTENT_TYPE, "application/json");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let r = send(&app, req.body(body).unwrap()).await;
            assert_eq!(r.status, status, "{method} {path}");
            assert!(
                !polled.load(Ordering::SeqCst),
                "{method} {path} read the body"
            );
        }
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
    async fn a_put_answers_with_what_it_committed_not_a_later_write() {
        let state = state(ReadAccess::Open);
        let app = app(state.clone());
        let put = |version: &str| {
            let doc =
                format!(r#"{{"domain":"d","owner":"o","version":"{version}","status":"active"}}"#);
            let req = axum::http::Request::put("/api/v1/products/p")
                .header("authorization", format!("Bearer {ADMIN}"))
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(doc))
                .unwrap();
            let app = app.clone();
            tokio::spawn(async move { send(&app, req).await })
        };
        // Both PUTs wait in the queue while the writer is paused, so they commit in one
        // batch: a read-back after either commit shows the batch's last document.
        let resume = state.registry.pause_writer().await;
        let (a, b) = (put("1.0.0"), put("1.1.0"));
        tokio::time::timeout(Duration::from_secs(5), async {
            while state.registry.queued() < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("both PUTs queued");
        drop(resume);
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a.json["product"]["version"], "1.0.0", "{}", a.json);
        assert_eq!(b.json["product"]["version"], "1.1.0", "{}", b.json);
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED]);
        assert_eq!(a.headers[&INDEX_HEADER], b.headers[&INDEX_HEADER]);
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
}
