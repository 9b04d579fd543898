//! One invalid fixture per rule: each file in tests/fixtures/invalid/ is a small mesh that
//! breaks exactly one rule, and lists at its top the diagnostics it must produce, as
//! `# expect: <code> <line>:<column> <message>`. The test asserts the exact list.

use dappmesh_compiler::validate::validate_paths;

use super::harness::{expectations, fixtures};

#[test]
fn every_invalid_fixture_reports_exactly_what_it_expects() {
    let dir = fixtures().join("invalid");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 40,
        "expected a fixture per rule, found {}",
        entries.len()
    );
    let mut failures = Vec::new();
    for path in entries {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let expected = expectations(&text);
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let outcome = validate_paths(std::slice::from_ref(&path)).unwrap();
        let report = &outcome.report;
        let actual: Vec<String> = report
            .diagnostics
            .iter()
            .map(|d| match d.location {
                Some(l) => {
                    let file = &report.files[l.file];
                    assert_eq!(
                        file.path(),
                        path,
                        "a fixture's diagnostics point into the fixture"
                    );
                    let at = file.line_col(l.span.start);
                    format!("{} {}:{} {}", d.code, at.line, at.column, d.message)
                }
                None => format!("{} - {}", d.code, d.message),
            })
            .collect();
        if actual != expected {
            failures.push(format!(
                "{}\n  expected:\n    {}\n  actual:\n    {}",
                path.file_name().unwrap().to_string_lossy(),
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
        assert!(
            outcome.validated.is_none()
                || report
                    .diagnostics
                    .iter()
                    .all(|d| d.severity == dappmesh_compiler::diagnostic::Severity::Warning)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_catalogued_code_has_a_fixture() {
    let dir = fixtures().join("invalid");
    let all: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    let untested: Vec<&str> = dappmesh_compiler::diagnostic::CATALOG
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| {
            // These need inputs too big to keep as fixtures: the hostile tests show them.
            !matches!(
                *code,
                "internal::model"
                    | "schema::invalid"
                    | "yaml::too-large"
                    | "schema::too-many"
                    | "yaml::too-many-documents"
                    | "yaml::too-many-nodes"
                    | "report::truncated"
            )
        })
        .filter(|code| !all.contains(&format!("# expect: {code} ")))
        .collect();
    assert!(untested.is_empty(), "codes without a fixture: {untested:?}");
}

/// `dappctl validate` accepts exactly the widgets the registry stores and the dashboard
/// mounts: all three are tested against registry/api/fixtures/widgets.json.
#[test]
fn widgets_follow_the_registrys_shared_fixture() {
    let root = super::harness::repo_root();
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("registry/api/fixtures/widgets.json")).unwrap(),
    )
    .unwrap();
    let mesh = std::fs::read_to_string(fixtures().join("invalid/widget-tag.yaml")).unwrap();
    assert!(mesh.contains("      tag: revenuechart\n"));
    for (group, accepted) in [("accepted", true), ("refused", false)] {
        for case in cases[group].as_array().unwrap() {
            // JSON is YAML: the case goes in as written, quoting and escapes included.
            let widget = format!(
                "      tag: {}\n      props: {}\n",
                case["tag"], case["attributes"]
            );
            let text = mesh.replace("      tag: revenuechart\n", &widget);
            let source = dappmesh_compiler::source::SourceFile::new("case.yaml".into(), text);
            let report = dappmesh_compiler::validate::validate_texts(vec![source]).report;
            let codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
            if accepted {
                assert!(codes.is_empty(), "{case}: {codes:?}");
                continue;
            }
            assert!(!codes.is_empty(), "{case}: accepted");
            // At the tag (line 83, after `tag: `) or at the offending prop's value on line 84.
            for d in &report.diagnostics {
                let l = d.location.expect("a widget error has a place");
                let at = report.files[l.file].line_col(l.span.start);
                let place = match d.code {
                    "widget::tag" => at.line == 83 && at.column == 12,
                    "widget::attribute" => at.line == 84 && at.column > 14,
                    _ => false,
                };
                assert!(place, "{case}: {} at {}:{}", d.code, at.line, at.column);
            }
        }
    }
}
