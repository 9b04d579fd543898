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
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
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
