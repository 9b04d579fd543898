//! Names: one Mesh, unique names in every scope, and every product's domain declared.

use std::collections::HashMap;

use super::{Catalog, Sorted, suggest, unique};
use crate::diagnostic::Diagnostic;
use crate::model::{DataProduct, Mesh};
use crate::validate::Doc;

/// The name rules across documents: one Mesh, unique domains, products and widget tags.
pub(super) fn check(sorted: &Sorted, out: &mut Vec<Diagnostic>) {
    mesh(sorted, out);
    for domain in &sorted.domains {
        reserved(domain, out);
    }
    across_documents(
        "domain",
        sorted
            .domains
            .iter()
            .map(|d| (d.spec.metadata.name.clone(), d, "/metadata/name".to_owned())),
        out,
    );
    across_documents(
        "data product",
        // Unique across domains too: the product URN (`<prefix>:dataproducts:<name>:<major>`)
        // carries no domain.
        sorted
            .products
            .iter()
            .map(|p| (p.spec.metadata.name.clone(), p, "/metadata/name".to_owned())),
        out,
    );
    across_documents(
        "widget tag",
        sorted.products.iter().flat_map(|p| {
            let widgets = p.spec.spec.widgets.iter().enumerate();
            widgets.map(move |(i, w)| (w.tag.clone(), p, format!("/spec/widgets/{i}/tag")))
        }),
        out,
    );
}

/// The name rules of one product, run with the other per-product rules.
pub(super) fn check_product(
    doc: &Doc<DataProduct>,
    catalog: &Catalog<'_>,
    out: &mut Vec<Diagnostic>,
) {
    domain_exists(doc, catalog, out);
    scopes(doc, out);
}

fn mesh(sorted: &Sorted, out: &mut Vec<Diagnostic>) {
    if let Some(mesh) = sorted.meshes.first() {
        let names: Vec<&str> = mesh
            .spec
            .spec
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        unique(
            mesh,
            "environment",
            "/spec/environments",
            "name",
            &names,
            out,
        );
        shared_destinations(mesh, out);
    }
    match sorted.meshes.as_slice() {
        [] if !sorted.broken_mesh && !sorted.incomplete => out.push(
            Diagnostic::error("mesh::missing", "no Mesh document found")
                .help("every mesh needs one `kind: Mesh` document; `dappctl init` writes one"),
        ),
        [first, rest @ ..] => {
            for again in rest {
                out.push(
                    again
                        .error(
                            "mesh::duplicate",
                            "more than one Mesh document",
                            "/metadata/name",
                        )
                        .label("second Mesh")
                        .related(first.file, first.span("/metadata/name"), "first Mesh")
                        .help("a repository describes one mesh; remove one of them"),
                );
            }
        }
        [] => {}
    }
}

/// Names that must be unique across documents; the first occurrence (in path order) wins.
/// Each name comes with its document and the pointer to it, resolved to a span only when
/// reported.
fn across_documents<'a, T: 'a>(
    what: &str,
    names: impl Iterator<Item = (String, &'a Doc<T>, String)>,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<String, (&Doc<T>, String)> = HashMap::new();
    for (name, doc, pointer) in names {
        match seen.get(&name) {
            Some((first, first_pointer)) => out.push(
                doc.error(
                    "name::duplicate",
                    format!("duplicate {what} `{name}`"),
                    &pointer,
                )
                .label("defined again here")
                .related(first.file, first.span(first_pointer), "first defined here")
                .help(format!(
                    "{what} names must be unique in the mesh; rename or remove one"
                )),
            ),
            None => {
                seen.insert(name, (doc, pointer));
            }
        }
    }
}

fn domain_exists(product: &Doc<DataProduct>, catalog: &Catalog<'_>, out: &mut Vec<Diagnostic>) {
    let domain = &product.spec.metadata.domain;
    if catalog.domain_known(domain) {
        return;
    }
    out.push(
        product
            .error(
                "ref::domain",
                format!("domain `{domain}` is not declared"),
                "/metadata/domain",
            )
            .label("no such Domain")
            .help(
                suggest(domain, catalog.domains.keys().copied())
                    .unwrap_or_else(|| format!("add a `kind: Domain` document named `{domain}`")),
            ),
    );
}

/// Names that must be unique inside one product.
fn scopes(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    let spec = &doc.spec.spec;
    let schemas = &spec.data_at_rest.schemas;
    let mut seen: HashMap<(&str, &semver::Version), usize> = HashMap::new();
    for (i, schema) in schemas.iter().enumerate() {
        if let Some(&first) = seen.get(&(schema.name.as_str(), &schema.version)) {
            out.push(
                doc.error(
                    "name::duplicate-schema-version",
                    format!("schema `{}` is defined twice", schema.id()),
                    &format!("/spec/dataAtRest/schemas/{i}/version"),
                )
                .label("same name and version again")
                .related(
                    doc.file,
                    doc.span(&format!("/spec/dataAtRest/schemas/{first}/version")),
                    "first defined here",
                )
                .help("give the new definition a new version"),
            );
        } else {
            seen.insert((&schema.name, &schema.version), i);
        }
    }
    for (i, schema) in schemas.iter().enumerate() {
        let list = format!("/spec/dataAtRest/schemas/{i}/properties");
        let names: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
        unique(doc, "property", &list, "name", &names, out);
    }
    let motion = &spec.data_in_motion;
    let ports = &spec.data_in_use;
    let gov = &spec.governance;
    let scopes: [(&str, &str, &str, Vec<&str>); 9] = [
        (
            "flow edge",
            "/spec/dataInMotion/flow",
            "id",
            motion.flow.iter().map(|e| e.id.as_str()).collect(),
        ),
        (
            "workflow",
            "/spec/dataInMotion/workflows",
            "name",
            motion.workflows.iter().map(|w| w.name.as_str()).collect(),
        ),
        (
            "input port",
            "/spec/dataInUse/inputPorts",
            "name",
            ports.input_ports.iter().map(|p| p.name.as_str()).collect(),
        ),
        (
            "output port",
            "/spec/dataInUse/outputPorts",
            "name",
            ports.output_ports.iter().map(|p| p.name.as_str()).collect(),
        ),
        (
            "role",
            "/spec/governance/roles",
            "name",
            gov.roles.iter().map(|r| r.name.as_str()).collect(),
        ),
        (
            "secret",
            "/spec/governance/secrets",
            "name",
            gov.secrets.iter().map(|s| s.name.as_str()).collect(),
        ),
        (
            "pipeline",
            "/spec/processing/pipelines",
            "name",
            spec.processing
                .pipelines
                .iter()
                .map(|p| p.name.as_str())
                .collect(),
        ),
        (
            "storage",
            "/spec/storage",
            "name",
            spec.storage.iter().map(|s| s.name.as_str()).collect(),
        ),
        (
            "widget",
            "/spec/widgets",
            "name",
            spec.widgets.iter().map(|w| w.name.as_str()).collect(),
        ),
    ];
    for (what, list, field, names) in &scopes {
        unique(doc, what, list, field, names, out);
    }
    workloads(doc, &scopes, out);
}

/// A product's workflows, output ports, pipelines, storage and widgets each become objects
/// named `<product>-<name>` that carry that name as their `app.kubernetes.io/instance`
/// label: two of different kinds with one name would share Services, or one's Service would
/// select the other's pods. (Two of one kind are `name::duplicate`.)
fn workloads(
    doc: &Doc<DataProduct>,
    scopes: &[(&str, &str, &str, Vec<&str>)],
    out: &mut Vec<Diagnostic>,
) {
    const KINDS: [&str; 5] = ["workflow", "output port", "pipeline", "storage", "widget"];
    let mut seen: HashMap<&str, (&str, String)> = HashMap::new();
    for (what, list, field, names) in scopes.iter().filter(|s| KINDS.contains(&s.0)) {
        for (i, &name) in names.iter().enumerate() {
            let at = format!("{list}/{i}/{field}");
            match seen.get(name) {
                Some((first, first_at)) if first != what => out.push(
                    doc.error(
                        "name::shared",
                        format!("`{name}` names both {} and {}", a(first), a(what)),
                        &at,
                    )
                    .label(format!("this {what}"))
                    .related(doc.file, doc.span(first_at), format!("the {first}"))
                    .help(format!(
                        "both would be `{}-{name}` in the cluster, with one instance label; rename one",
                        doc.spec.metadata.name
                    )),
                ),
                Some(_) => {}
                None => {
                    seen.insert(name, (what, at));
                }
            }
        }
    }
}

/// `what` with its indefinite article.
fn a(what: &str) -> String {
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {what}")
}

/// Two environments deploying to one cluster would render the same namespaces (one per
/// domain) and fight over every object in them.
fn shared_destinations(mesh: &Doc<Mesh>, out: &mut Vec<Diagnostic>) {
    let environments = &mesh.spec.spec.environments;
    for (i, env) in environments.iter().enumerate() {
        let target = (&env.destination.server, &env.destination.name);
        let Some(first) = environments[..i]
            .iter()
            .position(|e| (&e.destination.server, &e.destination.name) == target)
        else {
            continue;
        };
        out.push(
            mesh.error(
                "mesh::shared-destination",
                format!(
                    "environments `{}` and `{}` deploy to the same cluster",
                    environments[first].name, env.name
                ),
                &format!("/spec/environments/{i}/destination"),
            )
            .label("same destination")
            .related(
                mesh.file,
                mesh.span(&format!("/spec/environments/{first}/destination")),
                "first used here",
            )
            .help(
                "each domain has one namespace per cluster; give every environment its own cluster",
            ),
        );
    }
}

/// Names a domain cannot take: its name becomes a namespace and an Argo CD project, and these
/// belong to Kubernetes, Argo CD or the platform (`default` is also Argo CD's own project).
const RESERVED: [&str; 10] = [
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "argocd",
    "dappmesh-system",
    "dappmesh-platform",
    "platform",
    "kafka",
    "pinot",
];

fn reserved(domain: &Doc<crate::model::Domain>, out: &mut Vec<Diagnostic>) {
    let name = domain.spec.metadata.name.as_str();
    if RESERVED.contains(&name) || name.starts_with("kube-") {
        out.push(
            domain
                .error(
                    "name::reserved",
                    format!("`{name}` cannot name a domain"),
                    "/metadata/name",
                )
                .label("reserved")
                .help(
                    "a domain becomes a namespace and an Argo CD project; this name belongs to Kubernetes, Argo CD or the DappMesh platform",
                ),
        );
    }
}
