//! What the registry accepts in ids, free text and URLs, with the limits on each.
//!
//! Everything a client sends ends up in someone's dashboard, so text is checked for the
//! characters that make it lie about itself (bidirectional overrides, invisible
//! characters, control characters) and URLs are held to absolute http(s) without
//! credentials, in the spelling a browser would read the same way.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Longest registration or product id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// A field that failed a check: where (a JSON path such as `webComponent.jsUrl`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

/// Which ids a collection takes. Product ids may be DPDS URNs, so they also allow `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Registration,
    Product,
}

/// An id is 1 to 128 bytes of `[A-Za-z0-9._-]` (and `:` for products), starting with a
/// letter or digit: safe in a URL path, a log line, a metric and a file name.
pub fn check_id(kind: IdKind, id: &str) -> Result<(), Invalid> {
    let invalid = |reason: &str| Err(Invalid::new("id", reason));
    if id.is_empty() {
        return invalid("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return invalid("must be at most 128 characters");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return invalid("must start with a letter or digit");
    }
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'_' | b'-')
            || (b == b':' && kind == IdKind::Product)
    };
    if !id.bytes().all(allowed) {
        return invalid(match kind {
            IdKind::Registration => "may contain only letters, digits, '.', '_' and '-'",
            IdKind::Product => "may contain only letters, digits, '.', '_', '-' and ':'",
        });
    }
    Ok(())
}

/// Characters that change how surrounding text is displayed or hide themselves: bidi
/// embeddings, overrides, isolates and marks (the "Trojan Source" characters), zero-width
/// characters, line and paragraph separators, the BOM, invisible tag characters (used to
/// smuggle text past a reader), Hangul fillers (blank-looking names) and noncharacters.
fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}' | '\u{FDD0}'..='\u{FDEF}')
        || (c as u32 & 0xFFFE) == 0xFFFE
}

/// Checks free text (a label, a tag, an attribute value): at most `max_chars` characters,
/// none of them control characters (NUL included) or deceptive ones.
pub fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), Invalid> {
    if text.chars().count() > max_chars {
        return Err(Invalid::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if let Some(c) = text.chars().find(|&c| c.is_control() || is_deceptive(c)) {
        return Err(Invalid::new(
            field,
            format!(
                "contains the invisible or control character U+{:04X}",
                c as u32
            ),
        ));
    }
    Ok(())
}

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

/// A JSON object of strings, in the order written, with at most `MAX` entries. Duplicate
/// keys are an error rather than "the last one wins", so that no two readers of the same
/// document can disagree about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringMap<const MAX: usize>(pub Vec<(String, String)>);

#[cfg(test)]
impl<const MAX: usize> StringMap<MAX> {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        StringMap(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl<const MAX: usize> Serialize for StringMap<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for StringMap<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MAX: usize>;
        impl<'de, const MAX: usize> Visitor<'de> for V<MAX> {
            type Value = StringMap<MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an object of at most {MAX} string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.len() == MAX {
                        return Err(de::Error::custom(format!("at most {MAX} entries")));
                    }
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!(
                            "duplicate key `{}`",
                            k.escape_default()
                        )));
                    }
                    out.push((k, v));
                }
                Ok(StringMap(out))
            }
        }
        d.deserialize_map(V::<MAX>)
    }
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

    #[test]
    fn string_maps_keep_order_and_refuse_duplicates_and_excess() {
        let m: StringMap<2> = serde_json::from_str(r#"{"b":"1","a":"2"}"#).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":"1","a":"2"}"#);
        assert!(serde_json::from_str::<StringMap<2>>(r#"{"a":"1","a":"2"}"#).is_err());
        assert!(serde_json::from_str::<StringMap<2>>(r#"{"a":"1","b":"2","c":"3"}"#).is_err());
        assert!(serde_json::from_str::<StringMap<2>>(r#"{"a":1}"#).is_err());
    }

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
    fn ids() {
        for ok in ["w", "widget-one", "team.a_b-1", &"a".repeat(128)] {
            assert_eq!(check_id(IdKind::Registration, ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-w",
            ".hidden",
            "..",
            "a/b",
            "a b",
            "a%2Fb",
            "wé",
            "a\0",
            "urn:x",
            &"a".repeat(129),
        ] {
            assert!(check_id(IdKind::Registration, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_id(IdKind::Product, "urn:dpds:acme:dataproducts:sales-orders:2"),
            Ok(())
        );
        assert!(check_id(IdKind::Product, ":x").is_err());
    }

    #[test]
    fn text_rejects_unicode_tricks() {
        assert_eq!(check_text("label", "Revenue (€) 📈 日本", 64), Ok(()));
        for bad in [
            "a\u{0}b",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            "evil\u{202E}gpj.exe",
            "a\u{2066}b",
            "a\u{200B}b",
            "\u{FEFF}a",
            "a\u{E0041}",
            "\u{3164}",
            "a\u{FFFF}",
            "a\u{1FFFE}",
            "a\u{2028}b",
        ] {
            let err = check_text("label", bad, 64).unwrap_err();
            assert_eq!(err.field, "label");
            assert!(err.reason.contains("U+"), "{bad:?}: {err}");
        }
        assert!(check_text("label", &"é".repeat(65), 64).is_err());
        assert_eq!(check_text("label", &"é".repeat(64), 64), Ok(()));
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
