//! The status the operator writes on a DataProduct, in kstatus's terms so that
//! `dappctl apply --wait`, Flux and the Argo CD health check read it: `Ready`, `Reconciling`
//! and `Stalled` conditions for `observedGeneration`, the children it owns, and the endpoint
//! of each output port.

use serde_json::{Value, json};

use crate::children::ChildRef;
use crate::resource::{DataProduct, Json};

/// Where a reconcile ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Every child applied.
    Ready,
    /// The product cannot be rendered as it is: retrying will not help until it changes.
    Stalled {
        reason: &'static str,
        message: String,
    },
    /// A step failed and is retried.
    Retrying {
        reason: &'static str,
        message: String,
    },
}

/// The status for `product` after a reconcile ending in `phase`, with `children` applied and
/// the endpoints of its output ports.
pub fn status(
    product: &DataProduct,
    phase: &Phase,
    children: &[ChildRef],
    endpoints: &[Value],
    registry: Option<&Value>,
) -> Value {
    let generation = product.metadata.generation.unwrap_or_default();
    let (ready, reconciling, stalled) = match phase {
        Phase::Ready => (
            condition("Ready", true, "Reconciled", "every child is applied"),
            condition("Reconciling", false, "Reconciled", ""),
            condition("Stalled", false, "Reconciled", ""),
        ),
        Phase::Stalled { reason, message } => (
            condition("Ready", false, reason, message),
            condition("Reconciling", false, reason, ""),
            condition("Stalled", true, reason, message),
        ),
        Phase::Retrying { reason, message } => (
            condition("Ready", false, reason, message),
            condition("Reconciling", true, reason, message),
            condition("Stalled", false, reason, ""),
        ),
    };
    let previous = product.status.as_ref().map(Json::to_value);
    let previous = previous.as_ref();
    let conditions: Vec<Value> = [ready, reconciling, stalled]
        .into_iter()
        .map(|mut c| {
            c["observedGeneration"] = json!(generation);
            c["lastTransitionTime"] = json!(since(previous, &c));
            c
        })
        .collect();
    let mut status = json!({
        "observedGeneration": generation,
        "conditions": conditions,
        "children": children,
        "endpoints": endpoints,
    });
    // Kept as it was when this reconcile did not get as far as the registry.
    if let Some(registry) = registry.or_else(|| previous.and_then(|p| p.get("registry"))) {
        status["registry"] = registry.clone();
    }
    status
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
    })
}

/// When a condition last changed: kept from the previous status while its value holds.
fn since(previous: Option<&Value>, condition: &Value) -> String {
    let before = previous
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type") == condition.get("type"));
    match before {
        Some(before) if before.get("status") == condition.get("status") => before
            .get("lastTransitionTime")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(now),
        _ => now(),
    }
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The endpoint of each output port: its Service's in-cluster address.
pub fn endpoints(children: &[Value]) -> Vec<Value> {
    children
        .iter()
        .filter(|c| c.get("kind").and_then(Value::as_str) == Some("Service"))
        .filter(|c| c.pointer("/metadata/labels/app.kubernetes.io~1component").and_then(Value::as_str) == Some("output-port"))
        .map(|c| {
            let text = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or_default();
            let port = c.pointer("/spec/ports/0/port").and_then(Value::as_i64).unwrap_or_default();
            json!({
                "port": text("/metadata/labels/app.kubernetes.io~1name"),
                "service": text("/metadata/name"),
                "url": format!("{}.{}.svc:{port}", text("/metadata/name"), text("/metadata/namespace")),
                "serves": text("/metadata/annotations/dappmesh.io~1serves"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_times_hold_while_a_condition_keeps_its_value() {
        let mut product = DataProduct::default();
        product.metadata.generation = Some(3);
        product.status = Some(Json::from(json!({"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Stalled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ]})));
        let status = status(&product, &Phase::Ready, &["Service/a".into()], &[], None);
        assert_eq!(status["observedGeneration"], 3);
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions[0]["type"], "Ready");
        assert_eq!(conditions[0]["status"], "True");
        assert_eq!(conditions[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(conditions[0]["observedGeneration"], 3);
        assert_eq!(conditions[2]["status"], "False");
        assert_ne!(conditions[2]["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(status["children"], json!(["Service/a"]));
    }

    #[test]
    fn a_stalled_product_is_neither_ready_nor_reconciling() {
        let phase = Phase::Stalled {
            reason: "Invalid",
            message: "bad spec".into(),
        };
        let status = status(&DataProduct::default(), &phase, &[], &[], None);
        let of = |kind: &str| {
            status["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == kind)
                .unwrap()["status"]
                .clone()
        };
        assert_eq!(
            (of("Ready"), of("Reconciling"), of("Stalled")),
            (json!("False"), json!("False"), json!("True"))
        );
    }
}
