//! Finding and removing the live members of an ApplySet: what `apply --prune` deletes because
//! it is no longer rendered, and what `delete` removes. Only objects labelled as members of
//! the set and applied by dappctl are ever touched, each on the condition that it is still the
//! very object that was listed (its uid). Objects marked `Delete=false` or `Prune=false` (the
//! namespaces and the CRD: deleting them deletes whatever else they hold) are kept.

use std::collections::BTreeSet;

use kube::api::{DeleteParams, ListParams, Preconditions, PropagationPolicy};
use serde_json::Value;

use super::Report;
use super::applyset::{self, Recorded};
use super::cluster::{Cluster, Refusal, RefusalKind};
use super::manifest::{Set, group_kind, reference};

/// What a prune or delete did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub pruned: usize,
    pub failed: usize,
}

/// A live member of a set.
#[derive(Debug, Clone)]
pub struct Member {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub uid: Option<String>,
    /// Marked `Delete=false` or `Prune=false`: never deleted by dappctl.
    pub kept: bool,
}

impl Member {
    pub fn reference(&self) -> String {
        reference(
            &self.kind,
            &self.group,
            &self.name,
            self.namespace.as_deref(),
        )
    }

    /// Whether a set renders this object. A cluster-scoped object is matched without the
    /// namespace a template may have given it, as the server drops it.
    fn wanted(&self, wanted: &BTreeSet<(String, String, Option<String>)>) -> bool {
        let group_kind = group_kind(&self.kind, &self.group);
        match &self.namespace {
            Some(_) => wanted.contains(&(group_kind, self.name.clone(), self.namespace.clone())),
            None => wanted
                .iter()
                .any(|(gk, name, _)| *gk == group_kind && *name == self.name),
        }
    }
}

/// How prune and delete run: for real, asking the server to check only, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Delete,
    ServerDryRun,
    ClientDryRun,
}

impl Mode {
    fn suffix(self) -> &'static str {
        match self {
            Mode::Delete => "",
            Mode::ServerDryRun => " (server dry run)",
            Mode::ClientDryRun => " (dry run)",
        }
    }
}

/// Whether a listed object is the set's to delete: labelled as a member and applied by
/// dappctl. Another tool copying the label onto its own objects does not make them members.
fn is_ours(live: &Value, id: &str) -> bool {
    let applied_by_dappctl = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.get("manager").and_then(Value::as_str) == Some(super::MANAGER))
        });
    applyset::is_member(live, id) && applied_by_dappctl
}

/// `argocd.argoproj.io/sync-options` with `Delete=false` or `Prune=false`: the object outlives
/// its set, as it does under Argo CD.
fn is_kept(live: &Value) -> bool {
    live.pointer("/metadata/annotations/argocd.argoproj.io~1sync-options")
        .and_then(Value::as_str)
        .is_some_and(|options| {
            options
                .split(',')
                .map(str::trim)
                .any(|o| o == "Delete=false" || o == "Prune=false")
        })
}

/// What the live parent of a set records (None: the set was never applied here).
pub async fn recorded_parent(cluster: &Cluster, set: &Set) -> Result<Option<Recorded>, Refusal> {
    let parent = live_parent(cluster, &set.parent_name(), &set.namespace).await?;
    Ok(parent.map(|p| Recorded::of(&p)))
}

pub async fn live_parent(
    cluster: &Cluster,
    name: &str,
    namespace: &str,
) -> Result<Option<Value>, Refusal> {
    let kind = cluster.kind("", "v1", "ConfigMap").await?;
    match cluster.api(&kind, Some(namespace)).get_opt(name).await {
        Ok(found) => Ok(found.map(super::value_of)),
        // No namespace yet: no parent either.
        Err(e) => match Refusal::of(e) {
            r if r.kind == RefusalKind::NotFound => Ok(None),
            r => Err(r),
        },
    }
}

/// Every live member of the set with this id, looked up kind by kind in the namespaces the
/// parent records. Members listed but not labelled as the set's are left out.
pub async fn members(
    cluster: &Cluster,
    id: &str,
    parent_namespace: &str,
    recorded: &Recorded,
) -> Result<Vec<Member>, Refusal> {
    let mut namespaces: BTreeSet<&str> = recorded.namespaces.iter().map(String::as_str).collect();
    namespaces.insert(parent_namespace);
    let selector = ListParams::default().labels(&format!("{}={id}", applyset::PART_OF));
    let mut found = Vec::new();
    for group_kind in &recorded.group_kinds {
        let (kind_name, group) = applyset::split_group_kind(group_kind);
        let kind = match cluster.group_kind(group, kind_name).await {
            Ok(kind) => kind,
            // A kind no longer served has no objects left to find.
            Err(r) if r.kind == RefusalKind::NotFound => continue,
            Err(r) => return Err(r),
        };
        let scopes: Vec<Option<&str>> = if kind.namespaced {
            namespaces.iter().map(|ns| Some(*ns)).collect()
        } else {
            vec![None]
        };
        for namespace in scopes {
            let listed = match cluster.api(&kind, namespace).list(&selector).await {
                Ok(listed) => listed,
                Err(e) => match Refusal::of(e) {
                    r if r.kind == RefusalKind::NotFound => continue,
                    r => return Err(r),
                },
            };
            for item in listed.items {
                let value = super::value_of(item);
                if !is_ours(&value, id) {
                    continue;
                }
                let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
                found.push(Member {
                    group: group.to_owned(),
                    kind: kind_name.to_owned(),
                    name: text("/metadata/name").unwrap_or_default(),
                    namespace: text("/metadata/namespace"),
                    uid: text("/metadata/uid"),
                    kept: is_kept(&value),
                });
            }
        }
    }
    Ok(found)
}

/// Deletes one member, only if it is still the object that was listed.
async fn remove(cluster: &Cluster, member: &Member, mode: Mode) -> Result<(), Refusal> {
    if mode == Mode::ClientDryRun {
        return Ok(());
    }
    let kind = cluster.group_kind(&member.group, &member.kind).await?;
    let params = DeleteParams {
        dry_run: mode == Mode::ServerDryRun,
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: member.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match cluster
        .api(&kind, member.namespace.as_deref())
        .delete(&member.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match Refusal::of(e) {
            // Already gone: what was asked for holds.
            r if r.kind == RefusalKind::NotFound => Ok(()),
            r => Err(r),
        },
    }
}

/// Deletes the members of a set that it no longer renders.
pub async fn prune(
    cluster: &Cluster,
    set: &Set,
    id: &str,
    previous: &Recorded,
    mode: Mode,
    report: &mut dyn Report,
) -> Pruned {
    let wanted: BTreeSet<(String, String, Option<String>)> = set
        .members
        .iter()
        .map(|o| (o.group_kind(), o.name.clone(), o.namespace.clone()))
        .collect();
    let scope = previous.union(&applyset::recorded(set));
    let live = match members(cluster, id, &set.namespace, &scope).await {
        Ok(live) => live,
        Err(refusal) => {
            report.line(&format!(
                "{}: cannot list its objects to prune: {}",
                set.title(),
                refusal.message
            ));
            return Pruned {
                pruned: 0,
                failed: 1,
            };
        }
    };
    let stale: Vec<Member> = live.into_iter().filter(|m| !m.wanted(&wanted)).collect();
    remove_all(cluster, &stale, mode, "pruned", report).await
}

/// Deletes members one by one, reporting each; members marked to be kept are only reported.
async fn remove_all(
    cluster: &Cluster,
    members: &[Member],
    mode: Mode,
    verb: &str,
    report: &mut dyn Report,
) -> Pruned {
    let mut done = Pruned::default();
    let suffix = mode.suffix();
    for member in members {
        if member.kept {
            report.line(&format!(
                "{} kept: it is marked Delete=false (it holds what others made); delete it with kubectl if you mean to",
                member.reference()
            ));
            continue;
        }
        match remove(cluster, member, mode).await {
            Ok(()) => {
                done.pruned += 1;
                report.line(&format!("{} {verb}{suffix}", member.reference()));
            }
            Err(refusal) => {
                done.failed += 1;
                report.line(&format!(
                    "{}: cannot delete: {}",
                    member.reference(),
                    refusal.message
                ));
            }
        }
    }
    done
}

/// A parent ConfigMap found on the cluster.
#[derive(Debug, Clone)]
pub struct Parent {
    pub name: String,
    pub namespace: String,
    pub id: String,
    pub recorded: Recorded,
    pub uid: Option<String>,
}

/// The parents `dappctl` made on the cluster, for an environment (or all), matching `labels`
/// as well. A ConfigMap whose id is not the one its name and namespace give is not ours.
pub async fn parents(
    cluster: &Cluster,
    env: Option<&str>,
    labels: &[(&str, &str)],
) -> Result<Vec<Parent>, Refusal> {
    let mut selector = vec![
        applyset::ID.to_owned(),
        "app.kubernetes.io/managed-by=dappctl".into(),
    ];
    if let Some(env) = env {
        selector.push(format!("{}={env}", applyset::ENV));
    }
    selector.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
    let kind = cluster.kind("", "v1", "ConfigMap").await?;
    let listed = cluster
        .api(&kind, None)
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(Refusal::of)?;
    let mut found = Vec::new();
    for item in listed.items {
        let value = super::value_of(item);
        let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let (Some(name), Some(namespace)) = (text("/metadata/name"), text("/metadata/namespace"))
        else {
            continue;
        };
        let id = applyset::id(&name, &namespace, "ConfigMap", "");
        let label = format!("/metadata/labels/{}", applyset::ID.replace('/', "~1"));
        if text(&label).as_deref() != Some(id.as_str()) {
            continue;
        }
        found.push(Parent {
            recorded: Recorded::of(&value),
            uid: text("/metadata/uid"),
            name,
            namespace,
            id,
        });
    }
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(found)
}

/// Removes a whole set from the cluster: its members, then its parent.
pub async fn remove_set(
    cluster: &Cluster,
    parent: &Parent,
    mode: Mode,
    verb: &str,
    report: &mut dyn Report,
) -> Pruned {
    let live = match members(cluster, &parent.id, &parent.namespace, &parent.recorded).await {
        Ok(live) => live,
        Err(refusal) => {
            report.line(&format!(
                "ApplySet {}/{}: cannot list its objects: {}",
                parent.namespace, parent.name, refusal.message
            ));
            return Pruned {
                pruned: 0,
                failed: 1,
            };
        }
    };
    let mut done = remove_all(cluster, &live, mode, verb, report).await;
    if done.failed == 0 {
        let record = Member {
            group: String::new(),
            kind: "ConfigMap".to_owned(),
            name: parent.name.clone(),
            namespace: Some(parent.namespace.clone()),
            uid: parent.uid.clone(),
            kept: false,
        };
        let removed = remove_all(cluster, &[record], mode, verb, report).await;
        done.pruned += removed.pruned;
        done.failed += removed.failed;
    }
    done
}

/// Removes the sets of this mesh and environment that this render no longer has (a product
/// deleted from the mesh): every member, then the parent.
pub async fn prune_orphans(
    cluster: &Cluster,
    mesh: &str,
    env: &str,
    current: &[String],
    mode: Mode,
    report: &mut dyn Report,
) -> Pruned {
    let found = match parents(cluster, Some(env), &[(applyset::MESH, mesh)]).await {
        Ok(found) => found,
        Err(refusal) => {
            report.line(&format!(
                "cannot list ApplySets to prune: {}",
                refusal.message
            ));
            return Pruned {
                pruned: 0,
                failed: 1,
            };
        }
    };
    let mut done = Pruned::default();
    for parent in found.iter().filter(|p| !current.contains(&p.id)) {
        let removed = remove_set(cluster, parent, mode, "pruned", report).await;
        done.pruned += removed.pruned;
        done.failed += removed.failed;
    }
    done
}
