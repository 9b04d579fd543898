//! Server-side apply: create, no-op, generation, managed fields, conflicts, force, pruning,
//! shared ownership, keyed lists and dry runs.

use kube::{
    Api,
    api::{DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use serde_json::{Value, json};
use test_apiserver::ApiServer;

use crate::kube_client;
use crate::{APPLY, DEPLOYMENTS, apply, call, deployment, get, merge, owned, quiet, refusal};

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

/// A Deployment `web` with only the given spec, as a tool that manages part of it applies it.
fn partial(spec: Value) -> Value {
    let metadata = json!({"name": "web", "namespace": "default"});
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
}

#[tokio::test]
async fn apply_creates_reports_no_op_and_counts_generations() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    let (code, created) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(
        (entry["manager"].as_str(), entry["operation"].as_str()),
        (Some("dappctl"), Some("Apply"))
    );
    assert_eq!(entry["fieldsType"], "FieldsV1");
    let fields = &entry["fieldsV1"];
    assert_eq!(fields["f:metadata"], json!({"f:labels": {"f:app": {}}}));
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    let containers = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert_eq!(
        containers["k:{\"name\":\"app\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}})
    );

    let (code, same) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert_eq!(
        (code, rv(&same)),
        (200, rv(&created)),
        "a no-op apply keeps the resourceVersion"
    );
    let (_, scaled) = apply(&server, &path, "dappctl", &deployment("web", 3)).await;
    assert!(rv(&scaled) > rv(&created));
    assert_eq!(scaled["metadata"]["generation"], 2);
    let mut labelled = deployment("web", 3);
    labelled["metadata"]["labels"]["tier"] = json!("front");
    let (_, labelled) = apply(&server, &path, "dappctl", &labelled).await;
    assert_eq!(
        labelled["metadata"]["generation"], 2,
        "metadata leaves the generation alone"
    );
    assert!(rv(&labelled) > rv(&scaled));

    let (code, list) = get(&server, DEPLOYMENTS).await;
    assert_eq!((code, list["kind"].as_str()), (200, Some("DeploymentList")));
    assert_eq!(
        list["metadata"]["resourceVersion"],
        rv(&labelled).to_string()
    );
    assert_eq!(list["items"][0]["kind"], "Deployment");
}

#[tokio::test]
async fn conflicts_name_the_other_manager_in_the_real_wording() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    assert_eq!(
        apply(&server, &path, "dappctl", &deployment("web", 2))
            .await
            .0,
        201
    );

    let status = server
        .apply_as("helm", deployment("web", 5))
        .expect_err("replicas are dappctl's");
    assert_eq!(
        (&status["code"], &status["reason"]),
        (&json!(409), &json!("Conflict"))
    );
    let message = "Apply failed with 1 conflict: conflict with \"dappctl\": .spec.replicas";
    assert_eq!(status["message"], message);
    let cause = json!({"reason": "FieldManagerConflict", "message": "conflict with \"dappctl\"",
                       "field": ".spec.replicas"});
    assert_eq!(status["details"]["causes"], json!([cause]));

    let scale = json!({"spec": {"replicas": 4}, "metadata": {"labels": {"app": "api"}}});
    assert_eq!(
        merge(
            &server,
            &format!("{path}?fieldManager=kubectl-edit"),
            &scale
        )
        .await
        .0,
        200
    );
    let (code, status) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert_eq!(code, 409);
    let message = "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n\
                   - .metadata.labels.app\n- .spec.replicas";
    assert_eq!(status["message"], message);
    let cause = &status["details"]["causes"][1];
    assert_eq!(
        cause["message"],
        "conflict with \"kubectl-edit\" using apps/v1"
    );
    let web = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(
        web["spec"]["replicas"], 4,
        "a refused apply changes nothing"
    );
}

#[tokio::test]
async fn kube_dynamic_apply_sees_creation_no_op_conflicts_and_dry_runs() {
    let server = ApiServer::start(quiet());
    let client = kube_client(&server, "test").await;
    let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (resource, _) = kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let object = |replicas| serde_json::from_value::<DynamicObject>(deployment("web", replicas));
    let dappctl = PatchParams::apply("dappctl");
    let created = api
        .patch("web", &dappctl, &Patch::Apply(object(2).unwrap()))
        .await
        .unwrap();
    let again = api
        .patch("web", &dappctl, &Patch::Apply(object(2).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        created.metadata.resource_version,
        again.metadata.resource_version
    );

    let helm = PatchParams::apply("helm");
    let refused = api
        .patch("web", &helm, &Patch::Apply(object(5).unwrap()))
        .await;
    let Err(kube::Error::Api(status)) = refused else {
        panic!("a conflict, not {refused:?}")
    };
    let message = "Apply failed with 1 conflict: conflict with \"dappctl\": .spec.replicas";
    assert_eq!((status.code, status.message.as_str()), (409, message));
    let forced = PatchParams::apply("helm").force().dry_run();
    let preview = api
        .patch("web", &forced, &Patch::Apply(object(5).unwrap()))
        .await
        .unwrap();
    assert_eq!(preview.data["spec"]["replicas"], 5);
    let stored = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(
        stored["spec"]["replicas"], 2,
        "the forced dry run stored nothing"
    );
}

#[tokio::test]
async fn force_takes_the_fields_from_the_other_manager() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    let forced = format!("{path}?fieldManager=autoscaler&force=true");
    let scale = partial(json!({"replicas": 7}));
    let (code, web) = call(&server, "PATCH", &forced, Some((APPLY, &scale))).await;
    assert_eq!((code, web["spec"]["replicas"].as_i64()), (200, Some(7)));
    assert_eq!(
        owned(&web, "autoscaler"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(owned(&web, "dappctl")["f:spec"]["f:replicas"].is_null());
    assert!(
        owned(&web, "dappctl")["f:spec"]["f:template"].is_object(),
        "only conflicts move"
    );
    let (code, status) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert_eq!(code, 409);
    let message = "Apply failed with 1 conflict: conflict with \"autoscaler\": .spec.replicas";
    assert_eq!(status["message"], message);
}

#[tokio::test]
async fn dropped_fields_go_unless_another_manager_shares_them() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    let mut labelled = deployment("web", 2);
    labelled["metadata"]["labels"] = json!({"app": "web", "team": "a", "tier": "front"});
    apply(&server, &path, "dappctl", &labelled).await;
    let mut shared = partial(json!({"replicas": 2}));
    shared["metadata"]["labels"] = json!({"tier": "front"});
    let web = server
        .apply_as("helm", shared)
        .expect("equal values do not conflict");
    let helm = json!({"f:metadata": {"f:labels": {"f:tier": {}}}, "f:spec": {"f:replicas": {}}});
    assert_eq!(owned(&web, "helm"), helm);
    assert_eq!(
        owned(&web, "dappctl")["f:spec"]["f:replicas"],
        json!({}),
        "both own replicas"
    );

    let (code, web) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert_eq!(code, 200);
    let labels = json!({"app": "web", "tier": "front"});
    assert_eq!(web["metadata"]["labels"], labels, "team goes, tier stays");
    let mut unscaled = deployment("web", 0);
    unscaled["spec"].as_object_mut().unwrap().remove("replicas");
    let (_, web) = apply(&server, &path, "dappctl", &unscaled).await;
    assert_eq!(web["spec"]["replicas"], 2, "helm still owns replicas");
    assert!(owned(&web, "dappctl")["f:spec"]["f:replicas"].is_null());
}

#[tokio::test]
async fn keyed_lists_merge_item_by_item_across_managers() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    apply(&server, &path, "dappctl", &deployment("web", 1)).await;
    let proxy = json!([{"name": "proxy", "image": "envoy:1.31"}]);
    let sidecar = partial(json!({"template": {"spec": {"containers": proxy}}}));
    let web = server
        .apply_as("mesh", sidecar)
        .expect("another container is no conflict");
    let containers = &web["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        (&containers[0]["name"], &containers[1]["name"]),
        (&json!("app"), &json!("proxy"))
    );
    let mut image = deployment("web", 1);
    image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    let (code, web) = apply(&server, &path, "dappctl", &image).await;
    let containers = &web["spec"]["template"]["spec"]["containers"];
    assert_eq!((code, &containers[0]["image"]), (200, &json!("nginx:1.28")));
    assert_eq!(
        containers[1]["name"], "proxy",
        "the item dappctl never applied stays"
    );
}

#[tokio::test]
async fn dry_runs_answer_but_store_nothing() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    let before = server.objects();
    let dry = format!("{path}?fieldManager=dappctl&dryRun=All");
    let (code, web) = call(&server, "PATCH", &dry, Some((APPLY, &deployment("web", 2)))).await;
    assert_eq!((code, web["spec"]["replicas"].as_i64()), (201, Some(2)));
    assert_eq!(server.objects(), before);
    let requests = server.requests();
    let logged = requests
        .iter()
        .find(|r| r.method == "PATCH")
        .expect("the apply is logged");
    assert_eq!(
        (logged.dry_run, logged.field_manager.as_deref()),
        (true, Some("dappctl"))
    );

    apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    let stored = server.objects();
    let options = json!({"dryRun": ["All"]});
    let answer = call(
        &server,
        "DELETE",
        &path,
        Some(("application/json", &options)),
    )
    .await;
    assert_eq!((answer.0, server.objects()), (200, stored));
    assert!(server.requests().last().is_some_and(|r| r.dry_run));
}

#[tokio::test]
async fn malformed_patches_are_refused() {
    let server = ApiServer::start(quiet());
    let path = format!("{DEPLOYMENTS}/web");
    let (code, status) = call(
        &server,
        "PATCH",
        &path,
        Some((APPLY, &deployment("web", 1))),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("fieldManager: Required value")
    );
    let url = format!("{}{path}?fieldManager=dappctl", server.url());
    let yaml = "apiVersion: apps/v1\nkind: Deployment\n";
    let request = reqwest::Client::new().patch(url).bearer_auth("test-token");
    let response = request
        .header("content-type", APPLY)
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let status: Value = response.json().await.unwrap();
    assert!(
        status["message"].as_str().unwrap().contains("JSON only"),
        "{status}"
    );
    let patch = Some(("application/xml", &json!([])));
    let answer = call(&server, "PATCH", &path, patch).await;
    assert_eq!(refusal(&answer), (415, "UnsupportedMediaType"));
    // JSON patches apply, and a failed test changes nothing.
    server
        .apply_as("kubectl", deployment("web", 1))
        .expect("a deployment to patch");
    let stale = json!([{"op": "test", "path": "/metadata/name", "value": "other"},
                       {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]);
    let answer = call(
        &server,
        "PATCH",
        &path,
        Some(("application/json-patch+json", &stale)),
    )
    .await;
    assert_eq!(refusal(&answer), (422, "Invalid"));
    let labels = json!([{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]);
    let answer = call(
        &server,
        "PATCH",
        &path,
        Some(("application/json-patch+json", &labels)),
    )
    .await;
    assert_eq!(answer.1["metadata"]["labels"]["x"], "y", "{:?}", answer.1);
}
