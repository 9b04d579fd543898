//! ApplySets (KEP-3659): how `apply --prune` and `delete` know which live objects are theirs.
//!
//! Each [`Set`] has a parent ConfigMap labelled `applyset.kubernetes.io/id`; every member
//! carries `applyset.kubernetes.io/part-of` with the same id, and the parent lists the
//! group-kinds its members have, so the members can be found again by label, kind by kind,
//! even after they stop being rendered. Nothing without the label is ever pruned.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{Value, json};

use super::manifest::{Object, Scope, Set};

pub const ID: &str = "applyset.kubernetes.io/id";
pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// The environment a parent was applied for: one cluster may run several.
pub const ENV: &str = "dappmesh.io/env";
/// The mesh a parent belongs to: pruning the sets a render no longer has looks only at its
/// own mesh's.
pub const MESH: &str = "dappmesh.io/mesh";

/// The id of the ApplySet whose parent is this object, as KEP-3659 defines it:
/// `applyset-<base64url(sha256("<name>.<namespace>.<kind>.<group>"))>-v1`.
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{name}.{namespace}.{kind}.{group}").as_bytes(),
    );
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    format!("applyset-{encoded}-v1")
}

/// The id of a set's parent ConfigMap.
pub fn id_of(set: &Set) -> String {
    id(&set.parent_name(), &set.namespace, "ConfigMap", "")
}

/// The group-kinds of a set's members, sorted.
pub fn group_kinds(members: &[Object]) -> BTreeSet<String> {
    members.iter().map(Object::group_kind).collect()
}

/// The namespaces members live in besides the parent's, sorted.
pub fn additional_namespaces(set: &Set) -> BTreeSet<String> {
    set.members
        .iter()
        .filter_map(|o| o.namespace.clone())
        .filter(|ns| *ns != set.namespace)
        .collect()
}

/// What a live parent records: its group-kinds and additional namespaces.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    pub group_kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
}

impl Recorded {
    pub fn of(parent: &Value) -> Recorded {
        let annotation = |key: &str| {
            parent
                .pointer(&format!("/metadata/annotations/{}", key.replace('/', "~1")))
                .and_then(Value::as_str)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Recorded {
            group_kinds: annotation(GROUP_KINDS),
            namespaces: annotation(NAMESPACES),
        }
    }

    pub fn union(&self, other: &Recorded) -> Recorded {
        Recorded {
            group_kinds: self
                .group_kinds
                .union(&other.group_kinds)
                .cloned()
                .collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }
}

/// What a set records about its current members.
pub fn recorded(set: &Set) -> Recorded {
    Recorded {
        group_kinds: group_kinds(&set.members),
        namespaces: additional_namespaces(set),
    }
}

/// The parent ConfigMap of a set, recording `record`.
pub fn parent(set: &Set, record: &Recorded) -> Value {
    let mut labels = json!({
        ID: id_of(set),
        "app.kubernetes.io/managed-by": "dappctl",
    });
    if let Some(env) = &set.env {
        labels[ENV] = json!(env);
    }
    if let Some(mesh) = &set.mesh {
        labels[MESH] = json!(mesh);
    }
    match &set.scope {
        Scope::Platform => {}
        Scope::Domain { domain } => labels["dappmesh.io/domain"] = json!(domain),
        Scope::Product { domain, product } => {
            labels["dappmesh.io/domain"] = json!(domain);
            labels["dappmesh.io/product"] = json!(product);
        }
    }
    let mut annotations = json!({
        TOOLING: concat!("dappctl/v", env!("CARGO_PKG_VERSION")),
        GROUP_KINDS: join(&record.group_kinds),
    });
    if !record.namespaces.is_empty() {
        annotations[NAMESPACES] = json!(join(&record.namespaces));
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": set.parent_name(),
            "namespace": set.namespace,
            "labels": labels,
            "annotations": annotations,
        },
    })
}

fn join(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(",")
}

/// The object as sent: the rendered object labelled as a member of the set.
pub fn member(object: &Object, id: &str) -> Value {
    let mut value = object.value.clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(PART_OF.to_owned(), json!(id));
        }
    }
    value
}

/// Whether a live object is a member of the set with this id: only those may be pruned.
pub fn is_member(live: &Value, id: &str) -> bool {
    live.pointer(&format!("/metadata/labels/{}", PART_OF.replace('/', "~1")))
        .and_then(Value::as_str)
        == Some(id)
}

/// Splits a recorded group-kind (`Deployment.apps`) into kind and group.
pub fn split_group_kind(group_kind: &str) -> (&str, &str) {
    group_kind.split_once('.').unwrap_or((group_kind, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_one_kep_3659_gives() {
        // The example of the KEP and of kubectl's own tests.
        assert_eq!(
            id("test-foo", "test-ns", "Foo", "foo.bar"),
            "applyset-f9Rk5tKHoB72oV1tU2iFKxDwL8MBZTjMHFQ8V9WNNlA-v1"
        );
    }

    #[test]
    fn recorded_group_kinds_read_back_and_merge() {
        let parent = json!({"metadata": {"annotations": {
            GROUP_KINDS: "Deployment.apps,ConfigMap",
            NAMESPACES: "b",
        }}});
        let old = Recorded::of(&parent);
        assert_eq!(
            old.group_kinds.iter().collect::<Vec<_>>(),
            ["ConfigMap", "Deployment.apps"]
        );
        let new = Recorded {
            group_kinds: ["Service".to_owned()].into(),
            namespaces: BTreeSet::new(),
        };
        let both = old.union(&new);
        assert_eq!(both.group_kinds.len(), 3);
        assert_eq!(both.namespaces.iter().collect::<Vec<_>>(), ["b"]);
        assert_eq!(split_group_kind("Deployment.apps"), ("Deployment", "apps"));
        assert_eq!(
            split_group_kind("DataProduct.dappmesh.io"),
            ("DataProduct", "dappmesh.io")
        );
        assert_eq!(split_group_kind("ConfigMap"), ("ConfigMap", ""));
    }

    #[test]
    fn members_are_labelled_and_recognised() {
        let object = Object {
            path: "p.yaml".into(),
            value: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "c".into(),
            namespace: None,
            wave: 0,
        };
        let sent = member(&object, "applyset-x-v1");
        assert!(is_member(&sent, "applyset-x-v1"));
        assert!(!is_member(&sent, "applyset-y-v1"));
        assert!(!is_member(&object.value, "applyset-x-v1"));
    }
}
