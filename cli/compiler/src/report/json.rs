//! The json format: one document, stable and documented in docs/json-format.md. Fields are
//! only ever added; `version` changes if one is removed or changes meaning.

use serde_json::{Value, json};

use super::{Place, display_path};
use crate::diagnostic::Severity;
use crate::validate::Report;

pub(super) fn render(report: &Report, strict: bool) -> String {
    let diagnostics: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut entry = json!({
                "code": d.code,
                "severity": d.severity.as_str(),
                "message": d.message,
            });
            if let Some(location) = d.location {
                let place = Place::of(report, location);
                entry["file"] = json!(place.path);
                entry["line"] = json!(place.start.line);
                entry["column"] = json!(place.start.column);
                entry["endLine"] = json!(place.end.line);
                entry["endColumn"] = json!(place.end.column);
            }
            if let Some(label) = &d.label {
                entry["label"] = json!(label);
            }
            if let Some(help) = &d.help {
                entry["help"] = json!(help);
            }
            if !d.related.is_empty() {
                entry["related"] = d
                    .related
                    .iter()
                    .map(|r| {
                        let place = Place::of(report, r.location);
                        json!({
                            "file": place.path,
                            "line": place.start.line,
                            "column": place.start.column,
                            "label": r.label,
                        })
                    })
                    .collect();
            }
            entry
        })
        .collect();
    let document = json!({
        "version": 1,
        "valid": !report.fails(strict),
        "summary": {
            "files": report.files.len(),
            "documents": report.documents,
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
        },
        "files": report.files.iter().map(|f| display_path(f.path())).collect::<Vec<_>>(),
        "diagnostics": diagnostics,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
    text.push('\n');
    text
}
