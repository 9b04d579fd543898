//! Kubernetes `Status` failures: the body, reason and HTTP code of every error this server
//! answers, worded like the real API server so clients parse and print them the same way.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::discovery::Resource;

/// A failed request: a `Status` object with `status: Failure` and its HTTP code. Boxed, since
/// it travels in every `Result` of the request path.
#[derive(Debug, Clone)]
pub(crate) struct Status(Box<Failure>);

#[derive(Debug, Clone)]
struct Failure {
    code: u16,
    reason: String,
    message: String,
    details: Value,
}

impl Status {
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Status(Box::new(Failure {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: json!({}),
        }))
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.0.details = details;
        self
    }

    /// The `Status` object as it travels in a response body or a watch `ERROR` event.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.0.message, "reason": self.0.reason,
        });
        if self.0.details.as_object().is_some_and(|d| !d.is_empty()) {
            body["details"] = self.0.details.clone();
        }
        body["code"] = json!(self.0.code);
        body
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Status::new(400, "BadRequest", message)
    }

    pub(crate) fn unauthorized() -> Self {
        Status::new(401, "Unauthorized", "Unauthorized")
    }

    /// The answer for a path that names no served resource.
    pub(crate) fn no_resource() -> Self {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub(crate) fn not_found(resource: &Resource, name: &str) -> Self {
        Status::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified()),
        )
        .with_details(resource.details(name))
    }

    pub(crate) fn method_not_allowed() -> Self {
        Status::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn already_exists(resource: &Resource, name: &str) -> Self {
        Status::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
        )
        .with_details(resource.details(name))
    }

    /// A stale `metadata.resourceVersion` precondition.
    pub(crate) fn modified(resource: &Resource, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            resource.qualified()
        );
        Status::new(409, "Conflict", message).with_details(resource.details(name))
    }

    pub(crate) fn expired(message: String) -> Self {
        Status::new(410, "Expired", message)
    }

    /// One invalid field, as the real server's validation reports it.
    pub(crate) fn invalid(resource: &Resource, name: &str, field: &str, detail: &str) -> Self {
        let kind = resource.qualified_kind();
        let message = format!("{kind} \"{name}\" is invalid: {field}: {detail}");
        let cause = json!({"reason": "FieldValueInvalid", "message": detail, "field": field});
        Status::new(422, "Invalid", message).with_details(json!({
            "name": name, "group": resource.group, "kind": resource.kind, "causes": [cause],
        }))
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            ),
        )
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, Json(self.body())).into_response()
    }
}
