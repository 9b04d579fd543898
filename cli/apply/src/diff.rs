//! `dappctl diff`: what `apply` would change, as a unified diff of live objects against
//! the server's dry run of the apply, restricted to the fields `dappctl` manages.
//!
//! Like `kubectl diff`, it asks the server (server-side apply with `dryRun=All`), so
//! defaults and normalised values show as they will be stored. Fields owned by other
//! managers (a controller's status, an HPA's replicas) are left out; a field `dappctl`
//! managed before and no longer renders shows as removed.

use std::fmt::Write as _;
use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use serde_json::{Map, Value};

use super::applyset;
use super::cluster::{Cluster, Refusal, RefusalKind};
use super::manifest::{Object, Set};

/// How the diff is printed.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

/// The differences of every object of the sets, in set order; empty when nothing would
/// change. Objects the server cannot answer for are errors, listed after the diff.
pub async fn diff(cluster: Arc<Cluster>, sets: &[Set], style: Style) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut errors = Vec::new();
    for set in sets {
        let id = applyset::id_of(set);
        for object in &set.members {
            match one(&cluster, object, &id).await {
                Ok(Some((live, wanted))) => text.push_str(&unified(object, &live, &wanted, style)),
                Ok(None) => {}
                Err(refusal) => errors.push(format!("{}: {}", object.reference(), refusal.message)),
            }
        }
    }
    (text, errors)
}

/// The live and wanted text of an object, when they differ.
async fn one(
    cluster: &Cluster,
    object: &Object,
    id: &str,
) -> Result<Option<(String, String)>, Refusal> {
    let sent = applyset::member(object, id);
    let kind = match cluster
        .kind(object.group(), object.version(), &object.kind)
        .await
    {
        Ok(kind) => kind,
        // Its CRD is not installed yet: all of it would be new.
        Err(r) if r.kind == RefusalKind::NotFound => {
            return Ok(Some((String::new(), yaml(&sent))));
        }
        Err(r) => return Err(r),
    };
    let api = cluster.api(&kind, object.namespace.as_deref());
    let live = match api.get_opt(&object.name).await {
        Ok(live) => live.map(super::value_of),
        // Its namespace does not exist yet.
        Err(e) => match Refusal::of(e) {
            r if r.kind == RefusalKind::NotFound => None,
            r => return Err(r),
        },
    };
    let params = PatchParams {
        dry_run: true,
        // Show what would be applied, conflicts or not; `apply` reports the conflicts.
        force: true,
        field_manager: Some(super::MANAGER.to_owned()),
        field_validation: None,
    };
    let predicted = match api.patch(&object.name, &params, &Patch::Apply(&sent)).await {
        Ok(predicted) => super::value_of(predicted),
        Err(e) => match Refusal::of(e) {
            r if r.kind == RefusalKind::NotFound && live.is_none() => sent.clone(),
            r => return Err(r),
        },
    };
    // A new object is shown whole, as sent: the fields it will have beyond those are the
    // server's defaults, which a diff of intent leaves out.
    let Some(live) = live else {
        return Ok(Some((String::new(), yaml(&sent))));
    };
    let fields = union(
        managed(&live).unwrap_or_else(|| Value::Object(Map::new())),
        managed(&predicted).unwrap_or_else(|| Value::Object(Map::new())),
    );
    let before = yaml(&without_server_fields(project(&live, &fields)));
    let after = yaml(&without_server_fields(project(&predicted, &fields)));
    Ok((before != after).then_some((before, after)))
}

fn yaml(value: &Value) -> String {
    dappmesh_compiler::render::to_yaml(value)
}

/// The fields `dappctl` manages on an object, in the server's FieldsV1 form.
fn managed(object: &Value) -> Option<Value> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .filter(|entry| {
            entry.get("manager").and_then(Value::as_str) == Some(super::MANAGER)
                && entry.get("operation").and_then(Value::as_str) == Some("Apply")
        })
        .filter_map(|entry| entry.get("fieldsV1").cloned())
        .reduce(union)
}

/// Fields in either set.
fn union(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (key, value) in b {
                let merged = match a.remove(&key) {
                    Some(existing) => union(existing, value),
                    None => value,
                };
                a.insert(key, merged);
            }
            Value::Object(a)
        }
        (a, _) => a,
    }
}

/// The part of `value` that a FieldsV1 set names: `f:<field>` for a map key, `k:<json>` for a
/// list item by its keys, `v:<json>` for a set item, `i:<n>` for a position; an empty set
/// means the whole value.
fn project(value: &Value, fields: &Value) -> Value {
    let Some(fields) = fields.as_object() else {
        return value.clone();
    };
    let children: Vec<(&String, &Value)> = fields.iter().filter(|(k, _)| *k != ".").collect();
    if children.is_empty() {
        return value.clone();
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, sub) in &children {
                if let Some(name) = key.strip_prefix("f:")
                    && let Some(found) = map.get(name)
                {
                    out.insert(name.to_owned(), project(found, sub));
                }
            }
            // Keys in the object's own order, so the text reads like the object.
            let mut ordered = Map::new();
            for key in map.keys() {
                if let Some(v) = out.remove(key) {
                    ordered.insert(key.clone(), v);
                }
            }
            Value::Object(ordered)
        }
        Value::Array(items) => {
            let picked: Vec<Value> = items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    children
                        .iter()
                        .find(|(key, _)| selects(key, index, item))
                        .map(|(_, sub)| project(item, sub))
                })
                .collect();
            Value::Array(picked)
        }
        scalar => scalar.clone(),
    }
}

/// Whether a FieldsV1 list key names this item.
fn selects(key: &str, index: usize, item: &Value) -> bool {
    if let Some(keys) = key.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
            return false;
        };
        keys.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(raw) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(raw).is_ok_and(|v| &v == item)
    } else if let Some(position) = key.strip_prefix("i:") {
        position.parse() == Ok(index)
    } else {
        false
    }
}

/// Metadata the server writes, which a diff of intent leaves out.
fn without_server_fields(mut value: Value) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(key);
        }
    }
    value
}

/// Whether an apply left the fields dappctl manages as they were. The resourceVersion cannot
/// tell: a controller writing status between the read and the apply moves it, and a dry run
/// never does.
pub fn same_intent(before: &Value, after: &Value) -> bool {
    let fields = union(
        managed(before).unwrap_or_else(|| Value::Object(Map::new())),
        managed(after).unwrap_or_else(|| Value::Object(Map::new())),
    );
    let intent = |v: &Value| without_server_fields(project(v, &fields));
    intent(before) == intent(after)
}

/// Whether every field of `wanted` has the same value in `live` (lists item by item): what a
/// client-side dry run can tell without asking the server.
pub fn contains(live: &Value, wanted: &Value) -> bool {
    match (live, wanted) {
        (Value::Object(live), Value::Object(wanted)) => wanted
            .iter()
            .all(|(k, w)| live.get(k).is_some_and(|l| contains(l, w))),
        (Value::Array(live), Value::Array(wanted)) => {
            live.len() == wanted.len() && live.iter().zip(wanted).all(|(l, w)| contains(l, w))
        }
        (live, wanted) => live == wanted,
    }
}

/// A `diff -u` of one object, headed by names like `kubectl diff` gives its files.
fn unified(object: &Object, before: &str, after: &str, style: Style) -> String {
    let name = format!(
        "{}.{}.{}.{}",
        object.api_version.replace('/', "."),
        object.kind,
        object.namespace.as_deref().unwrap_or("_"),
        object.name
    );
    let diff = similar::TextDiff::from_lines(before, after);
    let mut text = String::new();
    let body = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{name}"), &format!("rendered/{name}"))
        .to_string();
    for line in body.lines() {
        let color = match line.as_bytes().first() {
            _ if !style.color => None,
            Some(b'+') if line.starts_with("+++") => Some("1"),
            Some(b'-') if line.starts_with("---") => Some("1"),
            Some(b'+') => Some("32"),
            Some(b'-') => Some("31"),
            Some(b'@') => Some("36"),
            _ => None,
        };
        match color {
            Some(code) => {
                let _ = writeln!(text, "\x1b[{code}m{line}\x1b[0m");
            }
            None => {
                let _ = writeln!(text, "{line}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projection_follows_field_sets_into_keyed_lists() {
        let live = json!({
            "metadata": {"name": "d", "labels": {"a": "1", "other": "x"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "sidecar", "image": "s:1"},
                {"name": "app", "image": "a:1", "imagePullPolicy": "IfNotPresent"},
            ]}}},
        });
        let fields = json!({
            "f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}},
            }}}},
        });
        assert_eq!(
            project(&live, &fields),
            json!({
                "metadata": {"labels": {"a": "1"}},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:1"}]}}},
            })
        );
    }

    #[test]
    fn field_sets_merge() {
        let merged = union(
            json!({"f:spec": {"f:a": {}}}),
            json!({"f:spec": {"f:b": {}}, "f:data": {}}),
        );
        assert_eq!(
            merged,
            json!({"f:spec": {"f:a": {}, "f:b": {}}, "f:data": {}})
        );
    }

    #[test]
    fn containment_ignores_what_the_server_added() {
        let live = json!({"metadata": {"name": "c", "uid": "u"}, "data": {"k": "v"}});
        assert!(contains(
            &live,
            &json!({"metadata": {"name": "c"}, "data": {"k": "v"}})
        ));
        assert!(!contains(&live, &json!({"data": {"k": "w"}})));
        assert!(!contains(&live, &json!({"data": {"k2": "v"}})));
        assert!(!contains(&json!({"l": [1, 2]}), &json!({"l": [1]})));
    }

    #[test]
    fn a_diff_marks_lines_and_names_the_object() {
        let object = Object {
            path: "p.yaml".into(),
            value: Value::Null,
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "d".into(),
            namespace: Some("ns".into()),
            wave: 0,
        };
        let text = unified(
            &object,
            "replicas: 1\nimage: a\n",
            "replicas: 2\nimage: a\n",
            Style { color: false },
        );
        assert!(text.contains("--- live/apps.v1.Deployment.ns.d"), "{text}");
        assert!(
            text.contains("+++ rendered/apps.v1.Deployment.ns.d"),
            "{text}"
        );
        assert!(text.contains("-replicas: 1\n+replicas: 2\n"), "{text}");
        let colored = unified(&object, "a: 1\n", "a: 2\n", Style { color: true });
        assert!(colored.contains("\x1b[31m-a: 1\x1b[0m"), "{colored}");
    }
}
