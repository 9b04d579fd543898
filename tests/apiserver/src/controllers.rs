//! The controllers this server stands in for: apiextensions marking CRDs Established, and the
//! workload controllers reporting workloads ready in the shape kstatus reads as Current — or
//! never, with `Workloads::Stuck`.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use crate::{Shared, Workloads, apply, discovery::Resource, store, store::Store};

/// Computes the status a controller would report for an object, if it reports one.
type Reporter = fn(&Resource, &Value, &str) -> Option<Value>;

/// Called after every real write through a main resource: schedules the status a controller
/// would write in reaction.
pub(crate) fn after_write(
    shared: &Arc<Shared>,
    store: &mut Store,
    r: &Resource,
    namespace: &str,
    name: &str,
) {
    let (delay, manager, reporter): (Duration, &'static str, Reporter) =
        match shared.options.workloads {
            _ if r.is_crd() => (
                shared.options.crd_established_after,
                "kube-apiserver",
                established,
            ),
            Workloads::Ready { after } if r.custom => (after, "test-controller", ready),
            Workloads::Ready { after } => (after, "kube-controller-manager", ready),
            Workloads::Stuck => return,
        };
    // Without a delay the CRD is served as soon as its create returns, so tests need not wait.
    if r.is_crd() && delay.is_zero() {
        return report(store, r, namespace, name, manager, reporter);
    }
    let live = store.get(r, namespace, name);
    if live.and_then(|o| reporter(r, o, "")).is_none() {
        return;
    }
    let (shared, r, namespace, name) = (
        shared.clone(),
        r.clone(),
        namespace.to_string(),
        name.to_string(),
    );
    shared.runtime.clone().spawn(async move {
        tokio::time::sleep(delay).await;
        report(
            &mut shared.store(),
            &r,
            &namespace,
            &name,
            manager,
            reporter,
        );
    });
}

fn report(
    store: &mut Store,
    r: &Resource,
    namespace: &str,
    name: &str,
    manager: &str,
    reporter: Reporter,
) {
    let Some(live) = store.get(r, namespace, name).cloned() else {
        return;
    };
    let now = store::now();
    let Some(status) = reporter(r, &live, &now) else {
        return;
    };
    let mut next = live.clone();
    next["status"] = status;
    let next = apply::update(r, r.status, Some(&live), next, (manager, &now));
    store.commit(r, Some(&live), next, false);
}

fn condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message})
}

fn established(_: &Resource, crd: &Value, now: &str) -> Option<Value> {
    let mut status = crd["status"].as_object().cloned().unwrap_or_default();
    let stored: Vec<&Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| &v["name"])
        .collect();
    status.insert("acceptedNames".into(), crd["spec"]["names"].clone());
    status.insert("storedVersions".into(), json!(stored));
    status.insert(
        "conditions".into(),
        json!([
            condition("NamesAccepted", "NoConflicts", "no conflicts found", now),
            condition(
                "Established",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now
            ),
        ]),
    );
    Some(Value::Object(status))
}

/// The status of a workload that has rolled out completely.
fn ready(r: &Resource, object: &Value, now: &str) -> Option<Value> {
    let generation = &object["metadata"]["generation"];
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let revision = format!(
        "{}-{}",
        object["metadata"]["name"].as_str().unwrap_or_default(),
        generation
    );
    let status = match (r.group.as_str(), r.kind.as_str()) {
        ("apps", "Deployment") => json!({
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                condition("Progressing", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed.", now),
            ],
        }),
        ("apps", "StatefulSet") => json!({
            "observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
            "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
            "currentRevision": revision, "updateRevision": revision,
        }),
        ("apps", "DaemonSet") => json!({
            "observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1, "numberReady": 1, "numberAvailable": 1, "numberMisscheduled": 0,
        }),
        ("batch", "Job") => json!({
            "startTime": now, "completionTime": now, "succeeded": 1, "ready": 0,
            "conditions": [
                condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now),
                condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", now),
            ],
        }),
        ("", "PersistentVolumeClaim") => {
            json!({"phase": "Bound", "accessModes": object["spec"]["accessModes"]})
        }
        _ if r.custom && r.status => {
            let mut status = object["status"].as_object().cloned().unwrap_or_default();
            let mut conditions: Vec<Value> = status
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c["type"] != "Ready")
                .cloned()
                .collect();
            let mut ready = condition(
                "Ready",
                "Reconciled",
                "reconciled by the test API server",
                now,
            );
            ready["observedGeneration"] = generation.clone();
            conditions.push(ready);
            status.insert("observedGeneration".into(), generation.clone());
            status.insert("conditions".into(), json!(conditions));
            Value::Object(status)
        }
        _ => return None,
    };
    Some(status)
}
