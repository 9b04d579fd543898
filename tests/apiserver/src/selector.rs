//! Which objects a list or watch asks for: its namespace, its label selector (`k=v`, `k!=v`,
//! `k in (a,b)`, `!k`, …) and its field selector (`metadata.name`, `metadata.namespace`).

use std::collections::HashMap;

use serde_json::Value;

use crate::status::Status;

enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

pub(crate) struct Filter {
    namespace: Option<String>,
    labels: Vec<(String, Op)>,
    /// (field path, must equal, value)
    fields: Vec<(String, bool, String)>,
}

impl Filter {
    pub(crate) fn parse(
        namespace: Option<&str>,
        query: &HashMap<String, String>,
    ) -> Result<Self, Status> {
        let mut filter = Filter {
            namespace: namespace.map(String::from),
            labels: vec![],
            fields: vec![],
        };
        for term in split(query.get("labelSelector").map_or("", String::as_str)) {
            let requirement = requirement(term).ok_or_else(|| {
                Status::bad_request(format!("unable to parse requirement: {term:?}"))
            })?;
            filter.labels.push(requirement);
        }
        for term in split(query.get("fieldSelector").map_or("", String::as_str)) {
            let (field, equal, value) = match (term.split_once("!="), term.split_once("==")) {
                (Some((f, v)), _) => (f, false, v),
                (_, Some((f, v))) => (f, true, v),
                _ => match term.split_once('=') {
                    Some((f, v)) => (f, true, v),
                    None => return Err(Status::bad_request(format!("invalid selector: {term:?}"))),
                },
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(Status::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            filter
                .fields
                .push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(filter)
    }

    pub(crate) fn matches(&self, object: &Value) -> bool {
        let meta = &object["metadata"];
        let namespace = meta["namespace"].as_str().unwrap_or_default();
        if self.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            return false;
        }
        let fields_match = self.fields.iter().all(|(field, equal, value)| {
            let actual = if field == "metadata.name" {
                meta["name"].as_str()
            } else {
                Some(namespace)
            };
            (actual.unwrap_or_default() == value) == *equal
        });
        let labels_match = self.labels.iter().all(|(key, op)| {
            let label = meta["labels"][key.as_str()].as_str();
            match op {
                Op::In(values) => label.is_some_and(|l| values.iter().any(|v| v == l)),
                Op::NotIn(values) => label.is_none_or(|l| values.iter().all(|v| v != l)),
                Op::Exists => label.is_some(),
                Op::NotExists => label.is_none(),
            }
        });
        fields_match && labels_match
    }
}

/// Splits at the commas between requirements, not those inside `in (a,b)`.
fn split(selector: &str) -> Vec<&str> {
    let (mut terms, mut depth, mut start) = (vec![], 0i32, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn requirement(term: &str) -> Option<(String, Op)> {
    let valid = |key: &str| {
        !key.is_empty() && !key.contains(|c: char| c.is_whitespace() || "!=(),".contains(c))
    };
    if let Some(key) = term.strip_prefix('!') {
        let key = key.trim();
        return valid(key).then(|| (key.to_string(), Op::NotExists));
    }
    if let Some(open) = term.find('(') {
        let values = term[open + 1..].strip_suffix(')')?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        let mut head = term[..open].split_whitespace();
        let (key, op) = (head.next()?, head.next()?);
        let op = match op {
            "in" => Op::In(values),
            "notin" => Op::NotIn(values),
            _ => return None,
        };
        return (head.next().is_none() && valid(key)).then(|| (key.to_string(), op));
    }
    let (key, op) = match (term.split_once("!="), term.split_once("==")) {
        (Some((k, v)), _) => (k, Op::NotIn(vec![v.trim().to_string()])),
        (_, Some((k, v))) => (k, Op::In(vec![v.trim().to_string()])),
        _ => match term.split_once('=') {
            Some((k, v)) => (k, Op::In(vec![v.trim().to_string()])),
            None => (term, Op::Exists),
        },
    };
    let key = key.trim();
    valid(key).then(|| (key.to_string(), op))
}
