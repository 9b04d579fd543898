//! RFC 6902 JSON Patch (`application/json-patch+json`): what kube-runtime's finalizer helper
//! sends, a `test` of the finalizers as they were read followed by the change, so that a
//! concurrent edit fails instead of being overwritten.

use serde_json::Value;

use crate::status::Status;

/// Applies `patch` (an array of operations) to a copy of `object`.
pub(crate) fn apply(object: &Value, patch: &Value) -> Result<Value, Status> {
    let operations = patch
        .as_array()
        .ok_or_else(|| Status::bad_request("a JSON patch is an array of operations"))?;
    let mut result = object.clone();
    for operation in operations {
        let text = |field: &str| operation.get(field).and_then(Value::as_str);
        let path = text("path").ok_or_else(|| invalid("an operation has no path"))?;
        match text("op") {
            Some("add") => add(&mut result, path, value(operation)?)?,
            Some("remove") => {
                remove(&mut result, path)?;
            }
            Some("replace") => {
                remove(&mut result, path)?;
                add(&mut result, path, value(operation)?)?;
            }
            Some("test") => {
                // As in the Go library the real server uses: a missing value tests equal to
                // null (kube's finalizer helper tests absent finalizers that way).
                let expected = value(operation)?;
                let found = result.pointer(path).unwrap_or(&Value::Null);
                if *found != expected {
                    return Err(invalid(&format!("test failed at {path}")));
                }
            }
            Some("move" | "copy") => {
                let from = text("from").ok_or_else(|| invalid("move and copy need from"))?;
                let moved = if text("op") == Some("move") {
                    remove(&mut result, from)?
                } else {
                    result.pointer(from).cloned().ok_or_else(|| missing(from))?
                };
                add(&mut result, path, moved)?;
            }
            other => {
                return Err(invalid(&format!("unknown operation {other:?}")));
            }
        }
    }
    Ok(result)
}

fn value(operation: &Value) -> Result<Value, Status> {
    operation
        .get("value")
        .cloned()
        .ok_or_else(|| invalid("the operation has no value"))
}

fn invalid(message: &str) -> Status {
    Status::new(
        422,
        "Invalid",
        format!("the server rejected our request due to an error in our request: {message}"),
    )
}

fn missing(path: &str) -> Status {
    invalid(&format!("no value at {path}"))
}

/// The parent of `path` and the last segment, unescaped (`~1` is `/`, `~0` is `~`).
fn split(path: &str) -> Result<(&str, String), Status> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| invalid("a path starts with /"))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(root: &mut Value, path: &str, value: Value) -> Result<(), Status> {
    if path.is_empty() {
        *root = value;
        return Ok(());
    }
    let (parent, key) = split(path)?;
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key, value);
            Ok(())
        }
        Some(Value::Array(items)) if key == "-" => {
            items.push(value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| missing(path))?;
            if index > items.len() {
                return Err(missing(path));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(parent)),
    }
}

fn remove(root: &mut Value, path: &str) -> Result<Value, Status> {
    let (parent, key) = split(path)?;
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&key).ok_or_else(|| missing(path)),
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| missing(path))?;
            (index < items.len())
                .then(|| items.remove(index))
                .ok_or_else(|| missing(path))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_apply_in_order_and_a_failed_test_changes_nothing() {
        let object = json!({"metadata": {"finalizers": ["a"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
            {"op": "replace", "path": "/metadata/finalizers/0", "value": "c"},
        ]);
        assert_eq!(
            apply(&object, &patch).unwrap(),
            json!({"metadata": {"finalizers": ["c", "b"]}})
        );
        let stale = json!([{"op": "test", "path": "/metadata/finalizers", "value": []},
                           {"op": "remove", "path": "/metadata/finalizers"}]);
        assert_eq!(apply(&object, &stale).unwrap_err().body()["code"], 422);
        let absent = json!([{"op": "test", "path": "/metadata/labels", "value": null},
                            {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]);
        assert_eq!(
            apply(&object, &absent).unwrap()["metadata"]["labels"]["a"],
            "b"
        );
        let removed = json!([{"op": "remove", "path": "/metadata/finalizers/0"}]);
        assert_eq!(
            apply(&object, &removed).unwrap(),
            json!({"metadata": {"finalizers": []}})
        );
    }
}
