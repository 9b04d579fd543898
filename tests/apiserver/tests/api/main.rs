//! Integration tests: a server per test over real HTTP on 127.0.0.1, driven by reqwest for raw
//! requests and by kube-rs through the kubeconfig the server writes. One module per topic.

mod apply;
mod crud;
mod discovery;
mod faults;
mod rbac;
mod watch;
mod workloads;

use std::time::Duration;

use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options, Workloads};

pub const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
pub const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
pub const APPLY: &str = "application/apply-patch+yaml";
pub const MERGE: &str = "application/merge-patch+json";

/// A server whose workloads never get a status, so only the test's own writes change objects.
pub fn quiet() -> Options {
    Options {
        workloads: Workloads::Stuck,
        ..Options::default()
    }
}

/// One raw request with the server's token: the HTTP code and the JSON body (`null` if none).
pub async fn call(
    server: &ApiServer,
    method: &str,
    path: &str,
    body: Option<(&str, &Value)>,
) -> (u16, Value) {
    call_as(server, "test-token", method, path, body).await
}

/// One raw request presenting `token`.
pub async fn call_as(
    server: &ApiServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &Value)>,
) -> (u16, Value) {
    _ = rustls::crypto::ring::default_provider().install_default();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let url = format!("{}{path}", server.url());
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some((content_type, body)) = body {
        request = request
            .header("content-type", content_type)
            .body(body.to_string());
    }
    let response = request.send().await.expect("the server answers");
    let code = response.status().as_u16();
    (code, response.json().await.unwrap_or(Value::Null))
}

/// Server-side apply of `object` at `path` (the object's own URL) as `manager`.
pub async fn apply(server: &ApiServer, path: &str, manager: &str, object: &Value) -> (u16, Value) {
    let path = format!("{path}?fieldManager={manager}");
    call(server, "PATCH", &path, Some((APPLY, object))).await
}

pub async fn get(server: &ApiServer, path: &str) -> (u16, Value) {
    call(server, "GET", path, None).await
}

pub async fn post(server: &ApiServer, path: &str, object: &Value) -> (u16, Value) {
    call(server, "POST", path, Some(("application/json", object))).await
}

pub async fn put(server: &ApiServer, path: &str, object: &Value) -> (u16, Value) {
    call(server, "PUT", path, Some(("application/json", object))).await
}

pub async fn merge(server: &ApiServer, path: &str, patch: &Value) -> (u16, Value) {
    call(server, "PATCH", path, Some((MERGE, patch))).await
}

pub async fn delete(server: &ApiServer, path: &str) -> (u16, Value) {
    call(server, "DELETE", path, None).await
}

/// The code and reason of an answer, for refusals.
pub fn refusal(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["reason"].as_str().unwrap_or_default())
}

/// A kube client for one context of the kubeconfig the server writes.
pub async fn kube_client(server: &ApiServer, context: &str) -> kube::Client {
    _ = rustls::crypto::ring::default_provider().install_default();
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let path = std::env::temp_dir().join(format!("test-apiserver-{port}-{context}.kubeconfig"));
    server.kubeconfig(&path).expect("the kubeconfig is written");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("the kubeconfig parses");
    let options = kube::config::KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("a config");
    _ = std::fs::remove_file(&path);
    kube::Client::try_from(config).expect("a client")
}

pub fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    })
}

pub fn configmap(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "data": {"key": "value"},
    })
}

/// A namespaced CRD `widgets.example.com`, served at v1, with a status subresource.
pub fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
            }],
        },
    })
}

/// Waits up to five seconds for `condition`.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..250 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The fields a manager owns, in FieldsV1.
pub fn owned(object: &Value, manager: &str) -> Value {
    let entries = object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry = entries.into_iter().find(|e| e["manager"] == manager);
    entry.map_or(Value::Null, |e| e["fieldsV1"].clone())
}
