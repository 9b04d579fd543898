//! The template runs outside the products (`platform/`, `mesh/`, `environment/`, `domain/`):
//! what each scope's templates see, as typed contexts, and the directory each run writes.
//! The keys here are the ones docs/render.md documents under "Scopes"; a test holds the two
//! together.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::context::{EnvironmentContext as Env, MeshContext as Mesh};
use super::templates::{Entry, Scope, Templates};
use super::{context, crd, resource};
use crate::model::Environment;
use crate::validate::Validated;

/// What every scope is built from, made once per render.
pub(super) struct Scopes<'a> {
    pub mesh: Mesh<'a>,
    /// The environments rendered, by name, with their context.
    pub envs: Vec<(&'a str, Env<'a>)>,
    /// Every environment of the mesh, rendered or not.
    all_envs: Vec<Env<'a>>,
    domains: Vec<DomainContext<'a>>,
    products: Vec<ProductSummary<'a>>,
    mesh_documents: String,
    /// The DataProduct CRD's schema: built once, whatever the number of platform templates.
    crd_schema: Value,
}

/// A domain as `mesh/`, `environment/` and `domain/` templates see it.
#[derive(Serialize)]
struct DomainContext<'a> {
    name: &'a str,
    owner: &'a str,
    description: Option<&'a str>,
    namespace: &'a str,
}

/// A product as `environment/` templates see it: enough to name its Application.
#[derive(Serialize)]
struct ProductSummary<'a> {
    name: &'a str,
    domain: &'a str,
}

/// What a `platform/` template sees.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlatformContext<'a> {
    mesh: &'a Mesh<'a>,
    crd_schema: &'a Value,
    /// The Mesh and Domain documents as YAML, for the operator's ConfigMap.
    mesh_documents: &'a str,
}

/// What a `mesh/` template sees.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshContext<'a> {
    mesh: &'a Mesh<'a>,
    environments: Vec<&'a Env<'a>>,
    all_environments: &'a [Env<'a>],
    domains: &'a [DomainContext<'a>],
}

/// What an `environment/` template sees, once per environment rendered.
#[derive(Serialize)]
struct EnvironmentContext<'a> {
    mesh: &'a Mesh<'a>,
    env: &'a Env<'a>,
    domains: &'a [DomainContext<'a>],
    products: &'a [ProductSummary<'a>],
}

/// What a `domain/` template sees, once per environment rendered and domain.
#[derive(Serialize)]
struct DomainRunContext<'a> {
    mesh: &'a Mesh<'a>,
    env: &'a Env<'a>,
    domain: &'a DomainContext<'a>,
}

/// One template run: the template, the directory its files go to, and what it sees (as a
/// JSON value: what the run's key hashes and the template is given).
pub(super) struct Run<'t> {
    pub entry: &'t Entry,
    pub dir: PathBuf,
    pub context: Value,
}

impl<'a> Scopes<'a> {
    pub fn new(validated: &'a Validated, envs: &[&'a Environment]) -> Self {
        let mesh = &validated.mesh.spec;
        Scopes {
            mesh: context::mesh(mesh),
            envs: envs
                .iter()
                .map(|e| (e.name.as_str(), context::environment(e)))
                .collect(),
            all_envs: mesh
                .spec
                .environments
                .iter()
                .map(context::environment)
                .collect(),
            domains: validated
                .domains
                .iter()
                .map(|d| DomainContext {
                    name: &d.spec.metadata.name,
                    owner: &d.spec.spec.owner,
                    description: d.spec.spec.description.as_deref(),
                    namespace: &d.spec.metadata.name,
                })
                .collect(),
            products: validated
                .products
                .iter()
                .map(|p| ProductSummary {
                    name: &p.spec.metadata.name,
                    domain: &p.spec.metadata.domain,
                })
                .collect(),
            mesh_documents: resource::mesh_documents(validated),
            crd_schema: crd::dataproduct_schema(),
        }
    }
}

fn value(context: impl Serialize) -> Value {
    // Plain structs of strings and JSON values: serialising them cannot fail.
    serde_json::to_value(context).unwrap_or_default()
}

/// Every run of the non-product templates: the mesh-wide ones first, in template order (an
/// `environment/` template once per environment), then per environment the `domain/` ones.
pub(super) fn runs<'t>(templates: &'t Templates, scopes: &Scopes<'_>) -> Vec<Run<'t>> {
    let mesh = &scopes.mesh;
    let mut runs = Vec::new();
    for entry in &templates.entries {
        let run = |dir: PathBuf, context: Value| Run {
            entry,
            dir: dir.join(&entry.subdir),
            context,
        };
        match entry.scope {
            Scope::Platform => runs.push(run(
                Path::new("platform").to_path_buf(),
                value(PlatformContext {
                    mesh,
                    crd_schema: &scopes.crd_schema,
                    mesh_documents: &scopes.mesh_documents,
                }),
            )),
            Scope::Mesh => runs.push(run(
                Path::new("argocd").to_path_buf(),
                value(MeshContext {
                    mesh,
                    environments: scopes.envs.iter().map(|(_, env)| env).collect(),
                    all_environments: &scopes.all_envs,
                    domains: &scopes.domains,
                }),
            )),
            Scope::Environment => {
                for (name, env) in &scopes.envs {
                    runs.push(run(
                        Path::new("argocd/apps").join(name),
                        value(EnvironmentContext {
                            mesh,
                            env,
                            domains: &scopes.domains,
                            products: &scopes.products,
                        }),
                    ));
                }
            }
            Scope::Domain | Scope::Product => {}
        }
    }
    for (name, env) in &scopes.envs {
        let env_dir = Path::new("envs").join(name);
        for entry in templates
            .entries
            .iter()
            .filter(|e| e.scope == Scope::Domain)
        {
            for domain in &scopes.domains {
                runs.push(Run {
                    entry,
                    dir: env_dir.join(domain.name).join(&entry.subdir),
                    context: value(DomainRunContext { mesh, env, domain }),
                });
            }
        }
    }
    runs
}
