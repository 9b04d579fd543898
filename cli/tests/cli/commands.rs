//! The commands as a user runs them: exit codes, default paths, init, schema, determinism.

use super::harness::{TempDir, assert_exit, repo_root, run};

const WARNING_ONLY: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n";

#[test]
fn validate_accepts_the_bundled_examples_with_no_warning() {
    let out = run(&["validate", "--strict", "examples"], &repo_root());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "valid: 13 documents in 9 files\n");
}

#[test]
fn validate_defaults_to_the_current_directory() {
    let out = run(&["validate"], &repo_root().join("examples"));
    assert_exit(&out, 0);
}

#[test]
fn a_missing_path_is_an_io_error_with_exit_2() {
    let dir = TempDir::new("missing");
    let out = run(&["validate", "no-such-dir"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read `no-such-dir`"), "{stderr}");
}

#[test]
fn a_usage_error_exits_2() {
    let dir = TempDir::new("usage");
    let out = run(&["validate", "--format", "xml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'xml'"));
}

#[test]
fn an_empty_directory_has_no_mesh() {
    let dir = TempDir::new("empty");
    let out = run(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no Mesh document found"));
}

#[test]
fn warnings_fail_only_with_strict() {
    let dir = TempDir::new("strict");
    std::process::Command::new("cp")
        .args(["-r", "examples/.", dir.path().to_str().unwrap()])
        .current_dir(repo_root())
        .status()
        .unwrap();
    dir.write("k8s/configmap.yaml", WARNING_ONLY);
    let lenient = run(&["validate"], dir.path());
    let stdout = String::from_utf8_lossy(&lenient.stdout);
    assert_eq!(lenient.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("load::foreign-document"), "{stdout}");
    assert!(
        stdout.ends_with("valid: 14 documents in 10 files, with 1 warning\n"),
        "{stdout}"
    );
    let strict = run(&["validate", "--strict"], dir.path());
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stdout).contains("(warnings fail with --strict)"));
}

#[test]
fn hidden_directories_are_not_searched() {
    let dir = TempDir::new("hidden");
    let out = run(&["init"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    dir.write(".github/workflows/ci.yml", "on: push\njobs: {}\n");
    let out = run(&["validate"], dir.path());
    assert_exit(&out, 0);
}

#[test]
fn output_is_byte_for_byte_deterministic() {
    let root = repo_root();
    let fixtures = "cli/tests/fixtures/invalid";
    for format in ["human", "json", "sarif", "github"] {
        let first = run(
            &["validate", "--format", format, fixtures, "examples"],
            &root,
        );
        let second = run(
            &["validate", "--format", format, fixtures, "examples"],
            &root,
        );
        assert_eq!(first.status.code(), Some(1));
        assert!(!first.stdout.is_empty());
        assert_eq!(
            first.stdout, second.stdout,
            "{format} output differs between runs"
        );
    }
}

#[test]
fn init_scaffolds_a_mesh_that_validates_and_never_overwrites() {
    let dir = TempDir::new("init");
    let target = dir.path().join("Acme Mesh");
    let out = run(&["init", target.to_str().unwrap()], dir.path());
    assert_exit(&out, 0);
    let mesh = std::fs::read_to_string(target.join("mesh.yaml")).unwrap();
    assert!(mesh.contains("name: acme-mesh"), "{mesh}");
    let out = run(
        &["validate", "--strict", target.to_str().unwrap()],
        dir.path(),
    );
    assert_exit(&out, 0);

    std::fs::write(target.join("mesh.yaml"), "mine").unwrap();
    let again = run(&["init", target.to_str().unwrap()], dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("init::exists"));
    assert_eq!(
        std::fs::read_to_string(target.join("mesh.yaml")).unwrap(),
        "mine"
    );
}

#[test]
fn schema_prints_one_self_contained_kind() {
    let out = run(&["schema", "dataproduct"], &repo_root());
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "DataProduct");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("defs.schema.json#"),
        "references must be local"
    );
    assert!(schema["$defs"]["semver"].is_object());
}

#[test]
fn schema_out_writes_every_kind_and_matches_stdout() {
    let dir = TempDir::new("schema-out");
    let out = run(&["schema", "--out", "editor"], dir.path());
    assert_exit(&out, 0);
    for (kind, file) in [
        ("Mesh", "mesh"),
        ("Domain", "domain"),
        ("DataProduct", "dataproduct"),
    ] {
        let written = std::fs::read(dir.path().join(format!("editor/{file}.schema.json"))).unwrap();
        let printed = run(&["schema", kind], dir.path()).stdout;
        assert_eq!(written, printed, "{kind}");
    }
}

#[test]
fn schema_needs_a_kind_or_a_directory() {
    let dir = TempDir::new("schema-usage");
    let out = run(&["schema"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_diagnostics_doc_lists_every_code() {
    let doc = std::fs::read_to_string(repo_root().join("cli/docs/diagnostics.md")).unwrap();
    let table = doc
        .split("<!-- codes:start -->\n")
        .nth(1)
        .and_then(|rest| rest.split("<!-- codes:end -->").next())
        .expect("the doc has a codes section");
    let expected: String = std::iter::once("| code | meaning |\n|---|---|\n".to_owned())
        .chain(
            dappmesh_compiler::diagnostic::CATALOG
                .iter()
                .map(|(c, d)| format!("| `{c}` | {d} |\n")),
        )
        .collect();
    assert_eq!(
        table, expected,
        "cli/docs/diagnostics.md is out of date with diagnostic::CATALOG"
    );
}

/// The command-error table of cli/docs/diagnostics.md, as (code, meaning).
fn command_errors() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(repo_root().join("cli/docs/diagnostics.md")).unwrap();
    let table = doc
        .split("<!-- errors:start -->\n")
        .nth(1)
        .and_then(|rest| rest.split("<!-- errors:end -->").next())
        .expect("the doc has a command-errors section");
    table
        .lines()
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_owned(), cells[2].to_owned())
        })
        .collect()
}

/// Every diagnostic code one style (a quoted `family::kebab-rule`) and catalogued: validation
/// codes in diagnostic::CATALOG, command errors in the doc's table, and no table row stale.
#[test]
fn the_catalog_covers_every_code_the_source_emits() {
    let errors = command_errors();
    let mut emitted = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    let mut stack: Vec<_> = ["cli/src", "cli/compiler/src", "cli/apply/src"]
        .iter()
        .map(|dir| repo_root().join(dir))
        .collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // miette also takes `code(family::rule)`, a path, which cannot spell a hyphen.
        for (at, _) in text.match_indices("code(") {
            let word_start = !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if word_start && !text[at..].starts_with("code(\"") {
                let line = text[..at].lines().count();
                problems.push(format!("unquoted code at {}:{line}", path.display()));
            }
        }
        for piece in text.split('"').skip(1).step_by(2) {
            let is_code = piece.split_once("::").is_some_and(|(family, rule)| {
                !family.is_empty()
                    && family.chars().all(|c| c.is_ascii_lowercase())
                    && !rule.is_empty()
                    && rule.chars().all(|c| {
                        c.is_ascii_lowercase() || c == '-' || c == '_' || c.is_ascii_digit()
                    })
            });
            if !is_code {
                continue;
            }
            emitted.insert(piece.to_owned());
            if piece.contains('_') {
                problems.push(format!("{piece} is not kebab-case ({})", path.display()));
            }
            let catalogued = dappmesh_compiler::diagnostic::describe(piece).is_some()
                || errors.iter().any(|(code, _)| code == piece);
            if !catalogued {
                problems.push(format!("{piece} is not catalogued ({})", path.display()));
            }
        }
    }
    for (code, meaning) in &errors {
        if !emitted.contains(code) {
            problems.push(format!("{code} is in the doc but nothing emits it"));
        }
        if meaning.is_empty() {
            problems.push(format!("{code} has no meaning in the doc"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
