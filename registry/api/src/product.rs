//! A data product's catalog entry, as the operator writes it and the registry reads it
//! (`PUT /api/v1/products/{id}`): one type on both sides, so a field one side drops or
//! renames is a compile error rather than a 422 in production. The checks of each field
//! are the registry's (catalog.rs); unknown fields are refused.

use serde::{Deserialize, Serialize};

use crate::widget::Attributes;

/// The body of `PUT /api/v1/products/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Product {
    /// Optional, and when given it must equal the id in the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub domain: String,
    pub owner: String,
    pub version: String,
    /// One of ODPS's lifecycle states: proposed, draft, active, deprecated, retired.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub input_ports: Vec<InputPort>,
    #[serde(default)]
    pub output_ports: Vec<OutputPort>,
    #[serde(default)]
    pub widgets: Vec<ProductWidget>,
}

/// What a product reads, as ODPS writes it: the contract names the output port it reads
/// (another product's), which is how lineage between products is drawn. A port fed by a
/// connector has no contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InputPort {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
}

/// What a product serves, where, and under which contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputPort {
    pub name: String,
    /// rest, graphql, grpc, sql or stream.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<Contract>,
}

/// An ODCS data contract, by id, with an optional version and where to read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A web component the product offers the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProductWidget {
    pub name: String,
    pub tag: String,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// The registration (in `/api/v1/registry`) that serves the widget's bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_and_strangers_are_refused() {
        let product = Product {
            name: Some("orders".into()),
            domain: "sales".into(),
            owner: "team-sales".into(),
            version: "2.0.0".into(),
            status: "active".into(),
            output_ports: vec![OutputPort {
                name: "orders-sql".into(),
                kind: "sql".into(),
                contract: Some(Contract {
                    id: "orders-orders-sql".into(),
                    ..Contract::default()
                }),
                ..OutputPort::default()
            }],
            widgets: vec![ProductWidget {
                name: "chart".into(),
                tag: "sales-chart".into(),
                attributes: Attributes::from_pairs(&[("currency", "EUR")]),
                registration: Some("sales-orders-chart".into()),
            }],
            ..Product::default()
        };
        let text = serde_json::to_string(&product).unwrap();
        assert!(!text.contains("null"), "absent fields are left out: {text}");
        assert_eq!(serde_json::from_str::<Product>(&text).unwrap(), product);
        let stranger = text.replacen('{', r#"{"extra":1,"#, 1);
        assert!(serde_json::from_str::<Product>(&stranger).is_err());
    }
}
