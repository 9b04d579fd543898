//! The product's entry in the registry's data-product catalog (`/api/v1/products/{id}`):
//! written after every reconcile that applies the product, removed before its finalizer is
//! released. The registry being down never holds a reconcile up: the status says so, and
//! the write is retried with a growing delay.

use std::time::Duration;

use dappmesh_compiler::model::Widget;
use dappmesh_compiler::render::resource_name;
use registry_api::product::{Contract, InputPort, OutputPort, Product, ProductWidget};
use registry_api::text::StringMap;
use serde::Deserialize;
use serde_json::Value;

use crate::resource::DataProduct;

/// A client of the catalog.
pub struct Catalog {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

/// The longest wait between two attempts to reach the registry.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Catalog {
    /// A catalog at `url` (`http://registry.dappmesh-system.svc:8080`), writing with `token`.
    pub fn new(url: &str, token: Option<String>) -> Result<Catalog, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Catalog {
            http,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    fn entry_url(&self, id: &str) -> String {
        format!("{}/api/v1/products/{id}", self.url)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Writes the product's entry; the error says why the registry did not take it.
    pub async fn register(&self, id: &str, entry: &Product) -> Result<(), String> {
        // Plain structs of strings: serialising them cannot fail.
        let body = serde_json::to_vec(entry).unwrap_or_default();
        let request = self
            .http
            .put(self.entry_url(id))
            .header("content-type", "application/json")
            .body(body);
        answer(self.authorized(request).send().await).await
    }

    /// Removes the product's entry; one already gone is fine.
    pub async fn deregister(&self, id: &str) -> Result<(), String> {
        let request = self.http.delete(self.entry_url(id));
        match answer(self.authorized(request).send().await).await {
            Err(e) if e.starts_with("404") => Ok(()),
            other => other,
        }
    }
}

async fn answer(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    let response = sent.map_err(|e| format!("cannot reach the registry: {e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let bytes = response.bytes().await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or_default();
    Err(format!("{} {message}", status.as_u16()).trim().to_owned())
}

/// The product's id in the catalog: its URN, as `dappctl render` annotates it.
pub fn id(product: &DataProduct) -> String {
    product
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("dappmesh.io/urn"))
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "{}.{}",
                product.metadata.namespace.as_deref().unwrap_or_default(),
                product.metadata.name.as_deref().unwrap_or_default()
            )
        })
}

/// The catalog entry of a product: what it is, who owns it, and where its output ports are,
/// in the wire type the registry reads ([`registry_api::product`]).
pub fn entry(product: &DataProduct, endpoints: &[Value]) -> Product {
    let spec = product.spec.to_value();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = |pointer: &str| {
        spec.pointer(pointer)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let name = product.metadata.name.clone().unwrap_or_default();
    let output_ports = list("/dataInUse/outputPorts")
        .iter()
        .map(|port| {
            let port_name = text(&port["name"]);
            let version = port["version"].as_str().map(str::to_owned);
            OutputPort {
                endpoint: endpoints
                    .iter()
                    .find(|e| e["port"] == port_name.as_str())
                    .and_then(|e| e["url"].as_str())
                    .map(|url| format!("http://{url}")),
                contract: Some(Contract {
                    id: format!("{name}-{port_name}"),
                    version: version.clone(),
                    url: None,
                }),
                kind: text(&port["type"]),
                name: port_name,
                version,
            }
        })
        .collect();
    // An input port read from another product names that product's output contract, as
    // the entries of output ports do theirs: the dashboard draws lineage by it.
    let input_ports = list("/dataInUse/inputPorts")
        .iter()
        .map(|port| {
            let source = &port["product"];
            InputPort {
                name: text(&port["name"]),
                version: None,
                contract_id: source["name"]
                    .as_str()
                    .zip(source["outputPort"].as_str())
                    .map(|(product, output)| format!("{product}-{output}")),
            }
        })
        .collect();
    let domain = text(&spec["domain"]);
    let widgets = list("/widgets")
        .iter()
        .map(|w| widget(w, &domain, &name))
        .collect();
    Product {
        name: Some(name),
        domain,
        owner: text(&spec["owner"]),
        version: text(&spec["version"]),
        status: spec["status"].as_str().unwrap_or("proposed").to_owned(),
        description: spec
            .pointer("/description/purpose")
            .and_then(Value::as_str)
            .map(str::to_owned),
        input_ports,
        output_ports,
        widgets,
        ..Product::default()
    }
}

/// A widget of the product: its element (the props as attributes, as `dappctl render`
/// registers them) and the id of the registration its sidecar keeps alive, so the catalog
/// links a product to the widgets the dashboard shows.
fn widget(w: &Value, domain: &str, product: &str) -> ProductWidget {
    let name = w["name"].as_str().unwrap_or_default();
    // The compiler's own reading of the props, so the catalog and the registration agree.
    let attributes = Widget::deserialize(w)
        .map(|typed| {
            typed
                .attributes()
                .into_iter()
                .map(|(key, text)| (key.to_owned(), text))
                .collect()
        })
        .unwrap_or_default();
    ProductWidget {
        name: name.to_owned(),
        tag: w["tag"].as_str().unwrap_or_default().to_owned(),
        attributes: StringMap(attributes),
        registration: Some(registration_id(domain, product, name)),
    }
}

/// The ids the sidecars of the product's widgets register under, as `dappctl render` sets
/// them (`<domain>-<product>-<widget>`, shortened as resource names are): what the product's
/// own token may write ([`crate::tokens`]).
pub fn widget_ids(product: &DataProduct) -> Vec<String> {
    let spec = product.spec.to_value();
    let domain = spec["domain"].as_str().unwrap_or_default();
    let name = product.metadata.name.as_deref().unwrap_or_default();
    spec["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| registration_id(domain, name, w["name"].as_str().unwrap_or_default()))
        .collect()
}

fn registration_id(domain: &str, product: &str, widget: &str) -> String {
    resource_name(&[domain, product, widget])
}

/// How long to wait before the next attempt after `attempts` failed ones.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(5)
        .saturating_mul(2u32.saturating_pow(attempts.min(16)))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_ports_name_the_contract_of_the_output_port_they_read() {
        let spec = json!({"dataInUse": {
            "inputPorts": [
                {"name": "orders", "product": {"domain": "sales", "name": "sales-orders", "outputPort": "orders-sql"}},
                {"name": "pixel", "connector": {"type": "tracking-pixel"}},
            ],
            "outputPorts": [{"name": "forecast-api", "type": "rest", "version": "0.3.0"}],
        }});
        let mut product = DataProduct::default();
        product.metadata.name = Some("sales-orders".into());
        product.spec = spec.into();
        let entry = serde_json::to_value(entry(&product, &[])).unwrap();
        assert_eq!(
            entry["inputPorts"],
            json!([{"name": "orders", "contractId": "sales-orders-orders-sql"}, {"name": "pixel"}])
        );
        // The provider's own entry names the same contract for that port.
        assert_eq!(
            entry["outputPorts"][0]["contract"]["id"],
            "sales-orders-forecast-api"
        );
    }

    #[test]
    fn widgets_carry_their_props_and_registration_and_the_registry_takes_the_entry() {
        let spec = json!({
            "domain": "marketing", "owner": "team-marketing", "version": "1.2.0", "status": "active",
            "widgets": [{"name": "histogram", "tag": "web-analytics-histogram",
                         "props": {"minutes-per-bucket": 5, "title": "Page views"}, "image": "w:1"}],
        });
        let mut product = DataProduct::default();
        product.metadata.name = Some("web-analytics".into());
        product.spec = spec.into();
        let entry = entry(&product, &[]);
        assert_eq!(
            serde_json::to_value(&entry.widgets).unwrap(),
            json!([{"name": "histogram", "tag": "web-analytics-histogram",
                    "attributes": {"minutes-per-bucket": "5", "title": "Page views"},
                    "registration": "marketing-web-analytics-histogram"}])
        );
        let body = serde_json::to_vec(&entry).unwrap();
        let parsed = registry::catalog::parse_product("marketing.web-analytics", &body);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn the_delay_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
