//! Where a product may connect outside the mesh: every connector and every store outside the
//! cluster names its host or addresses, so that its egress NetworkPolicy allows exactly that
//! and never every address on the port.

use std::net::IpAddr;

use crate::diagnostic::Diagnostic;
use crate::model::{DataProduct, Egress};
use crate::validate::Doc;

/// What every "where does it connect" help says: a NetworkPolicy matches addresses and
/// namespaces, not DNS names.
const HOW: &str = "a NetworkPolicy matches addresses, not names: give `cidr` (e.g. `203.0.113.0/24`), or a `host` that is a Service in the cluster (`<service>.<namespace>.svc`: egress goes to that namespace); an outside `host` needs `cidr` beside it";

pub(super) fn check(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    let spec = &doc.spec.spec;
    for (i, port) in spec.data_in_use.input_ports.iter().enumerate() {
        if let Some(c) = &port.connector {
            let at = format!("/spec/dataInUse/inputPorts/{i}/connector");
            let what = format!("the connector of input port `{}`", port.name);
            destination(doc, &what, &at, c.host.as_deref(), c.cidr.as_deref(), out);
        }
    }
    for (i, store) in spec.storage.iter().enumerate() {
        if store.is_external() {
            let at = format!("/spec/storage/{i}");
            let what = format!("the outside store `{}`", store.name);
            destination(
                doc,
                &what,
                &at,
                store.host.as_deref(),
                store.cidr.as_deref(),
                out,
            );
        }
    }
}

fn destination(
    doc: &Doc<DataProduct>,
    what: &str,
    at: &str,
    host: Option<&str>,
    cidr: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(cidr) = cidr
        && let Err(why) = check_cidr(cidr)
    {
        out.push(
            doc.error(
                "network::cidr",
                format!("{what} has an unusable CIDR `{cidr}`: {why}"),
                &format!("{at}/cidr"),
            )
            .label("unusable CIDR")
            .help("write the network's address and prefix length, e.g. `203.0.113.0/24` or `2001:db8::/32`; a /0 would allow every address"),
        );
    }
    if Egress::of(host, cidr).is_some() {
        return;
    }
    let diagnostic = match host {
        Some(host) => doc
            .error(
                "network::outside-host",
                format!("{what} connects to `{host}`, outside the cluster, without a `cidr`"),
                &format!("{at}/host"),
            )
            .label("a name a NetworkPolicy cannot match"),
        None => doc
            .error(
                "network::no-destination",
                format!(
                    "{what} names no `host` or `cidr`: its egress would be open to every address"
                ),
                at,
            )
            .label("no host or cidr"),
    };
    out.push(diagnostic.help(HOW));
}

/// A CIDR a policy can use: an address, a prefix length that fits it, no bits set past the
/// prefix (the API server refuses those), and not /0.
fn check_cidr(cidr: &str) -> Result<(), String> {
    let (address, prefix) = cidr.split_once('/').ok_or("no prefix length")?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an IP address"))?;
    let bits: u32 = if address.is_ipv4() { 32 } else { 128 };
    let prefix: u32 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= bits)
        .ok_or(format!("the prefix length must be 1 to {bits}"))?;
    if prefix == 0 {
        return Err("a /0 allows every address".into());
    }
    let value = match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let host_bits = value & ((1u128 << (bits - prefix)) - 1);
    if host_bits != 0 {
        return Err(format!("bits are set past the /{prefix}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_cidr;
    use crate::model::service_namespace;

    #[test]
    fn cidrs_a_policy_can_use() {
        assert!(check_cidr("203.0.113.0/24").is_ok());
        assert!(check_cidr("10.1.2.3/32").is_ok());
        assert!(check_cidr("2001:db8::/32").is_ok());
        assert!(check_cidr("0.0.0.0/0").is_err());
        assert!(check_cidr("10.1.2.3/24").is_err());
        assert!(check_cidr("10.1.2.0/33").is_err());
        assert!(check_cidr("10.1.2/24").is_err());
    }

    #[test]
    fn service_names_give_their_namespace() {
        assert_eq!(service_namespace("kafka.kafka.svc"), Some("kafka"));
        assert_eq!(service_namespace("db.crm.svc.cluster.local"), Some("crm"));
        assert_eq!(service_namespace("db.example.com"), None);
        assert_eq!(service_namespace("kafka.svc"), None);
    }
}
