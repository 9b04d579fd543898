//! Which URL hosts a widget or product may not name: literal loopback, link-local,
//! unspecified and cloud-metadata addresses in any spelling a URL parser accepts, and the
//! names that mean the local machine or the metadata service by definition. Whatever a
//! registration names is fetched by the dashboard on its own network, so such a host would
//! let a registry writer read the dashboard's loopback services or the cloud's credentials.
//!
//! Pure functions over text, with no URL or DNS library, so that `dappctl validate`
//! refuses what the registry refuses. Names that merely resolve to such an address are the
//! fetcher's to refuse (only it sees the resolved address).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::text::Invalid;

/// Why a host is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Loopback,
    LinkLocal,
    Unspecified,
    Metadata,
    /// Percent-escapes or non-ASCII: a URL parser decodes them before it reads the host,
    /// and this module does not, so it cannot tell what such a host names.
    Escaped,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Loopback => "a loopback address (this machine)",
            Refusal::LinkLocal => "a link-local address",
            Refusal::Unspecified => "the unspecified address (this machine)",
            Refusal::Metadata => "a cloud metadata service",
            Refusal::Escaped => "a host with percent-escapes or non-ASCII characters",
        })
    }
}

/// Metadata services outside the link-local range: Alibaba Cloud's, and Azure's wire
/// server (169.254.169.254, the usual one, is link-local already).
const METADATA_V4: [Ipv4Addr; 2] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
];

/// AWS's IPv6 metadata service.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Names of the metadata service that cloud resolvers answer for any tenant.
const METADATA_NAMES: [&str; 2] = ["metadata.google.internal", "metadata"];

/// Classifies an IP address.
pub fn refused_ip(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<Refusal> {
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if METADATA_V4.contains(&ip) || ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some(Refusal::Metadata)
    } else if ip.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if ip.octets()[0] == 0 {
        // 0.0.0.0/8 is "this network": Linux connects 0.0.0.0 to the local machine.
        Some(Refusal::Unspecified)
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if ip.is_loopback() {
        return Some(Refusal::Loopback);
    }
    if ip.is_unspecified() {
        return Some(Refusal::Unspecified);
    }
    if ip == METADATA_V6 {
        return Some(Refusal::Metadata);
    }
    if ip.segments()[0] & 0xffc0 == 0xfe80 {
        return Some(Refusal::LinkLocal);
    }
    // An IPv4 address inside an IPv6 one reaches that IPv4 address: mapped
    // (::ffff:a.b.c.d), the deprecated compatible form (::a.b.c.d) and the NAT64
    // well-known prefix (64:ff9b::a.b.c.d).
    let s = ip.segments();
    let embedded =
        (s[..5] == [0; 5] && matches!(s[5], 0 | 0xffff)) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if embedded {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return refused_v4(Ipv4Addr::new(a, b, c, d));
    }
    None
}

/// One part of a WHATWG IPv4 address: decimal, octal after a leading `0`, hexadecimal
/// after `0x`; `None` if it is not a number (or does not fit in 32 bits).
fn ipv4_number(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        // `0x` and a lone `0` are both zero.
        return (!part.is_empty()).then_some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Parses a host the way the WHATWG URL standard (and so every browser) reads an IPv4
/// address: one to four parts, each decimal, octal or hex, the last filling the remaining
/// bytes, so `127.1`, `2130706433`, `0177.0.0.1` and `0x7f.0.0.1` are all 127.0.0.1; a
/// single trailing dot is allowed. `None` for anything that is not such an address.
pub fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u32> = parts
        .iter()
        .map(|p| ipv4_number(p))
        .collect::<Option<_>>()?;
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    let last_bits = 8 * (5 - numbers.len() as u32);
    if last_bits < 32 && *last >= 1 << last_bits {
        return None;
    }
    let mut address = *last;
    for (i, &n) in init.iter().enumerate() {
        address |= n << (8 * (3 - i as u32));
    }
    Some(Ipv4Addr::from(address))
}

/// Classifies a URL's host as written between `//` and the port or path: an IPv6 literal
/// in brackets, an IPv4 address in any WHATWG spelling, or a name (case and trailing dots
/// ignored, as resolvers ignore them). `localhost` and every `*.localhost` name are the
/// local machine by definition (RFC 6761). Only plain ASCII hosts pass: see
/// [`Refusal::Escaped`].
pub fn refused_host(host: &str) -> Option<Refusal> {
    if host.contains('%') || !host.is_ascii() {
        return Some(Refusal::Escaped);
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().and_then(refused_v6);
    }
    if let Some(v4) = parse_ipv4(host) {
        return refused_v4(v4);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(Refusal::Loopback);
    }
    METADATA_NAMES
        .contains(&name.as_str())
        .then_some(Refusal::Metadata)
}

/// The host of an absolute URL's text (`scheme://[user@]host[:port]/...`), or `None` when
/// the text has no authority.
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        let end = host_port.find(']')?;
        return Some(&host_port[..=end]);
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

/// Refuses a URL (in `field`) whose host is one [`refused_host`] refuses: what the registry
/// answers and what `dappctl validate` should report, word for word.
pub fn check_url_host(field: &str, url: &str) -> Result<(), Invalid> {
    match url_host(url).and_then(refused_host) {
        Some(refusal) => Err(refusal_error(field, refusal)),
        None => Ok(()),
    }
}

/// The refusal of a URL in `field` for `refusal`.
pub fn refusal_error(field: &str, refusal: Refusal) -> Invalid {
    Invalid::new(
        field,
        format!("must not name {refusal}: the dashboard would fetch it from its own network"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!("../fixtures/hosts.json")).unwrap()
    }

    fn urls(v: &serde_json::Value) -> impl Iterator<Item = &str> {
        v.as_array().unwrap().iter().map(|u| u.as_str().unwrap())
    }

    #[test]
    fn every_spelling_of_a_local_or_metadata_host_is_refused_for_its_reason() {
        let cases = fixture();
        for (group, why) in [
            ("loopback", Refusal::Loopback),
            ("unspecified", Refusal::Unspecified),
            ("linkLocal", Refusal::LinkLocal),
            ("metadata", Refusal::Metadata),
        ] {
            for url in urls(&cases["refused"][group]) {
                assert_eq!(url_host(url).and_then(refused_host), Some(why), "{url}");
                let e = check_url_host("webComponent.jsUrl", url).unwrap_err();
                assert_eq!(e.field, "webComponent.jsUrl");
                assert!(e.reason.starts_with("must not name "), "{url}: {e}");
            }
        }
        for url in urls(&cases["accepted"]) {
            assert_eq!(check_url_host("webComponent.jsUrl", url), Ok(()), "{url}");
        }
    }

    #[test]
    fn escaped_hosts_are_refused_and_bad_numbers_are_names() {
        for host in ["127.0.0.%31", "%6c%6f%63%61%6c%68%6f%73%74", "ｌocalhost"] {
            assert_eq!(refused_host(host), Some(Refusal::Escaped), "{host}");
        }
        for host in ["1.2.3.4.5", "0x7g.0.0.1", "256.0.0.1", "08.0.0.1"] {
            assert_eq!(parse_ipv4(host), None, "{host}");
            assert_eq!(refused_host(host), None, "{host}");
        }
    }

    #[test]
    fn ipv4_numbers_follow_whatwg() {
        assert_eq!(parse_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(parse_ipv4("1.2.65535"), Some(Ipv4Addr::new(1, 2, 255, 255)));
        assert_eq!(parse_ipv4("1.2.65536"), None);
        assert_eq!(parse_ipv4("4294967295"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(parse_ipv4("4294967296"), None);
        assert_eq!(parse_ipv4("1..2"), None);
        assert_eq!(parse_ipv4(""), None);
        assert_eq!(parse_ipv4("."), None);
    }

    #[test]
    fn the_host_is_found_where_a_url_parser_finds_it() {
        assert_eq!(url_host("http://a@b@[::1]:1/"), Some("[::1]"));
        assert_eq!(url_host("http://h:1/"), Some("h"));
        assert_eq!(url_host("http://h?x/y"), Some("h"));
        assert_eq!(url_host("http://h\\@127.0.0.1/"), Some("h"));
        assert_eq!(url_host("no authority"), None);
        assert_eq!(check_url_host("u", "no authority"), Ok(()));
    }
}
