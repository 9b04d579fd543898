//! The credentials of a product's databases in the cluster: the Secret
//! `<product>-<storage>-credentials` (keys `username`, `password`) that a rendered storage
//! StatefulSet mounts, made with a random password before the StatefulSet is applied, so
//! its pod never waits for a person. A store outside the cluster (S3, the shared Pinot)
//! mounts none and gets none: its credentials are its owner's.
//!
//! The Secret is deliberately not owned by the product: the database's volume (the
//! StatefulSet's PersistentVolumeClaim) outlives the product, and the data in it was
//! initialised with this password. A product deleted and made again (a rename undone, an
//! Argo CD prune and re-sync) finds its data and the password that opens it; a fresh
//! password would lock it out. Deleting the volume for good deletes the Secret too, by hand
//! (both carry the product's label).

use std::collections::BTreeSet;

use dappmesh_compiler::render::resource_name;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use crate::resource::DataProduct;
use crate::{Result, secrets};

/// The keys the storage templates read (`/run/secrets/db/username`, `…/password`).
pub const KEYS: [&str; 2] = ["username", "password"];

/// The credentials Secrets the product's rendered StatefulSets mount: for each of its
/// storages, `<product>-<storage>-credentials` (as the compiler names it), if a StatefulSet
/// among `children` mounts it.
pub fn wanted(product: &DataProduct, children: &[Value]) -> Vec<(String, String)> {
    let name = product.metadata.name.as_deref().unwrap_or_default();
    let mounted: BTreeSet<&str> = children
        .iter()
        .filter(|c| c["kind"] == "StatefulSet")
        .flat_map(|c| {
            c.pointer("/spec/template/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.pointer("/secret/secretName").and_then(Value::as_str))
        .collect();
    let spec = product.spec.to_value();
    spec["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .map(|storage| {
            let secret = resource_name(&[name, storage, "credentials"]);
            (storage.to_owned(), secret)
        })
        .filter(|(_, secret)| mounted.contains(secret.as_str()))
        .collect()
}

/// Makes each credentials Secret the product's StatefulSets mount, when missing. One that
/// exists is never changed, whoever made it; returns why one lacks a key the database
/// reads, as the conflict to report (its pod could not start).
pub async fn ensure(
    client: &Client,
    product: &DataProduct,
    children: &[Value],
) -> Result<Vec<String>> {
    let namespace = product.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let mut conflicts = Vec::new();
    for (storage, name) in wanted(product, children) {
        let wanted = credentials(product, &storage, &name, &secrets::generate()?);
        let (live, _) = secrets::get_or_create(&api, &wanted).await?;
        let missing: Vec<&str> = KEYS
            .into_iter()
            .filter(|key| secrets::text(&live, key).is_none())
            .collect();
        if !missing.is_empty() {
            conflicts.push(format!(
                "Secret/{name}: has no key {}, which the database reads; fill it in, or delete the Secret and the operator makes one with a new password",
                missing.join(" nor ")
            ));
        }
    }
    Ok(conflicts)
}

/// A new credentials Secret: the product's name as the user (as its database is named, `_`
/// for `-`), a random password; labelled with the product and the storage, and owned by
/// neither (see the module's comment).
fn credentials(product: &DataProduct, storage: &str, name: &str, password: &str) -> Secret {
    let product_name = product.metadata.name.as_deref().unwrap_or_default();
    let username = product_name.replace('-', "_");
    let labels = secrets::labels(&[
        ("dappmesh.io/product", product_name),
        ("dappmesh.io/storage", storage),
    ]);
    let data = [("username", username.as_str()), ("password", password)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: product.metadata.namespace.clone(),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statefulset(secret: &str) -> Value {
        json!({"kind": "StatefulSet", "spec": {"template": {"spec": {"volumes": [
            {"name": "tmp", "emptyDir": {}},
            {"name": "credentials", "secret": {"secretName": secret}},
        ]}}}})
    }

    #[test]
    fn only_the_storages_a_statefulset_mounts_get_credentials() {
        let mut product = DataProduct::default();
        product.metadata.name = Some("sales-orders".into());
        product.spec = json!({"storage": [
            {"name": "warehouse", "engine": "clickhouse"},
            {"name": "lake", "engine": "s3"},
        ]})
        .into();
        let children = [
            statefulset("sales-orders-warehouse-credentials"),
            // A Deployment's Secret, or one no storage is named for, is not a database's.
            json!({"kind": "Deployment", "spec": {"template": {"spec": {"volumes": [
                {"secret": {"secretName": "sales-orders-lake-credentials"}}]}}}}),
            statefulset("someone-elses-credentials"),
        ];
        assert_eq!(
            wanted(&product, &children),
            [(
                "warehouse".to_owned(),
                "sales-orders-warehouse-credentials".to_owned()
            )]
        );
    }
}
