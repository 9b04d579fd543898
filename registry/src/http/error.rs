//! Which refusal each failure below the HTTP layer is: authorization, body parsing and
//! writes map to the services' shared [`ErrorResponse`] here, and only here. Internal
//! failures are logged on the way and reach the client as "internal error".

use axum::http::StatusCode;
use dappmesh_service::error::ErrorResponse;
use registry_api::text::Invalid;

use super::watch::Full;
use crate::auth::Denied;
use crate::input::BodyError;
use crate::state::WriteError;

/// idea-lab answered a missing registration with `{"message":"Not Found"}`.
pub(super) fn not_found() -> ErrorResponse {
    ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

/// No watcher slot: the pool (or the part of it open to anonymous callers) is full, or
/// the caller holds its share.
pub(super) fn busy(full: Full) -> ErrorResponse {
    let message = match full {
        Full::Server => "too many open long-polls and event streams; retry later",
        Full::Caller => {
            "this client (or token) holds its share of long-polls and event streams; close one or retry later"
        }
    };
    ErrorResponse::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_watchers",
        message,
    )
}

impl From<Denied> for ErrorResponse {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Unauthenticated => ErrorResponse::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required (Authorization: Bearer <token>)",
            ),
            Denied::Forbidden => ErrorResponse::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is not allowed to do this",
            ),
        }
    }
}

impl From<BodyError> for ErrorResponse {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Syntax(detail) => ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {detail}"),
            ),
            BodyError::Invalid(e) => invalid_body(&e),
        }
    }
}

/// A body that parses but breaks a rule (`Invalid` is registry-api's, so no `From` here).
fn invalid_body(e: &Invalid) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        e.to_string(),
    )
}

impl From<WriteError> for ErrorResponse {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Capacity(..) => {
                ErrorResponse::new(StatusCode::INSUFFICIENT_STORAGE, "capacity", e.to_string())
            }
            // The writer logged it once for the episode.
            WriteError::DiskFull => ErrorResponse::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                "the registry's disk is full: the write was not stored; retry later",
            ),
            WriteError::Timeout | WriteError::Stopped => {
                tracing::warn!(error = %e, "write not committed");
                ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the write could not be committed in time; retry",
                )
            }
            WriteError::Store(e) => {
                tracing::error!(error = %e, "write failed");
                ErrorResponse::internal()
            }
        }
    }
}
