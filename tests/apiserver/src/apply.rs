//! Server-side apply and the managed-fields bookkeeping of every write: which manager owns which
//! fields, conflicts between appliers, and pruning of the fields an applier stopped sending.
//! The rules follow structured-merge-diff's `Updater.Apply` and `Updater.Update`.

use serde_json::{Map, Value, json};

use crate::{
    discovery::Resource,
    fieldset::{FieldSet, compare, keys},
    status::Status,
};

/// Metadata the server owns; no manager ever owns these fields.
const SERVER_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// One `metadata.managedFields` entry.
struct Manager {
    name: String,
    operation: &'static str,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Manager {
    fn new(name: &str, operation: &'static str, r: &Resource, status: bool, time: &str) -> Self {
        Manager {
            name: name.into(),
            operation,
            api_version: r.api_version(),
            time: time.into(),
            subresource: status.then(|| "status".into()),
            fields: FieldSet::default(),
        }
    }

    /// The real server's manager identity: appliers are one manager whatever apiVersion they
    /// used, updaters are one per apiVersion.
    fn same(&self, other: &Manager) -> bool {
        self.name == other.name
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    /// How conflict messages name a manager (apimachinery's `printManager`).
    fn describe(&self) -> String {
        let mut who = format!("{:?}", self.name);
        if let Some(subresource) = &self.subresource {
            who = format!("{who} with subresource {subresource:?}");
        }
        match self.operation {
            "Update" => format!("{who} using {}", self.api_version),
            _ => who,
        }
    }
}

fn managers(object: &Value) -> Vec<Manager> {
    let entries = object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten();
    let decode = |e: &Value| {
        Some(Manager {
            name: e["manager"].as_str()?.into(),
            operation: match e["operation"].as_str()? {
                "Apply" => "Apply",
                _ => "Update",
            },
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().map(String::from),
            fields: FieldSet::from_json(&e["fieldsV1"]),
        })
    };
    entries.filter_map(decode).collect()
}

/// Writes the managers back in the real server's order: appliers first, then by time and name.
fn store_managers(object: &mut Value, mut managers: Vec<Manager>) {
    managers.retain(|m| !m.fields.is_empty());
    managers.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.name,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.name,
                &b.api_version,
                &b.subresource,
            ))
    });
    let entries: Vec<Value> = managers
        .iter()
        .map(|m| {
            let mut entry = json!({
                "manager": m.name, "operation": m.operation, "apiVersion": m.api_version,
                "time": m.time, "fieldsType": "FieldsV1", "fieldsV1": m.fields.to_json(),
            });
            if let Some(subresource) = &m.subresource {
                entry["subresource"] = json!(subresource);
            }
            entry
        })
        .collect();
    let Some(meta) = object["metadata"].as_object_mut() else {
        return;
    };
    match entries.is_empty() {
        true => _ = meta.shift_remove("managedFields"),
        false => _ = meta.insert("managedFields".into(), Value::Array(entries)),
    }
}

/// The part of an object a write through the main resource (`status: false`) or the status
/// subresource may set and managers may own.
fn tracked(r: &Resource, status: bool, object: &Value) -> Value {
    let mut view = object.as_object().cloned().unwrap_or_default();
    view.shift_remove("apiVersion");
    view.shift_remove("kind");
    if status {
        view.retain(|k, _| k == "status");
    } else if r.status {
        view.shift_remove("status");
    }
    if let Some(meta) = view.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            meta.shift_remove(field);
        }
    }
    if view
        .get("metadata")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
    {
        view.shift_remove("metadata");
    }
    Value::Object(view)
}

/// Server-side apply of `config` by `manager` onto `base` (the stored object, or a skeleton with
/// only apiVersion, kind and name when it does not exist yet).
pub(crate) fn apply(
    r: &Resource,
    status: bool,
    base: &Value,
    config: &Value,
    (manager, force, now): (&str, bool, &str),
) -> Result<Value, Status> {
    let config = tracked(r, status, config);
    let mut merged = base.clone();
    merge(&mut merged, &config, "");
    let mut me = Manager::new(manager, "Apply", r, status, now);
    me.fields = FieldSet::of(&config);
    let mut others = managers(base);
    if let Some(i) = others.iter().position(|m| m.same(&me)) {
        let previous = others.remove(i);
        let mut owned = me.fields.clone();
        others.iter().for_each(|m| owned.union(&m.fields));
        prune(&mut merged, "", &previous.fields, &owned);
    }
    let (changed, removed) = compare(&tracked(r, status, base), &tracked(r, status, &merged));
    let mut conflicts = vec![];
    for other in &mut others {
        let conflict = other.fields.intersection(&changed);
        if !conflict.is_empty() {
            conflicts.push((other.name.clone(), other.describe(), conflict.paths()));
            other.fields.difference(&conflict);
        }
        other.fields.difference(&removed);
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict(conflicts));
    }
    others.push(me);
    store_managers(&mut merged, others);
    Ok(merged)
}

/// A non-apply write (create, replace, merge patch, status update) of `next` over `live`: the
/// writer takes every field it changed from the other managers without conflict.
pub(crate) fn update(
    r: &Resource,
    status: bool,
    live: Option<&Value>,
    next: Value,
    (manager, now): (&str, &str),
) -> Value {
    let empty = json!({});
    let base = live.unwrap_or(&empty);
    let mut next = confine(r, status, base, next);
    let (changed, removed) = compare(&tracked(r, status, base), &tracked(r, status, &next));
    let mut others = managers(base);
    let mut me = Manager::new(manager, "Update", r, status, now);
    if let Some(i) = others.iter().position(|m| m.same(&me)) {
        me.fields = others.remove(i).fields;
    }
    for other in &mut others {
        other.fields.difference(&changed);
        other.fields.difference(&removed);
    }
    me.fields.difference(&removed);
    me.fields.union(&changed);
    others.push(me);
    store_managers(&mut next, others);
    next
}

/// Keeps a write to its part of the object: the main resource cannot change a status that has a
/// subresource, and the status subresource changes nothing but `.status`.
fn confine(r: &Resource, status: bool, live: &Value, mut next: Value) -> Value {
    let take_status =
        |from: &mut Value| from.as_object_mut().and_then(|o| o.shift_remove("status"));
    if status {
        let new_status = take_status(&mut next);
        next = live.clone();
        take_status(&mut next);
        if let (Some(object), Some(new_status)) = (next.as_object_mut(), new_status) {
            object.insert("status".into(), new_status);
        }
    } else if r.status {
        take_status(&mut next);
        if let (Some(object), Some(old)) = (next.as_object_mut(), live.get("status")) {
            object.insert("status".into(), old.clone());
        }
    }
    next
}

/// Merges an applied configuration into an object: maps field by field, keyed lists item by
/// item, everything else replaced.
fn merge(target: &mut Value, config: &Value, field: &str) {
    match (target, config) {
        (Value::Object(target), Value::Object(config)) => {
            for (key, value) in config {
                match target.get_mut(key) {
                    Some(existing) => merge(existing, value, key),
                    None => _ = target.insert(key.clone(), value.clone()),
                }
            }
        }
        (Value::Array(target), Value::Array(config)) => {
            match (keys(field, target), keys(field, config)) {
                (Some(live_keys), Some(config_keys)) => {
                    // Like structured-merge-diff: configured items in configured order, the others
                    // where they were.
                    let live = std::mem::take(target);
                    let (mut l, mut r) = (0, 0);
                    while l < live.len() || r < config.len() {
                        if let Some(key) = live_keys.get(l) {
                            let configured = config_keys.contains(key);
                            if !configured || config_keys[..r].contains(key) {
                                if !configured {
                                    target.push(live[l].clone());
                                }
                                l += 1;
                                continue;
                            }
                        }
                        let Some(key) = config_keys.get(r) else { break };
                        let item = match live_keys.iter().position(|k| k == key) {
                            Some(i) => {
                                let mut existing = live[i].clone();
                                merge(&mut existing, &config[r], "");
                                existing
                            }
                            None => config[r].clone(),
                        };
                        target.push(item);
                        r += 1;
                    }
                }
                _ => *target = config.clone(),
            }
        }
        (target, config) => *target = config.clone(),
    }
}

/// Removes what a manager applied last time (`last`) and no longer owns, unless another manager
/// (or its new configuration, both in `owned`) still owns it.
fn prune(value: &mut Value, field: &str, last: &FieldSet, owned: &FieldSet) {
    match value {
        Value::Object(map) => {
            for (key, was) in last.children() {
                let Some(name) = key.strip_prefix("f:") else {
                    continue;
                };
                match owned.child(key) {
                    None => _ = map.shift_remove(name),
                    Some(now) => {
                        if let Some(child) = map.get_mut(name) {
                            prune(child, name, was, now);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            let Some(keys) = keys(field, items) else {
                return;
            };
            let kept = std::mem::take(items)
                .into_iter()
                .zip(keys)
                .filter_map(
                    |(mut item, key)| match (last.child(&key), owned.child(&key)) {
                        (Some(_), None) => None,
                        (Some(was), Some(now)) => {
                            prune(&mut item, "", was, now);
                            Some(item)
                        }
                        _ => Some(item),
                    },
                );
            *items = kept.collect();
        }
        _ => {}
    }
}

/// The 409 of a conflicting apply, worded like apimachinery's `NewConflictError`.
fn conflict(mut conflicts: Vec<(String, String, Vec<String>)>) -> Status {
    conflicts.sort();
    let total: usize = conflicts.iter().map(|(_, _, paths)| paths.len()).sum();
    let mut causes = vec![];
    let mut lines = vec![];
    for (_, who, paths) in &conflicts {
        lines.push(format!("conflicts with {who}:"));
        for path in paths {
            lines.push(format!("- {path}"));
            causes.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with {who}"), "field": path}));
        }
    }
    let message = match conflicts.as_slice() {
        [(_, who, paths)] if paths.len() == 1 => format!(
            "Apply failed with 1 conflict: conflict with {who}: {}",
            paths[0]
        ),
        _ => format!("Apply failed with {total} conflicts: {}", lines.join("\n")),
    };
    Status::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
}

/// The object a create starts from: identity only.
pub(crate) fn skeleton(r: &Resource, namespace: &str, name: &str) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if r.namespaced {
        meta.insert("namespace".into(), json!(namespace));
    }
    json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": meta})
}
