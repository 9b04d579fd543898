//! Discovery through kube-rs, CRD registration, unknown paths and the bearer token.

use std::time::Duration;

use kube::{
    api::{Api, DynamicObject, GroupVersionKind as Gvk},
    core::gvk::GroupVersion,
    discovery::{self, ApiCapabilities, Discovery, Scope, pinned_kind},
};
use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options};

use crate::{apply, delete, get, kube_client, refusal, widget_crd};

const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";
const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

fn has_status(caps: &ApiCapabilities) -> bool {
    caps.subresources
        .iter()
        .any(|(sub, _)| sub.plural == "status")
}

#[tokio::test]
async fn kube_discovery_resolves_builtins_with_scope_and_status() {
    let server = ApiServer::start(Options::default());
    let client = kube_client(&server, "test").await;
    let found = Discovery::new(client.clone()).run().await.unwrap();
    let (deployments, caps) = found
        .resolve_gvk(&Gvk::gvk("apps", "v1", "Deployment"))
        .unwrap();
    assert_eq!(
        (deployments.plural.as_str(), &caps.scope),
        ("deployments", &Scope::Namespaced)
    );
    assert!(has_status(&caps));
    let (_, caps) = found.resolve_gvk(&Gvk::gvk("", "v1", "Namespace")).unwrap();
    assert_eq!(caps.scope, Scope::Cluster);
    let (configmaps, caps) = found.resolve_gvk(&Gvk::gvk("", "v1", "ConfigMap")).unwrap();
    assert_eq!(
        (configmaps.api_version.as_str(), has_status(&caps)),
        ("v1", false)
    );
    assert!(found.has_group("rbac.authorization.k8s.io") && found.has_group("events.k8s.io"));

    let cronjob = Gvk::gvk("batch", "v1", "CronJob");
    let (cronjobs, _) = pinned_kind(&client, &cronjob).await.unwrap();
    assert_eq!(cronjobs.plural, "cronjobs");
    let networking = GroupVersion::gv("networking.k8s.io", "v1");
    let group = discovery::pinned_group(&client, &networking).await.unwrap();
    assert!(group.recommended_kind("Ingress").is_some());
    assert!(group.recommended_kind("Deployment").is_none());
}

#[tokio::test]
async fn crds_are_served_once_established_and_leave_with_their_objects() {
    let established_after = Duration::from_millis(300);
    let server = ApiServer::start(Options {
        crd_established_after: established_after,
        ..Options::default()
    });
    let (code, crd) = apply(&server, CRD, "dappctl", &widget_crd()).await;
    assert_eq!(
        (code, &crd["status"]["conditions"]),
        (201, &Value::Null),
        "not established yet"
    );
    let metadata = json!({"name": "w", "namespace": "default"});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata});
    let path = format!("{WIDGETS}/w");
    assert_eq!(
        apply(&server, &path, "dappctl", &widget).await.0,
        404,
        "not served yet"
    );

    let kind = "CustomResourceDefinition";
    let stored = || server.get("apiextensions.k8s.io/v1", kind, None, "widgets.example.com");
    let established = || stored().is_some_and(|c| c["status"]["conditions"][1]["status"] == "True");
    crate::eventually("Established", established).await;
    let conditions = &stored().unwrap()["status"]["conditions"];
    assert_eq!(
        (&conditions[0]["type"], &conditions[1]["type"]),
        (&json!("NamesAccepted"), &json!("Established"))
    );

    let client = kube_client(&server, "test").await;
    let (widgets, caps) = pinned_kind(&client, &Gvk::gvk("example.com", "v1", "Widget"))
        .await
        .unwrap();
    assert_eq!(
        (widgets.plural.as_str(), caps.scope.clone()),
        ("widgets", Scope::Namespaced)
    );
    assert!(has_status(&caps));
    assert_eq!(apply(&server, &path, "dappctl", &widget).await.0, 201);
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &widgets);
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);

    assert_eq!(delete(&server, CRD).await.0, 200);
    assert!(server.objects().iter().all(|o| o["kind"] != "Widget"));
    assert_eq!(refusal(&get(&server, WIDGETS).await), (404, "NotFound"));
}

#[tokio::test]
async fn a_crd_named_unlike_its_plural_and_group_is_invalid() {
    let server = ApiServer::start(Options::default());
    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("gadgets.example.com");
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com";
    assert_eq!(
        refusal(&apply(&server, path, "dappctl", &crd).await),
        (422, "Invalid")
    );
}

#[tokio::test]
async fn unknown_resources_answer_a_not_found_status() {
    let server = ApiServer::start(Options::default());
    let paths = [
        "/apis/example.com/v1/widgets",
        "/api/v1/namespaces/default/deployments",
        "/apis/apps/v1/deployments/web",
        "/nowhere",
    ];
    for path in paths {
        let (code, status) = get(&server, path).await;
        assert_eq!((code, &status["kind"]), (404, &json!("Status")), "{path}");
        let message = "the server could not find the requested resource";
        assert_eq!(status["message"], message, "{path}");
    }
}

#[tokio::test]
async fn every_request_needs_the_token() {
    let server = ApiServer::start(Options::default());
    let url = format!("{}/api/v1/namespaces", server.url());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let status: Value = response.json().await.unwrap();
    assert_eq!(
        (&status["reason"], &status["code"]),
        (&json!("Unauthorized"), &json!(401))
    );

    let wrong = kube_client(&server, "other").await;
    let error = wrong
        .apiserver_version()
        .await
        .expect_err("a wrong token is refused");
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.code == 401),
        "{error:?}"
    );
    let right = kube_client(&server, "test").await;
    assert_eq!(
        right.apiserver_version().await.unwrap().git_version,
        "v1.33.0"
    );
    assert!(server.requests().iter().any(|r| r.path == "/version"));
}
