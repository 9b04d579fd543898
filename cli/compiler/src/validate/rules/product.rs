//! Rules inside one data product: every reference resolves (lineage, flow, workflow steps,
//! snapshots, ports, storage, secrets, roles), the flow is a DAG, contracts name only what
//! their port serves, and the product offers at least one output port.

use std::collections::{HashMap, HashSet};

use super::suggest;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::{DataProduct, NodeRef, Schema, SchemaId};
use crate::validate::Doc;

/// What a product declares, by name, for its references to resolve against.
struct Names<'a> {
    schemas: HashMap<(&'a str, &'a semver::Version), &'a Schema>,
    input_ports: HashSet<&'a str>,
    pipelines: HashSet<&'a str>,
    storage: HashSet<&'a str>,
    secrets: HashSet<&'a str>,
    roles: HashSet<&'a str>,
    flow_ids: HashSet<&'a str>,
}

impl<'a> Names<'a> {
    fn new(product: &'a DataProduct) -> Self {
        let spec = &product.spec;
        Names {
            schemas: spec
                .data_at_rest
                .schemas
                .iter()
                .map(|s| ((s.name.as_str(), &s.version), s))
                .collect(),
            input_ports: spec
                .data_in_use
                .input_ports
                .iter()
                .map(|p| p.name.as_str())
                .collect(),
            pipelines: spec
                .processing
                .pipelines
                .iter()
                .map(|p| p.name.as_str())
                .collect(),
            storage: spec.storage.iter().map(|s| s.name.as_str()).collect(),
            secrets: spec
                .governance
                .secrets
                .iter()
                .map(|s| s.name.as_str())
                .collect(),
            roles: spec
                .governance
                .roles
                .iter()
                .map(|r| r.name.as_str())
                .collect(),
            flow_ids: spec
                .data_in_motion
                .flow
                .iter()
                .map(|e| e.id.as_str())
                .collect(),
        }
    }

    fn schema(&self, id: &SchemaId) -> Option<&'a Schema> {
        self.schemas.get(&(id.name.as_str(), &id.version)).copied()
    }
}

struct Checker<'a> {
    doc: &'a Doc<DataProduct>,
    names: Names<'a>,
    out: &'a mut Vec<Diagnostic>,
    /// A storage or secret reference failed to resolve: likely a typo of a declared name,
    /// which would then look unused too; one diagnostic for one mistake.
    unresolved_storage: bool,
    unresolved_secret: bool,
}

pub(super) fn check(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    let mut c = Checker {
        doc,
        names: Names::new(&doc.spec),
        out,
        unresolved_storage: false,
        unresolved_secret: false,
    };
    c.lineage();
    c.flow();
    c.workflows();
    c.snapshots();
    c.input_ports();
    c.output_ports();
    c.unused();
}

impl Checker<'_> {
    fn schema_ref(&mut self, id: &SchemaId, pointer: &dyn Fn() -> String) {
        if self.names.schema(id).is_some() {
            return;
        }
        let same_name: Vec<String> = self
            .names
            .schemas
            .keys()
            .filter(|(n, _)| *n == id.name)
            .map(|(n, v)| format!("{n}@{v}"))
            .collect();
        let help = if same_name.is_empty() {
            suggest(&id.name, self.names.schemas.keys().map(|(n, _)| *n))
                .unwrap_or_else(|| "declare it in spec.dataAtRest.schemas".to_owned())
        } else {
            let mut same_name = same_name;
            same_name.sort();
            format!(
                "versions of `{}` defined here: {}",
                id.name,
                same_name.join(", ")
            )
        };
        self.out.push(
            self.doc
                .error(
                    "ref::schema",
                    format!("schema `{id}` is not defined in this product"),
                    &pointer(),
                )
                .label("unknown schema")
                .help(help),
        );
    }

    fn node_ref(&mut self, node: &NodeRef, pointer: &dyn Fn() -> String) {
        match node {
            NodeRef::Schema(id) => self.schema_ref(id, pointer),
            NodeRef::Port(port) if !self.names.input_ports.contains(port.as_str()) => {
                let help = suggest(port, self.names.input_ports.iter().copied())
                    .unwrap_or_else(|| "declare it in spec.dataInUse.inputPorts".to_owned());
                self.out.push(
                    self.doc
                        .error(
                            "ref::input-port",
                            format!("input port `{port}` is not defined in this product"),
                            &pointer(),
                        )
                        .label("unknown input port")
                        .help(help),
                );
            }
            NodeRef::Port(_) => {}
        }
    }

    fn name_ref(&mut self, kind: Ref, name: &str, pointer: &dyn Fn() -> String) {
        let (set, code, what, place) = match kind {
            Ref::Pipeline => (
                &self.names.pipelines,
                "ref::pipeline",
                "pipeline",
                "spec.processing.pipelines",
            ),
            Ref::Storage => (
                &self.names.storage,
                "ref::storage",
                "storage",
                "spec.storage",
            ),
            Ref::Secret => (
                &self.names.secrets,
                "ref::secret",
                "secret",
                "spec.governance.secrets",
            ),
            Ref::Role => (
                &self.names.roles,
                "ref::role",
                "role",
                "spec.governance.roles",
            ),
            Ref::Step => (
                &self.names.flow_ids,
                "ref::step",
                "flow edge",
                "spec.dataInMotion.flow",
            ),
        };
        if set.contains(name) {
            return;
        }
        match kind {
            Ref::Storage => self.unresolved_storage = true,
            Ref::Secret => self.unresolved_secret = true,
            Ref::Pipeline | Ref::Role | Ref::Step => {}
        }
        let help =
            suggest(name, set.iter().copied()).unwrap_or_else(|| format!("declare it in {place}"));
        self.out.push(
            self.doc
                .error(
                    code,
                    format!("{what} `{name}` is not defined in this product"),
                    &pointer(),
                )
                .label(format!("unknown {what}"))
                .help(help),
        );
    }

    fn lineage(&mut self) {
        for (i, schema) in self.doc.spec.spec.data_at_rest.schemas.iter().enumerate() {
            let base = format!("/spec/dataAtRest/schemas/{i}/lineage");
            for (j, from) in schema.lineage.from.iter().enumerate() {
                self.node_ref(from, &|| format!("{base}/from/{j}"));
            }
            if let Some(old) = &schema.lineage.supersedes {
                let pointer = format!("{base}/supersedes");
                if old.name != schema.name || old.version >= schema.version {
                    self.out.push(
                        self.doc
                            .error(
                                "ref::supersedes",
                                format!("`{}` cannot supersede `{old}`", schema.id()),
                                &pointer,
                            )
                            .label("not an earlier version of this schema")
                            .help("a schema supersedes an earlier version of the same name"),
                    );
                } else {
                    self.schema_ref(old, &|| pointer.clone());
                }
            }
        }
    }

    fn flow(&mut self) {
        let flow = &self.doc.spec.spec.data_in_motion.flow;
        for (i, edge) in flow.iter().enumerate() {
            let base = format!("/spec/dataInMotion/flow/{i}");
            for (j, from) in edge.from.iter().enumerate() {
                self.node_ref(from, &|| format!("{base}/from/{j}"));
            }
            self.schema_ref(&edge.to, &|| format!("{base}/to"));
            self.name_ref(Ref::Pipeline, &edge.pipeline, &|| {
                format!("{base}/pipeline")
            });
        }
        for (edge, cycle) in flow_cycles(&self.doc.spec) {
            let path = cycle
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" → ");
            self.out.push(
                self.doc
                    .error(
                        "flow::cycle",
                        format!("the flow has a cycle: {path}"),
                        &format!("/spec/dataInMotion/flow/{edge}/id"),
                    )
                    .label("this edge closes the cycle")
                    .help("the flow is a DAG: a step must produce a new schema (or a new version), not feed back into its inputs"),
            );
        }
    }

    fn workflows(&mut self) {
        for (i, workflow) in self
            .doc
            .spec
            .spec
            .data_in_motion
            .workflows
            .iter()
            .enumerate()
        {
            for (j, step) in workflow.steps.iter().enumerate() {
                let at = format!("/spec/dataInMotion/workflows/{i}/steps/{j}");
                self.name_ref(Ref::Step, step, &|| at.clone());
                // Each step is a container of the workflow's pod, named after it.
                if let Some(first) = workflow.steps[..j].iter().position(|s| s == step) {
                    self.out.push(
                        self.doc
                            .error(
                                "flow::repeated-step",
                                format!("workflow `{}` runs step `{step}` twice", workflow.name),
                                &at,
                            )
                            .label(format!("already step {}", first + 1))
                            .help("a step runs once per workflow: list it once, or add a flow edge for the second run"),
                    );
                }
            }
        }
    }

    fn snapshots(&mut self) {
        for (i, snapshot) in self
            .doc
            .spec
            .spec
            .data_in_motion
            .snapshots
            .iter()
            .enumerate()
        {
            let base = format!("/spec/dataInMotion/snapshots/{i}");
            self.schema_ref(&snapshot.schema, &|| format!("{base}/schema"));
            self.name_ref(Ref::Storage, &snapshot.storage, &|| {
                format!("{base}/storage")
            });
        }
    }

    fn input_ports(&mut self) {
        for (i, port) in self
            .doc
            .spec
            .spec
            .data_in_use
            .input_ports
            .iter()
            .enumerate()
        {
            let base = format!("/spec/dataInUse/inputPorts/{i}");
            if let Some(produces) = &port.produces {
                self.schema_ref(produces, &|| format!("{base}/produces"));
            }
            if let Some(secret) = port.connector.as_ref().and_then(|c| c.secret_ref.as_ref()) {
                self.name_ref(Ref::Secret, secret, &|| {
                    format!("{base}/connector/secretRef")
                });
            }
        }
    }

    fn output_ports(&mut self) {
        let ports = &self.doc.spec.spec.data_in_use.output_ports;
        if ports.is_empty() {
            self.out.push(
                self.doc
                    .error("port::no-output", "the product offers no output port", "/metadata/name")
                    .label("no output port")
                    .help("a data product serves its data through at least one entry in spec.dataInUse.outputPorts"),
            );
        }
        for (i, port) in ports.iter().enumerate() {
            let base = format!("/spec/dataInUse/outputPorts/{i}");
            self.schema_ref(&port.serves, &|| format!("{base}/serves"));
            self.name_ref(Ref::Storage, &port.storage, &|| format!("{base}/storage"));
            let contract = &port.contract;
            for (j, role) in contract.access.roles.iter().enumerate() {
                self.name_ref(Ref::Role, role, &|| {
                    format!("{base}/contract/access/roles/{j}")
                });
            }
            let Some(served) = self.names.schema(&port.serves) else {
                continue;
            };
            for (j, sla) in contract.sla.iter().enumerate() {
                if let Some(element) = &sla.element {
                    self.element(served, element, None, &|| {
                        format!("{base}/contract/sla/{j}/element")
                    });
                }
            }
            for (j, rule) in contract.quality.iter().enumerate() {
                let base = format!("{base}/contract/quality/{j}");
                match &rule.element {
                    Some(element) => self.element(
                        served,
                        element,
                        Some(rule.metric.applies_to_property()),
                        &|| format!("{base}/element"),
                    ),
                    None if rule.metric.applies_to_property() => self.out.push(
                        self.doc
                            .error(
                                "contract::quality",
                                format!(
                                    "a `{}` rule needs the property it measures",
                                    rule.metric.as_str()
                                ),
                                &format!("{base}/metric"),
                            )
                            .label("measures a property")
                            .help(format!("add `element: {}.<property>`", served.name)),
                    ),
                    None => {}
                }
            }
        }
    }

    /// An SLA or quality `element` (`schema` or `schema.property`) must name the served schema
    /// or one of its properties; `needs_property` says whether a quality metric measures a
    /// property (`Some(true)`) or a whole schema (`Some(false)`).
    fn element(
        &mut self,
        served: &Schema,
        element: &str,
        needs_property: Option<bool>,
        pointer: &dyn Fn() -> String,
    ) {
        let (schema, property) = match element.split_once('.') {
            Some((s, p)) => (s, Some(p)),
            None => (element, None),
        };
        if schema != served.name {
            self.out.push(
                self.doc
                    .error(
                        "contract::element",
                        format!(
                            "`{element}` is not part of `{}`, the schema this port serves",
                            served.id()
                        ),
                        &pointer(),
                    )
                    .label("another schema")
                    .help(format!(
                        "a contract names `{}` or its properties",
                        served.name
                    )),
            );
            return;
        }
        if let Some(property) = property
            && served.property(property).is_none()
        {
            let names = served.properties.iter().map(|p| p.name.as_str());
            let help = match did_you_mean(property, names) {
                Some(close) => format!("did you mean `{}.{close}`?", served.name),
                None => format!(
                    "its properties: {}",
                    served
                        .properties
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.out.push(
                self.doc
                    .error(
                        "contract::element",
                        format!("`{}` has no property `{property}`", served.id()),
                        &pointer(),
                    )
                    .label("unknown property")
                    .help(help),
            );
            return;
        }
        match needs_property {
            Some(true) if property.is_none() => self.out.push(
                self.doc
                    .error(
                        "contract::quality",
                        "this quality metric measures a property, not a whole schema",
                        &pointer(),
                    )
                    .label("a schema")
                    .help(format!("write `{}.<property>`", served.name)),
            ),
            Some(false) if property.is_some() => self.out.push(
                self.doc
                    .error(
                        "contract::quality",
                        "rowCount measures a whole schema, not a property",
                        &pointer(),
                    )
                    .label("a property")
                    .help(format!("write `element: {}`", served.name)),
            ),
            _ => {}
        }
    }

    /// Declared but never used: storage no port or snapshot reads, secrets no connector uses.
    fn unused(&mut self) {
        let spec = &self.doc.spec.spec;
        let used_storage: HashSet<&str> = spec
            .data_in_use
            .output_ports
            .iter()
            .map(|p| p.storage.as_str())
            .chain(
                spec.data_in_motion
                    .snapshots
                    .iter()
                    .map(|s| s.storage.as_str()),
            )
            .collect();
        let storage = spec.storage.iter().enumerate();
        for (i, storage) in storage.filter(|_| !self.unresolved_storage) {
            if !used_storage.contains(storage.name.as_str()) {
                self.out.push(
                    self.doc
                        .warning("unused::storage", format!("storage `{}` is never used", storage.name), &format!("/spec/storage/{i}/name"))
                        .label("no output port or snapshot uses it")
                        .help("remove it, or point an output port or snapshot at it; unused storage still costs a volume"),
                );
            }
        }
        let used_secrets: HashSet<&str> = spec
            .data_in_use
            .input_ports
            .iter()
            .filter_map(|p| p.connector.as_ref()?.secret_ref.as_deref())
            .collect();
        let secrets = spec.governance.secrets.iter().enumerate();
        for (i, secret) in secrets.filter(|_| !self.unresolved_secret) {
            if !used_secrets.contains(secret.name.as_str()) {
                self.out.push(
                    self.doc
                        .warning(
                            "unused::secret",
                            format!("secret `{}` is never used", secret.name),
                            &format!("/spec/governance/secrets/{i}/name"),
                        )
                        .label("no connector uses it")
                        .help("remove it, or reference it from a connector's secretRef"),
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Ref {
    Pipeline,
    Storage,
    Secret,
    Role,
    Step,
}

/// The cycles in the product's flow (one per group of nodes that feed one another), each as
/// the index of the edge that closes it and the nodes along it (first repeated at the end).
fn flow_cycles(product: &DataProduct) -> Vec<(usize, Vec<NodeRef>)> {
    let mut ids: HashMap<&NodeRef, usize> = HashMap::new();
    let mut nodes: Vec<&NodeRef> = Vec::new();
    let targets: Vec<NodeRef> = product
        .spec
        .data_in_motion
        .flow
        .iter()
        .map(|edge| NodeRef::Schema(edge.to.clone()))
        .collect();
    // (from, to, edge index). Sources are interned first, so the search starts where data
    // enters and the edge reported is the one that feeds back.
    let mut arcs = Vec::new();
    for (e, edge) in product.spec.data_in_motion.flow.iter().enumerate() {
        let froms: Vec<usize> = edge
            .from
            .iter()
            .map(|f| intern(&mut ids, &mut nodes, f))
            .collect();
        let to = intern(&mut ids, &mut nodes, &targets[e]);
        arcs.extend(froms.into_iter().map(|from| (from, to, e)));
    }
    let mut next: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes.len()];
    for (from, to, e) in arcs {
        next[from].push((to, e));
    }
    super::find_cycles(next.len(), |n| next[n].iter().copied())
        .into_iter()
        .map(|(edge, path)| (edge, path.into_iter().map(|n| nodes[n].clone()).collect()))
        .collect()
}

fn intern<'a>(
    ids: &mut HashMap<&'a NodeRef, usize>,
    nodes: &mut Vec<&'a NodeRef>,
    node: &'a NodeRef,
) -> usize {
    *ids.entry(node).or_insert_with(|| {
        nodes.push(node);
        nodes.len() - 1
    })
}
