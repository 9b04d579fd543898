//! Block-style YAML text of a JSON value, for templates that place a whole structure (the
//! custom resource's spec, the CRD's schema) with the `toyaml` filter. Strings are written as
//! JSON strings, which YAML reads back unchanged, so no value can turn into another type.

use serde_json::Value;

/// The YAML lines of `value`, with no trailing newline; nested blocks indent by two spaces.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        other => out.push_str(&inline(other)),
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn inline(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::String(text) if plain(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Text YAML reads back as the same string without quotes: a name-like word that no YAML
/// version takes for a boolean, null or number.
fn plain(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "nan" | "inf"
        )
}

fn key(text: &str) -> String {
    if plain(text) {
        text.to_owned()
    } else {
        Value::String(text.to_owned()).to_string()
    }
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in map {
        out.push_str(&pad);
        out.push_str(&key(k));
        out.push(':');
        nested(v, indent, out);
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push('-');
        match item {
            // A mapping's first key shares the dash's line, as people write it.
            Value::Object(map) if !map.is_empty() => {
                let mut inner = String::new();
                mapping(map, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            other => nested(other, indent, out),
        }
    }
}

/// The value after `key:` or `-`: on the same line when scalar, on the lines below otherwise.
fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Limits, yaml};
    use crate::source::SourceFile;
    use serde_json::json;

    fn round_trip(value: &Value) -> Value {
        let text = to_yaml(value);
        let file = SourceFile::new("t.yaml".into(), text.clone());
        let docs: Vec<Value> = yaml::parse(&file, Limits::default()).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        docs.into_iter().next().unwrap()
    }

    #[test]
    fn values_read_back_unchanged() {
        let value = json!({
            "name": "orders",
            "yes": "no",
            "On": "Off",
            "word": "orders_raw@1.0.0",
            "nan": ".nan",
            "version": "1.0",
            "count": 3,
            "ratio": 0.5,
            "flag": true,
            "none": null,
            "empty": {},
            "list": [],
            "text": "line one\nline: two # not a comment",
            "key with space": [1, "two", {"a": [], "b": {"c": "d"}}, [3, [4]]],
            "rows": [{"name": "x", "type": "y"}, {"name": "z"}],
        });
        assert_eq!(round_trip(&value), value);
    }

    #[test]
    fn mappings_in_sequences_start_on_the_dash_line() {
        let text = to_yaml(&json!({"items": [{"name": "a", "size": 1}]}));
        assert_eq!(text, "items:\n  - name: a\n    size: 1");
    }
}
