//! Rendering a DataProduct resource into its children, with the compiler `dappctl render`
//! uses: the mesh's own documents (the ConfigMap `dappctl render` writes into `platform/`)
//! and every DataProduct of the same environment are validated together, as files would be,
//! and the product is rendered to the same bytes `dappctl render` writes for it.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use dappmesh_compiler::diagnostic::{Diagnostic, Severity};
use dappmesh_compiler::load::yaml::{Limits, parse};
use dappmesh_compiler::render::Templates;
use dappmesh_compiler::report::{Format, HumanOptions};
use dappmesh_compiler::source::SourceFile;
use dappmesh_compiler::validate::{Report, Validated};
use serde_json::Value;

use crate::resource::DataProduct;

/// The key of the mesh ConfigMap that holds the Mesh and Domain documents.
pub const MESH_KEY: &str = "mesh.yaml";

/// What a product renders to.
#[derive(Debug)]
pub enum Rendered {
    /// Its children, in the order `dappctl render` writes their files.
    Children(Vec<Value>),
    /// The product (or the mesh) is not valid: what `dappctl validate` would say.
    Invalid(String),
}

/// The last check of each environment's mesh, reused while no product of it and not the
/// mesh itself has changed: checking is linear in the mesh, rendering one product is not.
#[derive(Default)]
pub struct Meshes {
    checked: Mutex<HashMap<Option<String>, Arc<Checked>>>,
    /// The built-in templates, compiled once.
    templates: OnceLock<Result<Templates, String>>,
}

/// An environment's mesh, checked: valid without the products that are not, or invalid as a
/// whole (the Mesh or a Domain is).
struct Checked {
    key: u64,
    validated: Result<Validated, String>,
    /// What `dappctl validate` says about each product left out, by namespace and name.
    invalid: HashMap<(String, String), String>,
}

/// Rounds of leaving invalid products out: a product may only fail once another it consumes
/// is left out, but chains longer than this are not worth chasing.
const ROUNDS: usize = 4;

impl Meshes {
    /// Renders `target` with the mesh documents and the products of its environment. A
    /// product that is not valid only stalls itself: the others render without it.
    pub fn render(
        &self,
        mesh: &str,
        products: &[Arc<DataProduct>],
        target: &DataProduct,
    ) -> Rendered {
        let members: Vec<&Arc<DataProduct>> = products
            .iter()
            .filter(|p| p.env() == target.env())
            .collect();
        let key = key(mesh, &members);
        let env = target.env().map(str::to_owned);
        let checked = {
            // Held while checking: reconciles that arrive together (all of them, at start)
            // wait for one check instead of each running their own, side by side.
            let mut checked = self.checked.lock().expect("meshes lock");
            match checked.get(&env) {
                Some(found) if found.key == key => found.clone(),
                _ => {
                    let fresh = Arc::new(check(key, mesh, &members));
                    checked.insert(env, fresh.clone());
                    fresh
                }
            }
        };
        let name = target.metadata.name.clone().unwrap_or_default();
        let namespace = target.metadata.namespace.clone().unwrap_or_default();
        if let Some(message) = checked.invalid.get(&(namespace, name.clone())) {
            return Rendered::Invalid(message.clone());
        }
        let templates = self
            .templates
            .get_or_init(|| Templates::load(None).map_err(|e| e.to_string()));
        match (&checked.validated, templates) {
            (Ok(validated), Ok(templates)) => render_product(validated, templates, target, &name),
            (Err(message), _) | (_, Err(message)) => Rendered::Invalid(message.clone()),
        }
    }
}

/// What a check depends on: the mesh text and each product's identity, generation and
/// labels (labels reach the rendered objects, and changing them moves no generation).
fn key(mesh: &str, members: &[&Arc<DataProduct>]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    mesh.hash(&mut hasher);
    let mut ids: Vec<_> = members
        .iter()
        .map(|p| {
            (
                &p.metadata.namespace,
                &p.metadata.name,
                p.metadata.generation,
                &p.metadata.labels,
            )
        })
        .collect();
    ids.sort();
    ids.hash(&mut hasher);
    hasher.finish()
}

fn check(key: u64, mesh: &str, members: &[&Arc<DataProduct>]) -> Checked {
    let mut invalid: HashMap<(String, String), String> = HashMap::new();
    for _ in 0..ROUNDS {
        let kept: Vec<&Arc<DataProduct>> = members
            .iter()
            .copied()
            .filter(|p| !invalid.contains_key(&identity(p)))
            .collect();
        let mut texts = vec![SourceFile::new(
            PathBuf::from("configmap/dappmesh-mesh/mesh.yaml"),
            mesh,
        )];
        for product in &kept {
            let document = dappmesh_compiler::render::resource::document(&product.to_value());
            let (namespace, name) = identity(product);
            texts.push(SourceFile::new(
                PathBuf::from(format!("dataproducts/{namespace}/{name}")),
                dappmesh_compiler::render::to_yaml(&document),
            ));
        }
        let outcome = dappmesh_compiler::validate::validate_texts(texts);
        let errors: Vec<&Diagnostic> = outcome
            .report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if errors.is_empty() {
            let validated = outcome
                .validated
                .ok_or_else(|| report(&outcome.report, None));
            return Checked {
                key,
                validated,
                invalid,
            };
        }
        // Errors in the mesh's own documents (or nowhere in particular) invalidate it all.
        let files: BTreeSet<usize> = errors
            .iter()
            .map(|d| d.location.as_ref().map_or(0, |l| l.file))
            .collect();
        if files.contains(&0) {
            return Checked {
                key,
                validated: Err(report(&outcome.report, None)),
                invalid,
            };
        }
        for file in files {
            invalid.insert(
                identity(kept[file - 1]),
                report(&outcome.report, Some(file)),
            );
        }
    }
    Checked {
        key,
        validated: Err("too many products of this environment depend on invalid ones".to_owned()),
        invalid,
    }
}

fn identity(product: &DataProduct) -> (String, String) {
    (
        product.metadata.namespace.clone().unwrap_or_default(),
        product.metadata.name.clone().unwrap_or_default(),
    )
}

/// What `dappctl validate` prints, for one file or all.
fn report(report: &Report, file: Option<usize>) -> String {
    let diagnostics = report
        .diagnostics
        .iter()
        .filter(|d| file.is_none_or(|f| d.location.as_ref().is_some_and(|l| l.file == f)))
        .cloned()
        .collect();
    let scoped = Report {
        files: report.files.clone(),
        diagnostics,
        documents: report.documents,
    };
    let format = Format::Human(HumanOptions {
        color: false,
        width: 100,
    });
    dappmesh_compiler::report::render(&scoped, format, false)
}

/// The product's children, as `dappctl render` writes them.
fn render_product(
    validated: &Validated,
    templates: &Templates,
    target: &DataProduct,
    name: &str,
) -> Rendered {
    let environments = &validated.mesh.spec.spec.environments;
    let env = match target.env() {
        Some(env) => env.to_owned(),
        None if environments.len() == 1 => environments[0].name.clone(),
        None => {
            let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
            return Rendered::Invalid(format!(
                "the DataProduct has no label {} and the mesh has several environments ({}): label it with the one it runs in",
                crate::resource::ENV_LABEL,
                names.join(", ")
            ));
        }
    };
    let files = match dappmesh_compiler::render::product(validated, &env, name, templates) {
        Ok(files) => files,
        Err(e) => return Rendered::Invalid(e.to_string()),
    };
    let mut children = Vec::new();
    for (path, bytes) in files {
        let source = SourceFile::new(PathBuf::from(&path), String::from_utf8_lossy(&bytes));
        match parse::<Value>(&source, Limits::default()) {
            Ok(objects) => {
                children.extend(objects.into_iter().filter(|o| {
                    o.get("kind").and_then(Value::as_str) != Some(crate::resource::KIND)
                }))
            }
            Err(_) => return Rendered::Invalid(format!("{path} does not read back as YAML")),
        }
    }
    Rendered::Children(children)
}
