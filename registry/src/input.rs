//! What the registry's server accepts beyond the shared rules of [`registry_api::text`]:
//! URLs held to absolute http(s) without credentials, in the spelling a browser would read
//! the same way, and request bodies parsed strictly (objects only, no duplicate keys).

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use registry_api::text::Invalid;

/// Longest URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a URL the dashboard will load or link: absolute `http://` or `https://`, a host,
/// no user name or password, printable ASCII only (anything else must be percent-encoded,
/// so that what is stored is exactly what a browser requests) and no backslash (which
/// browsers read as a slash, so it could hide where the authority ends).
pub fn check_url(field: &str, text: &str) -> Result<(), Invalid> {
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
    Ok(())
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

/// Parses a body that must be a JSON object into `T` (whose derive should deny unknown
/// fields) and into the client's own JSON, compacted but with its key order kept, which
/// is what the registry stores and echoes. Parsing `T` from the bytes, not from a parsed
/// value, is what makes a duplicate key an error.
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Box<RawValue>), BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| body_error(&e))?;
    // serde derives also accept a struct written as an array; the API speaks objects only.
    if !value.is_object() {
        return Err(Invalid::new("", "the body must be a JSON object").into());
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
}
