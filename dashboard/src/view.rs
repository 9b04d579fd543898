//! What the page is given: the registry's answers turned into the dashboard's own shapes
//! (a widget with its label, owner, freshness, structured element and proxied bundle
//! URLs; a product with its ports and contracts).
//!
//! The registry parses legacy markup into `widget: {tag, attributes}` when it is written;
//! only that structured form reaches the page. It is checked again here, with the rules of
//! `registry_api::widget` the registry wrote it by, because a registry of the idea-lab era sends markup and no
//! structure: such a widget is listed but cannot be mounted, and its markup is dropped.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use registry_api::widget::Element;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// One entry of `GET /api/v1/registry`, reading only what the dashboard uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub id: String,
    #[serde(default)]
    pub service: Service,
    pub last_updated: Option<String>,
    pub ttl_seconds: Option<f64>,
    pub stale: Option<bool>,
    pub widget: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub label: Option<Value>,
    pub tags: Option<Map<String, Value>>,
    pub web_component: Option<WebComponent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebComponent {
    pub js_url: Option<String>,
    pub css_url: Option<String>,
}

/// The bundle URLs registered for one widget: the only URLs the proxy fetches for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    pub js: Option<Url>,
    pub css: Option<Url>,
}

/// A widget as the page sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetView {
    pub id: String,
    pub label: String,
    pub owner: Option<String>,
    pub last_updated: Option<String>,
    pub stale: bool,
    /// What the page mounts with `createElement` and `setAttribute`.
    pub element: Option<Element>,
    /// Same-origin proxy URLs, `/api/bundles/{id}?url=…`.
    pub script: Option<String>,
    pub stylesheet: Option<String>,
    /// Why the widget cannot be mounted, when it cannot.
    pub problem: Option<String>,
}

/// A JSON array of entries, sorted by id with one entry per id. Entries that do not parse
/// are skipped and counted, so that one odd entry does not hide the others.
fn by_id<T: serde::de::DeserializeOwned>(
    body: &[u8],
    id: impl Fn(&T) -> &String,
) -> Result<(Vec<T>, usize), serde_json::Error> {
    let raw: Vec<Value> = serde_json::from_slice(body)?;
    let total = raw.len();
    let mut entries: Vec<T> = raw
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    let skipped = total - entries.len();
    entries.sort_by(|a, b| id(a).cmp(id(b)));
    entries.dedup_by(|a, b| id(a) == id(b));
    Ok((entries, skipped))
}

/// Parses the registry list. Entries that are not objects with an id are skipped (and
/// counted), so that one odd entry does not hide the others.
pub fn parse_registry(body: &[u8]) -> Result<(Vec<RegistryEntry>, usize), serde_json::Error> {
    by_id(body, |e: &RegistryEntry| &e.id)
}

/// The bundle URLs of an entry: absolute http(s) URLs only.
pub fn bundle_of(entry: &RegistryEntry) -> Bundle {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| Url::parse(s).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    };
    match &entry.service.web_component {
        Some(wc) => Bundle {
            js: parse(&wc.js_url),
            css: parse(&wc.css_url),
        },
        None => Bundle::default(),
    }
}

/// The structured element of an entry, checked with the registry's own rules: the page
/// mounts nothing the registry would have refused.
fn element_of(entry: &RegistryEntry) -> Result<Element, String> {
    let Some(widget) = &entry.widget else {
        return Err(if entry.service.web_component.is_some() {
            "the registry sent no structured element (only markup, which is never mounted)"
                .to_owned()
        } else {
            "the registration has no web component".to_owned()
        });
    };
    let element = Element::deserialize(widget)
        .map_err(|e| format!("the element is not a tag with string attributes: {e}"))?;
    element.check().map_err(|e| e.reason)?;
    Ok(element)
}

/// Whether an entry is stale. While the registry answers, its own `stale` is the truth;
/// when serving a cached copy (or a registry that sends no `stale`), an entry is stale
/// once its TTL (or `stale_after`) has passed since its last heartbeat.
pub fn is_stale(entry: &RegistryEntry, live: bool, now: SystemTime, stale_after: Duration) -> bool {
    if live && let Some(stale) = entry.stale {
        return stale;
    }
    if entry.stale == Some(true) {
        return true;
    }
    let ttl = entry
        .ttl_seconds
        .filter(|t| t.is_finite() && *t > 0.0 && *t < 1e9)
        .map(Duration::from_secs_f64)
        .unwrap_or(stale_after);
    match entry
        .last_updated
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    {
        Some(updated) => updated + ttl < now,
        None => true,
    }
}

/// Percent-encodes a URL for a query value.
fn query_value(url: &Url) -> String {
    url::form_urlencoded::byte_serialize(url.as_str().as_bytes()).collect()
}

/// The page's view of one entry.
pub fn widget_view(
    entry: &RegistryEntry,
    live: bool,
    now: SystemTime,
    stale_after: Duration,
) -> WidgetView {
    let bundle = bundle_of(entry);
    let proxied = |u: &Option<Url>| {
        u.as_ref().map(|u| {
            format!(
                "/api/bundles/{}?url={}",
                url::form_urlencoded::byte_serialize(entry.id.as_bytes()).collect::<String>(),
                query_value(u)
            )
        })
    };
    let (element, mut problem) = match element_of(entry) {
        Ok(e) => (Some(e), None),
        Err(p) => (None, Some(p)),
    };
    if element.is_some() && bundle.js.is_none() {
        problem = Some("the registration has no http(s) jsUrl".to_owned());
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    WidgetView {
        id: entry.id.clone(),
        label: text(entry.service.label.as_ref()).unwrap_or_else(|| entry.id.clone()),
        owner: text(entry.service.tags.as_ref().and_then(|t| t.get("owner"))),
        last_updated: entry.last_updated.clone(),
        stale: is_stale(entry, live, now, stale_after),
        element: if problem.is_none() { element } else { None },
        script: proxied(&bundle.js),
        stylesheet: proxied(&bundle.css),
        problem,
    }
}

/// One entry of `GET /api/v1/products`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogEntry {
    id: String,
    product: ProductDoc,
    last_updated: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductDoc {
    name: Option<String>,
    domain: Option<String>,
    owner: Option<String>,
    version: Option<String>,
    status: Option<String>,
    description: Option<String>,
    #[serde(default)]
    output_ports: Vec<PortDoc>,
    #[serde(default)]
    input_ports: Vec<InputPortDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortDoc {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    endpoint: Option<String>,
    contract: Option<ContractDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContractDoc {
    id: String,
    version: Option<String>,
    url: Option<String>,
}

/// ODPS's input port: it consumes the output port whose contract has this id. A port fed
/// by a connector (no product upstream) has none.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputPortDoc {
    name: String,
    contract_id: Option<String>,
    version: Option<String>,
}

/// A product as the catalog view shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub owner: String,
    pub version: String,
    pub status: String,
    pub description: Option<String>,
    pub last_updated: Option<String>,
    pub output_ports: Vec<PortDoc>,
    pub input_ports: Vec<InputPortDoc>,
    /// Lineage: the products this one reads from, by id, resolved through contract ids.
    pub upstream: Vec<Edge>,
}

/// One lineage edge: this product's input port reads another product's output port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub input_port: String,
    pub product: String,
    pub output_port: String,
}

/// Parses the catalog and resolves lineage. Entries that do not parse are skipped.
pub fn parse_products(body: &[u8]) -> Result<(Vec<ProductView>, usize), serde_json::Error> {
    let (entries, skipped) = by_id(body, |e: &CatalogEntry| &e.id)?;
    // contract id -> (product id, output port); the first product in id order wins a
    // contract id that two products claim, so the drawing does not depend on list order.
    let mut producers: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for e in &entries {
        for port in &e.product.output_ports {
            if let Some(c) = &port.contract {
                producers
                    .entry(c.id.as_str())
                    .or_insert((e.id.as_str(), port.name.as_str()));
            }
        }
    }
    let views = entries
        .iter()
        .map(|e| {
            let p = &e.product;
            let upstream = p
                .input_ports
                .iter()
                .filter_map(|input| {
                    producers
                        .get(input.contract_id.as_deref()?)
                        .filter(|(product, _)| *product != e.id)
                        .map(|(product, port)| Edge {
                            input_port: input.name.clone(),
                            product: (*product).to_owned(),
                            output_port: (*port).to_owned(),
                        })
                })
                .collect();
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            ProductView {
                id: e.id.clone(),
                name: p.name.clone().unwrap_or_else(|| e.id.clone()),
                domain: text(&p.domain),
                owner: text(&p.owner),
                version: text(&p.version),
                status: text(&p.status),
                description: p.description.clone(),
                last_updated: e.last_updated.clone(),
                output_ports: p.output_ports.clone(),
                input_ports: p.input_ports.clone(),
                upstream,
            }
        })
        .collect();
    Ok((views, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The page mounts exactly the widgets the registry stores and `dappctl validate`
    /// accepts (registry/api/fixtures/widgets.json).
    #[test]
    fn mountable_widgets_follow_the_shared_widget_fixture() {
        let cases: Value =
            serde_json::from_str(include_str!("../../registry/api/fixtures/widgets.json")).unwrap();
        for (group, accepted) in [("accepted", true), ("refused", false)] {
            for case in cases[group].as_array().unwrap() {
                let element = json!({"tag": case["tag"], "attributes": case["attributes"]});
                let w = view(
                    json!({"id":"w","service":{"webComponent":{"jsUrl":"http://w.ns/b.js"}},"widget":element}),
                    true,
                );
                assert_eq!(w.element.is_some(), accepted, "{element}: {:?}", w.problem);
            }
        }
    }

    fn entry(v: Value) -> RegistryEntry {
        serde_json::from_value(v).unwrap()
    }

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn view(v: Value, live: bool) -> WidgetView {
        widget_view(
            &entry(v),
            live,
            SystemTime::UNIX_EPOCH + NOW,
            Duration::from_secs(15),
        )
    }

    #[test]
    fn a_registered_widget_becomes_a_mountable_view_with_proxied_urls() {
        let w = view(
            json!({"id":"w 1","service":{"label":"Sales","tags":{"owner":"team-a"},
                "webComponent":{"jsUrl":"http://w.ns/b.js?v=1&x=2","cssUrl":"https://w.ns/b.css","componentId":"<w-tag a=\"1\"></w-tag>"}},
                "lastUpdated":"2023-11-14T22:13:19.000000Z","ttlSeconds":15,"stale":false,
                "widget":{"tag":"w-tag","attributes":{"a":"1","b":"x & \"y\""}}}),
            true,
        );
        let out = serde_json::to_value(&w).unwrap();
        assert_eq!(
            out,
            json!({"id":"w 1","label":"Sales","owner":"team-a","lastUpdated":"2023-11-14T22:13:19.000000Z",
                "stale":false,"element":{"tag":"w-tag","attributes":{"a":"1","b":"x & \"y\""}},
                "script":"/api/bundles/w+1?url=http%3A%2F%2Fw.ns%2Fb.js%3Fv%3D1%26x%3D2",
                "stylesheet":"/api/bundles/w+1?url=https%3A%2F%2Fw.ns%2Fb.css","problem":null})
        );
    }

    #[test]
    fn markup_without_structure_is_never_mountable() {
        let w = view(
            json!({"id":"old","service":{"webComponent":{"jsUrl":"http://w/b.js","componentId":"<img src=x onerror=alert(1)>"}}}),
            true,
        );
        assert!(w.element.is_none());
        assert!(w.problem.unwrap().contains("markup"));
        for bad in [
            json!({"tag":"script"}),
            json!({"tag":"w-x","attributes":{"onclick":"x"}}),
            json!({"tag":"w-x","attributes":{"style":"x"}}),
            json!({"tag":"w-x","attributes":{"a":1}}),
            json!({"tag":"W-X"}),
            json!({"tag":"w-x","attributes":[]}),
            // What the registry itself refuses: markup and script URLs in values, look-alike
            // tags, overlong names, unknown fields.
            json!({"tag":"w-x","attributes":{"b":"<i>"}}),
            json!({"tag":"w-x","attributes":{"href":" JaVa\tscript:alert(1)"}}),
            json!({"tag":"w-x","attributes":{"a":"x\u{202E}y"}}),
            json!({"tag":"math-α"}),
            json!({"tag":"font-face"}),
            json!({"tag":format!("w-{}", "x".repeat(63))}),
            json!({"tag":"w-x","extra":true}),
        ] {
            let w = view(
                json!({"id":"x","service":{"webComponent":{"jsUrl":"http://w/b.js"}},"widget":bad}),
                true,
            );
            assert!(w.element.is_none(), "{bad}");
        }
        let no_js = view(
            json!({"id":"x","service":{"webComponent":{"jsUrl":"javascript:alert(1)"}},"widget":{"tag":"w-x"}}),
            true,
        );
        assert!(no_js.element.is_none() && no_js.script.is_none());
    }

    #[test]
    fn staleness_follows_the_registry_when_live_and_the_clock_when_cached() {
        let at = |secs_ago: u64, stale: bool| {
            let t = SystemTime::UNIX_EPOCH + NOW - Duration::from_secs(secs_ago);
            json!({"id":"w","lastUpdated":humantime::format_rfc3339_micros(t).to_string(),"ttlSeconds":15,"stale":stale})
        };
        assert!(
            !view(at(20, false), true).stale,
            "live: the registry decides"
        );
        assert!(
            view(at(20, false), false).stale,
            "cached: the TTL has passed"
        );
        assert!(!view(at(5, false), false).stale);
        assert!(view(at(5, true), false).stale);
        assert!(view(json!({"id":"w"}), true).stale, "no lastUpdated");
        let legacy = |secs_ago: u64| {
            let t = SystemTime::UNIX_EPOCH + NOW - Duration::from_secs(secs_ago);
            json!({"id":"w","lastUpdated":humantime::format_rfc3339_micros(t).to_string()})
        };
        assert!(
            view(legacy(16), true).stale,
            "no stale field: --stale-after"
        );
        assert!(!view(legacy(14), true).stale);
    }

    #[test]
    fn odd_entries_are_skipped_and_the_list_is_sorted() {
        let (entries, skipped) =
            parse_registry(br#"[{"id":"b"},5,{"nope":1},{"id":"a"},{"id":"b"}]"#).unwrap();
        assert_eq!(skipped, 2);
        let ids: Vec<_> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(parse_registry(b"{}").is_err());
    }

    #[test]
    fn lineage_joins_input_ports_to_the_output_port_with_that_contract() {
        let body = json!([
            {"id":"c360","product":{"domain":"crm","owner":"o","version":"1.0.0","status":"active",
                "inputPorts":[{"name":"orders","contractId":"orders-c"},{"name":"gone","contractId":"nobody"},{"name":"pixel"}]}},
            {"id":"orders","product":{"domain":"sales","owner":"o","version":"2.0.0","status":"active",
                "outputPorts":[{"name":"orders-sql","type":"sql","contract":{"id":"orders-c"}}]}}
        ]);
        let (views, skipped) = parse_products(body.to_string().as_bytes()).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(
            views[0].upstream,
            [Edge {
                input_port: "orders".into(),
                product: "orders".into(),
                output_port: "orders-sql".into()
            }]
        );
        assert!(views[1].upstream.is_empty());
    }
}
