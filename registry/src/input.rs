//! What the registry's server accepts beyond the shared rules of [`registry_api::text`]:
//! URLs held to absolute http(s) without credentials, in the spelling a browser would read
//! the same way, never naming this machine or a metadata service, and request bodies parsed
//! strictly (objects only, no duplicate keys).

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use registry_api::address::{check_url_host, refusal_error, refused_host, refused_ip};
use registry_api::text::Invalid;
use url::Host;

/// Longest URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a URL the dashboard will load or link: absolute `http://` or `https://`, a host,
/// no user name or password, printable ASCII only (anything else must be percent-encoded,
/// so that what is stored is exactly what a browser requests) and no backslash (which
/// browsers read as a slash, so it could hide where the authority ends).
pub fn check_url(field: &str, text: &str) -> Result<(), Invalid> {
    parse_url(field, text).map(drop)
}

fn parse_url(field: &str, text: &str) -> Result<url::Url, Invalid> {
    let invalid = |reason: &str| Err(Invalid::new(field, reason));
    if text.len() > MAX_URL_LEN {
        return invalid("must be at most 2048 characters");
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return invalid(
            "must be printable ASCII without spaces or backslashes (percent-encode the rest)",
        );
    }
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return invalid("must be an absolute http:// or https:// URL");
    }
    // `https:///x` would be read as https://x/: the host must be spelled where it is read.
    let scheme_len = if lower.starts_with("https") { 8 } else { 7 };
    if text[scheme_len..].starts_with('/') {
        return invalid("must name a host");
    }
    let Ok(url) = url::Url::parse(text) else {
        return invalid("is not a valid URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return invalid("must be an absolute http:// or https:// URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid("must not contain credentials");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return invalid("must name a host");
    }
    Ok(url)
}

/// Checks a URL that a widget or product registers for others to fetch (a bundle, a
/// stylesheet, an endpoint, a contract): [`check_url`], and its host is not a loopback,
/// link-local, unspecified or metadata address or name ([`registry_api::address`]). The
/// host is judged both as written (what `dappctl validate` sees) and as the WHATWG parser
/// reads it (what the dashboard connects to). A CORS origin, which only names the
/// browser's page, is held to [`check_url`] alone: a dashboard on localhost is fine.
pub fn check_remote_url(field: &str, text: &str) -> Result<(), Invalid> {
    let url = parse_url(field, text)?;
    let refusal = match url.host() {
        Some(Host::Domain(name)) => refused_host(name),
        Some(Host::Ipv4(ip)) => refused_ip(ip.into()),
        Some(Host::Ipv6(ip)) => refused_ip(ip.into()),
        None => None,
    };
    if let Some(refusal) = refusal {
        return Err(refusal_error(field, refusal));
    }
    if let Some(Host::Domain(name)) = url.host()
        && !is_dns_name(name)
    {
        return Err(Invalid::new(
            field,
            "must name its host by a DNS name (letters, digits, '-' and '_' in dot-separated labels) or an IP address",
        ));
    }
    check_url_host(field, text)
}

/// A host name a resolver can look up: labels of `[a-z0-9_-]` (the WHATWG parser has
/// lowercased it), none empty but a last one after a trailing dot. The parser itself also
/// takes names such as `a*b` or `a..b`, which no resolver answers for.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
    })
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all (a 400).
    Syntax(String),
    /// JSON, but not a document this endpoint accepts (a 422).
    Invalid(Invalid),
}

impl From<Invalid> for BodyError {
    fn from(e: Invalid) -> Self {
        BodyError::Invalid(e)
    }
}

/// Longest error detail repeated back to a client, in characters: serde names the
/// offending key, and a key can be as long as the body.
const MAX_DETAIL: usize = 200;

fn shorten(text: String) -> String {
    if text.chars().count() <= MAX_DETAIL {
        return text;
    }
    let mut short: String = text.chars().take(MAX_DETAIL).collect();
    short.push('…');
    short
}

fn body_error(e: &serde_json::Error) -> BodyError {
    let detail = shorten(e.to_string());
    match e.classify() {
        serde_json::error::Category::Data => BodyError::Invalid(Invalid::new("", detail)),
        _ => BodyError::Syntax(detail),
    }
}

/// The first `null` in a document, by its JSON path (`webComponent.cssUrl`, `tags.k`,
/// `outputPorts[0].endpoint`). No field of a registry document takes `null`: an optional
/// field is left out. Accepting `null` as "absent" would store and serve it back where the
/// schema promises a string or an object.
fn first_null(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => Some(path.to_owned()),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            first_null(v, &at)
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_null(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// Parses a body that must be a JSON object into `T` (whose derive should deny unknown
/// fields) and into the client's own JSON, compacted but with its key order kept, which
/// is what the registry stores and echoes. Parsing `T` from the bytes, not from a parsed
/// value, is what makes a duplicate key an error. `null` is refused anywhere.
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Box<RawValue>), BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| body_error(&e))?;
    // serde derives also accept a struct written as an array; the API speaks objects only.
    if !value.is_object() {
        return Err(Invalid::new("", "the body must be a JSON object").into());
    }
    if let Some(path) = first_null(&value, "") {
        let field = shorten(path);
        return Err(Invalid::new(field, "must not be null: leave an optional field out").into());
    }
    let typed: T = serde_json::from_slice(body).map_err(|e| body_error(&e))?;
    let compact = serde_json::to_string(&value).map_err(|e| body_error(&e))?;
    let raw = RawValue::from_string(compact).map_err(|e| body_error(&e))?;
    Ok((typed, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        a: Option<String>,
    }

    #[test]
    fn bodies_are_objects_without_duplicates_or_strangers() {
        let (doc, raw) = parse_object::<Doc>(b" { \"a\" : \"x\" } ").unwrap();
        assert_eq!(doc.a.as_deref(), Some("x"));
        assert_eq!(raw.get(), r#"{"a":"x"}"#);
        assert!(matches!(
            parse_object::<Doc>(b"{"),
            Err(BodyError::Syntax(_))
        ));
        assert!(matches!(
            parse_object::<Doc>(b""),
            Err(BodyError::Syntax(_))
        ));
        assert!(matches!(
            parse_object::<Doc>(b"[null]"),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            parse_object::<Doc>(br#"{"a":"x","a":"y"}"#),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            parse_object::<Doc>(br#"{"b":1}"#),
            Err(BodyError::Invalid(_))
        ));
        let Err(BodyError::Invalid(e)) = parse_object::<Doc>(br#"{"a":null}"#) else {
            panic!("null accepted");
        };
        assert_eq!(e.field, "a");
        let nested: &[u8] = br#"{"a":"x","b":{"c":[1,{"d":null}]}}"#;
        let Err(BodyError::Invalid(e)) = parse_object::<serde_json::Value>(nested) else {
            panic!("nested null accepted");
        };
        assert_eq!(e.field, "b.c[1].d");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse_object::<Doc>(deep.as_bytes()),
            Err(BodyError::Syntax(_))
        ));
        let long_key = format!(r#"{{"{}":1}}"#, "k".repeat(10_000));
        let Err(BodyError::Invalid(e)) = parse_object::<Doc>(long_key.as_bytes()) else {
            panic!("long unknown key accepted");
        };
        assert!(e.reason.chars().count() <= MAX_DETAIL + 1);
    }

    #[test]
    fn urls_are_http_without_credentials() {
        for ok in [
            "http://w.ns/bundle.js",
            "https://cdn.example.com:8443/a/b.css?v=1#x",
            "HTTPS://EXAMPLE.COM/",
            "http://[::1]:8080/x.js",
        ] {
            assert_eq!(check_url("u", ok), Ok(()), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/javascript,alert(1)",
            "vbscript:x",
            "//evil.example/x.js",
            "/relative.js",
            "http:evil.example",
            "http:/evil.example",
            "http://user:pw@evil.example/",
            "http://user@evil.example/",
            "http://good\\@evil.example/",
            "http://exa mple.com/",
            "http://bücher.example/",
            "ftp://x/y",
            "http://",
            "https:///x",
            &format!("http://e.com/{}", "a".repeat(2048)),
        ] {
            assert!(check_url("u", bad).is_err(), "{bad:?}");
        }
    }

    /// The shared list, through the url crate's parsing of each spelling: what the
    /// dashboard would connect to is refused, and for the same reason `dappctl validate`
    /// gives from the text alone.
    #[test]
    fn urls_naming_this_machine_or_a_metadata_service_are_refused() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../api/fixtures/hosts.json")).unwrap();
        let urls = |v: &serde_json::Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        for (group, list) in cases["refused"].as_object().unwrap() {
            for url in urls(list) {
                assert_eq!(check_url("webComponent.jsUrl", &url), Ok(()), "{url}");
                let e = check_remote_url("webComponent.jsUrl", &url).unwrap_err();
                assert_eq!(e.field, "webComponent.jsUrl", "{url}");
                assert_eq!(
                    Err(e),
                    check_url_host("webComponent.jsUrl", &url),
                    "{group}: {url}"
                );
            }
        }
        for url in urls(&cases["accepted"]) {
            assert_eq!(
                check_remote_url("webComponent.jsUrl", &url),
                Ok(()),
                "{url}"
            );
        }
    }

    #[test]
    fn hosts_are_names_a_resolver_can_look_up() {
        for url in [
            "http://a*b/x.js",
            "http://a..b/x.js",
            "http://a!.b/",
            "http://0.0.0.0.0.a*/",
        ] {
            assert!(check_url("u", url).is_ok(), "{url}");
            assert!(check_remote_url("u", url).is_err(), "{url}");
        }
        assert_eq!(check_remote_url("u", "http://Cdn_1.Example./b.js"), Ok(()));
    }

    proptest::proptest! {
        /// registry-api's reading of IPv4 numbers is the url crate's (the WHATWG one).
        #[test]
        fn ipv4_spellings_are_read_as_the_url_crate_reads_them(
            host in "((0[xX][0-9a-fA-F]{0,9}|0[0-7]{0,12}|[0-9]{1,11})\\.){0,4}(0[xX][0-9a-fA-F]{0,9}|0[0-7]{0,12}|[0-9]{1,11})\\.?"
        ) {
            let parsed = url::Url::parse(&format!("http://{host}/")).ok();
            let by_url = parsed.as_ref().and_then(|u| match u.host() {
                Some(Host::Ipv4(ip)) => Some(ip),
                _ => None,
            });
            let ours = registry_api::address::parse_ipv4(&host);
            if parsed.is_some() {
                proptest::prop_assert_eq!(ours, by_url, "{}", host);
            } else {
                proptest::prop_assert_eq!(ours, None, "{}", host);
            }
        }
    }
}
