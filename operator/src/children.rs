//! The objects a DataProduct owns: applied with server-side apply as `dappmesh-operator`,
//! each with an owner reference to the product, never taking over what is not the
//! product's (an object someone else made, or a field another manager holds is a conflict the
//! status names); and those it no longer renders, found by label and owner reference, deleted.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Client, Resource};
use serde_json::{Value, json};

use crate::resource::DataProduct;
use crate::{Error, Result};

/// The field manager of every change the operator makes.
pub const MANAGER: &str = "dappmesh-operator";

/// The kinds the templates render for a product, which the operator looks through for
/// children to remove. A kind added by a custom template is applied like any other; it is
/// only looked through once it is listed here (and in the operator's RBAC).
pub const OWNED: &[(&str, &str, &str)] = &[
    ("", "v1", "ServiceAccount"),
    ("", "v1", "Service"),
    ("", "v1", "ConfigMap"),
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "StatefulSet"),
    ("batch", "v1", "CronJob"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
];

/// One applied child, as `kind/name`.
pub type ChildRef = String;

/// The API of each kind, looked up once.
#[derive(Default)]
pub struct Kinds(Mutex<HashMap<GroupVersionKind, (ApiResource, bool)>>);

impl Kinds {
    async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<(ApiResource, bool)> {
        if let Some(found) = self.0.lock().expect("kinds lock").get(gvk) {
            return Ok(found.clone());
        }
        let (resource, caps): (ApiResource, ApiCapabilities) =
            kube::discovery::pinned_kind(client, gvk).await?;
        let found = (resource, caps.scope == Scope::Namespaced);
        self.0
            .lock()
            .expect("kinds lock")
            .insert(gvk.clone(), found.clone());
        Ok(found)
    }
}

fn gvk_of(object: &Value) -> Option<GroupVersionKind> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Some(GroupVersionKind::gvk(group, version, kind))
}

/// The owner reference every child carries: the product controls it, and Kubernetes removes
/// it with the product.
pub(crate) fn owner_reference(owner: &DataProduct) -> OwnerReference {
    OwnerReference {
        api_version: DataProduct::api_version(&()).into_owned(),
        kind: DataProduct::kind(&()).into_owned(),
        name: owner.metadata.name.clone().unwrap_or_default(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What an apply did: the children applied, and those left alone because they are not the
/// product's to change, each as `kind/name: why`.
#[derive(Debug, Default)]
pub struct Applied {
    pub applied: Vec<ChildRef>,
    pub conflicts: Vec<String>,
    /// Every child rendered, applied or not: what pruning keeps.
    pub rendered: Vec<ChildRef>,
}

/// Applies every child that is new or already the product's; returns what was applied and
/// what was refused. Without force: a field another manager owns is a 409, reported, not
/// overwritten.
pub async fn apply(
    client: &Client,
    kinds: &Kinds,
    owner: &DataProduct,
    children: Vec<Value>,
) -> Result<Applied> {
    let namespace = owner.metadata.namespace.clone().unwrap_or_default();
    let params = PatchParams::apply(MANAGER);
    let mut outcome = Applied::default();
    for mut child in children {
        let Some(gvk) = gvk_of(&child) else {
            return Err(Error::Render(
                "a rendered object has no apiVersion or kind".into(),
            ));
        };
        let name = child
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let child_ref = format!("{}/{name}", gvk.kind);
        outcome.rendered.push(child_ref.clone());
        child["metadata"]["ownerReferences"] = json!([owner_reference(owner)]);
        let (resource, namespaced) = kinds.resolve(client, &gvk).await?;
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(client.clone(), &namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        if let Some(live) = api.get_opt(&name).await?
            && let Some(why) = foreign(&live, owner)
        {
            outcome.conflicts.push(format!("{child_ref}: {why}"));
            continue;
        }
        match api.patch(&name, &params, &Patch::Apply(&child)).await {
            Ok(_) => outcome.applied.push(child_ref),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                outcome
                    .conflicts
                    .push(format!("{child_ref}: {}", e.message));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(outcome)
}

/// Why an existing object is not the product's to change, if it is not: controlled by
/// something else, or neither controlled by the product nor rendered for it (its label).
/// An object `dappctl` or Argo CD applied from the same render carries the label and no
/// other controller: the product adopts it.
fn foreign(live: &DynamicObject, owner: &DataProduct) -> Option<String> {
    let uid = owner.metadata.uid.as_deref();
    let controller = live
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    match controller {
        Some(c) if Some(c.uid.as_str()) == uid => None,
        Some(c) => Some(format!("exists and is controlled by {} {}", c.kind, c.name)),
        None => {
            let label = live
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("dappmesh.io/product"));
            (label != owner.metadata.name.as_ref())
                .then(|| "exists and was not created by the operator for this product".into())
        }
    }
}

/// Deletes the children of `owner` that are not in `keep`: objects of the owned kinds in its
/// namespace, labelled with its name and controlled by it (its uid).
pub async fn prune(
    client: &Client,
    kinds: &Kinds,
    owner: &DataProduct,
    keep: &[ChildRef],
) -> Result<Vec<ChildRef>> {
    let namespace = owner.metadata.namespace.clone().unwrap_or_default();
    let name = owner.metadata.name.clone().unwrap_or_default();
    let uid = owner.metadata.uid.clone().unwrap_or_default();
    let keep: BTreeSet<&str> = keep.iter().map(String::as_str).collect();
    let selector = ListParams::default().labels(&format!("dappmesh.io/product={name}"));
    let mut removed = Vec::new();
    for (group, version, kind) in OWNED {
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, _) = kinds.resolve(client, &gvk).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
        for object in api.list(&selector).await? {
            let controlled = object
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid && r.controller == Some(true));
            let child_name = object.metadata.name.clone().unwrap_or_default();
            let child = format!("{kind}/{child_name}");
            if controlled && !keep.contains(child.as_str()) {
                api.delete(&child_name, &DeleteParams::background()).await?;
                removed.push(child);
            }
        }
    }
    Ok(removed)
}
