//! The simulated controllers: workloads become ready (in the shape kstatus reads as Current)
//! after the configured delay, or never when stuck.

use std::time::Duration;

use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options, Workloads};

use crate::{DEPLOYMENTS, apply, deployment, eventually, widget_crd};

/// The status of condition `kind`, or "" when absent.
fn condition(object: &Value, kind: &str) -> String {
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = conditions.into_iter().find(|c| c["type"] == kind);
    found
        .and_then(|c| c["status"].as_str().map(String::from))
        .unwrap_or_default()
}

#[tokio::test]
async fn ready_workloads_report_a_current_status_for_each_generation() {
    let workloads = Workloads::Ready {
        after: Duration::from_millis(100),
    };
    let server = ApiServer::start(Options {
        workloads,
        ..Options::default()
    });
    let path = format!("{DEPLOYMENTS}/web");
    let (_, created) = apply(&server, &path, "dappctl", &deployment("web", 2)).await;
    assert!(
        created["status"].is_null(),
        "the status comes later, not with the write"
    );
    let web = || {
        server
            .get("apps/v1", "Deployment", Some("default"), "web")
            .unwrap()
    };
    eventually("a ready deployment", || {
        web()["status"]["readyReplicas"] == 2
    })
    .await;
    let status = &web()["status"];
    assert_eq!(
        (&status["observedGeneration"], &status["availableReplicas"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(
        (
            condition(&web(), "Available"),
            condition(&web(), "Progressing")
        ),
        ("True".into(), "True".into())
    );
    let progressing = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing");
    assert_eq!(progressing.unwrap()["reason"], "NewReplicaSetAvailable");
    apply(&server, &path, "dappctl", &deployment("web", 3)).await;
    eventually("generation 2 observed", || {
        web()["status"]["observedGeneration"] == 2
    })
    .await;
    assert_eq!(web()["status"]["updatedReplicas"], 3);

    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    apply(
        &server,
        &format!("{crds}/widgets.example.com"),
        "dappctl",
        &widget_crd(),
    )
    .await;
    let metadata = json!({"name": "w", "namespace": "default"});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata});
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    assert_eq!(
        apply(&server, &format!("{widgets}/w"), "dappctl", &widget)
            .await
            .0,
        201
    );
    let w = || {
        server
            .get("example.com/v1", "Widget", Some("default"), "w")
            .unwrap()
    };
    eventually("a Ready widget", || condition(&w(), "Ready") == "True").await;
    assert_eq!(w()["status"]["observedGeneration"], 1);
    assert_eq!(w()["status"]["conditions"][0]["observedGeneration"], 1);

    let pod =
        json!({"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox:1.37"}]});
    let metadata = json!({"name": "once", "namespace": "default"});
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
                     "spec": {"template": {"spec": pod}}});
    apply(
        &server,
        "/apis/batch/v1/namespaces/default/jobs/once",
        "dappctl",
        &job,
    )
    .await;
    let once = || {
        server
            .get("batch/v1", "Job", Some("default"), "once")
            .unwrap()
    };
    eventually("a complete job", || {
        condition(&once(), "Complete") == "True"
    })
    .await;
}

#[tokio::test]
async fn stuck_workloads_never_get_a_status() {
    let server = ApiServer::start(Options {
        workloads: Workloads::Stuck,
        ..Options::default()
    });
    apply(
        &server,
        &format!("{DEPLOYMENTS}/web"),
        "dappctl",
        &deployment("web", 1),
    )
    .await;
    let metadata = json!({"name": "data", "namespace": "default"});
    let spec =
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": spec});
    apply(
        &server,
        "/api/v1/namespaces/default/persistentvolumeclaims/data",
        "dappctl",
        &claim,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let web = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    let data = server
        .get("v1", "PersistentVolumeClaim", Some("default"), "data")
        .unwrap();
    assert_eq!(
        (&web["status"], &data["status"]),
        (&Value::Null, &Value::Null)
    );
}
