//! Watches: kube-rs's watcher over list-then-watch, raw event streams, bookmarks and 410 Expired.

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, runtime::watcher};
use serde_json::{Value, json};
use test_apiserver::ApiServer;

use crate::{CONFIGMAPS, configmap, delete, get, kube_client, merge, post, quiet};

/// The events of a raw watch that ends by its timeout.
async fn watch(server: &ApiServer, query: &str) -> Vec<Value> {
    let url = format!("{}{CONFIGMAPS}?watch=true&{query}", server.url());
    let request = reqwest::Client::new().get(url).bearer_auth("test-token");
    let body = request.send().await.unwrap().text().await.unwrap();
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn describe(event: watcher::Event<ConfigMap>) -> String {
    let name = |o: ConfigMap| o.metadata.name.unwrap_or_default();
    match event {
        watcher::Event::Init | watcher::Event::InitDone => "init".into(),
        watcher::Event::InitApply(o) => format!("init {}", name(o)),
        watcher::Event::Apply(o) => {
            let value = o
                .data
                .clone()
                .unwrap_or_default()
                .remove("key")
                .unwrap_or_default();
            format!("apply {} {value}", name(o))
        }
        watcher::Event::Delete(o) => format!("delete {}", name(o)),
    }
}

#[tokio::test]
async fn kube_watcher_sees_objects_appear_change_and_go() {
    let server = ApiServer::start(quiet());
    post(&server, CONFIGMAPS, &configmap("before", json!({}))).await;
    let api: Api<ConfigMap> = Api::namespaced(kube_client(&server, "test").await, "default");
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let mut next = async || describe(events.next().await.expect("an event").expect("no error"));
    assert_eq!(
        [next().await, next().await, next().await],
        ["init", "init before", "init"]
    );

    post(&server, CONFIGMAPS, &configmap("new", json!({}))).await;
    let path = format!("{CONFIGMAPS}/new");
    merge(&server, &path, &json!({"data": {"key": "changed"}})).await;
    delete(&server, &path).await;
    let seen = [next().await, next().await, next().await];
    assert_eq!(seen, ["apply new value", "apply new changed", "delete new"]);
}

#[tokio::test]
async fn a_watch_replays_matching_changes_and_ends_with_a_bookmark() {
    let server = ApiServer::start(quiet());
    post(
        &server,
        CONFIGMAPS,
        &configmap("old", json!({"app": "web"})),
    )
    .await;
    let (_, list) = get(&server, CONFIGMAPS).await;
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &server,
        CONFIGMAPS,
        &configmap("web", json!({"app": "web"})),
    )
    .await;
    post(&server, CONFIGMAPS, &configmap("db", json!({"app": "db"}))).await;
    let status = json!({"note": "x"});
    server
        .set_status("v1", "ConfigMap", Some("default"), "web", status)
        .unwrap();

    let selected = "labelSelector=app%3Dweb&timeoutSeconds=1&allowWatchBookmarks=true";
    let events = watch(&server, &format!("resourceVersion={from}&{selected}")).await;
    let seen: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e["type"], e["object"]["metadata"]["name"]))
        .collect();
    assert_eq!(
        seen,
        [
            r#""ADDED" "web""#,
            r#""MODIFIED" "web""#,
            r#""BOOKMARK" null"#
        ]
    );
    assert_eq!(events[1]["object"]["status"]["note"], "x");
    let (_, list) = get(&server, CONFIGMAPS).await;
    let bookmarked = &events[2]["object"]["metadata"]["resourceVersion"];
    assert_eq!(bookmarked, &list["metadata"]["resourceVersion"]);

    let events = watch(&server, "timeoutSeconds=1").await;
    assert_eq!(
        events.len(),
        3,
        "without a resourceVersion, every object first"
    );
    assert!(events.iter().all(|e| e["type"] == "ADDED"));
}

#[tokio::test]
async fn a_resource_version_older_than_the_history_is_expired() {
    let server = ApiServer::start(quiet());
    post(&server, CONFIGMAPS, &configmap("busy", json!({}))).await;
    for i in 0..test_apiserver::WATCH_HISTORY + 100 {
        let status = json!({"count": i});
        server
            .set_status("v1", "ConfigMap", Some("default"), "busy", status)
            .unwrap();
    }
    let events = watch(&server, "resourceVersion=2&timeoutSeconds=1").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    let status = &events[0]["object"];
    assert_eq!(
        (&status["code"], &status["reason"]),
        (&json!(410), &json!("Expired"))
    );

    let busy = server
        .get("v1", "ConfigMap", Some("default"), "busy")
        .unwrap();
    let now: u64 = busy["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let events = watch(
        &server,
        &format!("resourceVersion={}&timeoutSeconds=1", now - 5),
    )
    .await;
    assert_eq!(events.len(), 5, "recent versions still replay");
}
