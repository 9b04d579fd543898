//! The sarif format: SARIF 2.1.0, as GitHub code scanning accepts it (one run, the rules the
//! results use, relative artifact URIs, one-based regions).

use serde_json::{Value, json};

use super::{Place, full_message};
use crate::diagnostic::{CATALOG, Severity, describe};
use crate::validate::Report;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub(super) fn render(report: &Report) -> String {
    let mut used: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
    used.sort_by_key(|code| CATALOG.iter().position(|(c, _)| c == code));
    used.dedup();
    let rules: Vec<Value> = used
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "name": code.replace("::", "/"),
                "shortDescription": { "text": describe(code).unwrap_or(code) },
                "helpUri": format!("{}/blob/main/cli/docs/diagnostics.md", env!("CARGO_PKG_REPOSITORY")),
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": used.iter().position(|c| *c == d.code),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": full_message(d) },
            });
            if let Some(location) = d.location {
                let place = Place::of(report, location);
                result["locations"] = json!([physical(&place, d.label.as_deref())]);
            }
            if !d.related.is_empty() {
                result["relatedLocations"] = d
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let mut location = physical(&Place::of(report, r.location), Some(&r.label));
                        location["id"] = json!(i);
                        location
                    })
                    .collect();
            }
            result
        })
        .collect();
    let document = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "dappctl",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
    text.push('\n');
    text
}

fn physical(place: &Place<'_>, label: Option<&str>) -> Value {
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": place.uri() },
            "region": {
                "startLine": place.start.line,
                "startColumn": place.start.column,
                "endLine": place.end.line,
                "endColumn": place.end.column,
                "snippet": { "text": place.snippet() },
            }
        }
    });
    if let Some(label) = label {
        location["message"] = json!({ "text": label });
    }
    location
}
