//! The one shape of a refusal: `{"error": code, "message": text}` with its status, and the
//! headers that status obliges (a 401 says how to authenticate, a 503 when to come back).

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error response. The code is a stable, machine-readable word; the message is for
/// people and never carries internals (SQL, file paths): log those where they happen.
#[derive(Debug)]
pub struct ErrorResponse {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ErrorResponse {
            status,
            code,
            message: message.into(),
        }
    }

    /// What a client learns of a bug or an unexpected failure: that it happened, no more.
    pub fn internal() -> Self {
        ErrorResponse::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        let headers = response.headers_mut();
        match self.status {
            // RFC 9110 requires a challenge with every 401; the services take bearer tokens.
            StatusCode::UNAUTHORIZED => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // Every 503 here is momentary (a full watcher pool, a slow commit, a first
            // read not done yet): one second spreads the retries without stalling them.
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// A router's fallback for a path that no route serves.
pub async fn no_route(method: Method, uri: Uri) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route for {method} {}", uri.path()),
    )
}

/// A router's fallback for a method a route does not take; axum adds the `Allow` header.
pub async fn wrong_method(method: Method) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here (see the Allow header)"),
    )
}

/// The response for a handler that panicked, for `CatchPanicLayer::custom`: the panic
/// itself is printed by the panic hook, the client gets only [`ErrorResponse::internal`].
pub fn panic_response(_: Box<dyn std::any::Any + Send>) -> Response {
    ErrorResponse::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_body_is_code_and_message() {
        let r = ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", "Not Found").into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(r.headers().get(RETRY_AFTER).is_none());
        assert_eq!(
            body(r).await,
            json!({"error": "not_found", "message": "Not Found"})
        );
    }

    #[test]
    fn a_401_challenges_and_a_503_says_when_to_retry() {
        let r = ErrorResponse::new(StatusCode::UNAUTHORIZED, "unauthorized", "x").into_response();
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        assert!(r.headers().get(RETRY_AFTER).is_none());
        let r = ErrorResponse::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "x").into_response();
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_say_what_was_asked() {
        let r = no_route(Method::PUT, Uri::from_static("/x/y?secret=1"))
            .await
            .into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(r).await["message"], "no route for PUT /x/y");
        let r = wrong_method(Method::PATCH).await.into_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body(r).await["error"], "method_not_allowed");
    }

    #[tokio::test]
    async fn a_panic_reveals_nothing() {
        let r = panic_response(Box::new("secret /var/lib/db.sqlite3"));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body(r).await,
            json!({"error": "internal", "message": "internal error"})
        );
    }
}
