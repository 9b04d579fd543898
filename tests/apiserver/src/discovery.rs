//! The resources this server serves — the built-in kinds plus the kinds of established CRDs —
//! and the discovery documents (`/version`, `/api`, `/apis`, …) that kube's `Discovery` reads.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::store::Store;

/// One served group/version/resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resource {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Whether `.status` is a subresource that main-resource writes cannot touch.
    pub status: bool,
    pub short_names: Vec<String>,
    /// Defined by a CRD rather than built in.
    pub custom: bool,
}

/// One built-in resource a line: group/version, plural, kind, scope (Namespaced or Cluster),
/// whether `.status` is a subresource, short names.
const BUILTIN: &str = "
    v1 namespaces Namespace Cluster status ns
    v1 configmaps ConfigMap Namespaced - cm
    v1 secrets Secret Namespaced -
    v1 services Service Namespaced status svc
    v1 serviceaccounts ServiceAccount Namespaced - sa
    v1 persistentvolumeclaims PersistentVolumeClaim Namespaced status pvc
    v1 pods Pod Namespaced status po
    v1 events Event Namespaced - ev
    apps/v1 deployments Deployment Namespaced status deploy
    apps/v1 statefulsets StatefulSet Namespaced status sts
    apps/v1 daemonsets DaemonSet Namespaced status ds
    batch/v1 jobs Job Namespaced status
    batch/v1 cronjobs CronJob Namespaced status cj
    networking.k8s.io/v1 networkpolicies NetworkPolicy Namespaced - netpol
    networking.k8s.io/v1 ingresses Ingress Namespaced status ing
    rbac.authorization.k8s.io/v1 roles Role Namespaced -
    rbac.authorization.k8s.io/v1 rolebindings RoleBinding Namespaced -
    rbac.authorization.k8s.io/v1 clusterroles ClusterRole Cluster -
    rbac.authorization.k8s.io/v1 clusterrolebindings ClusterRoleBinding Cluster -
    policy/v1 poddisruptionbudgets PodDisruptionBudget Namespaced status pdb
    apiextensions.k8s.io/v1 customresourcedefinitions CustomResourceDefinition Cluster status crd crds
    coordination.k8s.io/v1 leases Lease Namespaced -
    events.k8s.io/v1 events Event Namespaced - ev
";

/// Every resource supports the same verbs here; `deletecollection` is not offered.
const VERBS: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

impl Resource {
    pub(crate) fn api_version(&self) -> String {
        match self.group.as_str() {
            "" => self.version.clone(),
            group => format!("{group}/{}", self.version),
        }
    }

    /// `deployments.apps`, or `pods` in the core group: how error messages name a resource.
    pub(crate) fn qualified(&self) -> String {
        match self.group.as_str() {
            "" => self.plural.clone(),
            group => format!("{}.{group}", self.plural),
        }
    }

    /// `Deployment.apps`: how validation errors name a kind.
    pub(crate) fn qualified_kind(&self) -> String {
        match self.group.as_str() {
            "" => self.kind.clone(),
            group => format!("{}.{group}", self.kind),
        }
    }

    /// The `details` of a Status about one object of this resource.
    pub(crate) fn details(&self, name: &str) -> Value {
        json!({"name": name, "group": self.group, "kind": self.plural})
    }

    pub(crate) fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.plural == "customresourcedefinitions"
    }

    /// The stored object as this group/version serves it: objects of a multi-version CRD share
    /// storage, and no conversion happens beyond the apiVersion.
    pub(crate) fn serve(&self, object: &Value) -> Value {
        let mut object = object.clone();
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.api_version()));
        }
        object
    }
}

fn builtins() -> impl Iterator<Item = Resource> {
    BUILTIN.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        let group_version = words.next()?;
        let (group, version) = group_version.split_once('/').unwrap_or(("", group_version));
        let (plural, kind) = (words.next()?, words.next()?);
        Some(Resource {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced: words.next()? == "Namespaced",
            status: words.next()? == "status",
            short_names: words.map(String::from).collect(),
            custom: false,
        })
    })
}

pub(crate) fn namespaces() -> Resource {
    builtins()
        .next()
        .expect("the built-in table starts with namespaces")
}

/// Every served resource: the built-ins, then each established CRD's served versions.
pub(crate) fn resources(store: &Store) -> Vec<Resource> {
    let mut all: Vec<Resource> = builtins().collect();
    all.extend(
        store
            .list("apiextensions.k8s.io", "customresourcedefinitions", None)
            .flat_map(crd_resources),
    );
    all
}

pub(crate) fn find(store: &Store, group: &str, version: &str, plural: &str) -> Option<Resource> {
    resources(store)
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

pub(crate) fn find_kind(store: &Store, api_version: &str, kind: &str) -> Option<Resource> {
    resources(store)
        .into_iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

pub(crate) fn established(crd: &Value) -> bool {
    let conditions = crd["status"]["conditions"].as_array().into_iter().flatten();
    conditions
        .into_iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
}

fn crd_resources(crd: &Value) -> Vec<Resource> {
    let (spec, names) = (&crd["spec"], &crd["spec"]["names"]);
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        names["plural"].as_str(),
        names["kind"].as_str(),
    ) else {
        return vec![];
    };
    if !established(crd) {
        return vec![];
    }
    let versions = spec["versions"].as_array().into_iter().flatten();
    versions
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            Some(Resource {
                group: group.into(),
                version: v["name"].as_str()?.into(),
                plural: plural.into(),
                singular: names["singular"]
                    .as_str()
                    .map_or_else(|| kind.to_lowercase(), String::from),
                kind: kind.into(),
                namespaced: spec["scope"] != "Cluster",
                status: v["subresources"]["status"].is_object(),
                short_names: strings(&names["shortNames"]),
                custom: true,
            })
        })
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

/// Kubernetes version priority: GA, then beta, then alpha, higher numbers first; anything that
/// does not look like `v1beta2` sorts last.
fn priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(major) = rest[..digits].parse() else {
        return (0, 0, 0);
    };
    let (stage, minor) = match &rest[digits..] {
        "" => (3, "0"),
        tail => match (tail.strip_prefix("beta"), tail.strip_prefix("alpha")) {
            (Some(minor), _) => (2, minor),
            (_, Some(minor)) => (1, minor),
            _ => return (0, 0, 0),
        },
    };
    (stage, major, minor.parse().unwrap_or(0))
}

pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0",
        "gitCommit": "60a317eadfcb839692a68eab88b2096f4d708f4f", "gitTreeState": "clean",
        "buildDate": "2025-04-23T13:07:19Z", "goVersion": "go1.24.2", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub(crate) fn core_versions(address: SocketAddr) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address.to_string()}],
    })
}

pub(crate) fn groups(resources: &[Resource]) -> Value {
    let mut names: Vec<&str> = vec![];
    for r in resources.iter().filter(|r| !r.group.is_empty()) {
        if !names.contains(&r.group.as_str()) {
            names.push(&r.group);
        }
    }
    let groups: Vec<Value> = names
        .into_iter()
        .filter_map(|name| group(resources, name))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn group(resources: &[Resource], name: &str) -> Option<Value> {
    let mut versions: Vec<&str> = resources
        .iter()
        .filter(|r| r.group == name)
        .map(|r| r.version.as_str())
        .collect();
    versions.sort_by(|a, b| priority(b).cmp(&priority(a)).then(a.cmp(b)));
    versions.dedup();
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": versions,
        "preferredVersion": preferred,
    }))
}

pub(crate) fn resource_list(resources: &[Resource], group: &str, version: &str) -> Option<Value> {
    let mut entries = vec![];
    for r in resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        entries.push(entry);
        if r.status {
            entries.push(json!({
                "name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    (!entries.is_empty()).then(|| {
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries})
    })
}
