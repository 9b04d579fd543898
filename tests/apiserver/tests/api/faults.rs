//! Injected faults: RBAC refusals in the real wording, invalid objects, and faults that run out.

use serde_json::json;
use test_apiserver::{ApiServer, Fault, Method};

use crate::{CONFIGMAPS, DEPLOYMENTS, apply, configmap, deployment, get, post, quiet, refusal};

#[tokio::test]
async fn a_forbidden_fault_refuses_in_the_rbac_wording() {
    let server = ApiServer::start(quiet());
    server.inject(Fault::forbidden(Method::Patch, "deployments"));
    let path = format!("{DEPLOYMENTS}/web");
    let answer = apply(&server, &path, "dappctl", &deployment("web", 1)).await;
    assert_eq!(refusal(&answer), (403, "Forbidden"));
    let message = "deployments.apps \"web\" is forbidden: User \"test\" cannot patch resource \
                   \"deployments\" in API group \"apps\" in the namespace \"default\"";
    assert_eq!(answer.1["message"], message);
    let details = json!({"name": "web", "group": "apps", "kind": "deployments"});
    assert_eq!(answer.1["details"], details);
    assert_eq!(get(&server, DEPLOYMENTS).await.0, 200, "other verbs pass");
    assert!(server.objects().iter().all(|o| o["kind"] != "Deployment"));
}

#[tokio::test]
async fn faults_match_by_name_and_run_out() {
    let server = ApiServer::start(quiet());
    let invalid = "ConfigMap \"bad\" is invalid: data: Too long";
    server.inject(Fault::invalid("configmaps", "bad", invalid));
    let flaky = Fault {
        method: Some(Method::Post),
        resource: Some("configmaps".into()),
        name: None,
        status: 500,
        reason: "InternalError".into(),
        message: "etcd is having a moment".into(),
        times: None,
    };
    server.inject(flaky.times(2));
    let (code, status) = post(&server, CONFIGMAPS, &configmap("bad", json!({}))).await;
    assert_eq!((code, status["message"].as_str()), (422, Some(invalid)));
    let mut codes = vec![];
    for _ in 0..3 {
        codes.push(
            post(&server, CONFIGMAPS, &configmap("good", json!({})))
                .await
                .0,
        );
    }
    assert_eq!(codes, [500, 500, 201]);
    let read = get(&server, &format!("{CONFIGMAPS}/bad")).await;
    assert_eq!(
        refusal(&read),
        (404, "NotFound"),
        "reads pass a fault without a method"
    );
}
