//! Names: one Mesh, unique names in every scope, and every product's domain declared.

use std::collections::HashMap;

use super::{Catalog, Sorted, suggest, unique};
use crate::diagnostic::Diagnostic;
use crate::model::DataProduct;
use crate::validate::Doc;

pub(super) fn check(sorted: &Sorted, catalog: &Catalog<'_>, out: &mut Vec<Diagnostic>) {
    mesh(sorted, out);
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
        sorted.products.iter().map(|p| {
            let m = &p.spec.metadata;
            let name = format!("{}/{}", m.domain, m.name);
            (name, p, "/metadata/name".to_owned())
        }),
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
    for product in &sorted.products {
        domain_exists(product, catalog, out);
        scopes(product, out);
    }
}

fn mesh(sorted: &Sorted, out: &mut Vec<Diagnostic>) {
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
    let versions: Vec<String> = schemas.iter().map(|s| s.id().to_string()).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, id) in versions.iter().enumerate() {
        if let Some(&first) = seen.get(id.as_str()) {
            out.push(
                doc.error(
                    "name::duplicate-schema-version",
                    format!("schema `{id}` is defined twice"),
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
            seen.insert(id, i);
        }
    }
    for (i, schema) in schemas.iter().enumerate() {
        unique(
            doc,
            "property",
            indexed(
                &schema.properties,
                |p| &p.name,
                &format!("/spec/dataAtRest/schemas/{i}/properties"),
                "name",
            ),
            out,
        );
    }
    let motion = &spec.data_in_motion;
    unique(
        doc,
        "flow edge",
        indexed(&motion.flow, |e| &e.id, "/spec/dataInMotion/flow", "id"),
        out,
    );
    unique(
        doc,
        "workflow",
        indexed(
            &motion.workflows,
            |w| &w.name,
            "/spec/dataInMotion/workflows",
            "name",
        ),
        out,
    );
    let ports = &spec.data_in_use;
    unique(
        doc,
        "input port",
        indexed(
            &ports.input_ports,
            |p| &p.name,
            "/spec/dataInUse/inputPorts",
            "name",
        ),
        out,
    );
    unique(
        doc,
        "output port",
        indexed(
            &ports.output_ports,
            |p| &p.name,
            "/spec/dataInUse/outputPorts",
            "name",
        ),
        out,
    );
    let gov = &spec.governance;
    unique(
        doc,
        "role",
        indexed(&gov.roles, |r| &r.name, "/spec/governance/roles", "name"),
        out,
    );
    unique(
        doc,
        "secret",
        indexed(
            &gov.secrets,
            |s| &s.name,
            "/spec/governance/secrets",
            "name",
        ),
        out,
    );
    unique(
        doc,
        "pipeline",
        indexed(
            &spec.processing.pipelines,
            |p| &p.name,
            "/spec/processing/pipelines",
            "name",
        ),
        out,
    );
    unique(
        doc,
        "storage",
        indexed(&spec.storage, |s| &s.name, "/spec/storage", "name"),
        out,
    );
    unique(
        doc,
        "widget",
        indexed(&spec.widgets, |w| &w.name, "/spec/widgets", "name"),
        out,
    );
}

fn indexed<'a, T>(
    items: &'a [T],
    name: impl Fn(&'a T) -> &'a String + 'a,
    base: &'a str,
    field: &'a str,
) -> impl Iterator<Item = (&'a str, String)> + 'a {
    items
        .iter()
        .enumerate()
        .map(move |(i, item)| (name(item).as_str(), format!("{base}/{i}/{field}")))
}
