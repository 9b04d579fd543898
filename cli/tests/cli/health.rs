//! The Argo CD health check for DataProduct, as rendered into argocd-cm: its Lua run with a
//! Lua 5.1 interpreter (Argo CD's gopher-lua speaks 5.1) on a table of statuses, each with the
//! health it must give. A malformed status must give Degraded with a message, never a Lua
//! error (which Argo CD shows as an Unknown health naming the script, not the product).

use std::io::Write;
use std::process::{Command, Stdio};

use dappmesh_compiler::load::{Limits, yaml};
use dappmesh_compiler::source::SourceFile;
use serde_json::{Value, json};

use super::harness::{TempDir, assert_exit, repo_root, run};

const INTERPRETER: &str = "lua5.1";
const KEY: &str = "resource.customizations.health.dappmesh.io_DataProduct";

/// Whether `lua5.1` runs here, installing the Debian package when it is missing and the tests
/// run as root; otherwise the reason it does not.
fn interpreter() -> Result<(), String> {
    let runs = || {
        Command::new(INTERPRETER)
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs() {
        return Ok(());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(format!(
            "{INTERPRETER} is not installed and the tests do not run as root to install it \
             (apt-get install lua5.1)"
        ));
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", INTERPRETER])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // A fresh machine may not have the package lists yet.
    if !install() {
        let _ = Command::new("apt-get").arg("update").output();
        install();
    }
    if runs() {
        Ok(())
    } else {
        Err(format!("apt-get could not install {INTERPRETER}"))
    }
}

/// The DataProduct check from the argocd-cm ConfigMap of the rendered examples.
fn rendered_check() -> String {
    let out = TempDir::new("health");
    let examples = repo_root().join("examples");
    let result = run(
        &[
            "render",
            examples.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ],
        &repo_root(),
    );
    assert_exit(&result, 0);
    let path = out.path().join("platform/argocd/configmap-argocd-cm.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file = SourceFile::new(path.clone(), text);
    let docs: Vec<Value> = yaml::parse(&file, Limits::default()).unwrap();
    docs[0]["data"][KEY]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no {KEY}", path.display()))
        .to_owned()
}

/// `value` as a Lua expression, as Argo CD hands an object to its scripts: JSON null is nil
/// (an absent key), arrays are tables indexed from 1, objects tables keyed by name.
fn lua(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua).collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("[{}] = {}", quoted(k), lua(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\{:03}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the check gives for `obj`: (status, message). A Lua error fails the test.
fn health(check: &str, obj: &Value) -> (String, String) {
    // The check is a chunk that returns hs; as a function body it returns it to us.
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{check}\nend)()\n\
         io.write(tostring(hs.status), \"\\n\", tostring(hs.message))\n",
        lua(obj)
    );
    let mut child = Command::new(INTERPRETER)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(program.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stderr.is_empty(),
        "the check fails in Lua on {obj}:\n{stderr}"
    );
    let (status, message) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    (status.to_owned(), message.to_owned())
}

fn condition(kind: &str, status: &str, generation: u64, message: &str) -> Value {
    json!({
        "type": kind, "status": status, "reason": "Reconciled", "message": message,
        "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z",
    })
}

/// A DataProduct at `generation` with `status`.
fn product(generation: u64, status: Value) -> Value {
    json!({
        "apiVersion": "dappmesh.io/v1alpha1", "kind": "DataProduct",
        "metadata": { "name": "orders", "namespace": "sales", "generation": generation },
        "status": status,
    })
}

/// The three conditions as the operator writes them (operator/src/status.rs), for `generation`.
fn written(generation: u64, ready: bool, reconciling: bool, stalled: bool) -> Value {
    let s = |b: bool| if b { "True" } else { "False" };
    json!({
        "observedGeneration": generation,
        "conditions": [
            condition("Ready", s(ready), generation, if ready { "every child is applied" } else { "the Service is refused" }),
            condition(
                "Reconciling",
                s(reconciling),
                generation,
                if reconciling { "the Service is refused" } else { "" },
            ),
            condition("Stalled", s(stalled), generation, if stalled { "the Service is refused" } else { "" }),
        ],
    })
}

/// The table: (what, object, the health it must give, a part of the message).
#[allow(clippy::too_many_lines)] // one row per status, kept together
fn cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let no_status = json!({
        "apiVersion": "dappmesh.io/v1alpha1", "kind": "DataProduct",
        "metadata": { "name": "orders", "generation": 1 },
    });
    vec![
        (
            "no status yet",
            no_status,
            "Progressing",
            "Waiting for the operator",
        ),
        (
            "no conditions yet",
            product(1, json!({})),
            "Progressing",
            "Waiting for the operator",
        ),
        (
            "empty conditions",
            product(1, json!({ "conditions": [] })),
            "Progressing",
            "Waiting",
        ),
        (
            "ready",
            product(3, written(3, true, false, false)),
            "Healthy",
            "every child is applied",
        ),
        (
            "retrying",
            product(3, written(3, false, true, false)),
            "Progressing",
            "the Service is refused",
        ),
        (
            "stalled",
            product(3, written(3, false, false, true)),
            "Degraded",
            "the Service is refused",
        ),
        (
            "stalled for an older generation",
            product(3, written(2, false, false, true)),
            "Progressing",
            "generation 3 not yet reconciled (Stalled is from generation 2",
        ),
        (
            "stalled, the generation only on the status",
            product(
                3,
                json!({ "observedGeneration": 2, "conditions": [
                    { "type": "Stalled", "status": "True", "message": "refused" },
                ] }),
            ),
            "Progressing",
            "Stalled is from generation 2",
        ),
        (
            "ready for an older generation",
            product(4, written(3, true, false, false)),
            "Progressing",
            "generation 4",
        ),
        (
            "ready beside stalled",
            product(3, written(3, true, false, true)),
            "Degraded",
            "refused",
        ),
        (
            "ready beside reconciling",
            product(3, written(3, true, true, false)),
            "Progressing",
            "the Service is refused",
        ),
        (
            "ready beside an older stalled",
            product(
                3,
                json!({ "conditions": [
                    condition("Ready", "True", 3, "ok"),
                    condition("Stalled", "True", 2, "refused"),
                ] }),
            ),
            "Progressing",
            "Stalled is from generation 2",
        ),
        (
            "ready unknown",
            product(
                1,
                json!({ "conditions": [condition("Ready", "Unknown", 1, "")] }),
            ),
            "Progressing",
            "Reconciled",
        ),
        (
            "status not an object",
            product(1, json!("ready")),
            "Degraded",
            "status is not an object",
        ),
        (
            "conditions a string",
            product(1, json!({ "conditions": "Ready" })),
            "Degraded",
            "status.conditions is not a list",
        ),
        (
            "conditions an object",
            product(
                1,
                json!({ "conditions": { "Ready": { "status": "True" } } }),
            ),
            "Degraded",
            "status.conditions is not a list",
        ),
        (
            "a condition a string",
            product(1, json!({ "conditions": ["Ready"] })),
            "Degraded",
            "status.conditions[0] is not an object",
        ),
        (
            "a condition without a type",
            product(
                1,
                json!({ "conditions": [condition("Ready", "True", 1, ""), { "status": "True" }] }),
            ),
            "Degraded",
            "status.conditions[1] has no type",
        ),
        (
            "a type that is a number",
            product(
                1,
                json!({ "conditions": [{ "type": 7, "status": "True" }] }),
            ),
            "Degraded",
            "has no type",
        ),
        (
            "a condition without a status",
            product(1, json!({ "conditions": [{ "type": "Ready" }] })),
            "Degraded",
            "(Ready) has no status",
        ),
        (
            "a status that is a boolean",
            product(
                1,
                json!({ "conditions": [{ "type": "Ready", "status": true }] }),
            ),
            "Degraded",
            "has no status True",
        ),
        (
            "a message that is a number",
            product(
                1,
                json!({ "conditions": [{ "type": "Stalled", "status": "True", "message": 5 }] }),
            ),
            "Degraded",
            "not text",
        ),
        (
            "an observedGeneration that is text",
            product(
                2,
                json!({ "conditions": [{ "type": "Ready", "status": "True", "observedGeneration": "1" }] }),
            ),
            "Degraded",
            "observedGeneration that is not a number",
        ),
        (
            "a status observedGeneration that is text",
            product(2, json!({ "observedGeneration": "2", "conditions": [] })),
            "Degraded",
            "status.observedGeneration",
        ),
        (
            "a generation that is text",
            json!({ "metadata": { "generation": "2" }, "status": written(2, true, false, false) }),
            "Degraded",
            "metadata.generation",
        ),
        (
            "two Ready conditions",
            product(
                1,
                json!({ "conditions": [condition("Ready", "True", 1, ""), condition("Ready", "False", 1, "")] }),
            ),
            "Degraded",
            "a second Ready condition",
        ),
        (
            "no metadata",
            json!({ "status": written(1, true, false, false) }),
            "Healthy",
            "every child",
        ),
    ]
}

#[test]
fn the_data_product_health_check_answers_every_status_without_a_lua_error() {
    if let Err(reason) = interpreter() {
        eprintln!("skipped: {reason}");
        return;
    }
    let check = rendered_check();
    let mut wrong = Vec::new();
    for (what, obj, status, message) in &cases() {
        let (got, said) = health(&check, obj);
        if got != *status || !said.contains(message) {
            wrong.push(format!(
                "{what}: {got} ({said}), expected {status} ({message}…)"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
