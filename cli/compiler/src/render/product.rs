//! The product scope's context, typed: what a product's templates see in one environment
//! (docs/render.md, "Context", `product`), built part by part from the validated mesh.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::context::{
    Consumers, MAX_OWNER_NAME, Products, connector_port, engine, image, label_version, markup,
    pinot, resource_name, resources, seconds, short_name,
};
use super::contract;
use crate::model::{
    DataProduct, Egress, Engine, Environment, InputPort, OutputPort, PipelineMode, Resources,
    Status, Storage, StorageKind, Widget,
};
use crate::validate::{Doc, Validated};

/// What a product's templates see as `product`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductContext<'a> {
    name: &'a str,
    domain: &'a str,
    namespace: &'a str,
    version: String,
    label_version: String,
    status: Status,
    owner: &'a str,
    urn: String,
    labels: &'a BTreeMap<String, String>,
    service_account: String,
    storage: Vec<StorageContext<'a>>,
    pipelines: Vec<PipelineContext<'a>>,
    workflows: Vec<WorkflowContext<'a>>,
    output_ports: Vec<OutputPortContext<'a>>,
    input_ports: Vec<InputPortContext<'a>>,
    widgets: Vec<WidgetContext<'a>>,
    resources: Value,
    custom_resource_spec: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StorageContext<'a> {
    name: &'a str,
    kind: StorageKind,
    engine: Engine,
    resource_name: String,
    size: &'a str,
    bucket: Option<&'a str>,
    storage_class: Option<&'a String>,
    port: u16,
    port_name: &'static str,
    in_cluster: bool,
    /// An outside store's endpoint host, when the product names one.
    host: Option<&'a str>,
    /// Where an outside store's egress goes; null for stores in the cluster.
    destination: Option<Egress<'a>>,
    credentials_secret: String,
    resources: Value,
    pinot: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PipelineContext<'a> {
    name: &'a str,
    resource_name: String,
    image: String,
    replicas: u32,
    resources: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkflowContext<'a> {
    name: &'a str,
    resource_name: String,
    schedule: &'a str,
    backoff_limit: u32,
    active_deadline_seconds: Option<u64>,
    steps: Vec<StepContext<'a>>,
}

#[derive(Serialize)]
struct StepContext<'a> {
    name: &'a str,
    pipeline: &'a str,
    image: Option<String>,
    resources: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutputPortContext<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: String,
    serves: String,
    service_name: String,
    contract_name: String,
    contract: String,
    storage_instance: String,
    in_cluster: bool,
    external_host: Option<&'static str>,
    port: u16,
    port_name: &'static str,
    consumers: Vec<ConsumerContext<'a>>,
}

#[derive(Serialize)]
struct ConsumerContext<'a> {
    namespace: &'a str,
    product: &'a str,
}

#[derive(Serialize)]
struct InputPortContext<'a> {
    name: &'a str,
    connector: Option<ConnectorContext<'a>>,
    provider: Option<ProviderContext<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectorContext<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    port: u16,
    secret_ref: &'a Option<String>,
    /// Where its egress goes (validation makes sure there is one).
    destination: Option<Egress<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderContext<'a> {
    namespace: &'a str,
    product: &'a str,
    port: u16,
    in_cluster: bool,
    engine: Engine,
    storage_instance: String,
    /// Where egress to the provider's store goes when it is outside the cluster.
    destination: Option<Egress<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WidgetContext<'a> {
    name: &'a str,
    tag: &'a str,
    resource_name: String,
    registry_id: String,
    image: String,
    registration: String,
    resources: Value,
}

/// One product in one environment, and what its context is built from.
struct Of<'a> {
    validated: &'a Validated,
    doc: &'a Doc<DataProduct>,
    env: &'a Environment,
    /// The environment's resources over the mesh's defaults: what a part without its own gets.
    base: [Option<&'a Resources>; 2],
}

impl<'a> Of<'a> {
    fn name(&self) -> &'a str {
        &self.doc.spec.metadata.name
    }

    fn resources(&self, own: Option<&Resources>) -> Value {
        resources(&[own, self.base[0], self.base[1]])
    }
}

/// Everything a product's templates need in one environment. `custom_resource` is the
/// product's [`super::resource::spec`] as YAML: the same in every environment, so made once.
pub fn context<'a>(
    validated: &'a Validated,
    doc: &'a Doc<DataProduct>,
    env: &'a Environment,
    consumers: &Consumers<'a>,
    products: &Products<'a>,
    custom_resource: &'a str,
) -> ProductContext<'a> {
    let mesh = &validated.mesh.spec;
    let meta = &doc.spec.metadata;
    let of = Of {
        validated,
        doc,
        env,
        base: [
            env.overrides.resources.as_ref(),
            mesh.spec.defaults.resources.as_ref(),
        ],
    };
    let name = of.name();
    ProductContext {
        name,
        domain: &meta.domain,
        namespace: &meta.domain,
        version: meta.version.to_string(),
        label_version: label_version(&meta.version),
        status: meta.status,
        owner: &meta.owner,
        urn: format!(
            "{}:dataproducts:{}:{}",
            mesh.spec.urn_prefix, name, meta.version.major
        ),
        labels: &meta.labels,
        service_account: resource_name(&[name]),
        storage: doc
            .spec
            .spec
            .storage
            .iter()
            .map(|s| storage(&of, s))
            .collect(),
        pipelines: pipelines(&of),
        workflows: workflows(&of),
        output_ports: doc
            .spec
            .spec
            .data_in_use
            .output_ports
            .iter()
            .map(|p| output_port(&of, p, consumers))
            .collect(),
        input_ports: doc
            .spec
            .spec
            .data_in_use
            .input_ports
            .iter()
            .map(|i| input_port(i, products))
            .collect(),
        widgets: doc
            .spec
            .spec
            .widgets
            .iter()
            .map(|w| widget(&of, w))
            .collect(),
        resources: of.resources(None),
        custom_resource_spec: custom_resource,
    }
}

fn storage<'a>(of: &Of<'a>, s: &'a Storage) -> StorageContext<'a> {
    let defaults = &of.validated.mesh.spec.spec.defaults;
    let facts = engine(s.engine);
    StorageContext {
        name: &s.name,
        kind: s.kind,
        engine: s.engine,
        resource_name: short_name(&[of.name(), &s.name], MAX_OWNER_NAME),
        size: s.size.as_deref().unwrap_or("10Gi"),
        bucket: s.bucket.as_deref(),
        storage_class: of
            .env
            .overrides
            .storage_class
            .as_ref()
            .or(defaults.storage_class.as_ref()),
        port: facts.port,
        port_name: facts.port_name,
        in_cluster: facts.in_cluster,
        host: s.host.as_deref(),
        destination: outside(s),
        credentials_secret: resource_name(&[of.name(), &s.name, "credentials"]),
        resources: of.resources(None),
        pinot: (s.engine == Engine::Pinot).then(|| pinot(of.doc, s)),
    }
}

/// Stream pipelines: batch ones run only as workflow steps.
fn pipelines<'a>(of: &Of<'a>) -> Vec<PipelineContext<'a>> {
    of.doc
        .spec
        .spec
        .processing
        .pipelines
        .iter()
        .filter(|p| p.mode == PipelineMode::Stream)
        .map(|p| PipelineContext {
            name: &p.name,
            resource_name: resource_name(&[of.name(), &p.name]),
            image: image(&of.validated.mesh.spec, &p.image),
            replicas: p.replicas.or(of.env.overrides.replicas).unwrap_or(1),
            resources: of.resources(p.resources.as_ref()),
        })
        .collect()
}

fn workflows<'a>(of: &Of<'a>) -> Vec<WorkflowContext<'a>> {
    let spec = &of.doc.spec.spec;
    let edges: BTreeMap<&str, &str> = spec
        .data_in_motion
        .flow
        .iter()
        .map(|e| (e.id.as_str(), e.pipeline.as_str()))
        .collect();
    let step = |step: &'a String| {
        let pipeline = edges.get(step.as_str()).copied().unwrap_or_default();
        let found = spec
            .processing
            .pipelines
            .iter()
            .find(|p| p.name == pipeline);
        StepContext {
            name: step,
            pipeline,
            image: found.map(|p| image(&of.validated.mesh.spec, &p.image)),
            resources: found.map(|p| of.resources(p.resources.as_ref())),
        }
    };
    spec.data_in_motion
        .workflows
        .iter()
        .map(|w| WorkflowContext {
            name: &w.name,
            resource_name: short_name(&[of.name(), &w.name], MAX_OWNER_NAME),
            schedule: &w.schedule,
            backoff_limit: w.retries.as_ref().map_or(0, |r| r.max),
            active_deadline_seconds: w.timeout.as_deref().and_then(seconds),
            steps: w.steps.iter().map(step).collect(),
        })
        .collect()
}

fn output_port<'a>(
    of: &Of<'a>,
    p: &'a OutputPort,
    consumers: &Consumers<'a>,
) -> OutputPortContext<'a> {
    let name = of.name();
    let meta = &of.doc.spec.metadata;
    let store = of
        .doc
        .spec
        .spec
        .storage
        .iter()
        .find(|s| s.name == p.storage);
    let facts = store.map(|s| engine(s.engine));
    let service = resource_name(&[name, &p.name]);
    let contract = contract::odcs(of.validated, of.doc, p, &service, of.env);
    OutputPortContext {
        name: &p.name,
        kind: p.kind.as_str(),
        version: p.version.to_string(),
        serves: p.serves.to_string(),
        contract_name: resource_name(&[name, &p.name, "contract"]),
        service_name: service,
        contract: serde_json::to_string_pretty(&contract).expect("JSON values serialise"),
        storage_instance: short_name(&[name, &p.storage], MAX_OWNER_NAME),
        in_cluster: facts.as_ref().is_some_and(|f| f.in_cluster),
        external_host: facts.as_ref().and_then(|f| f.external_host),
        port: facts.as_ref().map_or(0, |f| f.port),
        port_name: facts.as_ref().map_or("tcp", |f| f.port_name),
        consumers: consumers
            .get(&(meta.domain.as_str(), name, p.name.as_str()))
            .into_iter()
            .flatten()
            .map(|(namespace, product)| ConsumerContext { namespace, product })
            .collect(),
    }
}

fn input_port<'a>(i: &'a InputPort, products: &Products<'a>) -> InputPortContext<'a> {
    let provider = i.product.as_ref().and_then(|r| {
        let spec = &products
            .get(&(r.domain.as_str(), r.name.as_str()))?
            .spec
            .spec;
        let port = spec
            .data_in_use
            .output_ports
            .iter()
            .find(|p| p.name == r.output_port)?;
        let store = spec.storage.iter().find(|s| s.name == port.storage)?;
        let facts = engine(store.engine);
        Some(ProviderContext {
            namespace: &r.domain,
            product: &r.name,
            port: facts.port,
            in_cluster: facts.in_cluster,
            engine: store.engine,
            storage_instance: short_name(&[&r.name, &store.name], MAX_OWNER_NAME),
            destination: outside(store),
        })
    });
    InputPortContext {
        name: &i.name,
        connector: i.connector.as_ref().map(|c| ConnectorContext {
            kind: c.kind.as_str(),
            port: connector_port(c),
            secret_ref: &c.secret_ref,
            destination: Egress::of(c.host.as_deref(), c.cidr.as_deref()),
        }),
        provider,
    }
}

/// Where egress to a store outside the cluster goes.
fn outside(s: &Storage) -> Option<Egress<'_>> {
    s.is_external()
        .then(|| Egress::of(s.host.as_deref(), s.cidr.as_deref()))
        .flatten()
}

fn widget<'a>(of: &Of<'a>, w: &'a Widget) -> WidgetContext<'a> {
    let name = of.name();
    let namespace = of.doc.spec.metadata.domain.as_str();
    let resource = resource_name(&[name, &w.name]);
    let base = format!("http://{resource}.{namespace}.svc:8080");
    let attributes = w.attributes();
    let registration = serde_json::json!({
        "label": format!("{} ({})", w.name, name),
        "tags": { "domain": namespace, "product": name },
        "webComponent": {
            "jsUrl": format!("{base}/bundle.js"),
            "cssUrl": format!("{base}/bundle.css"),
            "componentId": markup(&w.tag, &attributes),
            "element": { "tag": w.tag, "attributes": attributes },
        },
    });
    WidgetContext {
        name: &w.name,
        tag: &w.tag,
        registry_id: resource_name(&[namespace, name, &w.name]),
        resource_name: resource,
        image: image(&of.validated.mesh.spec, &w.image),
        registration: registration.to_string(),
        resources: of.resources(None),
    }
}
