//! Canonical JSON for every blob the builder writes: object keys sorted, no whitespace.
//! oci-spec keeps labels and annotations in `HashMap`s, whose order changes from run to
//! run, and a digest must not.

use serde::Serialize;
use serde_json::{Map, Value};

/// `value` as JSON with every object's keys in byte order.
pub fn canonical(value: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&sorted(serde_json::to_value(value)?))
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            // serde_json keeps insertion order here (the workspace turns on preserve_order),
            // so inserting sorted gives sorted output.
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    #[test]
    fn maps_come_out_sorted() {
        let map: HashMap<_, _> = (0..50).map(|i| (format!("k{i:02}"), i)).collect();
        let text = String::from_utf8(super::canonical(&map).unwrap()).unwrap();
        let keys: Vec<_> = text.match_indices("\"k").map(|(i, _)| i).collect();
        let mut names: Vec<_> = keys.iter().map(|&i| &text[i..i + 4]).collect();
        let in_order = names.clone();
        names.sort();
        assert_eq!(names, in_order);
    }
}
