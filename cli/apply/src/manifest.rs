//! The rendered objects `apply` sends, read from a render in memory or from a directory that
//! `dappctl render` wrote, and grouped into the ApplySets that prune and delete work on.
//!
//! The layout decides the sets: `platform/` is one, each `envs/<env>/<domain>/` (its
//! namespace) is one, and each `envs/<env>/<domain>/<product>/` is one. `argocd/` and
//! `platform/argocd/` are Argo CD's own configuration and are not applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde_json::Value;

use dappmesh_compiler::load::yaml::{self, Limits};
use dappmesh_compiler::source::SourceFile;

/// One Kubernetes object of the render, with where it came from.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file it was read from, relative to the render's root.
    pub path: String,
    pub value: Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// `argocd.argoproj.io/sync-wave`: the order Argo CD would sync it in.
    pub wave: i64,
}

impl Object {
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// `Kind.group` as ApplySets and `kubectl` spell a group-kind (`Deployment.apps`,
    /// `ConfigMap`).
    pub fn group_kind(&self) -> String {
        group_kind(&self.kind, self.group())
    }

    /// How messages name the object, as kubectl does: `deployment.apps/orders`, followed by
    /// its namespace when it has one.
    pub fn reference(&self) -> String {
        reference(
            &self.kind,
            self.group(),
            &self.name,
            self.namespace.as_deref(),
        )
    }
}

pub fn group_kind(kind: &str, group: &str) -> String {
    if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    }
}

pub fn reference(kind: &str, group: &str, name: &str, namespace: Option<&str>) -> String {
    let kind = kind.to_ascii_lowercase();
    let what = if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    };
    match namespace {
        Some(ns) => format!("{what} (namespace {ns})"),
        None => what,
    }
}

/// What an ApplySet covers: the whole platform, a domain's own objects, or one product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Platform,
    Domain { domain: String },
    Product { domain: String, product: String },
}

/// The objects of one ApplySet and the parent that records them.
#[derive(Debug)]
pub struct Set {
    pub scope: Scope,
    /// The mesh's name, when known (every render knows it).
    pub mesh: Option<String>,
    pub env: Option<String>,
    /// The namespace of the parent ConfigMap.
    pub namespace: String,
    pub members: Vec<Object>,
}

impl Set {
    /// The parent's name: one per scope, so sets never share a parent.
    pub fn parent_name(&self) -> String {
        match &self.scope {
            Scope::Platform => "applyset-dappmesh-platform".to_owned(),
            Scope::Domain { domain } => format!("applyset-domain-{domain}"),
            Scope::Product { product, .. } => format!("applyset-product-{product}"),
        }
    }

    /// How the summary names the set.
    pub fn title(&self) -> String {
        match &self.scope {
            Scope::Platform => "platform".to_owned(),
            Scope::Domain { domain } => format!("domain {domain}"),
            Scope::Product { domain, product } => format!("product {domain}/{product}"),
        }
    }
}

/// Why rendered files cannot be applied.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManifestError {
    #[error("cannot read `{}`", dappmesh_compiler::source::shown(path))]
    #[diagnostic(code = "apply::read")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<InvalidFile>),

    #[error("`{path}` is not where `dappctl render` puts objects")]
    #[diagnostic(
        code = "apply::layout",
        help(
            "apply takes what `dappctl render --out DIR` wrote: platform/ and envs/<env>/<domain>/[<product>/]"
        )
    )]
    Layout { path: String },

    #[error("{first} and {second} both define {reference}")]
    #[diagnostic(code = "apply::duplicate", help("each object may be rendered once"))]
    Duplicate {
        reference: String,
        first: String,
        second: String,
    },

    #[error("{0}")]
    #[diagnostic(code = "apply::env")]
    Env(String),
}

/// A rendered file that is not what apply can send, pointing at the place.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code = "apply::manifest", help("{help}"))]
pub struct InvalidFile {
    message: String,
    help: String,
    #[source_code]
    source_code: NamedSource<Arc<str>>,
    #[label("here")]
    at: SourceSpan,
}

/// Reads every `.yaml` file below `dir` (what `dappctl render --out DIR` wrote), sorted by
/// path. Hidden files (`.dappctl-owned`) are skipped.
pub fn read_dir(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, ManifestError> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let read = |source| ManifestError::Read {
            path: at.clone(),
            source,
        };
        for entry in std::fs::read_dir(&at).map_err(read)? {
            let entry = entry.map_err(read)?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type().map_err(read)?.is_dir() {
                pending.push(path);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                let text = std::fs::read(&path).map_err(|source| ManifestError::Read {
                    path: path.clone(),
                    source,
                })?;
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(relative, text);
            }
        }
    }
    Ok(files)
}

/// The environments the files hold objects for (`envs/<env>/`), sorted.
pub fn environments(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let envs: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.strip_prefix("envs/")?.split_once('/').map(|(e, _)| e))
        .collect();
    envs.into_iter().map(str::to_owned).collect()
}

/// Picks the environment to apply: the one asked for, or the only one there is. One cluster
/// is one environment, so a mesh of several needs `--env`.
pub fn choose_env(
    files: &BTreeMap<String, Vec<u8>>,
    asked: Option<&str>,
) -> Result<String, ManifestError> {
    let envs = environments(files);
    match asked {
        Some(env) if envs.iter().any(|e| e == env) => Ok(env.to_owned()),
        Some(env) => Err(ManifestError::Env(format!(
            "nothing is rendered for environment `{env}` (rendered: {})",
            list(&envs)
        ))),
        None if envs.len() == 1 => Ok(envs[0].clone()),
        None if envs.is_empty() => Err(ManifestError::Env(
            "nothing is rendered for any environment (no envs/ directory)".to_owned(),
        )),
        None => Err(ManifestError::Env(format!(
            "the mesh has environments {}: pick the one this cluster runs with --env",
            list(&envs)
        ))),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ApplySets of one environment: the platform first, then each domain, then each
/// product, each with its objects in file order. `root` names the files in messages.
pub fn sets(
    files: &BTreeMap<String, Vec<u8>>,
    env: &str,
    root: &Path,
) -> Result<Vec<Set>, ManifestError> {
    let mesh = mesh_name(files);
    let mut grouped: BTreeMap<Scope, Vec<Object>> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String, String, Option<String>), String> = BTreeMap::new();
    for (path, text) in files {
        let Some(scope) = scope_of(path, env)? else {
            continue;
        };
        for object in objects(path, text, root)? {
            let key = (
                object.group().to_owned(),
                object.kind.clone(),
                object.name.clone(),
                object.namespace.clone(),
            );
            if let Some(first) = seen.insert(key, path.clone()) {
                return Err(ManifestError::Duplicate {
                    reference: object.reference(),
                    first,
                    second: path.clone(),
                });
            }
            grouped.entry(scope.clone()).or_default().push(object);
        }
    }
    grouped
        .into_iter()
        .map(|(scope, members)| {
            let namespace = parent_namespace(&scope, &members).ok_or_else(|| {
                ManifestError::Env(format!(
                    "the {} has no namespace to keep its ApplySet in",
                    match &scope {
                        Scope::Platform => "platform".to_owned(),
                        Scope::Domain { domain } => format!("domain {domain}"),
                        Scope::Product { product, .. } => format!("product {product}"),
                    }
                ))
            })?;
            Ok(Set {
                scope,
                mesh: mesh.clone(),
                env: Some(env.to_owned()),
                namespace,
                members,
            })
        })
        .collect()
}

/// The mesh's name, as the root Argo CD Application of a render carries it
/// (`app.kubernetes.io/part-of` of `argocd/application-dappmesh.yaml`).
fn mesh_name(files: &BTreeMap<String, Vec<u8>>) -> Option<String> {
    let text = files.get("argocd/application-dappmesh.yaml")?;
    let source = SourceFile::new(PathBuf::new(), String::from_utf8_lossy(text).as_ref());
    let documents: Vec<Value> = yaml::parse(&source, Limits::default()).ok()?;
    documents
        .first()?
        .pointer("/metadata/labels/app.kubernetes.io~1part-of")?
        .as_str()
        .map(str::to_owned)
}

/// Which set a rendered file belongs to; None for files that are not applied (Argo CD's, and
/// other environments').
fn scope_of(path: &str, env: &str) -> Result<Option<Scope>, ManifestError> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["argocd", ..] | ["platform", "argocd", ..] => Ok(None),
        ["platform", _file] => Ok(Some(Scope::Platform)),
        ["envs", e, ..] if *e != env => Ok(None),
        ["envs", _, domain, _file] => Ok(Some(Scope::Domain {
            domain: (*domain).to_owned(),
        })),
        ["envs", _, domain, product, _file] => Ok(Some(Scope::Product {
            domain: (*domain).to_owned(),
            product: (*product).to_owned(),
        })),
        _ => Err(ManifestError::Layout {
            path: path.to_owned(),
        }),
    }
}

/// A set's parent lives in the namespace the set creates (platform, domain) or in the one its
/// objects share (product).
fn parent_namespace(scope: &Scope, members: &[Object]) -> Option<String> {
    let created = members
        .iter()
        .find(|o| o.kind == "Namespace" && o.group().is_empty())
        .map(|o| o.name.clone());
    match scope {
        Scope::Platform | Scope::Domain { .. } => {
            created.or_else(|| members.iter().find_map(|o| o.namespace.clone()))
        }
        Scope::Product { .. } => members.iter().find_map(|o| o.namespace.clone()),
    }
}

/// The objects of one file: every non-empty YAML document, each needing apiVersion, kind and
/// metadata.name.
pub fn objects(path: &str, text: &[u8], root: &Path) -> Result<Vec<Object>, ManifestError> {
    let shown = root.join(path);
    let text = String::from_utf8_lossy(text);
    let source = SourceFile::new(shown.clone(), text.as_ref());
    let invalid = |message: String, help: &str, at: SourceSpan| {
        ManifestError::Invalid(Box::new(InvalidFile {
            message,
            help: help.to_owned(),
            source_code: NamedSource::new(
                dappmesh_compiler::source::shown(&shown),
                source.text().clone(),
            ),
            at,
        }))
    };
    let documents: Vec<Value> = yaml::parse(&source, Limits::default()).map_err(|e| {
        invalid(
            format!(
                "`{}` is not valid YAML",
                dappmesh_compiler::source::shown(&shown)
            ),
            "apply reads what `dappctl render` wrote; render again, or fix the file by hand",
            (e.span.start, e.span.len()).into(),
        )
    })?;
    let whole: SourceSpan = (0, 0).into();
    documents
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|value| {
            let text = |field: &str| value.pointer(field).and_then(Value::as_str);
            let (Some(api_version), Some(kind), Some(name)) =
                (text("/apiVersion"), text("/kind"), text("/metadata/name"))
            else {
                return Err(invalid(
                    format!(
                        "`{}` holds a document that is not a Kubernetes object",
                        dappmesh_compiler::source::shown(&shown)
                    ),
                    "every document needs apiVersion, kind and metadata.name",
                    whole,
                ));
            };
            let wave = value
                .pointer("/metadata/annotations/argocd.argoproj.io~1sync-wave")
                .and_then(Value::as_str)
                .and_then(|w| w.trim().parse().ok())
                .unwrap_or(0);
            Ok(Object {
                path: path.to_owned(),
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                namespace: text("/metadata/namespace").map(str::to_owned),
                wave,
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect()
    }

    const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: crm\n";
    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: crm\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: crm\n  annotations:\n    argocd.argoproj.io/sync-wave: \"2\"\n";

    #[test]
    fn files_group_into_platform_domain_and_product_sets() {
        let files = files(&[
            (
                "argocd/application-dappmesh.yaml",
                "kind: Application\nmetadata:\n  labels:\n    app.kubernetes.io/part-of: acme\n",
            ),
            ("argocd/apps/dev/application-x.yaml", "kind: Application"),
            ("envs/dev/crm/namespace-crm.yaml", NS),
            ("envs/dev/crm/orders/configmap-c.yaml", CM),
            ("envs/dev/crm/orders/deployment-d.yaml", DEPLOY),
            ("envs/prod/crm/namespace-crm.yaml", NS),
            (
                "platform/namespace-system.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: system\n",
            ),
            ("platform/argocd/configmap-argocd-cm.yaml", CM),
        ]);
        let sets = sets(&files, "dev", Path::new("out")).unwrap();
        let summary: Vec<(String, String, usize)> = sets
            .iter()
            .map(|s| (s.title(), s.namespace.clone(), s.members.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("platform".to_owned(), "system".to_owned(), 1),
                ("domain crm".to_owned(), "crm".to_owned(), 1),
                ("product crm/orders".to_owned(), "crm".to_owned(), 2),
            ]
        );
        assert_eq!(sets[2].members[1].wave, 2);
        assert_eq!(sets[2].members[1].group_kind(), "Deployment.apps");
        assert_eq!(
            sets[2].members[1].reference(),
            "deployment.apps/d (namespace crm)"
        );
        assert_eq!(sets[2].parent_name(), "applyset-product-orders");
        assert_eq!(sets[0].mesh.as_deref(), Some("acme"));
    }

    #[test]
    fn several_environments_need_a_choice() {
        let files = files(&[
            ("envs/dev/crm/namespace-crm.yaml", NS),
            ("envs/prod/crm/namespace-crm.yaml", NS),
        ]);
        let err = choose_env(&files, None).unwrap_err().to_string();
        assert!(err.contains("`dev`, `prod`"), "{err}");
        assert_eq!(choose_env(&files, Some("prod")).unwrap(), "prod");
        let err = choose_env(&files, Some("qa")).unwrap_err().to_string();
        assert!(err.contains("`qa`"), "{err}");
    }

    #[test]
    fn a_broken_file_is_reported_at_its_position() {
        let files = files(&[("envs/dev/crm/namespace-crm.yaml", "kind: [unclosed\n")]);
        let err = sets(&files, "dev", Path::new("out")).unwrap_err();
        assert!(matches!(err, ManifestError::Invalid(_)), "{err:?}");
        assert!(err.to_string().contains("namespace-crm.yaml"), "{err}");
    }

    #[test]
    fn a_file_outside_the_layout_and_a_duplicate_object_are_refused() {
        let stray = files(&[("notes/x.yaml", NS)]);
        assert!(matches!(
            sets(&stray, "dev", Path::new("out")),
            Err(ManifestError::Layout { .. })
        ));
        let twice = files(&[
            ("envs/dev/crm/a/configmap-c.yaml", CM),
            ("envs/dev/crm/b/configmap-c.yaml", CM),
        ]);
        let err = sets(&twice, "dev", Path::new("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("configmap/c (namespace crm)"), "{err}");
    }
}
