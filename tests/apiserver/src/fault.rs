//! Injected faults: requests that match a method, resource and name answer a chosen `Status`
//! instead of being served, so tests can check how clients handle refusals and errors.

use std::collections::HashMap;

use serde_json::json;

use crate::{rbac::Attributes, routes::Target, status::Status};

/// The HTTP method a [`Fault`] matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// A refusal to inject with [`ApiServer::inject`](crate::ApiServer::inject). `None` in
/// `resource` (a plural such as `deployments`) or `name` matches anything; a `Fault` with
/// `times: Some(n)` answers the first `n` matching requests, `None` all of them.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `None` matches every write (POST, PUT, PATCH, DELETE) but no read, so clients can still
    /// discover and get what they then fail to change.
    pub method: Option<Method>,
    pub resource: Option<String>,
    pub name: Option<String>,
    /// The HTTP code, also the Status `code`.
    pub status: u16,
    /// The Status `reason`, such as `Forbidden`, `Invalid`, `InternalError` or `Conflict`.
    pub reason: String,
    /// The Status `message`. Left empty on a `Forbidden` fault, it is worded like the real
    /// authorizer's refusal of the matched request.
    pub message: String,
    pub times: Option<usize>,
}

impl Fault {
    /// 403 for every `method` request on `resource`, in the real RBAC wording, for example
    /// `deployments.apps "web" is forbidden: User "test" cannot patch resource "deployments" in
    /// API group "apps" in the namespace "shop"`.
    pub fn forbidden(method: Method, resource: &str) -> Fault {
        Fault {
            method: Some(method),
            resource: Some(resource.into()),
            name: None,
            status: 403,
            reason: "Forbidden".into(),
            message: String::new(),
            times: None,
        }
    }

    /// 422 Invalid with `message` for every write of object `name` of `resource`.
    pub fn invalid(resource: &str, name: &str, message: &str) -> Fault {
        Fault {
            method: None,
            resource: Some(resource.into()),
            name: Some(name.into()),
            status: 422,
            reason: "Invalid".into(),
            message: message.into(),
            times: None,
        }
    }

    /// The same fault, answering only the first `times` matching requests.
    pub fn times(self, times: usize) -> Fault {
        Fault {
            times: Some(times),
            ..self
        }
    }

    fn matches(&self, method: &axum::http::Method, target: &Target, name: Option<&str>) -> bool {
        let method_matches = self.method.is_none_or(|m| {
            let expected = match m {
                Method::Get => axum::http::Method::GET,
                Method::Post => axum::http::Method::POST,
                Method::Put => axum::http::Method::PUT,
                Method::Patch => axum::http::Method::PATCH,
                Method::Delete => axum::http::Method::DELETE,
            };
            expected == method
        });
        let read = *method == axum::http::Method::GET;
        method_matches
            && (self.method.is_some() || !read)
            && self
                .resource
                .as_ref()
                .is_none_or(|r| *r == target.resource.plural)
            && self.name.as_deref().is_none_or(|n| Some(n) == name)
    }
}

/// The Status of the first fault matching a request, if any, using up one of its `times`.
pub(crate) fn answer(
    faults: &mut Vec<Fault>,
    method: &axum::http::Method,
    target: &Target,
    name: Option<&str>,
    query: &HashMap<String, String>,
) -> Option<Status> {
    let index = faults
        .iter()
        .position(|f| f.matches(method, target, name))?;
    let fault = faults[index].clone();
    match fault.times {
        Some(times) if times <= 1 => _ = faults.remove(index),
        Some(times) => faults[index].times = Some(times - 1),
        None => {}
    }
    let r = &target.resource;
    let message = match (fault.reason.as_str(), fault.message.is_empty()) {
        ("Forbidden", true) => {
            let mut asked = Attributes::of(method, target, query);
            asked.name = name.map(String::from);
            asked.refusal("test")
        }
        _ => fault.message,
    };
    let details = json!({"name": name.unwrap_or_default(), "group": r.group, "kind": r.plural});
    Some(Status::new(fault.status, &fault.reason, message).with_details(details))
}
