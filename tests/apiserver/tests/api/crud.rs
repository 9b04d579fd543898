//! Create, replace, merge patch, the status subresource, preconditions, namespaces, finalizers
//! and selectors.

use serde_json::{Value, json};
use test_apiserver::ApiServer;

use crate::{CONFIGMAPS, DEPLOYMENTS, apply, configmap, deployment, owned, quiet, refusal};
use crate::{delete, get, merge, post, put};

#[tokio::test]
async fn writes_need_an_existing_namespace_a_matching_one_and_a_name() {
    let server = ApiServer::start(quiet());
    let shop = "/api/v1/namespaces/shop/configmaps";
    let mut in_shop = configmap("a", json!({}));
    in_shop["metadata"]["namespace"] = json!("shop");
    let (code, status) = post(&server, shop, &in_shop).await;
    assert_eq!(
        (code, status["message"].as_str()),
        (404, Some("namespaces \"shop\" not found"))
    );
    assert_eq!(
        status["details"],
        json!({"name": "shop", "group": "", "kind": "namespaces"})
    );

    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    assert_eq!(post(&server, "/api/v1/namespaces", &namespace).await.0, 201);
    let answer = post(&server, shop, &configmap("a", json!({}))).await;
    assert_eq!(
        refusal(&answer),
        (400, "BadRequest"),
        "body says default, URL says shop"
    );
    let nameless = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
    assert_eq!(
        refusal(&post(&server, CONFIGMAPS, &nameless).await),
        (422, "Invalid")
    );
    let answer = post(&server, CONFIGMAPS, &json!("not an object")).await;
    assert_eq!((answer.0, answer.1["kind"].as_str()), (400, Some("Status")));
}

#[tokio::test]
async fn writes_record_update_managers_and_check_preconditions() {
    let server = ApiServer::start(quiet());
    let path = format!("{CONFIGMAPS}/a");
    let as_ui = format!("{CONFIGMAPS}?fieldManager=ui");
    let (code, created) = post(&server, &as_ui, &configmap("a", json!({}))).await;
    assert_eq!(code, 201);
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Update"
    );
    assert_eq!(
        owned(&created, "ui")["f:data"],
        json!({".": {}, "f:key": {}})
    );
    let again = post(&server, CONFIGMAPS, &configmap("a", json!({}))).await;
    assert_eq!(refusal(&again), (409, "AlreadyExists"));

    let mut stale = created.clone();
    stale["data"]["key"] = json!("new");
    stale["metadata"]["resourceVersion"] = json!("1");
    assert_eq!(
        refusal(&put(&server, &path, &stale).await),
        (409, "Conflict")
    );
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"].clone();
    let (code, replaced) = put(&server, &path, &stale).await;
    assert_eq!((code, replaced["data"]["key"].as_str()), (200, Some("new")));
    assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);

    let patch = json!({"data": {"key": null, "other": "x"}});
    let (code, patched) = merge(&server, &format!("{path}?fieldManager=kubectl"), &patch).await;
    assert_eq!((code, &patched["data"]), (200, &json!({"other": "x"})));
    assert_eq!(owned(&patched, "kubectl")["f:data"], json!({"f:other": {}}));
    assert!(
        owned(&patched, "ui")["f:data"]["f:key"].is_null(),
        "a removed field leaves its owner"
    );
    assert_eq!(
        merge(&server, &format!("{CONFIGMAPS}/missing"), &patch)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_status_subresource_separates_spec_from_status() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    let (_, mut web) = apply(&server, &path, "dappctl", &deployment("web", 1)).await;
    web["status"] = json!({"readyReplicas": 1});
    web["spec"]["replicas"] = json!(2);
    let (_, mut web) = put(&server, &path, &web).await;
    assert_eq!(
        (web["spec"]["replicas"].as_i64(), web["status"].is_null()),
        (Some(2), true)
    );

    web["status"] = json!({"readyReplicas": 1});
    web["spec"]["replicas"] = json!(9);
    let (code, web) = put(&server, &format!("{path}/status"), &web).await;
    assert_eq!(code, 200);
    assert_eq!(
        (
            web["spec"]["replicas"].as_i64(),
            web["status"]["readyReplicas"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        web["metadata"]["generation"], 2,
        "status writes leave the generation alone"
    );
    let entries = web["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry = entries
        .iter()
        .find(|e| e["subresource"] == "status")
        .expect("a status manager");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {".": {}, "f:readyReplicas": {}}})
    );
    let answer = get(&server, &format!("{CONFIGMAPS}/x/status")).await;
    assert_eq!(answer.0, 404, "configmaps have no status subresource");
}

#[tokio::test]
async fn finalizers_hold_a_deletion_until_they_are_gone() {
    let server = ApiServer::start(quiet());
    let path = format!("{CONFIGMAPS}/held");
    let mut held = configmap("held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    post(&server, CONFIGMAPS, &held).await;
    let (code, deleting) = delete(&server, &path).await;
    assert_eq!(code, 200);
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 0);
    assert!(
        server
            .get("v1", "ConfigMap", Some("default"), "held")
            .is_some()
    );

    let release = json!({"metadata": {"finalizers": null}});
    assert_eq!(merge(&server, &path, &release).await.0, 200);
    assert!(
        server
            .get("v1", "ConfigMap", Some("default"), "held")
            .is_none()
    );
    assert_eq!(delete(&server, &path).await.0, 404);
}

#[tokio::test]
async fn deleting_a_namespace_deletes_what_it_holds() {
    let server = ApiServer::start(quiet());
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    post(&server, "/api/v1/namespaces", &namespace).await;
    let mut inside = configmap("inside", json!({}));
    inside["metadata"]["namespace"] = json!("shop");
    post(&server, "/api/v1/namespaces/shop/configmaps", &inside).await;
    post(&server, CONFIGMAPS, &configmap("outside", json!({}))).await;
    assert_eq!(delete(&server, "/api/v1/namespaces/shop").await.0, 200);
    let names: Vec<Value> = server
        .objects()
        .iter()
        .map(|o| o["metadata"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("outside"), json!("default"), json!("kube-system")]
    );
}

#[tokio::test]
async fn selectors_filter_lists() {
    let server = ApiServer::start(quiet());
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
    ] {
        post(&server, CONFIGMAPS, &configmap(name, labels)).await;
    }
    let names = |list: &Value| -> String {
        let items = list["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
            .collect()
    };
    for (query, expected) in [
        ("labelSelector=app%3Dweb", "ab"),
        ("labelSelector=app%3D%3Dweb,tier!%3Dfront", "b"),
        ("labelSelector=tier", "ab"),
        ("labelSelector=!tier", "c"),
        ("labelSelector=app%20in%20(db,%20cache)", "c"),
        ("labelSelector=tier%20notin%20(back)", "ac"),
        ("fieldSelector=metadata.name%3Db", "b"),
        ("fieldSelector=metadata.namespace!%3Ddefault", ""),
    ] {
        let (code, list) = get(&server, &format!("{CONFIGMAPS}?{query}")).await;
        assert_eq!((code, names(&list).as_str()), (200, expected), "{query}");
    }
    let (_, all) = get(&server, "/api/v1/configmaps?labelSelector=app").await;
    assert_eq!(names(&all), "abc", "a list without a namespace spans all");
    let answer = get(&server, &format!("{CONFIGMAPS}?fieldSelector=spec.x%3D1")).await;
    assert_eq!(refusal(&answer), (400, "BadRequest"));
}
