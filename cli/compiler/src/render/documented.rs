//! The template context as cli/docs/render.md documents it, held against what render gives
//! templates for the bundled examples: a key added, renamed or dropped on either side fails.

use std::path::PathBuf;

use serde_json::Value;

use super::runs::{Scopes, runs};
use super::templates::{Scope, Templates};
use super::{context, product, resource};
use crate::validate::{Validated, validate_paths};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/render.md")).unwrap()
}

fn examples() -> Validated {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"));
    validate_paths(&[dir]).unwrap().validated.unwrap()
}

/// The backticked names in `text` outside parentheses (which hold values, not keys), `[]`
/// dropped; a name starting with `.` is a sibling of the one before it
/// (`platform.images.operator`, `.registry`).
fn names(text: &str) -> Vec<String> {
    let mut depth = 0usize;
    let outside: String = text
        .chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for name in outside.split('`').skip(1).step_by(2) {
        let name = name.trim_end_matches("[]");
        match (name.strip_prefix('.'), out.last()) {
            (Some(sibling), Some(before)) => {
                let parent = before.rsplit_once('.').map_or("", |(p, _)| p);
                out.push(format!("{parent}.{sibling}"));
            }
            _ => out.push(name.to_owned()),
        }
    }
    out
}

/// The keys of the first table after the line that starts with `heading`.
fn table(doc: &str, heading: &str) -> Vec<String> {
    let rest = &doc[doc.find(&format!("\n{heading}")).expect(heading)..];
    rest.lines()
        .skip_while(|l| !l.starts_with("| key"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|row| names(row.split('|').nth(1).unwrap_or_default()))
        .collect()
}

/// The backticked names after the first `: ` of the paragraph that starts with `heading`.
fn prose(doc: &str, heading: &str) -> Vec<String> {
    let rest = &doc[doc.find(&format!("\n{heading}")).expect(heading) + 1..];
    let paragraph = rest.split("\n\n").next().unwrap_or_default();
    names(paragraph.split_once(": ").expect(heading).1)
}

/// Dotted paths of the values that are not objects (or are empty ones) in `value`.
fn leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(v, &path, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

fn resolves(value: &Value, path: &str) -> bool {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .is_some()
}

/// Every leaf of every context is documented (by its path or a parent's) and every
/// documented path exists in some context.
fn agree(what: &str, documented: &[String], contexts: &[&Value]) {
    assert!(!documented.is_empty() && !contexts.is_empty(), "{what}");
    for context in contexts {
        let mut found = Vec::new();
        leaves(context, "", &mut found);
        for leaf in found {
            let covered = documented.iter().any(|d| {
                leaf == *d
                    || leaf
                        .strip_prefix(d.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            });
            assert!(covered, "{what}: `{leaf}` is not in cli/docs/render.md");
        }
    }
    for d in documented {
        assert!(
            contexts.iter().any(|c| resolves(c, d)),
            "{what}: cli/docs/render.md documents `{d}`, which render does not give"
        );
    }
}

#[test]
fn each_scope_sees_the_keys_its_row_lists() {
    let validated = examples();
    let envs: Vec<_> = validated.mesh.spec.spec.environments.iter().collect();
    let templates = Templates::load(None).unwrap();
    let scopes = Scopes::new(&validated, &envs);
    let doc = doc();
    for run in runs(&templates, &scopes) {
        let dir = match run.entry.scope {
            Scope::Platform => "platform",
            Scope::Mesh => "mesh",
            Scope::Environment => "environment",
            Scope::Domain => "domain",
            Scope::Product => unreachable!("products are not runs"),
        };
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{dir}/` |")))
            .expect(dir);
        let documented = names(row.rsplit('|').nth(1).unwrap_or_default());
        let keys: Vec<&String> = run.context.as_object().unwrap().keys().collect();
        assert_eq!(keys, documented.iter().collect::<Vec<_>>(), "{dir}/");
    }
}

#[test]
fn the_context_tables_list_every_key() {
    let validated = examples();
    let doc = doc();
    let mesh = serde_json::to_value(context::mesh(&validated.mesh.spec)).unwrap();
    agree("mesh", &table(&doc, "`mesh` (every scope)"), &[&mesh]);
    let envs: Vec<Value> = validated
        .mesh
        .spec
        .spec
        .environments
        .iter()
        .map(|e| serde_json::to_value(context::environment(e)).unwrap())
        .collect();
    agree(
        "env",
        &table(&doc, "`env` (environment"),
        &envs.iter().collect::<Vec<_>>(),
    );

    let scopes = Scopes::new(
        &validated,
        &validated
            .mesh
            .spec
            .spec
            .environments
            .iter()
            .collect::<Vec<_>>(),
    );
    let templates = Templates::load(None).unwrap();
    let runs = runs(&templates, &scopes);
    let mesh_run = runs.iter().find(|r| r.entry.scope == Scope::Mesh).unwrap();
    let domains: Vec<&Value> = mesh_run.context["domains"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    agree("domain", &prose(&doc, "`domain` and each item"), &domains);
    let env_run = runs
        .iter()
        .find(|r| r.entry.scope == Scope::Environment)
        .unwrap();
    let products: Vec<&Value> = env_run.context["products"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let summary = prose(&doc, "`products` (environment scope)");
    // Written as `[{name, domain}]`: one backticked piece.
    let summary: Vec<String> = summary
        .iter()
        .flat_map(|s| {
            s.trim_matches(['[', ']', '{', '}'])
                .split(", ")
                .map(str::to_owned)
        })
        .collect();
    agree("products", &summary, &products);

    let consumers = context::consumers(&validated);
    let by_name = context::products(&validated);
    let mut products = Vec::new();
    for env in &validated.mesh.spec.spec.environments {
        for doc in &validated.products {
            let spec = resource::spec(doc);
            let product = product::context(&validated, doc, env, &consumers, &by_name, &spec);
            products.push(serde_json::to_value(product).unwrap());
        }
    }
    agree(
        "product",
        &table(&doc, "`product` (product scope)"),
        &products.iter().collect::<Vec<_>>(),
    );
    for (list, heading) in [
        ("storage", "`product.storage[]`"),
        ("outputPorts", "`product.outputPorts[]`"),
    ] {
        let items: Vec<&Value> = products
            .iter()
            .flat_map(|p| p[list].as_array().unwrap())
            .collect();
        agree(list, &table(&doc, heading), &items);
    }
}
