//! An output port's data contract as an Open Data Contract Standard (ODCS) v3.1 document:
//! the schema it serves, its quality rules at the level they measure, its SLA, roles and the
//! server that answers it. Consumers read it from the port's ConfigMap.

use serde_json::{Map, Value, json};

use crate::model::{DataProduct, Engine, Environment, Metric, OutputPort, QualityRule};
use crate::validate::{Doc, Validated};

#[allow(clippy::too_many_lines)]
pub fn odcs(
    validated: &Validated,
    doc: &Doc<DataProduct>,
    port: &OutputPort,
    service: &str,
    env: &Environment,
) -> Value {
    let product = &doc.spec;
    let meta = &product.metadata;
    let mesh = &validated.mesh.spec.spec;
    let urn = format!(
        "{}:dataproducts:{}:{}:outputports:{}",
        mesh.urn_prefix, meta.name, meta.version.major, port.name
    );
    let schema = product
        .spec
        .data_at_rest
        .schemas
        .iter()
        .find(|s| s.name == port.serves.name && s.version == port.serves.version);

    let mut contract = Map::new();
    contract.insert("apiVersion".into(), json!("v3.1.0"));
    contract.insert("kind".into(), json!("DataContract"));
    contract.insert("id".into(), json!(urn));
    contract.insert("name".into(), json!(format!("{}-{}", meta.name, port.name)));
    contract.insert("version".into(), json!(port.version.to_string()));
    contract.insert("status".into(), json!(status(meta.status)));
    contract.insert("domain".into(), json!(meta.domain));
    contract.insert("dataProduct".into(), json!(meta.name));
    contract.insert("tenant".into(), json!(validated.mesh.spec.metadata.name));
    let mut description = Map::new();
    description.insert(
        "usage".into(),
        json!(port.contract.terms.usage.trim().to_owned()),
    );
    if let Some(purpose) = port
        .description
        .as_ref()
        .or(meta.description.as_ref().map(|d| &d.purpose))
    {
        description.insert("purpose".into(), json!(purpose));
    }
    if let Some(limitations) = &port.contract.terms.limitations {
        description.insert("limitations".into(), json!(limitations));
    }
    contract.insert("description".into(), Value::Object(description));

    if let Some(schema) = schema {
        let properties: Vec<Value> = schema
            .properties
            .iter()
            .map(|p| {
                let mut property = Map::new();
                property.insert("name".into(), json!(p.name));
                property.insert("logicalType".into(), json!(p.logical_type.as_str()));
                property.insert("required".into(), json!(p.required));
                if p.primary_key {
                    property.insert("primaryKey".into(), json!(true));
                }
                if p.unique {
                    property.insert("unique".into(), json!(true));
                }
                if let Some(c) = p.classification {
                    property.insert("classification".into(), json!(c));
                }
                if let Some(d) = &p.description {
                    property.insert("description".into(), json!(d));
                }
                let element = format!("{}.{}", schema.name, p.name);
                let rules = quality(port, |e| e == element);
                if !rules.is_empty() {
                    property.insert("quality".into(), Value::Array(rules));
                }
                Value::Object(property)
            })
            .collect();
        let mut object = Map::new();
        object.insert("name".into(), json!(schema.name));
        object.insert("logicalType".into(), json!("object"));
        object.insert("physicalName".into(), json!(schema.name));
        if let Some(d) = &schema.description {
            object.insert("description".into(), json!(d));
        }
        object.insert("properties".into(), Value::Array(properties));
        let rules = quality(port, |e| e == schema.name);
        if !rules.is_empty() {
            object.insert("quality".into(), Value::Array(rules));
        }
        contract.insert("schema".into(), json!([object]));
    }

    if !port.contract.sla.is_empty() {
        let sla: Vec<Value> = port
            .contract
            .sla
            .iter()
            .map(|s| {
                let mut item = Map::new();
                item.insert("property".into(), json!(s.property));
                item.insert("value".into(), json!(s.value));
                if let Some(unit) = &s.unit {
                    item.insert("unit".into(), json!(unit));
                }
                if let Some(element) = &s.element {
                    item.insert("element".into(), json!(element));
                }
                Value::Object(item)
            })
            .collect();
        contract.insert("slaProperties".into(), Value::Array(sla));
    }

    let roles: Vec<Value> = port
        .contract
        .access
        .roles
        .iter()
        .map(|name| {
            let access = product
                .spec
                .governance
                .roles
                .iter()
                .find(|r| &r.name == name)
                .map(|r| r.access);
            let mut role = Map::new();
            role.insert("role".into(), json!(name));
            if let Some(access) = access {
                role.insert("access".into(), json!(access));
            }
            Value::Object(role)
        })
        .collect();
    if !roles.is_empty() {
        contract.insert("roles".into(), Value::Array(roles));
    }

    if let Some(store) = product.spec.storage.iter().find(|s| s.name == port.storage) {
        let host = format!("{service}.{}.svc", meta.domain);
        let database = meta.name.replace('-', "_");
        let mut server = Map::new();
        server.insert(
            "server".into(),
            json!(format!("{}-{}", env.name, port.name)),
        );
        server.insert("environment".into(), json!(env.name));
        match store.engine {
            Engine::Postgres => {
                server.insert("type".into(), json!("postgres"));
                server.insert("host".into(), json!(host));
                server.insert("port".into(), json!(5432));
                server.insert("database".into(), json!(database));
                server.insert("schema".into(), json!("public"));
            }
            Engine::Clickhouse => {
                server.insert("type".into(), json!("clickhouse"));
                server.insert("host".into(), json!(host));
                server.insert("port".into(), json!(8123));
                server.insert("database".into(), json!(database));
            }
            Engine::S3 => {
                server.insert("type".into(), json!("s3"));
                let bucket = store.bucket.as_deref().unwrap_or(&meta.name);
                server.insert(
                    "location".into(),
                    json!(format!("s3://{bucket}/{}/", port.serves.name)),
                );
            }
            Engine::Pinot => {
                server.insert("type".into(), json!("custom"));
                server.insert(
                    "description".into(),
                    json!(format!(
                        "Apache Pinot broker at {host}:8099, table {}",
                        port.serves.name
                    )),
                );
            }
        }
        contract.insert("servers".into(), json!([server]));
    }

    let mut custom = vec![json!({ "property": "outputPort", "value": port.name })];
    if let Some(notice) = &port.contract.terms.notice_period {
        custom.push(json!({ "property": "noticePeriod", "value": notice }));
    }
    for consumer in &port.contract.access.consumers {
        custom.push(json!({
            "property": "consumer",
            "value": format!("{}/{}", consumer.domain, consumer.product),
        }));
    }
    contract.insert("customProperties".into(), Value::Array(custom));
    Value::Object(contract)
}

fn status(status: crate::model::Status) -> &'static str {
    match status {
        crate::model::Status::Proposed => "proposed",
        crate::model::Status::Active => "active",
        crate::model::Status::Deprecated => "deprecated",
        crate::model::Status::Retired => "retired",
    }
}

/// The port's quality rules on one element, in ODCS's library form (metric + operator).
fn quality(port: &OutputPort, on: impl Fn(&str) -> bool) -> Vec<Value> {
    port.contract
        .quality
        .iter()
        .filter(|q| q.element.as_deref().is_some_and(&on))
        .map(rule)
        .collect()
}

fn rule(q: &QualityRule) -> Value {
    let mut rule = Map::new();
    rule.insert("type".into(), json!("library"));
    rule.insert("metric".into(), json!(q.metric.as_str()));
    let operators = [
        ("mustBe", q.must_be),
        ("mustNotBe", q.must_not_be),
        ("mustBeGreaterThan", q.must_be_greater_than),
        ("mustBeGreaterOrEqualTo", q.must_be_greater_or_equal_to),
        ("mustBeLessThan", q.must_be_less_than),
        ("mustBeLessOrEqualTo", q.must_be_less_or_equal_to),
    ];
    for (name, value) in operators {
        if let Some(v) = value {
            rule.insert(name.into(), number(v));
        }
    }
    if q.metric == Metric::RowCount {
        rule.insert("dimension".into(), json!("completeness"));
    }
    if let Some(d) = &q.description {
        rule.insert("description".into(), json!(d));
    }
    Value::Object(rule)
}

/// Whole numbers stay integers in the contract (`0`, not `0.0`).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}
