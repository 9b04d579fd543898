//! What a registry accepts in ids and free text, with the limits on each, and the string
//! map attributes are kept in: the rules every reader and writer of the registry shares.
//!
//! Everything a client sends ends up in someone's dashboard, so text is checked for the
//! characters that make it lie about itself (bidirectional overrides, invisible
//! characters, control characters).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Longest registration or product id, in bytes.
pub const MAX_ID_LEN: usize = 128;

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
pub fn is_deceptive(c: char) -> bool {
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

/// A JSON object of strings, in the order written, with at most `MAX` entries. Duplicate
/// keys are an error rather than "the last one wins", so that no two readers of the same
/// document can disagree about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringMap<const MAX: usize>(pub Vec<(String, String)>);

impl<const MAX: usize> StringMap<MAX> {
    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A map of these pairs, in this order (unchecked: for building, not for parsing).
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
}
