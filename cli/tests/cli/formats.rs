//! The four output formats: human (snapshot), json (documented shape), sarif (checked against
//! the SARIF 2.1.0 schema), github (workflow commands).

use super::harness::{TempDir, repo_root, run};

/// A mesh with an error of each family (an unknown key in the Domain, an unresolved port in
/// the product) and a warning (unused storage), in two files so paths show.
fn broken_mesh() -> TempDir {
    let dir = TempDir::new("formats");
    dir.write(
        "mesh.yaml",
        "apiVersion: dappmesh.io/v1alpha1\nkind: Mesh\nmetadata: { name: acme }\nspec:\n  urnPrefix: urn:dpds:acme\n  environments: [{ name: dev, destination: { server: https://kubernetes.default.svc } }]\n  gitops: { repoURL: https://git.example.com/acme.git, targetRevision: main }\n---\napiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata: { name: sales }\nspec: { owner: team-sales, descripton: Orders. }\n",
    );
    dir.write(
        "products/orders.yaml",
        r#"apiVersion: dappmesh.io/v1alpha1
kind: DataProduct
metadata:
  name: orders
  domain: sales
  version: 1.0.0
  owner: team-sales
spec:
  dataAtRest:
    schemas:
      - name: orders
        version: 1.0.0
        state: serving
        properties:
          - { name: order_id, logicalType: string, required: true }
  dataInUse:
    inputPorts:
      - name: customers
        product: { domain: crm, name: customers, outputPort: customers-sql, version: "^3" }
    outputPorts:
      - name: orders-api
        type: rest
        version: 1.0.0
        serves: orders@1.0.0
        storage: db
        contract:
          terms: { usage: Internal. }
  storage:
    - { name: db, kind: operational, engine: postgres, size: 1Gi }
    - { name: spare, kind: operational, engine: postgres, size: 1Gi }
"#,
    );
    dir
}

#[test]
fn human_output_shows_snippet_label_and_help() {
    let dir = broken_mesh();
    let out = run(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn json_output_has_the_documented_shape() {
    let dir = broken_mesh();
    let out = run(&["validate", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["valid"], false);
    assert_eq!(json["summary"]["errors"], 2);
    assert_eq!(json["summary"]["warnings"], 1);
    let unknown = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "schema::unknown-key")
        .expect("the unknown key is reported");
    assert_eq!(unknown["file"], "mesh.yaml");
    assert_eq!(
        (unknown["line"].as_u64(), unknown["column"].as_u64()),
        (Some(12), Some(28))
    );
    assert_eq!(
        (unknown["endLine"].as_u64(), unknown["endColumn"].as_u64()),
        (Some(12), Some(38))
    );
    assert_eq!(unknown["help"], "did you mean `description`?");
    assert_eq!(
        json["files"],
        serde_json::json!(["mesh.yaml", "products/orders.yaml"])
    );
}

#[test]
fn sarif_output_conforms_to_sarif_2_1_0() {
    let schema_path = repo_root().join("../shared/data/schemas/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the SARIF schema comes from ../shared)",
                schema_path.display()
            )
        }))
        .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let dir = broken_mesh();
    let out = run(&["validate", "--format", "sarif"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    for result in run0["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    let port = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "port::unresolved")
        .unwrap();
    let location = &port["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "products/orders.yaml");
    assert_eq!(location["region"]["startLine"], 19);
}

#[test]
fn github_output_is_workflow_commands() {
    let dir = broken_mesh();
    let out = run(&["validate", "--format", "github"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with(
            "::error file=mesh.yaml,line=12,col=28,endLine=12,endColumn=38,title=schema%3A%3Aunknown-key::unknown key `descripton`%0Ahelp: did you mean `description`?"
        )),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::warning file=products/orders.yaml,line=30,col=15,")),
        "{text}"
    );
    assert_eq!(lines[3], "2 errors and 1 warning in 3 documents in 2 files");
}

#[test]
fn human_and_json_agree_on_columns_after_non_ascii_text() {
    let fixture = "cli/tests/fixtures/invalid/schema-format-duration-unicode.yaml";
    let human = run(&["validate", fixture], &repo_root());
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.contains("schema-format-duration-unicode.yaml:41:68]"),
        "{text}"
    );
    let json = run(&["validate", "--format", "json", fixture], &repo_root());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["diagnostics"][0]["column"], 68);
}
