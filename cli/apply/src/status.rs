//! Whether a live object is ready, with kstatus's meaning (the one Flux, Argo CD and
//! `kubectl wait` share): Current, InProgress, Failed, Terminating or NotFound.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Current,
    InProgress,
    Failed,
    Terminating,
    NotFound,
}

/// An object's readiness and, when it is not Current, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub readiness: Readiness,
    pub message: String,
}

impl Status {
    fn new(readiness: Readiness, message: impl Into<String>) -> Status {
        Status {
            readiness,
            message: message.into(),
        }
    }

    fn current() -> Status {
        Status::new(Readiness::Current, "")
    }

    fn waiting(message: impl Into<String>) -> Status {
        Status::new(Readiness::InProgress, message)
    }
}

/// The readiness of `live` (None: the object is gone). `group` and `kind` pick the rules;
/// kinds without rules of their own are Current once their controller has seen the latest
/// generation, except custom resources, which must also say Ready.
pub fn status(group: &str, kind: &str, live: Option<&Value>) -> Status {
    let Some(live) = live else {
        return Status::new(Readiness::NotFound, "not found");
    };
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Status::new(Readiness::Terminating, "being deleted");
    }
    let number = |path: &str| live.pointer(path).and_then(Value::as_i64);
    let generation = number("/metadata/generation");
    let observed = number("/status/observedGeneration");
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed < generation
    {
        return Status::waiting(format!(
            "generation {generation} not observed yet (at {observed})"
        ));
    }
    if let Some(failed) = condition_true(live, "Stalled") {
        return Status::new(Readiness::Failed, failed);
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(live),
        ("apps", "StatefulSet") => statefulset(live),
        ("apps", "DaemonSet") => daemonset(live),
        ("batch", "Job") => job(live),
        ("", "PersistentVolumeClaim") => match live.pointer("/status/phase") {
            Some(Value::String(phase)) if phase == "Bound" => Status::current(),
            _ => Status::waiting("not bound yet"),
        },
        ("", "Pod") => pod(live),
        ("", "Service") => service(live),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(live),
        (group, _) if is_custom(group) => custom(live, generation, observed),
        _ => match condition_true(live, "Reconciling") {
            Some(why) => Status::waiting(why),
            None => Status::current(),
        },
    }
}

/// Groups served by Kubernetes itself end in `k8s.io` or have no dot (`apps`, `batch`).
fn is_custom(group: &str) -> bool {
    group.contains('.') && !group.ends_with(".k8s.io") && group != "k8s.io"
}

fn conditions(live: &Value) -> impl Iterator<Item = &Value> {
    live.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn condition<'a>(live: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions(live).find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn is(condition: &Value, status: &str) -> bool {
    condition.get("status").and_then(Value::as_str) == Some(status)
}

/// The message of a condition that is True, if it is.
fn condition_true(live: &Value, kind: &str) -> Option<String> {
    let found = condition(live, kind).filter(|c| is(c, "True"))?;
    Some(explain(found, kind))
}

fn explain(condition: &Value, kind: &str) -> String {
    let text = |key| condition.get(key).and_then(Value::as_str).unwrap_or("");
    match (text("reason"), text("message")) {
        ("", "") => kind.to_owned(),
        (reason, "") => format!("{kind}: {reason}"),
        (_, message) => format!("{kind}: {message}"),
    }
}

fn count(live: &Value, path: &str) -> i64 {
    live.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

/// A workload its controller has not looked at yet has no status to judge.
fn seen(live: &Value) -> Result<(), Status> {
    match live.pointer("/status/observedGeneration") {
        Some(_) => Ok(()),
        None => Err(Status::waiting("not seen by its controller yet")),
    }
}

/// `spec.replicas`, which defaults to 1.
fn wanted_replicas(live: &Value) -> i64 {
    live.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn deployment(live: &Value) -> Status {
    if let Some(progressing) = condition(live, "Progressing")
        && progressing.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        return Status::new(
            Readiness::Failed,
            explain(progressing, "ProgressDeadlineExceeded"),
        );
    }
    let wanted = match seen(live) {
        Ok(()) => wanted_replicas(live),
        Err(waiting) => return waiting,
    };
    let updated = count(live, "/status/updatedReplicas");
    let replicas = count(live, "/status/replicas");
    let available = count(live, "/status/availableReplicas");
    if updated < wanted {
        Status::waiting(format!("{updated}/{wanted} replicas updated"))
    } else if replicas > updated {
        Status::waiting(format!("{} old replicas terminating", replicas - updated))
    } else if available < wanted {
        Status::waiting(format!("{available}/{wanted} replicas available"))
    } else {
        Status::current()
    }
}

fn statefulset(live: &Value) -> Status {
    let wanted = match seen(live) {
        Ok(()) => wanted_replicas(live),
        Err(waiting) => return waiting,
    };
    let ready = count(live, "/status/readyReplicas");
    let current = count(live, "/status/currentReplicas");
    let revision = |key| live.pointer(key).and_then(Value::as_str);
    let rolling = live
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "RollingUpdate");
    if ready < wanted {
        Status::waiting(format!("{ready}/{wanted} replicas ready"))
    } else if rolling && current < wanted {
        Status::waiting(format!(
            "{current}/{wanted} replicas at the current revision"
        ))
    } else if rolling && revision("/status/currentRevision") != revision("/status/updateRevision") {
        Status::waiting("rolling out a new revision")
    } else {
        Status::current()
    }
}

fn daemonset(live: &Value) -> Status {
    if let Err(waiting) = seen(live) {
        return waiting;
    }
    let desired = count(live, "/status/desiredNumberScheduled");
    let updated = count(live, "/status/updatedNumberScheduled");
    let available = count(live, "/status/numberAvailable");
    if updated < desired {
        Status::waiting(format!("{updated}/{desired} pods updated"))
    } else if available < desired {
        Status::waiting(format!("{available}/{desired} pods available"))
    } else {
        Status::current()
    }
}

fn job(live: &Value) -> Status {
    if let Some(failed) = condition_true(live, "Failed") {
        return Status::new(Readiness::Failed, failed);
    }
    if condition_true(live, "Complete").is_some() {
        return Status::current();
    }
    Status::waiting("not complete yet")
}

fn pod(live: &Value) -> Status {
    match live.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Status::current(),
        Some("Failed") => Status::new(Readiness::Failed, "pod failed"),
        Some("Running") if condition_true(live, "Ready").is_some() => Status::current(),
        _ => Status::waiting("pod not ready"),
    }
}

fn service(live: &Value) -> Status {
    let balancer = live.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
    let addressed = live
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|i| !i.is_empty());
    if balancer && !addressed {
        Status::waiting("waiting for a load balancer address")
    } else {
        Status::current()
    }
}

fn crd(live: &Value) -> Status {
    if let Some(names) = condition(live, "NamesAccepted")
        && is(names, "False")
    {
        return Status::new(Readiness::Failed, explain(names, "NamesAccepted"));
    }
    match condition(live, "Established") {
        Some(c) if is(c, "True") => Status::current(),
        _ => Status::waiting("not established yet"),
    }
}

/// A custom resource is ready when its controller says so for the current generation.
fn custom(live: &Value, generation: Option<i64>, observed: Option<i64>) -> Status {
    if let Some(why) = condition_true(live, "Reconciling") {
        return Status::waiting(why);
    }
    let Some(ready) = condition(live, "Ready") else {
        return Status::waiting("no Ready condition yet");
    };
    // A condition may carry the generation it was computed for.
    let seen = ready
        .get("observedGeneration")
        .and_then(Value::as_i64)
        .or(observed);
    if let (Some(generation), Some(seen)) = (generation, seen)
        && seen < generation
    {
        return Status::waiting(format!("Ready is for generation {seen}, not {generation}"));
    }
    if is(ready, "True") {
        Status::current()
    } else {
        Status::waiting(explain(ready, "Ready"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn readiness(group: &str, kind: &str, live: Value) -> Readiness {
        status(group, kind, Some(&live)).readiness
    }

    #[test]
    fn a_deployment_is_current_once_rolled_out() {
        let mut live = json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
        });
        let waiting = status("apps", "Deployment", Some(&live));
        assert_eq!(waiting.readiness, Readiness::InProgress);
        assert_eq!(waiting.message, "1/2 replicas available");
        live["status"]["availableReplicas"] = json!(2);
        assert_eq!(
            readiness("apps", "Deployment", live.clone()),
            Readiness::Current
        );
        live["status"]["observedGeneration"] = json!(1);
        assert_eq!(
            readiness("apps", "Deployment", live.clone()),
            Readiness::InProgress
        );
        live["status"]["observedGeneration"] = json!(2);
        live["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert_eq!(readiness("apps", "Deployment", live), Readiness::Failed);
    }

    #[test]
    fn a_statefulset_waits_for_its_revision() {
        let mut live = json!({
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "readyReplicas": 1, "currentReplicas": 1, "currentRevision": "a", "updateRevision": "b"},
        });
        assert_eq!(
            readiness("apps", "StatefulSet", live.clone()),
            Readiness::InProgress
        );
        live["status"]["updateRevision"] = json!("a");
        assert_eq!(readiness("apps", "StatefulSet", live), Readiness::Current);
    }

    #[test]
    fn jobs_crds_and_claims() {
        let job = |c: &str| json!({"status": {"conditions": [{"type": c, "status": "True"}]}});
        assert_eq!(
            readiness("batch", "Job", job("Complete")),
            Readiness::Current
        );
        assert_eq!(readiness("batch", "Job", job("Failed")), Readiness::Failed);
        assert_eq!(readiness("batch", "Job", json!({})), Readiness::InProgress);
        let crd = "CustomResourceDefinition";
        let group = "apiextensions.k8s.io";
        assert_eq!(
            readiness(group, crd, job("Established")),
            Readiness::Current
        );
        assert_eq!(readiness(group, crd, json!({})), Readiness::InProgress);
        let claim = json!({"status": {"phase": "Pending"}});
        assert_eq!(
            readiness("", "PersistentVolumeClaim", claim),
            Readiness::InProgress
        );
    }

    #[test]
    fn a_custom_resource_needs_ready_for_its_generation() {
        let mut live = json!({"metadata": {"generation": 3}});
        let group = "dappmesh.io";
        assert_eq!(
            readiness(group, "DataProduct", live.clone()),
            Readiness::InProgress
        );
        live["status"] =
            json!({"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]});
        assert_eq!(
            readiness(group, "DataProduct", live.clone()),
            Readiness::InProgress
        );
        live["status"]["observedGeneration"] = json!(3);
        assert_eq!(
            readiness(group, "DataProduct", live.clone()),
            Readiness::Current
        );
        live["status"]["conditions"] =
            json!([{"type": "Stalled", "status": "True", "message": "bad spec"}]);
        let stalled = status(group, "DataProduct", Some(&live));
        assert_eq!(stalled.readiness, Readiness::Failed);
        assert_eq!(stalled.message, "Stalled: bad spec");
    }

    #[test]
    fn plain_objects_are_current_and_deleted_ones_are_not() {
        assert_eq!(readiness("", "ConfigMap", json!({})), Readiness::Current);
        assert_eq!(
            readiness(
                "",
                "ConfigMap",
                json!({"metadata": {"deletionTimestamp": "x"}})
            ),
            Readiness::Terminating
        );
        assert_eq!(status("", "ConfigMap", None).readiness, Readiness::NotFound);
    }
}
