//! `dappctl delete`: removes ApplySets from a cluster, members first, then their parents.
//! The sets come from a rendered mesh (products, then domains, then the platform) or from one
//! product's name, looked up on the cluster. Each set is gone before the next one goes, so
//! the operator is still there to release the finalizers of the products it runs.

use std::time::{Duration, Instant};

use super::Report;
use super::cluster::Cluster;
use super::manifest::Set;
use super::prune::{self, Mode, Parent, Pruned};

/// What to delete.
pub enum Selection<'a> {
    /// The sets of a rendered mesh.
    Sets(&'a [Set]),
    /// The set of one product, in an environment when several share the cluster.
    Product { name: &'a str, env: Option<&'a str> },
}

/// Why nothing could be deleted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DeleteError {
    #[error("no product `{name}` applied by dappctl on this cluster")]
    #[diagnostic(
        code = "delete::unknown-product",
        help(
            "`kubectl get configmaps -A -l dappmesh.io/product` lists the products dappctl applied"
        )
    )]
    UnknownProduct { name: String },

    #[error("several products named `{name}` were applied here: {found}")]
    #[diagnostic(
        code = "delete::ambiguous",
        help("pick one with --env, or delete by mesh: dappctl delete PATH --env ENV")
    )]
    Ambiguous { name: String, found: String },

    #[error("cannot find what to delete: {message}")]
    #[diagnostic(code = "delete::lookup")]
    Lookup { message: String },
}

/// Deletes the selected sets; sets not on the cluster are skipped and said so. Waits up to
/// `timeout` for each set's members to be gone before the next set.
pub async fn delete(
    cluster: &Cluster,
    selection: Selection<'_>,
    mode: Mode,
    timeout: Duration,
    report: &mut dyn Report,
) -> Result<Pruned, DeleteError> {
    let lookup = |r: super::cluster::Refusal| DeleteError::Lookup { message: r.message };
    let parents: Vec<Parent> = match selection {
        Selection::Product { name, env } => {
            let found = prune::parents(cluster, env, &[("dappmesh.io/product", name)])
                .await
                .map_err(lookup)?;
            if found.len() > 1 {
                let found: Vec<String> = found
                    .iter()
                    .map(|p| format!("{} in namespace {}", p.name, p.namespace))
                    .collect();
                return Err(DeleteError::Ambiguous {
                    name: name.to_owned(),
                    found: found.join(", "),
                });
            }
            if found.is_empty() {
                return Err(DeleteError::UnknownProduct {
                    name: name.to_owned(),
                });
            }
            found
        }
        Selection::Sets(sets) => {
            let mut found = Vec::new();
            // Products first and the platform last: the operator and the CRD go at the end.
            for set in sets.iter().rev() {
                let name = set.parent_name();
                match prune::live_parent(cluster, &name, &set.namespace)
                    .await
                    .map_err(lookup)?
                {
                    Some(value) => found.push(Parent {
                        id: super::applyset::id_of(set),
                        recorded: super::applyset::Recorded::of(&value),
                        uid: value
                            .pointer("/metadata/uid")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned),
                        name,
                        namespace: set.namespace.clone(),
                    }),
                    None => report.line(&format!("{}: not on the cluster", set.title())),
                }
            }
            found
        }
    };
    let mut done = Pruned::default();
    for parent in &parents {
        let removed = prune::remove_set(cluster, parent, mode, "deleted", report).await;
        done.pruned += removed.pruned;
        done.failed += removed.failed;
        if mode == Mode::Delete
            && removed.failed == 0
            && !gone(cluster, parent, timeout, report).await
        {
            done.failed += 1;
        }
    }
    Ok(done)
}

/// Waits until the set has no members left but those it keeps; says what is still there when
/// the time is up.
async fn gone(
    cluster: &Cluster,
    parent: &Parent,
    timeout: Duration,
    report: &mut dyn Report,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<String> =
            match prune::members(cluster, &parent.id, &parent.namespace, &parent.recorded).await {
                Ok(members) => members
                    .iter()
                    .filter(|m| !m.kept)
                    .map(prune::Member::reference)
                    .collect(),
                Err(refusal) => vec![format!("(cannot list: {})", refusal.message)],
            };
        if left.is_empty() {
            report.progress("");
            return true;
        }
        if Instant::now() >= deadline {
            report.progress("");
            report.line(&format!(
                "still being deleted after {}: {} (a finalizer holds them?)",
                humantime::format_duration(timeout),
                left.join(", ")
            ));
            return false;
        }
        report.progress(&format!(
            "waiting for {} to be gone: {}",
            left.len(),
            left[0]
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
