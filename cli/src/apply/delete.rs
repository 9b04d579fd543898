//! `dappctl delete`: removes ApplySets from a cluster, members first, then their parents.
//! The sets come from a rendered mesh (products, then domains, then the platform) or from one
//! product's name, looked up on the cluster.

use super::Report;
use super::cluster::Cluster;
use super::manifest::Set;
use super::prune::{self, Parent, Pruned};

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
        code(delete::unknown_product),
        help(
            "`kubectl get configmaps -A -l dappmesh.io/product` lists the products dappctl applied"
        )
    )]
    UnknownProduct { name: String },

    #[error("product `{name}` is applied in several environments here: {envs}")]
    #[diagnostic(code(delete::ambiguous), help("pick one with --env"))]
    Ambiguous { name: String, envs: String },

    #[error("cannot find what to delete: {message}")]
    #[diagnostic(code(delete::lookup))]
    Lookup { message: String },
}

/// Deletes the selected sets; sets not on the cluster are skipped and said so.
pub async fn delete(
    cluster: &Cluster,
    selection: Selection<'_>,
    dry_run: bool,
    report: &mut dyn Report,
) -> Result<Pruned, DeleteError> {
    let lookup = |r: super::cluster::Refusal| DeleteError::Lookup { message: r.message };
    let parents: Vec<Parent> = match selection {
        Selection::Product { name, env } => {
            let found = prune::parents(cluster, env, &[("dappmesh.io/product", name)])
                .await
                .map_err(lookup)?;
            if found.len() > 1 {
                let envs: Vec<String> = found
                    .iter()
                    .map(|p| format!("{} (namespace {})", p.name, p.namespace))
                    .collect();
                return Err(DeleteError::Ambiguous {
                    name: name.to_owned(),
                    envs: envs.join(", "),
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
            // Products first and the platform last: its CRDs and namespace go at the end.
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
        let removed = prune::remove_set(cluster, parent, dry_run, "deleted", report).await;
        done.pruned += removed.pruned;
        done.failed += removed.failed;
    }
    Ok(done)
}
