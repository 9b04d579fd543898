//! What a handler takes from a request, checked: who is asking ([`Reader`], and the
//! `Writable*` ids, which say the token may write there), the path ids, and the JSON
//! body. Every rejection is an [`ErrorResponse`] in the shared JSON shape.
//!
//! The authorizing extractors read only the request's parts, and axum runs a body
//! extractor such as [`JsonBody`] last, so an unauthenticated client is refused before its
//! body is read and learns nothing about the body rules.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use dappmesh_service::error::ErrorResponse;
use registry_api::text::{IdKind, check_id};

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use dappmesh_service::server::client_of;

use super::watch::Caller;
use super::{AppState, MAX_BODY_BYTES};
use crate::auth::Need;
use crate::store::Collection;

/// A request allowed to read (anyone, unless reads need a token).
pub(super) struct Reader;

impl FromRequestParts<AppState> for Reader {
    type Rejection = ErrorResponse;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state
            .keyring
            .current()
            .check(bearer(&parts.headers), Need::Read, state.reads)?;
        Ok(Reader)
    }
}

/// Who holds a watcher slot: the request's valid token, or else its client address.
pub(super) struct WatchCaller(pub Caller);

impl FromRequestParts<AppState> for WatchCaller {
    type Rejection = ErrorResponse;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = match state.keyring.current().identify(bearer(&parts.headers)) {
            Some(token) => Caller::Token(token),
            None => Caller::Anonymous(
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(peer)| client_of(peer.ip())),
            ),
        };
        Ok(WatchCaller(caller))
    }
}

/// The bearer token as presented, for an event stream to check again after a reload.
pub(super) struct Presented(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = ErrorResponse;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Presented(bearer(&parts.headers).map(str::to_owned)))
    }
}

/// A registration id from the path, checked, that the request's token may write.
pub(super) struct WritableRegistration(pub String);

impl FromRequestParts<AppState> for WritableRegistration {
    type Rejection = ErrorResponse;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        writable(parts, state, Collection::Registry)
            .await
            .map(WritableRegistration)
    }
}

/// A product id from the path, checked, that the request's token may write.
pub(super) struct WritableProduct(pub String);

impl FromRequestParts<AppState> for WritableProduct {
    type Rejection = ErrorResponse;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        writable(parts, state, Collection::Products)
            .await
            .map(WritableProduct)
    }
}

/// The path id is checked first: a malformed id is a 400 whoever asks.
async fn writable(
    parts: &mut Parts,
    state: &AppState,
    c: Collection,
) -> Result<String, ErrorResponse> {
    let kind = match c {
        Collection::Registry => IdKind::Registration,
        Collection::Products => IdKind::Product,
    };
    let id = path_id(parts, kind).await?;
    state
        .keyring
        .current()
        .check(bearer(&parts.headers), Need::Write(c, &id), state.reads)?;
    Ok(id)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case); none for any
/// other scheme, which the tokens then treat as no token at all.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn path_id(parts: &mut Parts, kind: IdKind) -> Result<String, ErrorResponse> {
    let Path(id) = Path::<String>::from_request_parts(parts, &())
        .await
        .map_err(|r| ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text()))?;
    check_id(kind, &id)
        .map_err(|e| ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()))?;
    Ok(id)
}

/// A registration id from the path, checked.
pub(super) struct RegistrationId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RegistrationId {
    type Rejection = ErrorResponse;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        path_id(parts, IdKind::Registration)
            .await
            .map(RegistrationId)
    }
}

/// A product id (a name or a DPDS URN) from the path, checked.
pub(super) struct ProductId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ProductId {
    type Rejection = ErrorResponse;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        path_id(parts, IdKind::Product).await.map(ProductId)
    }
}

/// A JSON request body, as bytes: the content type is checked and the size limited here,
/// and each endpoint parses it into its own checked type.
pub(super) struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
            return Err(ErrorResponse::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorResponse::new(
                    status,
                    "payload_too_large",
                    format!("the body must be at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ErrorResponse::new(status, "bad_body", rejection.body_text())
            }
        })?;
        Ok(JsonBody(bytes))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_a_bearer_token_is_presented() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            bearer(&h).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer"), None);
        assert_eq!(with("abc"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
