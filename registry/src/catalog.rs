//! The data-product catalog: what a product is (id or DPDS URN, domain, owner, version,
//! status, output ports with their endpoints and contracts, widgets) and the checks a
//! product document must pass before it is stored. The operator writes these documents;
//! the dashboard and other products read them.

use std::collections::HashSet;

use serde_json::value::RawValue;

use registry_api::product::Product;
use registry_api::text::{IdKind, Invalid, check_id, check_text};
use registry_api::widget::Element;

use crate::input::{BodyError, check_remote_url, parse_object};

pub const MAX_INPUT_PORTS: usize = 64;
pub const MAX_OUTPUT_PORTS: usize = 64;
pub const MAX_WIDGETS: usize = 32;
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
pub const MAX_CONTRACT_ID_CHARS: usize = 256;

/// ODPS's lifecycle states.
pub const STATUSES: [&str; 5] = ["proposed", "draft", "active", "deprecated", "retired"];

/// The kinds of output port the Data Application Model knows.
pub const PORT_TYPES: [&str; 5] = ["rest", "graphql", "grpc", "sql", "stream"];

/// A checked product document, ready to store.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// The document as the client sent it (compacted).
    pub spec: Box<RawValue>,
}

/// A DNS-1123 label: what Kubernetes names domains, owners, products and ports by.
fn check_label(field: &str, value: &str) -> Result<(), Invalid> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            "must be a DNS label: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'",
        ))
    }
}

fn check_semver(field: &str, value: &str) -> Result<semver::Version, Invalid> {
    if value.len() > 64 {
        return Err(Invalid::new(field, "must be at most 64 characters"));
    }
    semver::Version::parse(value)
        .map_err(|e| Invalid::new(field, format!("must be a semantic version ({e})")))
}

/// A DPDS id is `urn:dpds:<mesh>:dataproducts:<name>:<major>`: when the path id has that
/// form it must agree with the document's name and major version.
fn check_urn(id: &str, name: Option<&str>, major: u64) -> Result<(), Invalid> {
    let Some(rest) = id.strip_prefix("urn:") else {
        return Ok(());
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [scheme, mesh, kind, urn_name, urn_major] = parts[..] else {
        return Err(Invalid::new(
            "id",
            "a URN id must be urn:dpds:<mesh>:dataproducts:<name>:<major>",
        ));
    };
    if scheme != "dpds" || kind != "dataproducts" {
        return Err(Invalid::new(
            "id",
            "a URN id must be urn:dpds:<mesh>:dataproducts:<name>:<major>",
        ));
    }
    check_label("id", mesh)?;
    check_label("id", urn_name)?;
    if name.is_some_and(|n| n != urn_name) {
        return Err(Invalid::new("name", "must match the name in the URN id"));
    }
    if urn_major != major.to_string() {
        return Err(Invalid::new(
            "version",
            "its major version must match the one in the URN id",
        ));
    }
    Ok(())
}

/// Parses and checks a product document for the product `id` (already a valid id).
#[allow(clippy::too_many_lines)]
pub fn parse_product(id: &str, body: &[u8]) -> Result<NewProduct, BodyError> {
    let (spec, raw) = parse_object::<Product>(body)?;
    if let Some(body_id) = &spec.id {
        check_id(IdKind::Product, body_id)?;
        if body_id != id {
            return Err(Invalid::new("id", "must equal the id in the path").into());
        }
    }
    if let Some(name) = &spec.name {
        check_label("name", name)?;
    }
    check_label("domain", &spec.domain)?;
    check_label("owner", &spec.owner)?;
    let version = check_semver("version", &spec.version)?;
    check_urn(id, spec.name.as_deref(), version.major)?;
    if !STATUSES.contains(&spec.status.as_str()) {
        return Err(
            Invalid::new("status", format!("must be one of {}", STATUSES.join(", "))).into(),
        );
    }
    if let Some(d) = &spec.description {
        check_text("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    if spec.input_ports.len() > MAX_INPUT_PORTS {
        return Err(Invalid::new("inputPorts", format!("at most {MAX_INPUT_PORTS} ports")).into());
    }
    let mut input_names = HashSet::new();
    for (i, port) in spec.input_ports.iter().enumerate() {
        let at = |f: &str| format!("inputPorts[{i}].{f}");
        check_label(&at("name"), &port.name)?;
        if !input_names.insert(port.name.as_str()) {
            return Err(Invalid::new(at("name"), "duplicate port name").into());
        }
        if let Some(v) = &port.version {
            check_semver(&at("version"), v)?;
        }
        if let Some(c) = &port.contract_id {
            if c.is_empty() {
                return Err(Invalid::new(at("contractId"), "must not be empty").into());
            }
            check_text(&at("contractId"), c, MAX_CONTRACT_ID_CHARS)?;
        }
    }
    if spec.output_ports.len() > MAX_OUTPUT_PORTS {
        return Err(
            Invalid::new("outputPorts", format!("at most {MAX_OUTPUT_PORTS} ports")).into(),
        );
    }
    let mut port_names = HashSet::new();
    for (i, port) in spec.output_ports.iter().enumerate() {
        let at = |f: &str| format!("outputPorts[{i}].{f}");
        check_label(&at("name"), &port.name)?;
        if !port_names.insert(port.name.as_str()) {
            return Err(Invalid::new(at("name"), "duplicate port name").into());
        }
        if !PORT_TYPES.contains(&port.kind.as_str()) {
            return Err(Invalid::new(
                at("type"),
                format!("must be one of {}", PORT_TYPES.join(", ")),
            )
            .into());
        }
        if let Some(v) = &port.version {
            check_semver(&at("version"), v)?;
        }
        if let Some(e) = &port.endpoint {
            check_remote_url(&at("endpoint"), e)?;
        }
        if let Some(c) = &port.contract {
            if c.id.is_empty() {
                return Err(Invalid::new(at("contract.id"), "must not be empty").into());
            }
            check_text(&at("contract.id"), &c.id, MAX_CONTRACT_ID_CHARS)?;
            if let Some(v) = &c.version {
                check_semver(&at("contract.version"), v)?;
            }
            if let Some(u) = &c.url {
                check_remote_url(&at("contract.url"), u)?;
            }
        }
    }
    if spec.widgets.len() > MAX_WIDGETS {
        return Err(Invalid::new("widgets", format!("at most {MAX_WIDGETS} widgets")).into());
    }
    let mut widget_names = HashSet::new();
    for (i, w) in spec.widgets.iter().enumerate() {
        let at = |f: &str| format!("widgets[{i}].{f}");
        check_label(&at("name"), &w.name)?;
        if !widget_names.insert(w.name.as_str()) {
            return Err(Invalid::new(at("name"), "duplicate widget name").into());
        }
        let element = Element {
            tag: w.tag.clone(),
            attributes: w.attributes.clone(),
        };
        element
            .check()
            .map_err(|e| Invalid::new(format!("widgets[{i}]"), e.reason))?;
        if let Some(r) = &w.registration {
            check_id(IdKind::Registration, r)
                .map_err(|e| Invalid::new(at("registration"), e.reason))?;
        }
    }
    Ok(NewProduct { spec: raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URN: &str = "urn:dpds:acme:dataproducts:sales-orders:2";

    fn doc() -> serde_json::Value {
        serde_json::json!({
            "name": "sales-orders",
            "domain": "sales",
            "owner": "team-sales-data",
            "version": "2.1.0",
            "status": "active",
            "inputPorts": [{"name": "customers", "contractId": "customers-customers-sql"}, {"name": "web-shop-cdc"}],
            "outputPorts": [{
                "name": "orders-sql",
                "type": "sql",
                "version": "2.0.0",
                "endpoint": "https://sales.example/orders",
                "contract": {"id": "sales-orders-orders", "version": "2.0.0", "url": "https://c.example/o.yaml"}
            }],
            "widgets": [{"name": "revenue-chart", "tag": "sales-revenue-chart", "attributes": {"currency": "EUR"}, "registration": "sales-revenue-chart"}]
        })
    }

    fn check(id: &str, v: &serde_json::Value) -> Result<NewProduct, BodyError> {
        parse_product(id, v.to_string().as_bytes())
    }

    fn field(id: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = doc();
        edit(&mut v);
        match check(id, &v) {
            Err(BodyError::Invalid(e)) => e.field,
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn a_full_product_is_accepted_and_kept_as_sent() {
        let p = check(URN, &doc()).unwrap();
        assert_eq!(p.spec.get(), doc().to_string());
        assert!(check("sales-orders", &doc()).is_ok());
        let minimal =
            serde_json::json!({"domain":"d","owner":"o","version":"0.1.0","status":"draft"});
        assert!(check("x", &minimal).is_ok());
    }

    #[test]
    fn every_rule_names_its_field() {
        assert_eq!(field(URN, |v| v["id"] = "other".into()), "id");
        assert_eq!(field(URN, |v| v["domain"] = "Sales".into()), "domain");
        assert_eq!(field(URN, |v| v["owner"] = "-x".into()), "owner");
        assert_eq!(field(URN, |v| v["version"] = "2".into()), "version");
        assert_eq!(field(URN, |v| v["version"] = "3.0.0".into()), "version");
        assert_eq!(field(URN, |v| v["name"] = "other".into()), "name");
        assert_eq!(field("urn:dpds:acme:x", |_| {}), "id");
        assert_eq!(
            field(URN, |v| v["description"] = "a\u{202E}".into()),
            "description"
        );
        assert_eq!(
            field(URN, |v| v["inputPorts"][1]["name"] = "customers".into()),
            "inputPorts[1].name"
        );
        assert_eq!(
            field(URN, |v| v["inputPorts"][0]["contractId"] = "".into()),
            "inputPorts[0].contractId"
        );
        assert_eq!(
            field(URN, |v| v["inputPorts"][0]["version"] = "1".into()),
            "inputPorts[0].version"
        );
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["endpoint"] =
                "javascript:alert(1)".into()),
            "outputPorts[0].endpoint"
        );
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["contract"]["url"] =
                "http://u:p@x/".into()),
            "outputPorts[0].contract.url"
        );
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["endpoint"] =
                "http://localhost./orders".into()),
            "outputPorts[0].endpoint"
        );
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["contract"]["url"] =
                "http://metadata.google.internal/x".into()),
            "outputPorts[0].contract.url"
        );
        assert_eq!(
            field(URN, |v| {
                let port = v["outputPorts"][0].clone();
                v["outputPorts"].as_array_mut().unwrap().push(port);
            }),
            "outputPorts[1].name"
        );
        assert_eq!(
            field(URN, |v| v["widgets"][0]["tag"] = "script".into()),
            "widgets[0]"
        );
        assert_eq!(
            field(URN, |v| v["widgets"][0]["attributes"]["onload"] =
                "x".into()),
            "widgets[0]"
        );
        assert_eq!(
            field(URN, |v| v["widgets"][0]["registration"] = "a/b".into()),
            "widgets[0].registration"
        );
    }

    #[test]
    fn null_is_never_a_value() {
        assert_eq!(field(URN, |v| v["name"] = serde_json::Value::Null), "name");
        assert_eq!(
            field(URN, |v| v["description"] = serde_json::Value::Null),
            "description"
        );
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["contract"]["url"] =
                serde_json::Value::Null),
            "outputPorts[0].contract.url"
        );
        assert_eq!(
            field(URN, |v| v["widgets"][0]["registration"] =
                serde_json::Value::Null),
            "widgets[0].registration"
        );
    }

    #[test]
    fn shapes_outside_the_schema_are_refused() {
        assert_eq!(field(URN, |v| v["status"] = "shipping".into()), "status");
        assert_eq!(
            field(URN, |v| v["outputPorts"][0]["type"] = "ftp".into()),
            "outputPorts[0].type"
        );
        for edit in [
            |v: &mut serde_json::Value| v["extra"] = 1.into(),
            |v: &mut serde_json::Value| {
                v.as_object_mut().unwrap().remove("owner");
            },
        ] {
            let mut v = doc();
            edit(&mut v);
            assert!(matches!(check(URN, &v), Err(BodyError::Invalid(_))), "{v}");
        }
    }
}
