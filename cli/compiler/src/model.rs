//! The Data Application Model as Rust types: what a document becomes once its schema holds.
//! Field names follow the YAML (camelCase); see schemas/ for every constraint and its docs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct Mesh {
    pub metadata: ObjectMeta,
    pub spec: MeshSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshSpec {
    pub urn_prefix: String,
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub defaults: MeshDefaults,
    #[serde(default)]
    pub platform: PlatformSettings,
    pub gitops: GitOps,
}

/// How the platform services reach the cluster around them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSettings {
    /// The API server's addresses, for the operator's egress; None: the private ranges.
    pub api_server_cidrs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub name: String,
    pub destination: Destination,
    /// The Kubernetes minor release the environment runs, e.g. `1.33`.
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub overrides: Overrides,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Destination {
    pub server: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    pub replicas: Option<u32>,
    pub storage_class: Option<String>,
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshDefaults {
    pub image_registry: Option<String>,
    pub resources: Option<Resources>,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitOps {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resources {
    pub requests: Option<ResourceList>,
    pub limits: Option<ResourceList>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceList {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Domain {
    pub metadata: ObjectMeta,
    pub spec: DomainSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DomainSpec {
    pub owner: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataProduct {
    pub metadata: ProductMeta,
    pub spec: ProductSpec,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Proposed,
    Active,
    Deprecated,
    Retired,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductMeta {
    pub name: String,
    pub domain: String,
    pub version: semver::Version,
    #[serde(default)]
    pub status: Status,
    pub owner: String,
    pub description: Option<ProductDescription>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductDescription {
    pub purpose: String,
    pub usage: Option<String>,
    pub limitations: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductSpec {
    pub data_at_rest: DataAtRest,
    #[serde(default)]
    pub data_in_motion: DataInMotion,
    pub data_in_use: DataInUse,
    #[serde(default)]
    pub governance: Governance,
    #[serde(default)]
    pub processing: Processing,
    #[serde(default)]
    pub storage: Vec<Storage>,
    #[serde(default)]
    pub widgets: Vec<Widget>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataAtRest {
    pub schemas: Vec<Schema>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaState {
    Ingestion,
    Transformation,
    Aggregation,
    Serving,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    pub name: String,
    pub version: semver::Version,
    pub state: SchemaState,
    pub description: Option<String>,
    pub properties: Vec<Property>,
    #[serde(default)]
    pub lineage: Lineage,
}

impl Schema {
    pub fn id(&self) -> SchemaId {
        SchemaId {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Lineage {
    #[serde(default)]
    pub from: Vec<NodeRef>,
    pub supersedes: Option<SchemaId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogicalType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Object,
    Array,
}

impl LogicalType {
    pub fn as_str(self) -> &'static str {
        match self {
            LogicalType::String => "string",
            LogicalType::Integer => "integer",
            LogicalType::Number => "number",
            LogicalType::Boolean => "boolean",
            LogicalType::Date => "date",
            LogicalType::Timestamp => "timestamp",
            LogicalType::Object => "object",
            LogicalType::Array => "array",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
    Pii,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    pub name: String,
    pub logical_type: LogicalType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub unique: bool,
    pub classification: Option<Classification>,
    pub description: Option<String>,
}

/// `name@version`: one version of one schema of a product.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId {
    pub name: String,
    pub version: semver::Version,
}

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl std::str::FromStr for SchemaId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, version) = s
            .split_once('@')
            .ok_or_else(|| format!("`{s}` is not written name@version"))?;
        let version = semver::Version::parse(version).map_err(|e| e.to_string())?;
        Ok(SchemaId {
            name: name.to_owned(),
            version,
        })
    }
}

impl<'de> Deserialize<'de> for SchemaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A node of the flow graph: a schema version, or data arriving through an input port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeRef {
    Schema(SchemaId),
    Port(String),
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Schema(id) => id.fmt(f),
            NodeRef::Port(port) => write!(f, "port:{port}"),
        }
    }
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.strip_prefix("port:") {
            Some(port) => Ok(NodeRef::Port(port.to_owned())),
            None => s
                .parse()
                .map(NodeRef::Schema)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DataInMotion {
    #[serde(default)]
    pub flow: Vec<FlowEdge>,
    #[serde(default)]
    pub workflows: Vec<Workflow>,
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FlowEdge {
    pub id: String,
    pub from: Vec<NodeRef>,
    pub to: SchemaId,
    pub pipeline: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Workflow {
    pub name: String,
    pub schedule: String,
    pub steps: Vec<String>,
    pub retries: Option<Retries>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Fixed,
    #[default]
    Exponential,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    pub max: u32,
    #[serde(default)]
    pub backoff: Backoff,
    pub initial_delay: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    pub schema: SchemaId,
    pub schedule: String,
    pub retention: String,
    pub storage: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataInUse {
    #[serde(default)]
    pub input_ports: Vec<InputPort>,
    #[serde(default)]
    pub output_ports: Vec<OutputPort>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputPort {
    pub name: String,
    pub description: Option<String>,
    pub connector: Option<Connector>,
    pub produces: Option<SchemaId>,
    pub product: Option<ProductPortRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectorType {
    PostgresCdc,
    Kafka,
    Http,
    TrackingPixel,
    S3,
    Jdbc,
}

impl ConnectorType {
    /// The spelling in the YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::PostgresCdc => "postgres-cdc",
            ConnectorType::Kafka => "kafka",
            ConnectorType::Http => "http",
            ConnectorType::TrackingPixel => "tracking-pixel",
            ConnectorType::S3 => "s3",
            ConnectorType::Jdbc => "jdbc",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connector {
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    /// Where it connects: a Service in the cluster, or an outside name beside `cidr`.
    pub host: Option<String>,
    /// The addresses it connects to: its egress is limited to them.
    pub cidr: Option<String>,
    pub secret_ref: Option<String>,
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductPortRef {
    pub domain: String,
    pub name: String,
    pub output_port: String,
    pub version: semver::VersionReq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortType {
    Rest,
    Graphql,
    Grpc,
    Sql,
    Stream,
}

impl PortType {
    /// The spelling in the YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            PortType::Rest => "rest",
            PortType::Graphql => "graphql",
            PortType::Grpc => "grpc",
            PortType::Sql => "sql",
            PortType::Stream => "stream",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutputPort {
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: PortType,
    pub version: semver::Version,
    pub serves: SchemaId,
    pub storage: String,
    pub contract: Contract,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Contract {
    pub terms: Terms,
    #[serde(default)]
    pub sla: Vec<Sla>,
    #[serde(default)]
    pub quality: Vec<QualityRule>,
    #[serde(default)]
    pub access: Access,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub usage: String,
    pub limitations: Option<String>,
    pub notice_period: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sla {
    pub property: String,
    pub value: f64,
    pub unit: Option<String>,
    pub element: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    NullValues,
    MissingValues,
    InvalidValues,
    DuplicateValues,
    RowCount,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::NullValues => "nullValues",
            Metric::MissingValues => "missingValues",
            Metric::InvalidValues => "invalidValues",
            Metric::DuplicateValues => "duplicateValues",
            Metric::RowCount => "rowCount",
        }
    }

    /// rowCount measures a whole schema; the others measure one property.
    pub fn applies_to_property(self) -> bool {
        self != Metric::RowCount
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityRule {
    pub metric: Metric,
    pub element: Option<String>,
    pub must_be: Option<f64>,
    pub must_not_be: Option<f64>,
    pub must_be_greater_than: Option<f64>,
    pub must_be_greater_or_equal_to: Option<f64>,
    pub must_be_less_than: Option<f64>,
    pub must_be_less_or_equal_to: Option<f64>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Access {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub consumers: Vec<Consumer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Consumer {
    pub domain: String,
    pub product: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Governance {
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    pub name: String,
    pub access: AccessLevel,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Secret {
    pub name: String,
    #[serde(rename = "ref")]
    pub reference: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Processing {
    #[serde(default)]
    pub pipelines: Vec<Pipeline>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineMode {
    Stream,
    Batch,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    pub name: String,
    pub mode: PipelineMode,
    pub image: String,
    pub replicas: Option<u32>,
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Operational,
    Analytics,
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Clickhouse,
    Pinot,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Storage {
    pub name: String,
    pub kind: StorageKind,
    pub engine: Engine,
    pub size: Option<String>,
    pub bucket: Option<String>,
    /// An object store's endpoint host.
    pub host: Option<String>,
    /// An object store's addresses: the product's egress to it is limited to them.
    pub cidr: Option<String>,
}

impl Storage {
    /// Whether the store runs outside the cluster, so its egress needs its addresses
    /// (Pinot is shared but in the cluster, in its own namespace).
    pub fn is_external(&self) -> bool {
        self.engine == Engine::S3
    }
}

/// Where a connector or an outside store is reached, as a NetworkPolicy can say it: an
/// ipBlock needs addresses, so a name is either a Service in the cluster (its namespace) or
/// comes with a CIDR.
/// Templates see it as `{cidr}` or `{namespace}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Egress<'a> {
    /// A CIDR: egress to these addresses only.
    #[serde(rename = "cidr")]
    Addresses(&'a str),
    /// A Service `<service>.<namespace>.svc…`: egress to the pods of that namespace.
    #[serde(rename = "namespace")]
    Namespace(&'a str),
}

impl<'a> Egress<'a> {
    /// From a `host` and a `cidr` (the CIDR wins: it is what a policy can match); None when
    /// neither says where, or the host is outside the cluster without a CIDR.
    pub fn of(host: Option<&'a str>, cidr: Option<&'a str>) -> Option<Self> {
        match (cidr, host) {
            (Some(cidr), _) => Some(Egress::Addresses(cidr)),
            (None, Some(host)) => service_namespace(host).map(Egress::Namespace),
            (None, None) => None,
        }
    }
}

/// The namespace of an in-cluster Service name, `<service>.<namespace>.svc` with or
/// without the cluster domain after it.
pub fn service_namespace(host: &str) -> Option<&str> {
    let mut parts = host.split('.');
    let (_service, namespace, svc) = (parts.next()?, parts.next()?, parts.next()?);
    (svc == "svc" && !namespace.is_empty()).then_some(namespace)
}

#[derive(Debug, Clone, Deserialize)]
pub struct Widget {
    pub name: String,
    pub tag: String,
    #[serde(default)]
    pub props: BTreeMap<String, serde_json::Value>,
    pub image: String,
}

impl Widget {
    /// The props as the element's attributes, by name: strings as written, numbers and
    /// booleans in their JSON spelling. What the registry receives and checks.
    pub fn attributes(&self) -> BTreeMap<&str, String> {
        self.props
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (name.as_str(), text)
            })
            .collect()
    }
}
