//! The `DataProduct` custom resource (`dataproducts.dappmesh.io/v1alpha1`). Its spec is the
//! product as written in the mesh and stays untyped here: the compiler validates it with the
//! same schemas `dappctl validate` uses.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "dappmesh.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "DataProduct";
pub const API_VERSION: &str = "dappmesh.io/v1alpha1";
/// The environment a DataProduct was rendered for.
pub const ENV_LABEL: &str = "dappmesh.io/env";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DataProduct {
    #[serde(default, deserialize_with = "without_managed_fields")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Json>,
}

/// A spec or status as compact JSON text. The operator keeps every DataProduct in memory,
/// and as a tree each would cost several times its text; a reconcile reads them a few times
/// at most.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Json(Box<str>);

impl Json {
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Json {
        Json(value.to_string().into_boxed_str())
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        Value::deserialize(deserializer).map(Json::from)
    }
}

/// The operator keeps every DataProduct in memory and never reads who manages which field;
/// managedFields mirror the whole spec and would double what each one costs.
fn without_managed_fields<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ObjectMeta, D::Error> {
    let mut metadata = ObjectMeta::deserialize(deserializer)?;
    metadata.managed_fields = None;
    Ok(metadata)
}

impl kube::Resource for DataProduct {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        KIND.into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "dataproducts".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl DataProduct {
    /// The resource as JSON, as the compiler reads it back into a DataProduct document.
    pub fn to_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        value["apiVersion"] = API_VERSION.into();
        value["kind"] = KIND.into();
        value
    }

    pub fn env(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(ENV_LABEL))
            .map(String::as_str)
    }
}
