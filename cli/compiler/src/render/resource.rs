//! The DataProduct custom resource and the document it comes from. Render writes a product's
//! own `metadata` fields (all but name and labels, which Kubernetes metadata carries) beside
//! its `spec` into the resource's spec; [`document`] reads a resource back into the
//! document, so the operator renders exactly what `dappctl render` would.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::model::DataProduct;
use crate::schema::{Kind, bundle};
use crate::validate::{Doc, Validated};

/// The custom resource's spec, as YAML text.
pub fn spec(doc: &Doc<DataProduct>) -> String {
    let mut document: Value =
        serde_json::from_str(&doc.json).expect("a document's JSON text reads back");
    let mut spec = Map::new();
    if let Some(Value::Object(meta)) = document.get_mut("metadata") {
        for (key, value) in std::mem::take(meta) {
            if key != "name" && key != "labels" {
                spec.insert(key, value);
            }
        }
    }
    if let Some(Value::Object(fields)) = document.get_mut("spec") {
        spec.extend(std::mem::take(fields));
    }
    super::emit::to_yaml(&Value::Object(spec))
}

/// The Mesh and its Domains as one YAML stream, as written (comments aside): what the
/// operator needs besides the DataProduct resources to render them.
pub fn mesh_documents(validated: &Validated) -> String {
    std::iter::once(&validated.mesh.json)
        .chain(validated.domains.iter().map(|d| &d.json))
        .map(|json| {
            let value: Value =
                serde_json::from_str(json).expect("a document's JSON text reads back");
            super::emit::to_yaml(&value)
        })
        .map(|text| text.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// The fields of a product's `metadata`, as the schema lists them.
fn metadata_fields() -> &'static BTreeSet<String> {
    static FIELDS: OnceLock<BTreeSet<String>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        bundle(Kind::DataProduct)
            .pointer("/$defs/productMeta/properties")
            .and_then(Value::as_object)
            .map(|fields| fields.keys().cloned().collect())
            .unwrap_or_default()
    })
}

/// Labels that render or tools add to the resource, not the product's own.
fn is_product_label(key: &str) -> bool {
    ![
        "app.kubernetes.io/",
        "dappmesh.io/",
        "applyset.kubernetes.io/",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

/// The DataProduct document a custom resource holds: its name and own labels from the
/// resource's metadata, the product's metadata fields and spec from the resource's spec.
pub fn document(resource: &Value) -> Value {
    let mut metadata = Map::new();
    if let Some(name) = resource.pointer("/metadata/name") {
        metadata.insert("name".to_owned(), name.clone());
    }
    let labels: Map<String, Value> = resource
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(key, _)| is_product_label(key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !labels.is_empty() {
        metadata.insert("labels".to_owned(), Value::Object(labels));
    }
    let mut spec = Map::new();
    let fields = metadata_fields();
    for (key, value) in resource
        .get("spec")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if fields.contains(key) {
            metadata.insert(key.clone(), value.clone());
        } else {
            spec.insert(key.clone(), value.clone());
        }
    }
    json!({
        "apiVersion": resource.get("apiVersion").cloned().unwrap_or_else(|| json!("dappmesh.io/v1alpha1")),
        "kind": "DataProduct",
        "metadata": metadata,
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::load::yaml::{Limits, parse};
    use crate::source::SourceFile;

    #[test]
    fn every_example_product_reads_back_from_its_custom_resource() {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let validated = crate::validate::validate_paths(&[examples])
            .unwrap()
            .validated
            .expect("the examples are valid");
        let rendered =
            crate::render::render(&validated, &Default::default(), &crate::render::Afresh).unwrap();
        let mut seen = 0;
        for doc in &validated.products {
            let meta = &doc.spec.metadata;
            let env = &validated.mesh.spec.spec.environments[0].name;
            let path = format!(
                "envs/{env}/{}/{}/dataproduct-{}.yaml",
                meta.domain, meta.name, meta.name
            );
            let text = String::from_utf8(rendered.output.files[&path].clone()).unwrap();
            let resource: Vec<Value> = parse(
                &SourceFile::new(PathBuf::from(&path), text),
                Limits::default(),
            )
            .unwrap();
            let mut original: Value = serde_json::from_str(&doc.json).unwrap();
            // Labels in the reserved prefixes never reach the resource (the template leaves
            // them out); everything else comes back.
            if let Some(Value::Object(labels)) = original.pointer_mut("/metadata/labels") {
                labels.retain(|key, _| is_product_label(key));
            }
            assert_eq!(document(&resource[0]), original, "{path}");
            seen += 1;
        }
        assert!(seen >= 7, "every example product was compared");
    }

    #[test]
    fn the_cluster_copy_of_a_mesh_renders_the_same_bytes() {
        // What the operator sees: the mesh ConfigMap and the DataProduct resources.
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let validated = crate::validate::validate_paths(&[examples])
            .unwrap()
            .validated
            .expect("the examples are valid");
        let files = crate::render::render(&validated, &Default::default(), &crate::render::Afresh)
            .unwrap()
            .output
            .files;
        let read = |path: &str| -> Value {
            let text = String::from_utf8(files[path].clone()).unwrap();
            parse(
                &SourceFile::new(PathBuf::from(path), text),
                Limits::default(),
            )
            .unwrap()
            .remove(0)
        };
        let config = read("platform/configmap-dappmesh-mesh.yaml");
        let mut texts = vec![SourceFile::new(
            PathBuf::from("configmaps/dappmesh-mesh"),
            config["data"]["mesh.yaml"].as_str().unwrap(),
        )];
        let resources: Vec<&String> = files
            .keys()
            .filter(|p| p.starts_with("envs/prod/") && p.contains("/dataproduct-"))
            .collect();
        for path in &resources {
            let doc = document(&read(path));
            texts.push(SourceFile::new(
                PathBuf::from(*path),
                super::super::emit::to_yaml(&doc),
            ));
        }
        let outcome = crate::validate::validate_texts(texts);
        let again = outcome.validated.expect("the cluster's copy is valid");
        assert_eq!(again.products.len(), resources.len());
        let templates = crate::render::Templates::load(None).unwrap();
        for doc in &again.products {
            let meta = &doc.spec.metadata;
            let dir = format!("envs/prod/{}/{}/", meta.domain, meta.name);
            let expected: std::collections::BTreeMap<String, Vec<u8>> = files
                .iter()
                .filter(|(p, _)| p.starts_with(&dir))
                .map(|(p, t)| (p.clone(), t.clone()))
                .collect();
            let alone = crate::render::product(&again, "prod", &meta.name, &templates).unwrap();
            assert_eq!(alone, expected, "{dir}");
        }
    }

    #[test]
    fn labels_render_and_tools_add_are_not_the_products() {
        let resource = json!({
            "apiVersion": "dappmesh.io/v1alpha1",
            "kind": "DataProduct",
            "metadata": {"name": "orders", "labels": {
                "app.kubernetes.io/name": "orders",
                "applyset.kubernetes.io/part-of": "x",
                "dappmesh.io/domain": "sales",
                "tier": "gold",
            }},
            "spec": {"domain": "sales", "version": "1.0.0", "storage": []},
        });
        let doc = document(&resource);
        assert_eq!(doc["metadata"]["labels"], json!({"tier": "gold"}));
        assert_eq!(doc["metadata"]["domain"], "sales");
        assert_eq!(doc["spec"], json!({"storage": []}));
    }
}
