//! The kubeconfig that points clients at a running server: context `test` (current) with the
//! right token, and context `other` whose user presents a wrong one.

use serde_json::Value;

pub(crate) fn render(url: &str, token: Option<&str>) -> String {
    // JSON strings are valid YAML scalars and need no further escaping.
    let quote = |s: &str| Value::from(s).to_string();
    let user = token.map_or_else(|| "{}".to_string(), |t| format!("{{token: {}}}", quote(t)));
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
users:
- name: test
  user: {user}
- name: other
  user: {{token: {wrong}}}
contexts:
- name: test
  context:
    cluster: test
    user: test
- name: other
  context:
    cluster: test
    user: other
current-context: test
preferences: {{}}
",
        server = quote(url),
        wrong = quote("wrong-token"),
    )
}
