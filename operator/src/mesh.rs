//! Rendering a DataProduct resource into its children, with the compiler `dappctl render`
//! uses: the mesh's own documents (the ConfigMap `dappctl render` writes into `platform/`)
//! and every DataProduct of the same environment are validated together, as files would be,
//! and the product is rendered to the same bytes `dappctl render` writes for it.

use std::path::PathBuf;
use std::sync::Arc;

use dappctl::load::yaml::{Limits, parse};
use dappctl::report::{Format, HumanOptions};
use dappctl::source::SourceFile;
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

/// Renders `target` with the mesh documents and the products of the cluster. Only products
/// of the target's environment take part: each environment is a mesh of its own.
pub fn render(mesh: &str, products: &[Arc<DataProduct>], target: &DataProduct) -> Rendered {
    let name = target.metadata.name.clone().unwrap_or_default();
    let env = target.env();
    let mut texts = vec![SourceFile::new(
        PathBuf::from("configmap/dappmesh-mesh/mesh.yaml"),
        mesh,
    )];
    for product in products.iter().filter(|p| p.env() == env) {
        let document = dappctl::render::resource::document(&product.to_value());
        let path = format!(
            "dataproducts/{}/{}",
            product.metadata.namespace.as_deref().unwrap_or_default(),
            product.metadata.name.as_deref().unwrap_or_default()
        );
        texts.push(SourceFile::new(
            PathBuf::from(path),
            dappctl::render::to_yaml(&document),
        ));
    }
    let outcome = dappctl::validate::validate_texts(texts);
    let diagnostics = || {
        let format = Format::Human(HumanOptions {
            color: false,
            width: 100,
        });
        dappctl::report::render(&outcome.report, format, false)
    };
    let Some(validated) = outcome
        .validated
        .as_ref()
        .filter(|_| !outcome.report.fails(false))
    else {
        return Rendered::Invalid(diagnostics());
    };
    let environments = &validated.mesh.spec.spec.environments;
    let env = match env {
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
    let files = match dappctl::render::product(validated, &env, &name, None) {
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
