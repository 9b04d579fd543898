//! The `DataProduct` CustomResourceDefinition's schema, derived from schemas/ so the cluster
//! holds a resource to the same shape `dappctl validate` does. Kubernetes wants a *structural*
//! OpenAPI v3 schema: every node typed, no `$ref`, no type unions, no `additionalProperties`
//! beside `properties`. What it cannot express (formats of our own, `oneOf` alternatives,
//! `not`) stays with `dappctl validate` and the operator.

use serde_json::{Map, Value, json};

use crate::schema::{Kind, bundle};

/// Keywords a structural schema keeps as they are.
const KEPT: [&str; 10] = [
    "description",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "required",
];

/// The lists whose items `dappctl validate` holds unique by a key (rules/names.rs), as paths
/// under the resource's spec (`*` stands for every item of a list). The cluster is told
/// too, with `x-kubernetes-list-type: map`, so it refuses the same duplicates and
/// server-side apply merges these lists item by item instead of replacing them whole.
pub const KEYED_LISTS: [(&str, &[&str]); 11] = [
    ("dataAtRest.schemas", &["name", "version"]),
    ("dataAtRest.schemas.*.properties", &["name"]),
    ("dataInMotion.flow", &["id"]),
    ("dataInMotion.workflows", &["name"]),
    ("dataInUse.inputPorts", &["name"]),
    ("dataInUse.outputPorts", &["name"]),
    ("governance.roles", &["name"]),
    ("governance.secrets", &["name"]),
    ("processing.pipelines", &["name"]),
    ("storage", &["name"]),
    ("widgets", &["name"]),
];

/// `openAPIV3Schema` for DataProduct: the product's metadata fields (but its name and labels,
/// which Kubernetes metadata holds) and its spec, side by side under `spec`.
pub fn dataproduct_schema() -> Value {
    let document = bundle(Kind::DataProduct);
    let root = |pointer: &str| {
        let node = document
            .pointer(pointer)
            .expect("the DataProduct schema has metadata and spec (checked by tests)");
        structural(&document, node, 0)
    };
    let meta = root("/properties/metadata");
    let spec = root("/properties/spec");

    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    for part in [&meta, &spec] {
        if let Some(Value::Object(fields)) = part.get("properties") {
            for (key, value) in fields {
                if key != "name" && key != "labels" {
                    properties.insert(key.clone(), value.clone());
                }
            }
        }
        if let Some(Value::Array(names)) = part.get("required") {
            required.extend(names.iter().filter(|n| *n != "name").cloned());
        }
    }
    for (path, keys) in KEYED_LISTS {
        mark_keyed(&mut properties, path, keys);
    }
    json!({
        "type": "object",
        "description": document.get("description"),
        "required": ["spec"],
        "properties": {
            "apiVersion": { "type": "string" },
            "kind": { "type": "string" },
            "metadata": { "type": "object" },
            "spec": {
                "type": "object",
                "description": "The data product as written in the mesh: its domain, version, owner and status beside what it holds, moves and serves.",
                "required": required,
                "properties": properties,
            },
            "status": {
                "type": "object",
                "description": "Written by the operator: conditions (Ready, Reconciling, Stalled), observedGeneration, children and endpoints.",
                "x-kubernetes-preserve-unknown-fields": true,
            },
        },
    })
}

fn structural(document: &Value, node: &Value, depth: usize) -> Value {
    // Our schemas are not recursive; the bound only keeps a future mistake from looping.
    if depth > 32 {
        return json!({ "x-kubernetes-preserve-unknown-fields": true });
    }
    let Some(object) = node.as_object() else {
        return json!({ "x-kubernetes-preserve-unknown-fields": true });
    };
    if let Some(target) = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| document.pointer(p))
    {
        let mut resolved = structural(document, target, depth + 1);
        if let (Some(d), Value::Object(map)) = (object.get("description"), &mut resolved) {
            map.insert("description".into(), d.clone());
        }
        return resolved;
    }

    let mut out = Map::new();
    let type_name = match (object.get("type"), object.get("const")) {
        (Some(Value::String(t)), _) => Some(t.clone()),
        (None, Some(Value::String(_))) => Some("string".into()),
        (None, Some(Value::Number(_))) => Some("number".into()),
        (None, Some(Value::Bool(_))) => Some("boolean".into()),
        (None, None) if object.contains_key("properties") => Some("object".into()),
        (None, None) => object
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|values| enum_type(values))
            .map(str::to_owned),
        _ => None,
    };
    let Some(type_name) = type_name else {
        // A union of types or an unconstrained value: the cluster keeps it as written.
        let mut free = Map::new();
        if let Some(d) = object.get("description") {
            free.insert("description".into(), d.clone());
        }
        free.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
        return Value::Object(free);
    };
    out.insert("type".into(), json!(type_name));
    for key in KEPT {
        if let Some(v) = object.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(c) = object.get("const") {
        out.insert("enum".into(), json!([c]));
    }
    if let Some(Value::Object(props)) = object.get("properties") {
        let converted: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), structural(document, v, depth + 1)))
            .collect();
        out.insert("properties".into(), Value::Object(converted));
    } else if type_name == "object" {
        match object.get("additionalProperties") {
            Some(schema @ Value::Object(_)) => {
                out.insert(
                    "additionalProperties".into(),
                    structural(document, schema, depth + 1),
                );
            }
            _ => {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            }
        }
    }
    if let Some(items) = object.get("items") {
        out.insert("items".into(), structural(document, items, depth + 1));
    }
    Value::Object(out)
}

/// Marks the list at `path` (below `properties`) as a map keyed by `keys`. Kubernetes takes
/// only keys every item must have: a key the schema does not require is left out, and with
/// none left the list stays atomic (the tests catch either).
fn mark_keyed(properties: &mut Map<String, Value>, path: &str, keys: &[&str]) {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else { return };
    let mut node = properties.get_mut(first);
    for segment in segments {
        node = match (segment, node) {
            ("*", Some(list)) => list.get_mut("items"),
            (name, Some(object)) => object.get_mut("properties").and_then(|p| p.get_mut(name)),
            (_, None) => None,
        };
    }
    let Some(Value::Object(list)) = node else {
        return;
    };
    let required: Vec<&str> = list
        .get("items")
        .and_then(|i| i.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keys: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| required.contains(k))
        .collect();
    if !keys.is_empty() {
        list.insert("x-kubernetes-list-type".into(), json!("map"));
        list.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
}

/// The one JSON type every value of an `enum` has, if they share one.
fn enum_type(values: &[Value]) -> Option<&'static str> {
    let type_of = |v: &Value| match v {
        Value::String(_) => Some("string"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("boolean"),
        _ => None,
    };
    let first = type_of(values.first()?)?;
    values
        .iter()
        .all(|v| type_of(v) == Some(first))
        .then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(node: &Value, path: &str, problems: &mut Vec<String>) {
        let Some(map) = node.as_object() else { return };
        for forbidden in [
            "$ref",
            "oneOf",
            "anyOf",
            "not",
            "uniqueItems",
            "format",
            "const",
        ] {
            if map.contains_key(forbidden) {
                problems.push(format!("{path}: {forbidden}"));
            }
        }
        let free = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
        if !map.contains_key("type") && !free {
            problems.push(format!("{path}: no type"));
        }
        if map.contains_key("properties") && map.contains_key("additionalProperties") {
            problems.push(format!("{path}: properties beside additionalProperties"));
        }
        if let Some(Value::Object(props)) = map.get("properties") {
            for (k, v) in props {
                walk(v, &format!("{path}.{k}"), problems);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(v) = map.get(key) {
                walk(v, &format!("{path}[{key}]"), problems);
            }
        }
    }

    #[test]
    fn lists_validate_keeps_unique_are_maps_by_their_required_keys() {
        let schema = dataproduct_schema();
        let spec = &schema["properties"]["spec"];
        for (path, keys) in KEYED_LISTS {
            let mut node = spec;
            for segment in path.split('.') {
                node = match segment {
                    "*" => &node["items"],
                    name => &node["properties"][name],
                };
            }
            assert_eq!(node["type"], "array", "{path}");
            assert_eq!(node["x-kubernetes-list-type"], "map", "{path}");
            assert_eq!(node["x-kubernetes-list-map-keys"], json!(keys), "{path}");
            for key in keys {
                let required = node["items"]["required"].as_array();
                assert!(
                    required.is_some_and(|r| r.contains(&json!(key))),
                    "{path}: {key} must be required to key the list"
                );
            }
        }
    }

    #[test]
    fn the_schema_is_structural() {
        let schema = dataproduct_schema();
        let mut problems = Vec::new();
        walk(&schema, "", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        let spec = &schema["properties"]["spec"];
        for field in ["domain", "version", "owner", "dataAtRest", "dataInUse"] {
            assert!(spec["properties"].get(field).is_some(), "{field}");
        }
        assert!(spec["properties"].get("name").is_none());
        assert!(
            spec["required"]
                .as_array()
                .unwrap()
                .contains(&json!("dataAtRest"))
        );
    }
}
