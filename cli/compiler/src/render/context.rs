//! What templates see: the model resolved for one environment. Names are shortened to what
//! Kubernetes accepts, images made absolute, resources and replicas merged from the mesh's
//! defaults and the environment's overrides, and every port paired with the products on its
//! other end, so templates only place values and never compute them.

use std::collections::BTreeMap;

use registry_api::widget::{Attributes, Element};
use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{
    Connector, ConnectorType, DataProduct, Engine, Environment, Mesh, ResourceList, Resources,
    Storage,
};
use crate::validate::{Doc, Validated};

/// Where the platform's own services run in every cluster.
pub const PLATFORM_NAMESPACE: &str = "dappmesh-system";
/// The registry's in-cluster address, where widget sidecars announce themselves.
pub const REGISTRY_URL: &str = "http://registry.dappmesh-system.svc:8080";
/// Kubernetes release assumed when an environment does not name one.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.33";

/// Longest name of a Service or label value.
const MAX_NAME: usize = 63;

/// `parts` joined by '-', cut to 63 characters with a stable hash suffix when longer, so two
/// long names that share a prefix still differ.
pub fn resource_name(parts: &[&str]) -> String {
    short_name(parts, MAX_NAME)
}

/// CronJob names get 11 characters appended for their Jobs, and a StatefulSet's name goes into
/// its pods' `controller-revision-hash` label with 11 more: both must fit in 52.
pub(super) const MAX_OWNER_NAME: usize = 52;

/// `parts` joined by '-', at most `max` characters (cut on a character boundary, with a stable
/// hash suffix).
pub(super) fn short_name(parts: &[&str], max: usize) -> String {
    let full = parts.join("-");
    if full.len() <= max {
        return full;
    }
    let hash = fnv1a(full.as_bytes());
    let mut cut = max - 9;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let keep = full[..cut].trim_end_matches('-');
    format!("{keep}-{:08x}", hash as u32)
}

/// A version as a label value: `+` (build metadata) is not allowed there, and at most 63
/// characters ending in a letter or digit.
pub(super) fn label_version(version: &semver::Version) -> String {
    let text = version.to_string().replace('+', "_");
    let cut: String = text.chars().take(MAX_NAME).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// FNV-1a: a hash that is the same on every machine and release, unlike std's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What every template sees as `mesh`: the Mesh's names and GitOps repository, and the
/// platform's namespace, version and images.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshContext<'a> {
    name: &'a str,
    urn_prefix: &'a str,
    gitops: GitOpsContext<'a>,
    platform: PlatformInstall<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GitOpsContext<'a> {
    #[serde(rename = "repoURL")]
    repo_url: &'a str,
    target_revision: &'a str,
    path: &'a str,
    /// Paths in Applications are relative to the repository root: `""` or `"<path>/"`.
    prefix: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlatformInstall<'a> {
    namespace: &'static str,
    version: &'static str,
    registry_url: &'static str,
    images: PlatformImages,
    /// Where the operator's egress to the API server goes.
    api_server_cidrs: Vec<&'a str>,
}

#[derive(Serialize)]
struct PlatformImages {
    operator: String,
    registry: String,
    dashboard: String,
}

/// Where the API server is when the Mesh does not say: control planes sit on private
/// addresses in kind, k3d, kubeadm and managed clusters with private endpoints; a mesh whose
/// API server is elsewhere (a public endpoint) sets `spec.platform.apiServerCidrs`.
const DEFAULT_API_SERVER_CIDRS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

pub fn mesh(mesh: &Mesh) -> MeshContext<'_> {
    let version = env!("CARGO_PKG_VERSION");
    let gitops = &mesh.spec.gitops;
    MeshContext {
        name: &mesh.metadata.name,
        urn_prefix: &mesh.spec.urn_prefix,
        gitops: GitOpsContext {
            repo_url: &gitops.repo_url,
            target_revision: &gitops.target_revision,
            path: gitops.path.as_deref().unwrap_or("."),
            prefix: gitops
                .path
                .as_deref()
                .map_or_else(String::new, |p| format!("{p}/")),
        },
        platform: PlatformInstall {
            namespace: PLATFORM_NAMESPACE,
            version,
            registry_url: REGISTRY_URL,
            images: PlatformImages {
                operator: format!("ghcr.io/dappmesh/operator:{version}"),
                registry: format!("ghcr.io/dappmesh/registry:{version}"),
                dashboard: format!("ghcr.io/dappmesh/dashboard:{version}"),
            },
            api_server_cidrs: mesh.spec.platform.api_server_cidrs.as_ref().map_or_else(
                || DEFAULT_API_SERVER_CIDRS.to_vec(),
                |cidrs| cidrs.iter().map(String::as_str).collect(),
            ),
        },
    }
}

/// What environment-, domain- and product-scoped templates see as `env`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentContext<'a> {
    name: &'a str,
    destination: DestinationContext<'a>,
    kubernetes_version: &'a str,
}

/// `{server}` or `{name}`: only the keys the Mesh sets.
#[derive(Serialize)]
struct DestinationContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

pub fn environment(env: &Environment) -> EnvironmentContext<'_> {
    EnvironmentContext {
        name: &env.name,
        destination: DestinationContext {
            server: env.destination.server.as_deref(),
            name: env.destination.name.as_deref(),
        },
        kubernetes_version: env
            .kubernetes_version
            .as_deref()
            .unwrap_or(DEFAULT_KUBERNETES_VERSION),
    }
}

/// How a storage engine is reached: in the product's namespace (a StatefulSet the product
/// owns) or outside it (a shared cluster or an object store).
pub(super) struct EngineFacts {
    pub in_cluster: bool,
    pub port: u16,
    pub port_name: &'static str,
    /// For engines outside the namespace: the host a port's ExternalName Service points at.
    pub external_host: Option<&'static str>,
}

pub(super) fn engine(engine: Engine) -> EngineFacts {
    match engine {
        Engine::Postgres => EngineFacts {
            in_cluster: true,
            port: 5432,
            port_name: "postgres",
            external_host: None,
        },
        Engine::Clickhouse => EngineFacts {
            in_cluster: true,
            port: 8123,
            port_name: "http",
            external_host: None,
        },
        Engine::Pinot => EngineFacts {
            in_cluster: false,
            port: 8099,
            port_name: "broker",
            external_host: Some("pinot-broker.pinot.svc.cluster.local"),
        },
        Engine::S3 => EngineFacts {
            in_cluster: false,
            port: 443,
            port_name: "https",
            external_host: Some("s3.amazonaws.com"),
        },
    }
}

/// The port an external connector reaches out on, for the product's egress policy.
pub(super) fn connector_port(connector: &Connector) -> u16 {
    let configured = connector
        .config
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok());
    configured.unwrap_or(match connector.kind {
        ConnectorType::PostgresCdc | ConnectorType::Jdbc => 5432,
        ConnectorType::Kafka | ConnectorType::TrackingPixel => 9092,
        ConnectorType::Http | ConnectorType::S3 => 443,
    })
}

/// Every product by (domain, name), found once for the whole mesh.
pub type Products<'a> = BTreeMap<(&'a str, &'a str), &'a Doc<DataProduct>>;

pub fn products(validated: &Validated) -> Products<'_> {
    validated
        .products
        .iter()
        .map(|d| {
            (
                (
                    d.spec.metadata.domain.as_str(),
                    d.spec.metadata.name.as_str(),
                ),
                d,
            )
        })
        .collect()
}

/// Who consumes each output port, found once for the whole mesh:
/// (provider domain, provider product, port) → consumers (domain, product), sorted.
pub type Consumers<'a> = BTreeMap<(&'a str, &'a str, &'a str), Vec<(&'a str, &'a str)>>;

pub fn consumers(validated: &Validated) -> Consumers<'_> {
    let mut found: Consumers<'_> = BTreeMap::new();
    for doc in &validated.products {
        let meta = &doc.spec.metadata;
        for input in &doc.spec.spec.data_in_use.input_ports {
            if let Some(r) = &input.product {
                found
                    .entry((&r.domain, &r.name, &r.output_port))
                    .or_default()
                    .push((&meta.domain, &meta.name));
            }
        }
    }
    for list in found.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    found
}

/// Resources: the most specific value of each field wins (pipeline, environment, mesh,
/// then a small built-in default), so a workload always has requests and limits.
pub(super) fn resources(layers: &[Option<&Resources>]) -> Value {
    let pick = |get: fn(&Resources) -> Option<&ResourceList>,
                field: fn(&ResourceList) -> Option<&String>,
                default: &str| {
        layers
            .iter()
            .flatten()
            .find_map(|r| get(r).and_then(field))
            .map_or_else(|| default.to_owned(), String::clone)
    };
    fn requests(r: &Resources) -> Option<&ResourceList> {
        r.requests.as_ref()
    }
    fn limits(r: &Resources) -> Option<&ResourceList> {
        r.limits.as_ref()
    }
    fn cpu(l: &ResourceList) -> Option<&String> {
        l.cpu.as_ref()
    }
    fn memory(l: &ResourceList) -> Option<&String> {
        l.memory.as_ref()
    }
    let (request_cpu, request_memory) =
        (pick(requests, cpu, "50m"), pick(requests, memory, "64Mi"));
    let (limit_cpu, limit_memory) = (pick(limits, cpu, "500m"), pick(limits, memory, "256Mi"));
    // Layers may set a request above the limit another layer set: the API server refuses
    // such a pod, so the limit rises to the request.
    let at_least = |limit: String, request: &String| match (quantity(&limit), quantity(request)) {
        (Some(l), Some(r)) if l < r => request.clone(),
        _ => limit,
    };
    json!({
        "requests": { "cpu": request_cpu, "memory": request_memory },
        "limits": {
            "cpu": at_least(limit_cpu, &request_cpu),
            "memory": at_least(limit_memory, &request_memory),
        },
    })
}

/// A Kubernetes quantity (`500m`, `1.5`, `256Mi`, `1G`) as a number, for comparing two of them.
fn quantity(text: &str) -> Option<f64> {
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Ei", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, scale) = suffixes
        .iter()
        .find_map(|(suffix, scale)| Some((text.strip_suffix(suffix)?, *scale)))
        .unwrap_or((text, 1.0));
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// A relative image name gets the mesh's registry in front; one naming its registry (a first
/// segment with a dot or port, or `localhost`) is taken as written.
pub(super) fn image(mesh: &Mesh, image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    match (&mesh.spec.defaults.image_registry, has_registry) {
        (Some(registry), false) => format!("{registry}/{image}"),
        _ => image.to_owned(),
    }
}

/// The legacy `componentId` markup of a widget, for registries of the idea-lab era: the
/// registry's own serialization, which parses back to exactly this element.
pub(super) fn markup(tag: &str, attributes: &BTreeMap<&str, String>) -> String {
    let pairs: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Element {
        tag: tag.to_owned(),
        attributes: Attributes::from_pairs(&pairs),
    }
    .to_markup()
}

/// Pinot's schema and REALTIME table for a product's analytics storage: the serving schema
/// stored there, fed from the Kafka topic its tracking or Kafka input port writes.
#[allow(clippy::too_many_lines)]
pub(super) fn pinot(doc: &Doc<DataProduct>, store: &Storage) -> Value {
    let spec = &doc.spec.spec;
    let port = spec
        .data_in_use
        .output_ports
        .iter()
        .find(|p| p.storage == store.name);
    let schema = port.and_then(|p| {
        spec.data_at_rest
            .schemas
            .iter()
            .find(|s| s.name == p.serves.name && s.version == p.serves.version)
    });
    let topic = spec
        .data_in_use
        .input_ports
        .iter()
        .filter_map(|i| i.connector.as_ref())
        .find_map(|c| c.config.get("topic").and_then(Value::as_str))
        .unwrap_or(&doc.spec.metadata.name)
        .to_owned();
    let table = schema.map_or_else(|| store.name.replace('-', "_"), |s| s.name.clone());
    let properties = schema.map(|s| s.properties.as_slice()).unwrap_or_default();
    let time = properties.iter().find(|p| {
        p.name.contains("epoch") || p.logical_type == crate::model::LogicalType::Timestamp
    });
    let mut dimensions = Vec::new();
    let mut metrics = Vec::new();
    let mut json_columns = Vec::new();
    for p in properties {
        if time.is_some_and(|t| t.name == p.name) {
            continue;
        }
        use crate::model::LogicalType as T;
        let (data_type, metric) = match p.logical_type {
            T::Integer => ("LONG", !p.primary_key),
            T::Number => ("DOUBLE", true),
            T::Boolean => ("BOOLEAN", false),
            T::Object | T::Array => ("JSON", false),
            T::String | T::Date | T::Timestamp => ("STRING", false),
        };
        if p.name.ends_with("_json") || data_type == "JSON" {
            json_columns.push(p.name.clone());
        }
        let field = json!({ "name": p.name, "dataType": data_type });
        if metric {
            metrics.push(field);
        } else {
            dimensions.push(field);
        }
    }
    let time_column = time.map(|t| t.name.clone());
    // A timestamp is ISO 8601 text in the topic's JSON, which Pinot's TIMESTAMP type reads;
    // an `…epoch…` integer is milliseconds since the epoch.
    let time_spec = time.map(|t| {
        let (data_type, format) = match t.logical_type {
            crate::model::LogicalType::Timestamp => ("TIMESTAMP", "1:MILLISECONDS:TIMESTAMP"),
            _ => ("LONG", "1:MILLISECONDS:EPOCH"),
        };
        json!({
            "name": t.name, "dataType": data_type, "format": format, "granularity": "1:MILLISECONDS"
        })
    });
    let schema_doc = json!({
        "schemaName": table,
        "dimensionFieldSpecs": dimensions,
        "metricFieldSpecs": metrics,
        "dateTimeFieldSpecs": time_spec.into_iter().collect::<Vec<_>>(),
    });
    let table_doc = json!({
        "tableName": table,
        "tableType": "REALTIME",
        "segmentsConfig": {
            "schemaName": table,
            "timeColumnName": time_column,
            "replication": "1",
            "replicasPerPartition": "1",
            "retentionTimeUnit": "DAYS",
            "retentionTimeValue": "90",
        },
        "tenants": {},
        "tableIndexConfig": {
            "loadMode": "MMAP",
            "jsonIndexColumns": json_columns,
            "streamConfigs": {
                "streamType": "kafka",
                "stream.kafka.topic.name": topic,
                "stream.kafka.broker.list": "kafka.kafka.svc.cluster.local:9092",
                "stream.kafka.consumer.type": "lowlevel",
                "stream.kafka.consumer.factory.class.name": "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory",
                "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
                "realtime.segment.flush.threshold.rows": "0",
                "realtime.segment.flush.threshold.time": "24h",
                "realtime.segment.flush.threshold.segment.size": "100M",
            },
        },
        "metadata": {},
    });
    json!({
        "table": table,
        "topic": topic,
        "schema": serde_json::to_string_pretty(&schema_doc).expect("JSON values serialise"),
        "tableConfig": serde_json::to_string_pretty(&table_doc).expect("JSON values serialise"),
        "controllerUrl": "http://pinot-controller.pinot.svc.cluster.local:9000",
    })
}

/// `1h30m` → 5400, `1500ms` → 2 (whole seconds, rounded up: a deadline is never shorter than
/// asked); None for text the schema's timespan format would not accept, or too large a span.
pub fn seconds(span: &str) -> Option<u64> {
    let mut millis = 0u64;
    let mut number = String::new();
    let mut chars = span.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        millis = millis.checked_add(n.checked_mul(unit)?)?;
    }
    number.is_empty().then_some(millis.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_a_stable_suffix() {
        let long = "a".repeat(40);
        let name = resource_name(&[&long, &long]);
        assert_eq!(name.len(), 63);
        assert_eq!(name, resource_name(&[&long, &long]));
        assert_ne!(name, resource_name(&[&long, &"a".repeat(39), "b"]));
        assert_eq!(resource_name(&["orders", "sql"]), "orders-sql");
        // Cut on a character boundary, whatever a template passes in.
        assert!(resource_name(&[&"é".repeat(40)]).len() <= 63);
        assert_eq!(short_name(&[&long, &long], 52).len(), 52);
    }

    #[test]
    fn limits_never_fall_below_requests_and_versions_fit_labels() {
        let env = Resources {
            requests: Some(ResourceList {
                cpu: Some("2".into()),
                memory: Some("1Gi".into()),
            }),
            limits: None,
        };
        let r = resources(&[Some(&env)]);
        assert_eq!(r["limits"]["cpu"], "2");
        assert_eq!(r["limits"]["memory"], "1Gi");
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("256Mi"), Some(268_435_456.0));
        let version = semver::Version::parse("1.2.0-rc.1+build.5").unwrap();
        assert_eq!(label_version(&version), "1.2.0-rc.1_build.5");
    }

    #[test]
    fn timespans_become_seconds() {
        assert_eq!(seconds("1h30m"), Some(5400));
        assert_eq!(seconds("45s"), Some(45));
        assert_eq!(seconds("2d"), Some(172_800));
        assert_eq!(seconds("10"), None);
        assert_eq!(seconds("1500ms"), Some(2));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(
            seconds("99999999999999999h"),
            None,
            "overflow is refused, not wrapped"
        );
        assert_eq!(seconds("1w"), None);
    }
}
