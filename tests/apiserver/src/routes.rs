//! The HTTP surface: routing, bearer-token auth and the request log, the discovery endpoints, and
//! get, list, create, replace, patch, apply and delete on resource paths, each authorised
//! before it is served.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Extension, Query, Request as HttpRequest, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    Request, Shared, apply, controllers,
    discovery::{self, Resource},
    fault,
    rbac::{self, Attributes, Caller},
    selector::Filter,
    status::Status,
    store, watch,
};

/// Request bodies larger than this are refused; test objects are far smaller.
const BODY_LIMIT: usize = 16 << 20;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(serve)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Logs every request, then lets through only those with a known bearer token, marked with
/// who presented it.
async fn gate(State(shared): State<Arc<Shared>>, request: HttpRequest, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return Status::new(
            413,
            "RequestEntityTooLarge",
            "the request body is too large",
        )
        .into_response();
    };
    let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    crate::lock(&shared.requests).push(Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        field_manager: query.get("fieldManager").cloned(),
        dry_run: dry_run(&query, &parts.method, &body),
    });
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(caller) = rbac::authenticate(&shared.options, presented) else {
        return Status::unauthorized().into_response();
    };
    let mut request = HttpRequest::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// `dryRun=All` in the query, or for a delete in the DeleteOptions body, where kube sends it.
fn dry_run(query: &HashMap<String, String>, method: &Method, body: &[u8]) -> bool {
    let in_body = || {
        serde_json::from_slice::<Value>(body).is_ok_and(|b| {
            b["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "All"))
        })
    };
    query.get("dryRun").is_some_and(|v| v == "All") || (*method == Method::DELETE && in_body())
}

/// The discovery document a GET of `segments` asks for, if it asks for one.
fn document(shared: &Shared, segments: &[&str]) -> Option<Result<Value, Status>> {
    let resources = discovery::resources(&shared.store());
    let document = match segments {
        ["version"] => Some(discovery::version()),
        ["api"] => Some(discovery::core_versions(shared.address)),
        ["api", version] => discovery::resource_list(&resources, "", version),
        ["apis"] => Some(discovery::groups(&resources)),
        ["apis", group] => discovery::group(&resources, group),
        ["apis", group, version] => discovery::resource_list(&resources, group, version),
        _ => return None,
    };
    Some(document.ok_or_else(Status::no_resource))
}

/// What a resource path addresses.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The `/status` subresource.
    pub status: bool,
}

/// Resolves `/api/v1/...` and `/apis/{group}/{version}/...` against the served resources.
fn target(shared: &Shared, segments: &[&str]) -> Result<Target, Status> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(Status::no_resource()),
    };
    // `namespaces/{name}/status` is the namespace's own subresource, not a namespaced list.
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() && rest[0] != "status" => {
            (Some(*namespace), rest)
        }
        _ => (None, rest),
    };
    let (plural, name, status) = match rest {
        [plural] => (*plural, None, false),
        [plural, name] => (*plural, Some(*name), false),
        [plural, name, "status"] => (*plural, Some(*name), true),
        _ => return Err(Status::no_resource()),
    };
    let resource =
        discovery::find(&shared.store(), group, version, plural).ok_or_else(Status::no_resource)?;
    let misplaced = match (resource.namespaced, namespace) {
        (false, Some(_)) => true,
        (true, None) => name.is_some(),
        _ => false,
    };
    if misplaced || (status && !resource.status) {
        return Err(Status::no_resource());
    }
    let (namespace, name) = (namespace.map(String::from), name.map(String::from));
    Ok(Target {
        resource,
        namespace,
        name,
        status,
    })
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&shared, &caller, &method, &uri, &headers, &body)
        .unwrap_or_else(IntoResponse::into_response)
}

/// Authorises a resource request as `caller`; an `apply` that would create its object must
/// also be allowed to create it, as on the real server.
fn permit(
    shared: &Shared,
    caller: &Caller,
    method: &Method,
    t: &Target,
    query: &HashMap<String, String>,
    apply: bool,
) -> Result<(), Status> {
    let asked = Attributes::of(method, t, query);
    rbac::authorize(&shared.store(), caller, &asked)?;
    let creates = || {
        let (namespace, name) = (t.namespace.as_deref(), t.name.as_deref());
        let store = shared.store();
        let live = store.get(
            &t.resource,
            namespace.unwrap_or_default(),
            name.unwrap_or_default(),
        );
        live.is_none() && !t.status
    };
    if *method == Method::PATCH && apply && creates() {
        rbac::authorize(&shared.store(), caller, &asked.as_verb("create"))?;
    }
    Ok(())
}

fn answer(
    shared: &Arc<Shared>,
    caller: &Caller,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Status> {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    if *method == Method::GET
        && let Some(document) = document(shared, &segments)
    {
        return Ok(Json(document?).into_response());
    }
    let t = target(shared, &segments)?;
    let query: HashMap<String, String> = Query::try_from_uri(uri)
        .map_err(|e| Status::bad_request(e.body_text()))?
        .0;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default());
    let content_type = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default();
    let json_patch =
        *method == Method::PATCH && content_type.trim() == "application/json-patch+json";
    let (apply, merge) = match content_type.trim() {
        "application/apply-patch+yaml" => (true, false),
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => (false, true),
        "application/json-patch+json" => (false, false),
        other if *method == Method::PATCH => return Err(Status::unsupported_media_type(other)),
        _ => (false, false),
    };
    permit(shared, caller, method, &t, &query, apply)?;
    if apply && !query.contains_key("fieldManager") {
        let message = "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch";
        return Err(Status::bad_request(message));
    }
    let dry_run = dry_run(&query, method, body);
    let body = match *method {
        // Operations on the stored object; the result is a replacement of it.
        Method::PATCH if json_patch => {
            let operations: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("the body is not JSON: {e}")))?;
            let name = t.name.as_deref().unwrap_or_default();
            let namespace = t.namespace.as_deref().unwrap_or_default();
            let live = shared.store().get(&t.resource, namespace, name).cloned();
            let live = live.ok_or_else(|| Status::not_found(&t.resource, name))?;
            Some(crate::jsonpatch::apply(&live, &operations)?)
        }
        Method::POST | Method::PUT | Method::PATCH => Some(parse(body, apply)?),
        _ => None,
    };
    let named = body.as_ref().and_then(|b| b["metadata"]["name"].as_str());
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let mut faults = crate::lock(&shared.faults);
    if let Some(status) =
        fault::answer(&mut faults, method, &t, t.name.as_deref().or(named), &query)
    {
        return Err(status);
    }
    drop(faults);
    let r = &t.resource;
    let change = match (method.clone(), &t.name, body) {
        (Method::GET, Some(name), _) => {
            let store = shared.store();
            let object = store.get(r, t.namespace.as_deref().unwrap_or_default(), name);
            let object = object.ok_or_else(|| Status::not_found(r, name))?;
            return Ok(Json(r.serve(object)).into_response());
        }
        (Method::GET, None, _) if watching => return watch::serve(shared.clone(), t, &query),
        (Method::GET, None, _) => return Ok(Json(list(shared, &t, &query)?).into_response()),
        (Method::DELETE, Some(name), _) => {
            return Ok(Json(delete(shared, &t, name, dry_run)?).into_response());
        }
        (Method::POST, None, Some(body)) if t.namespace.is_some() || !r.namespaced => {
            Change::Create(body)
        }
        (Method::PUT, Some(_), Some(body)) => Change::Replace(body),
        (Method::PATCH, Some(_), Some(body)) if merge => Change::Merge(body),
        (Method::PATCH, Some(_), Some(body)) if json_patch => Change::Replace(body),
        (Method::PATCH, Some(_), Some(config)) => {
            let force = query.get("force").is_some_and(|v| v == "true");
            Change::Apply { config, force }
        }
        _ => return Err(Status::method_not_allowed()),
    };
    let manager = query.get("fieldManager").cloned();
    let manager = manager.unwrap_or_else(|| default_manager(headers));
    let (object, created) = write(shared, &t, change, &manager, dry_run)?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(object)).into_response())
}

/// A JSON object body. Apply patches are YAML by media type, but kube sends JSON, and JSON is
/// all this server reads.
fn parse(body: &[u8], apply: bool) -> Result<Value, Status> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let what = if apply {
            "this test server reads apply patches as JSON only"
        } else {
            "the body is not JSON"
        };
        Status::bad_request(format!("{what}: {e}"))
    })?;
    shaped(value)
}

/// Objects and their metadata must be JSON objects for anything else to make sense of them.
fn shaped(value: Value) -> Result<Value, Status> {
    match value.as_object() {
        None => Err(Status::bad_request("the object must be a JSON object")),
        Some(o)
            if o.get("metadata")
                .is_some_and(|m| !m.is_object() && !m.is_null()) =>
        {
            Err(Status::bad_request("metadata must be a JSON object"))
        }
        Some(_) => Ok(value),
    }
}

/// The real server's default field manager: the user agent up to its first `/`.
fn default_manager(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let agent = agent.split('/').next().unwrap_or_default();
    if agent.is_empty() {
        "unknown".into()
    } else {
        agent.chars().take(128).collect()
    }
}

fn list(shared: &Shared, t: &Target, query: &HashMap<String, String>) -> Result<Value, Status> {
    let filter = Filter::parse(t.namespace.as_deref(), query)?;
    let store = shared.store();
    let r = &t.resource;
    let items: Vec<Value> = store
        .list(&r.group, &r.plural, t.namespace.as_deref())
        .filter(|o| filter.matches(o))
        .map(|o| r.serve(o))
        .collect();
    Ok(json!({
        "kind": format!("{}List", r.kind), "apiVersion": r.api_version(),
        "metadata": {"resourceVersion": store.revision().to_string()}, "items": items,
    }))
}

/// How a write changes an object.
pub(crate) enum Change {
    Create(Value),
    Replace(Value),
    /// An RFC 7386 merge patch; strategic merge patches are read as this too.
    Merge(Value),
    Apply {
        config: Value,
        force: bool,
    },
}

/// Every write: validates it, computes the new object and its managed fields, stores it unless
/// `dry_run`, and starts the simulated controllers. Returns the object and whether it was created.
#[allow(clippy::too_many_lines)]
pub(crate) fn write(
    shared: &Arc<Shared>,
    t: &Target,
    change: Change,
    manager: &str,
    dry_run: bool,
) -> Result<(Value, bool), Status> {
    let r = &t.resource;
    let body = match &change {
        Change::Create(b)
        | Change::Replace(b)
        | Change::Merge(b)
        | Change::Apply { config: b, .. } => shaped(b.clone())?,
    };
    let is_merge = matches!(change, Change::Merge(_));
    let name = match (&t.name, body["metadata"]["name"].as_str()) {
        (Some(url), Some(named)) if url != named && !is_merge => {
            let message = format!(
                "the name of the object ({named}) does not match the name on the URL ({url})"
            );
            return Err(Status::bad_request(message));
        }
        (Some(url), _) => url.clone(),
        (None, Some(named)) if !named.is_empty() => named.to_string(),
        _ => {
            return Err(Status::invalid(
                r,
                "",
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
    };
    let namespace = t.namespace.clone().unwrap_or_default();
    if let Some(named) = body["metadata"]["namespace"]
        .as_str()
        .filter(|_| r.namespaced)
        && named != namespace
    {
        let message =
            "the namespace of the provided object does not match the namespace sent on the request";
        return Err(Status::bad_request(message));
    }
    if let Some(kind) = body["kind"].as_str().filter(|k| *k != r.kind && !is_merge) {
        return Err(Status::bad_request(format!(
            "the kind {kind:?} does not match the resource {:?}",
            r.qualified()
        )));
    }
    let mut store = shared.store();
    if r.namespaced
        && store
            .get(&discovery::namespaces(), "", &namespace)
            .is_none()
    {
        return Err(Status::not_found(&discovery::namespaces(), &namespace));
    }
    let live = store.get(r, &namespace, &name).cloned();
    if let (Some(live), Some(expected)) = (&live, body["metadata"]["resourceVersion"].as_str())
        && live["metadata"]["resourceVersion"] != expected
    {
        return Err(Status::modified(r, &name));
    }
    let skeleton = apply::skeleton(r, &namespace, &name);
    let identified = |mut object: Value| {
        for field in ["apiVersion", "kind"] {
            object[field] = skeleton[field].clone();
        }
        object["metadata"]["name"] = json!(name);
        match r.namespaced {
            true => object["metadata"]["namespace"] = json!(namespace),
            false => {
                _ = object["metadata"]
                    .as_object_mut()
                    .map(|m| m.shift_remove("namespace"))
            }
        }
        object
    };
    let now = store::now();
    let next = match (change, &live) {
        (Change::Create(_), Some(_)) => return Err(Status::already_exists(r, &name)),
        (Change::Create(_), None) => {
            apply::update(r, false, None, identified(body), (manager, &now))
        }
        (Change::Replace(_) | Change::Merge(_), None) => return Err(Status::not_found(r, &name)),
        (Change::Replace(_), Some(live)) => {
            apply::update(r, t.status, Some(live), identified(body), (manager, &now))
        }
        (Change::Merge(patch), Some(live)) => {
            let mut merged = live.clone();
            merge_patch(&mut merged, &patch);
            apply::update(
                r,
                t.status,
                Some(live),
                identified(shaped(merged)?),
                (manager, &now),
            )
        }
        (Change::Apply { .. }, None) if t.status => return Err(Status::not_found(r, &name)),
        (Change::Apply { config, force }, live) => {
            let base = live.clone().unwrap_or(skeleton.clone());
            apply::apply(r, t.status, &base, &config, (manager, force, &now))?
        }
    };
    if r.is_crd() {
        let expected = format!(
            "{}.{}",
            next["spec"]["names"]["plural"].as_str().unwrap_or_default(),
            next["spec"]["group"].as_str().unwrap_or_default()
        );
        if name != expected {
            let detail =
                format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group");
            return Err(Status::invalid(r, &name, "metadata.name", &detail));
        }
    }
    let (object, changed) = store.commit(r, live.as_ref(), next, dry_run);
    if changed && !dry_run && !t.status {
        controllers::after_write(shared, &mut store, r, &namespace, &name);
    }
    Ok((r.serve(&object), live.is_none()))
}

/// RFC 7386: objects merge key by key, `null` deletes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(target) = target.as_object_mut() else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Deletes at once, or only marks the object when finalizers hold it.
fn delete(shared: &Shared, t: &Target, name: &str, dry_run: bool) -> Result<Value, Status> {
    let r = &t.resource;
    let namespace = t.namespace.as_deref().unwrap_or_default();
    let mut store = shared.store();
    let live = store
        .get(r, namespace, name)
        .cloned()
        .ok_or_else(|| Status::not_found(r, name))?;
    let held = live["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    let object = match (dry_run, held) {
        (true, _) => Some(live),
        (false, true) => store.mark_deleted(r, namespace, name),
        (false, false) => store.delete(r, namespace, name),
    };
    object
        .map(|o| r.serve(&o))
        .ok_or_else(|| Status::not_found(r, name))
}
