//! The kubeconfig that points clients at a running server: context `test` with the admin's
//! token, context `other` whose user presents a wrong one, and a context per registered user,
//! named after it, with its token.

use serde_json::Value;

use crate::rbac::User;

/// `current` names the user whose context is current; `None` makes `test` current.
pub(crate) fn render(
    url: &str,
    token: Option<&str>,
    users: &[User],
    current: Option<&str>,
) -> String {
    // JSON strings are valid YAML scalars and need no further escaping.
    let quote = |s: &str| Value::from(s).to_string();
    let admin = token.map_or_else(|| "{}".to_string(), |t| format!("{{token: {}}}", quote(t)));
    let mut credentials = format!(
        "- name: test\n  user: {admin}\n- name: other\n  user: {{token: {}}}\n",
        quote("wrong-token")
    );
    let mut contexts = String::new();
    for name in ["test", "other"] {
        contexts += &format!("- name: {name}\n  context:\n    cluster: test\n    user: {name}\n");
    }
    for user in users {
        let (name, token) = (quote(&user.name), quote(&user.token));
        credentials += &format!("- name: {name}\n  user: {{token: {token}}}\n");
        contexts += &format!("- name: {name}\n  context:\n    cluster: test\n    user: {name}\n");
    }
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
users:
{credentials}contexts:
{contexts}current-context: {current}
preferences: {{}}
",
        server = quote(url),
        current = quote(current.unwrap_or("test")),
    )
}
