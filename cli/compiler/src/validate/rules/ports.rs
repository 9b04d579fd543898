//! Ports between products: every input port that consumes another product resolves to an
//! existing output port whose version satisfies the range, no product consumes itself or
//! itself through others, contracts' consumer lists hold, and retired products are not used.

use super::{Catalog, Sorted, suggest};
use crate::diagnostic::Diagnostic;
use crate::model::{DataProduct, ProductPortRef, Status};
use crate::validate::Doc;

pub(super) fn check(sorted: &Sorted, catalog: &Catalog<'_>, out: &mut Vec<Diagnostic>) {
    // consumer → (provider, input port index), for the cycle check.
    let mut uses: Vec<Vec<(usize, usize)>> = vec![Vec::new(); sorted.products.len()];
    for (consumer_index, consumer) in sorted.products.iter().enumerate() {
        for (i, port) in consumer
            .spec
            .spec
            .data_in_use
            .input_ports
            .iter()
            .enumerate()
        {
            let Some(wanted) = &port.product else {
                continue;
            };
            let base = format!("/spec/dataInUse/inputPorts/{i}/product");
            if let Some(provider) = resolve(consumer, wanted, &base, catalog, out) {
                uses[consumer_index].push((provider, i));
            }
        }
        consumers_known(consumer, catalog, out);
    }
    cycles(sorted, &uses, out);
}

#[allow(clippy::too_many_lines)]
fn resolve<'a>(
    consumer: &Doc<DataProduct>,
    wanted: &ProductPortRef,
    base: &str,
    catalog: &Catalog<'a>,
    out: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let me = &consumer.spec.metadata;
    if wanted.domain == me.domain && wanted.name == me.name {
        out.push(
            consumer
                .error(
                    "port::self",
                    format!("`{}` consumes its own output port", me.name),
                    &format!("{base}/name"),
                )
                .label("this product")
                .help("a product reads its own data through its flow, not through a port"),
        );
        return None;
    }
    let key = (wanted.domain.as_str(), wanted.name.as_str());
    let Some((provider_index, provider)) = catalog.product(key) else {
        if catalog.product_possible(key) {
            return None;
        }
        if !catalog.domain_known(&wanted.domain) {
            out.push(
                consumer
                    .error(
                        "port::unresolved",
                        format!("domain `{}` is not declared", wanted.domain),
                        &format!("{base}/domain"),
                    )
                    .label("no such Domain")
                    .maybe_help(suggest(&wanted.domain, catalog.domains.keys().copied())),
            );
        } else {
            let names = catalog
                .products
                .keys()
                .filter(|(d, _)| *d == wanted.domain)
                .map(|(_, n)| *n);
            out.push(
                consumer
                    .error(
                        "port::unresolved",
                        format!(
                            "domain `{}` has no data product `{}`",
                            wanted.domain, wanted.name
                        ),
                        &format!("{base}/name"),
                    )
                    .label("no such product")
                    .maybe_help(suggest(&wanted.name, names)),
            );
        }
        return None;
    };
    let ports = &provider.spec.spec.data_in_use.output_ports;
    let Some((port_index, port)) = ports
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == wanted.output_port)
    else {
        out.push(
            consumer
                .error(
                    "port::unresolved",
                    format!(
                        "`{}/{}` has no output port `{}`",
                        wanted.domain, wanted.name, wanted.output_port
                    ),
                    &format!("{base}/outputPort"),
                )
                .label("no such output port")
                .maybe_help(suggest(
                    &wanted.output_port,
                    ports.iter().map(|p| p.name.as_str()),
                )),
        );
        return None;
    };
    let port_pointer = format!("/spec/dataInUse/outputPorts/{port_index}/version");
    if !wanted.version.matches(&port.version) {
        out.push(
            consumer
                .error(
                    "port::version",
                    format!(
                        "`{}/{}/{}` is at version {}, outside the range `{}`",
                        wanted.domain,
                        wanted.name,
                        wanted.output_port,
                        port.version,
                        wanted.version
                    ),
                    &format!("{base}/version"),
                )
                .label("range not satisfied")
                .related(
                    provider.file,
                    provider.span(&port_pointer),
                    "the port's version",
                )
                .help(format!(
                    "accept the current version, e.g. `^{}`",
                    port.version.major
                )),
        );
    }
    match provider.spec.metadata.status {
        Status::Retired => out.push(
            consumer
                .error(
                    "port::retired",
                    format!("`{}/{}` is retired", wanted.domain, wanted.name),
                    &format!("{base}/name"),
                )
                .label("retired product")
                .related(
                    provider.file,
                    provider.span("/metadata/status"),
                    "retired here",
                )
                .help("a retired product serves no data; move to its successor"),
        ),
        Status::Deprecated => out.push(
            consumer
                .warning(
                    "port::deprecated",
                    format!("`{}/{}` is deprecated", wanted.domain, wanted.name),
                    &format!("{base}/name"),
                )
                .label("deprecated product")
                .related(
                    provider.file,
                    provider.span("/metadata/status"),
                    "deprecated here",
                )
                .help("plan a move to its successor before it is retired"),
        ),
        Status::Proposed | Status::Active => {}
    }
    let allowed = &port.contract.access.consumers;
    if !allowed.is_empty()
        && !allowed
            .iter()
            .any(|c| c.domain == me.domain && c.product == me.name)
    {
        out.push(
            consumer
                .error(
                    "port::not-a-consumer",
                    format!(
                        "`{}/{}` is not among the consumers the contract of `{}` allows",
                        me.domain, me.name, wanted.output_port
                    ),
                    &format!("{base}/outputPort"),
                )
                .label("not allowed by the contract")
                .related(
                    provider.file,
                    provider.span(&format!(
                        "/spec/dataInUse/outputPorts/{port_index}/contract/access/consumers"
                    )),
                    "the allowed consumers",
                )
                .help(format!(
                    "ask the owner of `{}/{}` to add this product to its contract",
                    wanted.domain, wanted.name
                )),
        );
    }
    Some(provider_index)
}

/// Products a contract lists as consumers should exist.
fn consumers_known(doc: &Doc<DataProduct>, catalog: &Catalog<'_>, out: &mut Vec<Diagnostic>) {
    for (i, port) in doc.spec.spec.data_in_use.output_ports.iter().enumerate() {
        for (j, c) in port.contract.access.consumers.iter().enumerate() {
            let key = (c.domain.as_str(), c.product.as_str());
            if catalog.product(key).is_none() && !catalog.product_possible(key) {
                out.push(
                    doc.warning(
                        "port::unknown-consumer",
                        format!(
                            "consumer `{}/{}` is not a data product of this mesh",
                            c.domain, c.product
                        ),
                        &format!(
                            "/spec/dataInUse/outputPorts/{i}/contract/access/consumers/{j}/product"
                        ),
                    )
                    .label("unknown product")
                    .help("remove it, or check the domain and product names"),
                );
            }
        }
    }
}

/// Products that depend on themselves through other products' ports can never start up in
/// order. One cycle is reported per group of products that consume one another, at the input
/// port that closes it.
fn cycles(sorted: &Sorted, uses: &[Vec<(usize, usize)>], out: &mut Vec<Diagnostic>) {
    let name = |i: usize| {
        let m = &sorted.products[i].spec.metadata;
        format!("{}/{}", m.domain, m.name)
    };
    for (port, cycle) in super::find_cycles(uses.len(), |n| uses[n].iter().copied()) {
        let path = cycle
            .iter()
            .map(|&i| name(i))
            .collect::<Vec<_>>()
            .join(" → ");
        let closing = &sorted.products[cycle[cycle.len() - 2]];
        out.push(
            closing
                .error(
                    "port::cycle",
                    format!("data products consume each other in a cycle: {path}"),
                    &format!("/spec/dataInUse/inputPorts/{port}/product"),
                )
                .label("this input port closes the cycle")
                .help("products form a DAG through their ports; break the cycle by removing one input port"),
        );
    }
}
