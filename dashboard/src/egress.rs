//! Where the bundle proxy may connect: every address a widget host names or resolves to
//! is classified, and everything but public unicast is refused unless the operator
//! allow-lists it with `--bundle-allow`; the [`Resolver`] hands the HTTP client only the
//! addresses it checked, so the connection goes where the check looked (a second, rebound
//! DNS answer is never asked for).
//!
//! The rules (also in the README):
//! - loopback, link-local, unspecified (`0.0.0.0/8`, `::`), multicast, broadcast,
//!   documentation, benchmarking and other reserved ranges, and the cloud metadata
//!   addresses outside link-local are refused, in every spelling: an IPv6 address that
//!   embeds an IPv4 one (`::ffff:a.b.c.d`, `::a.b.c.d`, `64:ff9b::a.b.c.d`) is judged by the
//!   IPv4 address, which is where it leads;
//! - private ranges (RFC 1918, `100.64.0.0/10`, `fc00::/7`) are refused too, unless the
//!   host matches a host-pattern entry;
//! - a CIDR entry allows every address inside it, whatever its class (`127.0.0.1/32` lets a
//!   test serve bundles from loopback); a host-pattern entry (`exact.host`, `*.suffix`) only
//!   lifts the private-range refusal for the names it matches.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::bundle::BundleError;

/// What an address is, as far as the proxy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    Private,
    Loopback,
    LinkLocal,
    Unspecified,
    Multicast,
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment, deprecated and unassigned ranges.
    Reserved,
    /// A cloud metadata service that is not link-local (Alibaba's 100.100.100.200, Azure's
    /// 168.63.129.16, AWS's fd00:ec2::254).
    Metadata,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Public => "public",
            Class::Private => "private",
            Class::Loopback => "loopback",
            Class::LinkLocal => "link-local",
            Class::Unspecified => "unspecified",
            Class::Multicast => "multicast",
            Class::Broadcast => "broadcast",
            Class::Reserved => "reserved",
            Class::Metadata => "cloud metadata",
        })
    }
}

/// The IPv4 address an IPv6 one leads to: IPv4-mapped (`::ffff:a.b.c.d`), the deprecated
/// IPv4-compatible form (`::a.b.c.d`, which includes `::` and `::1`; callers classify those
/// first) and the NAT64 well-known prefix (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let embeds =
        (s[..5] == [0; 5] && matches!(s[5], 0 | 0xffff)) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    embeds.then(|| {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    })
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    const RESERVED: [([u8; 4], u32); 7] = [
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // TEST-NET-1
        ([198, 51, 100, 0], 24), // TEST-NET-2
        ([203, 0, 113, 0], 24),  // TEST-NET-3
        ([198, 18, 0, 0], 15),   // benchmarking
        ([192, 88, 99, 0], 24),  // the deprecated 6to4 relay anycast
        ([240, 0, 0, 0], 4),     // reserved for future use
    ];
    const PRIVATE: [([u8; 4], u32); 4] = [
        ([10, 0, 0, 0], 8),
        ([172, 16, 0, 0], 12),
        ([192, 168, 0, 0], 16),
        ([100, 64, 0, 0], 10), // carrier-grade NAT, which some clusters use for pods
    ];
    let o = ip.octets();
    if ip == Ipv4Addr::BROADCAST {
        Class::Broadcast
    } else if o[0] == 0 {
        // "This network": Linux connects 0.0.0.0 to the local machine.
        Class::Unspecified
    } else if o[0] == 127 {
        Class::Loopback
    } else if o[0] == 169 && o[1] == 254 {
        Class::LinkLocal
    } else if (224..240).contains(&o[0]) {
        Class::Multicast
    } else if ip == Ipv4Addr::new(100, 100, 100, 200) || ip == Ipv4Addr::new(168, 63, 129, 16) {
        Class::Metadata
    } else if RESERVED.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        Class::Reserved
    } else if PRIVATE.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        Class::Private
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let v6 = |s: [u16; 8]| Ipv6Addr::from(s);
    if ip.is_loopback() {
        return Class::Loopback;
    }
    if ip.is_unspecified() {
        return Class::Unspecified;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    if ip == v6([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254]) {
        return Class::Metadata;
    }
    let reserved = [
        (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48), // local-use NAT64
        (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64),     // discard-only
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23),    // IETF protocol assignments, Teredo
        (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32), // documentation
        (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16),    // 6to4, which embeds an IPv4 address
        (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20),    // documentation
        (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10),    // the deprecated site-local range
    ];
    if ip.segments()[0] & 0xff00 == 0xff00 {
        Class::Multicast
    } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if reserved.iter().any(|&(net, len)| in_v6(ip, net, len)) {
        Class::Reserved
    } else if ip.segments()[0] & 0xfe00 == 0xfc00 {
        Class::Private
    } else if ip.segments()[0] & 0xe000 == 0x2000 {
        Class::Public
    } else {
        // Outside 2000::/3 nothing is assigned for unicast.
        Class::Reserved
    }
}

/// Classifies an address.
pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u32,
}

impl Cidr {
    /// Whether `ip`, or the IPv4 address an IPv6 one embeds, is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(ip, net.octets(), self.len),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(ip, net, self.len),
            (IpAddr::V4(net), IpAddr::V6(ip)) => {
                embedded_v4(ip).is_some_and(|v4| in_v4(v4, net.octets(), self.len))
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// One `--bundle-allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Addresses inside the block are allowed, whatever their class.
    Cidr(Cidr),
    /// This host (lowercase, no trailing dot) may resolve to private addresses.
    Host(String),
    /// Hosts ending in this suffix (it starts with '.') may resolve to private addresses.
    Suffix(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Cidr(c) => c.fmt(f),
            Rule::Host(h) => f.write_str(h),
            Rule::Suffix(s) => write!(f, "*{s}"),
        }
    }
}

/// A host name as it is compared: lowercase, without the trailing dot of a fully
/// qualified name.
fn normalized(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for Rule {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, `127.0.0.1` (a single address), `exact.host` or
    /// `*.suffix`.
    fn from_str(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if let Some((net, len)) = entry.split_once('/') {
            let net: IpAddr = net
                .parse()
                .map_err(|_| format!("{entry}: not a CIDR block (address/length)"))?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            let len: u32 = len
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{entry}: the prefix length must be 0 to {max}"))?;
            let cidr = Cidr { net, len };
            // Refused rather than masked: `10.1.2.3/8` is more likely a typo than a wish
            // to allow all of 10.0.0.0/8.
            let masked = Cidr {
                net: match net {
                    IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
                        u32::from(v4) & u32::MAX.checked_shl(32 - len).unwrap_or(0),
                    )),
                    IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
                        u128::from(v6) & u128::MAX.checked_shl(128 - len).unwrap_or(0),
                    )),
                },
                len,
            };
            if masked != cidr {
                return Err(format!(
                    "{entry}: bits are set after the prefix (did you mean {masked}?)"
                ));
            }
            return Ok(Rule::Cidr(cidr));
        }
        if let Ok(ip) = entry.parse::<IpAddr>() {
            let len = if ip.is_ipv4() { 32 } else { 128 };
            return Ok(Rule::Cidr(Cidr { net: ip, len }));
        }
        if let Some(suffix) = entry.strip_prefix("*.") {
            let suffix = normalized(suffix);
            if !is_host_name(&suffix) {
                return Err(format!("{entry}: `*.` must be followed by a host name"));
            }
            return Ok(Rule::Suffix(format!(".{suffix}")));
        }
        let host = normalized(entry);
        if !is_host_name(&host) {
            return Err(format!(
                "{entry:?}: not a CIDR block, an address, a host name or `*.suffix`"
            ));
        }
        Ok(Rule::Host(host))
    }
}

/// The allow-list and the rules above.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
}

impl Policy {
    pub fn new(rules: Vec<Rule>) -> Self {
        Policy { rules }
    }

    /// Why the proxy may not connect to `ip`, reached through `host` (`None` when the URL
    /// names the address itself); `None` when it may.
    pub fn refusal(&self, host: Option<&str>, ip: IpAddr) -> Option<Class> {
        let class = classify(ip);
        if class == Class::Public {
            return None;
        }
        let in_cidr = self
            .rules
            .iter()
            .any(|r| matches!(r, Rule::Cidr(c) if c.contains(ip)));
        if in_cidr {
            return None;
        }
        if class == Class::Private
            && let Some(host) = host.map(normalized)
        {
            let matched = self.rules.iter().any(|r| match r {
                Rule::Host(h) => *h == host,
                Rule::Suffix(s) => host.ends_with(s.as_str()),
                Rule::Cidr(_) => false,
            });
            if matched {
                return None;
            }
        }
        Some(class)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("none (public addresses only)");
        }
        let rules: Vec<String> = self.rules.iter().map(Rule::to_string).collect();
        f.write_str(&rules.join(","))
    }
}

/// Resolves widget hosts and returns only the addresses the [`Policy`] allows, so the HTTP
/// client connects to nothing else. The HTTP client does not call a resolver for hosts
/// that are addresses already: [`crate::bundle`] checks those itself.
pub struct Resolver {
    pub policy: Arc<Policy>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let mut allowed: Vec<SocketAddr> = Vec::new();
            let mut refused: Vec<String> = Vec::new();
            for addr in tokio::net::lookup_host((host.as_str(), 0)).await? {
                match policy.refusal(Some(&host), addr.ip()) {
                    None => allowed.push(addr),
                    Some(class) => refused.push(format!("{} ({class})", addr.ip())),
                }
            }
            if allowed.is_empty() {
                let detail = if refused.is_empty() {
                    format!("{host} resolves to no address")
                } else {
                    format!("{host} resolves to {}", refused.join(", "))
                };
                return Err(Box::new(BundleError::Refused(detail)) as _);
            }
            if !refused.is_empty() {
                tracing::debug!(%host, ?refused, "refused addresses dropped from the answer");
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The host of a URL as the `url` crate (and so the proxy) reads it: every spelling of
    /// an IPv4 address is turned into the address.
    fn url_ip(url: &str) -> IpAddr {
        match url::Url::parse(url).unwrap().host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            other => panic!("{url}: {other:?} is not an address"),
        }
    }

    #[test]
    fn every_spelling_of_an_internal_address_is_classified_by_where_it_leads() {
        let cases = [
            ("http://127.0.0.1/", Class::Loopback),
            ("http://127.1/", Class::Loopback),
            ("http://127.0.0.1./", Class::Loopback),
            ("http://2130706433/", Class::Loopback),
            ("http://0177.0.0.1/", Class::Loopback),
            ("http://0x7f.0.0.1/", Class::Loopback),
            ("http://0x7f000001/", Class::Loopback),
            ("http://127.255.255.254:8080/", Class::Loopback),
            ("http://[::1]/", Class::Loopback),
            ("http://[0:0:0:0:0:0:0:1]/", Class::Loopback),
            ("http://[::ffff:127.0.0.1]/", Class::Loopback),
            ("http://[::ffff:7f00:1]/", Class::Loopback),
            ("http://[::127.0.0.1]/", Class::Loopback),
            ("http://[64:ff9b::7f00:1]/", Class::Loopback),
            ("http://0.0.0.0/", Class::Unspecified),
            ("http://0/", Class::Unspecified),
            ("http://0.1.2.3/", Class::Unspecified),
            ("http://[::]/", Class::Unspecified),
            ("http://[::ffff:0.0.0.0]/", Class::Unspecified),
            ("http://169.254.169.254/", Class::LinkLocal),
            ("http://0xa9fea9fe/", Class::LinkLocal),
            ("http://2852039166/", Class::LinkLocal),
            ("http://[::ffff:169.254.169.254]/", Class::LinkLocal),
            ("http://[64:ff9b::a9fe:a9fe]/", Class::LinkLocal),
            ("http://[fe80::1]/", Class::LinkLocal),
            ("http://[febf::1]/", Class::LinkLocal),
            ("http://100.100.100.200/", Class::Metadata),
            ("http://168.63.129.16/", Class::Metadata),
            ("http://[fd00:ec2::254]/", Class::Metadata),
            ("http://224.0.0.1/", Class::Multicast),
            ("http://239.255.255.250/", Class::Multicast),
            ("http://[ff02::1]/", Class::Multicast),
            ("http://[::ffff:224.0.0.1]/", Class::Multicast),
            ("http://255.255.255.255/", Class::Broadcast),
            ("http://4294967295/", Class::Broadcast),
            ("http://192.0.2.1/", Class::Reserved),
            ("http://198.51.100.7/", Class::Reserved),
            ("http://203.0.113.9/", Class::Reserved),
            ("http://198.19.0.1/", Class::Reserved),
            ("http://192.0.0.170/", Class::Reserved),
            ("http://240.0.0.1/", Class::Reserved),
            ("http://[2001:db8::1]/", Class::Reserved),
            ("http://[2001::1]/", Class::Reserved),
            ("http://[2002:7f00:1::]/", Class::Reserved),
            ("http://[3fff::1]/", Class::Reserved),
            ("http://[fec0::1]/", Class::Reserved),
            ("http://[100::1]/", Class::Reserved),
            ("http://[4000::1]/", Class::Reserved),
            ("http://10.1.2.3/", Class::Private),
            ("http://012.1.2.3/", Class::Private),
            ("http://172.16.0.1/", Class::Private),
            ("http://172.31.255.255/", Class::Private),
            ("http://192.168.1.1/", Class::Private),
            ("http://100.64.0.1/", Class::Private),
            ("http://[fd12::1]/", Class::Private),
            ("http://[fc00::1]/", Class::Private),
            ("http://[::ffff:10.0.0.1]/", Class::Private),
            ("http://172.32.0.1/", Class::Public),
            ("http://100.128.0.1/", Class::Public),
            ("http://8.8.8.8/", Class::Public),
            ("http://134744072/", Class::Public),
            ("http://[2606:4700::1111]/", Class::Public),
            ("http://[::ffff:8.8.8.8]/", Class::Public),
        ];
        for (url, class) in cases {
            assert_eq!(classify(url_ip(url)), class, "{url}");
        }
    }

    #[test]
    fn without_an_allow_list_only_public_addresses_pass() {
        let policy = Policy::default();
        assert_eq!(policy.refusal(Some("cdn.example"), ip("8.8.8.8")), None);
        for (host, addr) in [
            (None, "127.0.0.1"),
            (Some("localhost"), "::1"),
            (Some("metadata.test"), "169.254.169.254"),
            (Some("w.ns.svc"), "10.96.0.10"),
            (None, "::ffff:192.168.0.1"),
            (None, "0.0.0.0"),
        ] {
            assert!(policy.refusal(host, ip(addr)).is_some(), "{host:?} {addr}");
        }
    }

    #[test]
    fn a_host_pattern_allows_private_addresses_but_never_loopback_or_metadata() {
        let rules = ["*.svc", "*.svc.cluster.local", "Widgets.Example."]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let policy = Policy::new(rules);
        for (host, addr) in [
            ("hello.sales.svc", "10.96.4.2"),
            ("hello.sales.svc.cluster.local.", "fd00:10:96::4"),
            ("HELLO.SALES.SVC", "172.20.0.3"),
            ("widgets.example", "192.168.7.7"),
            ("widgets.example", "100.64.3.3"),
        ] {
            assert_eq!(policy.refusal(Some(host), ip(addr)), None, "{host} {addr}");
        }
        for (host, addr, class) in [
            ("evil.svc", "127.0.0.1", Class::Loopback),
            ("evil.svc", "::ffff:127.0.0.1", Class::Loopback),
            ("evil.svc", "169.254.169.254", Class::LinkLocal),
            ("evil.svc", "100.100.100.200", Class::Metadata),
            ("evil.svc", "0.0.0.0", Class::Unspecified),
            ("evil.svc", "224.0.0.1", Class::Multicast),
            // The suffix matches whole labels only, and the bare suffix is not a host.
            ("evilsvc", "10.0.0.1", Class::Private),
            ("svc", "10.0.0.1", Class::Private),
            ("sub.widgets.example", "10.0.0.1", Class::Private),
        ] {
            assert_eq!(
                policy.refusal(Some(host), ip(addr)),
                Some(class),
                "{host} {addr}"
            );
        }
        assert_eq!(
            policy.refusal(None, ip("10.96.4.2")),
            Some(Class::Private),
            "a host pattern never matches an address literal"
        );
    }

    #[test]
    fn a_cidr_allows_every_address_inside_it_in_every_spelling() {
        let policy = Policy::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
            "fd00:1::/32".parse().unwrap(),
        ]);
        for addr in [
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "10.200.0.1",
            "64:ff9b::a00:1",
            "fd00:1::5",
        ] {
            assert_eq!(policy.refusal(None, ip(addr)), None, "{addr}");
        }
        for addr in [
            "127.0.0.2",
            "::1",
            "172.16.0.1",
            "fd00:2::5",
            "169.254.169.254",
        ] {
            assert_ne!(policy.refusal(None, ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn allow_list_entries_parse_or_say_why_not() {
        let ok = |s: &str| s.parse::<Rule>().unwrap().to_string();
        assert_eq!(ok("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(ok(" 127.0.0.1 "), "127.0.0.1/32");
        assert_eq!(ok("::1"), "::1/128");
        assert_eq!(ok("fd00::/8"), "fd00::/8");
        assert_eq!(ok("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(ok("*.SVC.cluster.local."), "*.svc.cluster.local");
        assert_eq!(ok("registry.dappmesh.svc"), "registry.dappmesh.svc");
        for bad in [
            "",
            "10.1.2.3/8",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/x",
            "nope/8",
            "*.",
            "*",
            "a.*.svc",
            "*.*.svc",
            "http://x.svc",
            "a..b",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad:?}");
        }
        assert!(
            "10.1.2.3/8"
                .parse::<Rule>()
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
    }
}
