//! Field sets in the managed-fields (FieldsV1) shape: which fields an object sets, how two
//! objects differ field by field, which lists merge by key, and the
//! `.spec.containers[name="app"].image` paths that conflict messages print.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A tree of fields. `member` marks the node itself as part of the set (`"."` in FieldsV1 when
/// the node also has children); children are keyed by their FieldsV1 path element: `f:name`,
/// `k:{"name":"x"}` for an item of a keyed list, `v:"x"` for an item of a set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// The fields an applied configuration sets: scalars, empty maps, atomic lists and each item
    /// of a keyed list, but not the maps and lists that merely contain them.
    pub(crate) fn of(object: &Value) -> Self {
        of_value("", object)
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    pub(crate) fn child(&self, key: &str) -> Option<&FieldSet> {
        self.children.get(key)
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&String, &FieldSet)> {
        self.children.iter()
    }

    pub(crate) fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (key, child) in &other.children {
            self.children.entry(key.clone()).or_default().union(child);
        }
    }

    pub(crate) fn difference(&mut self, other: &FieldSet) {
        self.member &= !other.member;
        for (key, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(key) {
                mine.difference(theirs);
                if mine.is_empty() {
                    self.children.remove(key);
                }
            }
        }
    }

    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let children = self.children.iter().filter_map(|(key, mine)| {
            let both = mine.intersection(other.children.get(key)?);
            (!both.is_empty()).then(|| (key.clone(), both))
        });
        FieldSet {
            member: self.member && other.member,
            children: children.collect(),
        }
    }

    /// Each member as a path the way conflicts print it: `.spec.replicas`.
    pub(crate) fn paths(&self) -> Vec<String> {
        let mut paths = vec![];
        self.collect(String::new(), &mut paths);
        paths
    }

    fn collect(&self, prefix: String, paths: &mut Vec<String>) {
        if self.member && !prefix.is_empty() {
            paths.push(prefix.clone());
        }
        for (key, child) in &self.children {
            child.collect(format!("{prefix}{}", display(key)), paths);
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (key, child) in &self.children {
            map.insert(key.clone(), child.to_json());
        }
        Value::Object(map)
    }

    pub(crate) fn from_json(value: &Value) -> Self {
        let map = value.as_object().cloned().unwrap_or_default();
        let children: BTreeMap<String, FieldSet> = map
            .iter()
            .filter(|(k, _)| *k != ".")
            .map(|(k, v)| (k.clone(), FieldSet::from_json(v)))
            .collect();
        FieldSet {
            member: map.contains_key(".") || children.is_empty(),
            children,
        }
    }
}

fn display(key: &str) -> String {
    if let Some(name) = key.strip_prefix("f:") {
        return format!(".{name}");
    }
    if let Some(value) = key.strip_prefix("v:") {
        return format!("[={value}]");
    }
    let fields: Map<String, Value> = key
        .strip_prefix("k:")
        .and_then(|k| serde_json::from_str(k).ok())
        .unwrap_or_default();
    let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", fields.join(","))
}

fn leaf() -> FieldSet {
    FieldSet {
        member: true,
        children: BTreeMap::new(),
    }
}

fn of_value(field: &str, value: &Value) -> FieldSet {
    match value {
        Value::Object(map) if !map.is_empty() => FieldSet {
            member: false,
            children: map
                .iter()
                .map(|(k, v)| (format!("f:{k}"), of_value(k, v)))
                .collect(),
        },
        Value::Array(items) if !items.is_empty() => match keys(field, items) {
            Some(keys) => FieldSet {
                member: false,
                children: keys
                    .into_iter()
                    .zip(items)
                    .map(|(key, item)| (key, whole("", item)))
                    .collect(),
            },
            None => leaf(),
        },
        _ => leaf(),
    }
}

/// A value that appears or disappears as a whole: the node itself and everything it sets.
fn whole(field: &str, value: &Value) -> FieldSet {
    FieldSet {
        member: true,
        ..of_value(field, value)
    }
}

/// The FieldsV1 key of each item when `field` names a list the real server merges by key or as
/// a set; `None` for atomic lists. The list is recognised by its field name wherever it occurs,
/// and container and service ports key on their port and protocol (TCP when absent).
pub(crate) fn keys(field: &str, items: &[Value]) -> Option<Vec<String>> {
    let names: &[&str] = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "ports" if items.iter().all(|i| i.get("containerPort").is_some()) => {
            &["containerPort", "protocol"]
        }
        "ports" => &["port", "protocol"],
        "finalizers" => {
            let scalars = items
                .iter()
                .all(|i| i.is_string() || i.is_number() || i.is_boolean());
            return distinct(scalars.then(|| items.iter().map(|i| format!("v:{i}")).collect())?);
        }
        _ => return None,
    };
    let keys = items.iter().map(|item| {
        let mut key = Map::new();
        for name in names {
            let value = match (item.get(*name), *name) {
                (Some(value), _) => value.clone(),
                (None, "protocol") => json!("TCP"),
                (None, _) => return None,
            };
            key.insert(name.to_string(), value);
        }
        Some(format!("k:{}", Value::Object(key)))
    });
    distinct(keys.collect::<Option<Vec<_>>>()?)
}

/// Duplicate keys make a list unmergeable; it is then treated as atomic.
fn distinct(keys: Vec<String>) -> Option<Vec<String>> {
    let unique: BTreeSet<&String> = keys.iter().collect();
    (unique.len() == keys.len()).then_some(keys)
}

/// How `new` differs from `old`, field by field: the fields added or modified, and the fields
/// removed.
pub(crate) fn compare(old: &Value, new: &Value) -> (FieldSet, FieldSet) {
    let (mut changed, mut removed) = (FieldSet::default(), FieldSet::default());
    diff("", old, new, &mut changed, &mut removed);
    (changed, removed)
}

fn diff(field: &str, old: &Value, new: &Value, changed: &mut FieldSet, removed: &mut FieldSet) {
    let pairs = match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let named = |map: &Map<String, Value>| -> Vec<(String, String, Value)> {
                map.iter()
                    .map(|(k, v)| (format!("f:{k}"), k.clone(), v.clone()))
                    .collect()
            };
            (named(a), named(b))
        }
        (Value::Array(a), Value::Array(b)) => match (keys(field, a), keys(field, b)) {
            (Some(ka), Some(kb)) => {
                let keyed = |keys: Vec<String>, items: &[Value]| -> Vec<(String, String, Value)> {
                    keys.into_iter()
                        .zip(items)
                        .map(|(k, v)| (k, String::new(), v.clone()))
                        .collect()
                };
                (keyed(ka, a), keyed(kb, b))
            }
            _ => (vec![], vec![]),
        },
        _ => (vec![], vec![]),
    };
    if pairs.0.is_empty() && pairs.1.is_empty() {
        // Scalars, atomic lists and changes of type are owned whole.
        changed.member = old != new;
        return;
    }
    let (olds, news) = pairs;
    for (key, name, value) in &news {
        match olds.iter().find(|(k, _, _)| k == key) {
            None => _ = changed.children.insert(key.clone(), whole(name, value)),
            Some((_, _, was)) if was != value => {
                let (mut c, mut r) = (FieldSet::default(), FieldSet::default());
                diff(name, was, value, &mut c, &mut r);
                for (set, sub) in [(&mut *changed, c), (&mut *removed, r)] {
                    if !sub.is_empty() {
                        set.children.insert(key.clone(), sub);
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (key, name, value) in olds {
        if !news.iter().any(|(k, _, _)| *k == key) {
            removed.children.insert(key, whole(&name, &value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_lists_encode_like_the_real_server() {
        let object = json!({"spec": {"replicas": 1, "containers": [
            {"name": "app", "image": "a", "ports": [{"containerPort": 80}]},
        ], "args": ["x"]}});
        let set = FieldSet::of(&object);
        assert_eq!(
            set.to_json(),
            json!({"f:spec": {"f:args": {}, "f:containers": {"k:{\"name\":\"app\"}": {
                ".": {}, "f:image": {}, "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
            }}, "f:replicas": {}}})
        );
        assert_eq!(FieldSet::from_json(&set.to_json()), set);
        assert!(set.paths().contains(
            &".spec.containers[name=\"app\"].ports[containerPort=80,protocol=\"TCP\"]".into()
        ));
    }

    #[test]
    fn compare_reports_leaves_and_keyed_items() {
        let old = json!({"a": 1, "env": [{"name": "x", "v": 1}, {"name": "y"}], "gone": {"k": 1}});
        let new = json!({"a": 2, "env": [{"name": "x", "v": 2}, {"name": "z"}], "b": {"c": 1}});
        let (changed, removed) = compare(&old, &new);
        let paths = changed.paths();
        assert_eq!(
            paths,
            [
                ".a",
                ".b",
                ".b.c",
                ".env[name=\"x\"].v",
                ".env[name=\"z\"]",
                ".env[name=\"z\"].name"
            ]
        );
        assert_eq!(
            removed.paths(),
            [
                ".env[name=\"y\"]",
                ".env[name=\"y\"].name",
                ".gone",
                ".gone.k"
            ]
        );
    }
}
