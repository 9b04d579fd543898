//! Authentication and RBAC: who presents a request's bearer token (the server's admin token,
//! or a [`User`] registered with its own), and whether the rbac.authorization.k8s.io/v1
//! Roles, ClusterRoles and bindings in the store let that user make it, decided as the real
//! API server's RBAC authorizer decides and refused in its words.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{Value, json};

use crate::{Options, routes::Target, status::Status, store::Store};

const GROUP: &str = "rbac.authorization.k8s.io";

/// The group the real server adds every authenticated user to, whatever its authenticator says.
const AUTHENTICATED: &str = "system:authenticated";

/// A user known by its own bearer token, whose requests the RBAC objects in the store
/// authorise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// What bindings' subjects of kind User match, such as `jane` or
    /// `system:serviceaccount:shop:web`.
    pub name: String,
    /// What subjects of kind Group match; `system:authenticated` is always among them.
    pub groups: Vec<String>,
    /// The bearer token the user presents.
    pub token: String,
}

impl User {
    /// The ServiceAccount `name` of `namespace` as its token authenticates it: user
    /// `system:serviceaccount:<namespace>:<name>`, in groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<namespace>` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str, token: &str) -> User {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
            token: token.into(),
        }
    }
}

/// Who made a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The server's own token, or anyone when it has none: allowed everything, as a member
    /// of `system:masters` is, so tests that do not ask for RBAC never meet it.
    Admin,
    User(User),
}

/// Who presents `authorization` (the header's value); `None` is 401 Unauthorized. The admin
/// token wins over a user registered with the same one.
pub(crate) fn authenticate(options: &Options, authorization: Option<&str>) -> Option<Caller> {
    let token = authorization.and_then(|v| v.strip_prefix("Bearer "));
    if token.is_some() && token == options.token.as_deref() {
        return Some(Caller::Admin);
    }
    if let Some(user) = options
        .users
        .iter()
        .find(|u| Some(u.token.as_str()) == token)
    {
        let mut user = user.clone();
        if !user.groups.iter().any(|g| g == AUTHENTICATED) {
            user.groups.push(AUTHENTICATED.into());
        }
        return Some(Caller::User(user));
    }
    options.token.is_none().then_some(Caller::Admin)
}

/// What a resource request asks to do, as the real authorizer sees it.
#[derive(Debug, Clone)]
pub(crate) struct Attributes {
    pub verb: String,
    pub group: String,
    /// The plural, such as `deployments`.
    pub resource: String,
    /// `status`, the one subresource served here.
    pub subresource: Option<&'static str>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Attributes {
    /// The attributes of `method` on `target`: a GET without a name is a list, or a watch
    /// with `watch=true`; a DELETE without one a deletecollection.
    pub(crate) fn of(method: &Method, target: &Target, query: &HashMap<String, String>) -> Self {
        let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (method.clone(), &target.name) {
            (Method::GET, Some(_)) => "get".to_string(),
            (Method::GET, None) if watching => "watch".into(),
            (Method::GET, None) => "list".into(),
            (Method::POST, _) => "create".into(),
            (Method::PUT, _) => "update".into(),
            (Method::PATCH, _) => "patch".into(),
            (Method::DELETE, Some(_)) => "delete".into(),
            (Method::DELETE, None) => "deletecollection".into(),
            (other, _) => other.as_str().to_lowercase(),
        };
        // A list or watch of one object by field selector is about that object, so that
        // resourceNames can grant it (as the real server's request info does).
        let selected = || {
            let selector = query.get("fieldSelector")?;
            selector.split(',').find_map(|term| {
                let name = term.strip_prefix("metadata.name=")?;
                let name = name.strip_prefix('=').unwrap_or(name);
                (!name.is_empty()).then(|| name.to_string())
            })
        };
        let name = match verb.as_str() {
            "list" | "watch" => selected(),
            _ => target.name.clone(),
        };
        let r = &target.resource;
        // A namespace is cluster-scoped, but RBAC sees a request for one as in that namespace.
        let namespace = match (r.group.as_str(), r.plural.as_str()) {
            ("", "namespaces") => name.clone(),
            _ => target.namespace.clone(),
        };
        Attributes {
            verb,
            group: r.group.clone(),
            resource: r.plural.clone(),
            subresource: target.status.then_some("status"),
            namespace,
            name,
        }
    }

    /// The same request as another verb, for a server-side apply that would create its
    /// object: the real server then also asks for create, with the object's name.
    pub(crate) fn as_verb(&self, verb: &str) -> Self {
        Attributes {
            verb: verb.into(),
            ..self.clone()
        }
    }

    /// The real server's refusal of `user`, such as `deployments.apps "web" is forbidden: User
    /// "jane" cannot patch resource "deployments" in API group "apps" in the namespace "shop"`.
    pub(crate) fn refusal(&self, user: &str) -> String {
        let qualified = match self.group.as_str() {
            "" => self.resource.clone(),
            group => format!("{}.{group}", self.resource),
        };
        let subject = match &self.name {
            Some(name) => format!("{qualified} \"{name}\""),
            None => qualified,
        };
        let resource = match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        };
        let scope = match &self.namespace {
            Some(namespace) => format!("in the namespace \"{namespace}\""),
            None => "at the cluster scope".into(),
        };
        format!(
            "{subject} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            self.verb, self.group
        )
    }

    /// 403 Forbidden; `reason` says what the authorizer could not evaluate, if anything.
    fn forbidden(&self, user: &str, reason: &str) -> Status {
        let mut message = self.refusal(user);
        if !reason.is_empty() {
            message = format!("{message}: {reason}");
        }
        // The real server leaves empty detail fields out.
        let mut details = json!({});
        let fields = [
            ("name", self.name.clone().unwrap_or_default()),
            ("group", self.group.clone()),
            ("kind", self.resource.clone()),
        ];
        for (field, value) in fields.into_iter().filter(|(_, v)| !v.is_empty()) {
            details[field] = json!(value);
        }
        Status::new(403, "Forbidden", message).with_details(details)
    }
}

/// Lets the admin through; a user only when a ClusterRoleBinding, or a RoleBinding in the
/// request's namespace, binds it to a role with a rule that grants the request.
pub(crate) fn authorize(store: &Store, caller: &Caller, asked: &Attributes) -> Result<(), Status> {
    let Caller::User(user) = caller else {
        return Ok(());
    };
    let cluster = store.list(GROUP, "clusterrolebindings", None);
    let local = asked
        .namespace
        .iter()
        .flat_map(|namespace| store.list(GROUP, "rolebindings", Some(namespace)));
    // What the real authorizer reports when it denies: the roles that bindings of this user
    // name but that do not exist.
    let mut unresolved: Vec<String> = vec![];
    for binding in cluster.chain(local).filter(|b| binds(b, user)) {
        match role(store, binding) {
            Ok(role) => {
                let rules = role["rules"].as_array().into_iter().flatten();
                if rules.into_iter().any(|rule| grants(rule, asked)) {
                    return Ok(());
                }
            }
            Err(missing) if !unresolved.contains(&missing) => unresolved.push(missing),
            Err(_) => {}
        }
    }
    let reason = match unresolved.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    };
    Err(asked.forbidden(&user.name, &reason))
}

/// Whether one of `binding`'s subjects is `user`. A ServiceAccount subject without a
/// namespace is one of the binding's own namespace.
fn binds(binding: &Value, user: &User) -> bool {
    let own = binding["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let subjects = binding["subjects"].as_array().into_iter().flatten();
    subjects.into_iter().any(|s| {
        let name = s["name"].as_str().unwrap_or_default();
        match s["kind"].as_str() {
            Some("User") => name == user.name,
            Some("Group") => user.groups.iter().any(|g| g == name),
            Some("ServiceAccount") => {
                let namespace = s["namespace"].as_str().filter(|n| !n.is_empty());
                let namespace = namespace.unwrap_or(own);
                !namespace.is_empty()
                    && user.name == format!("system:serviceaccount:{namespace}:{name}")
            }
            _ => false,
        }
    })
}

/// The role `binding` refers to: a ClusterRole, or a Role of the binding's namespace. `Err`
/// is the real authorizer's words for a role that is not there.
fn role<'s>(store: &'s Store, binding: &Value) -> Result<&'s Value, String> {
    let reference = &binding["roleRef"];
    let name = reference["name"].as_str().unwrap_or_default();
    let namespace = binding["metadata"]["namespace"].as_str();
    let (singular, found) = match reference["kind"].as_str().unwrap_or_default() {
        "ClusterRole" => ("clusterrole", named(store, "clusterroles", None, name)),
        // A ClusterRoleBinding has no namespace for a Role to be in.
        "Role" => (
            "role",
            namespace.and_then(|n| named(store, "roles", Some(n), name)),
        ),
        other => return Err(format!("unsupported role reference kind: \"{other}\"")),
    };
    found.ok_or_else(|| format!("{singular}.{GROUP} \"{name}\" not found"))
}

fn named<'s>(
    store: &'s Store,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Option<&'s Value> {
    let mut objects = store.list(GROUP, plural, namespace);
    objects.find(|o| o["metadata"]["name"] == name)
}

/// Whether `rule` grants `asked`: its verbs, apiGroups and resources each hold the request's
/// or `*` (`*/status` is every resource's status), and its resourceNames, when it has any,
/// hold the request's name, which a list, watch or create without a name never has.
fn grants(rule: &Value, asked: &Attributes) -> bool {
    let values = |field: &str| {
        let values = rule[field].as_array().into_iter().flatten();
        values.filter_map(Value::as_str).collect::<Vec<&str>>()
    };
    let holds = |field: &str, wanted: &str| values(field).iter().any(|v| *v == "*" || *v == wanted);
    let combined = match asked.subresource {
        Some(sub) => format!("{}/{sub}", asked.resource),
        None => asked.resource.clone(),
    };
    let resource = values("resources").iter().any(|r| {
        *r == "*"
            || *r == combined
            || asked
                .subresource
                .is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
    });
    let names = values("resourceNames");
    let named = names.is_empty()
        || asked
            .name
            .as_deref()
            .is_some_and(|name| names.contains(&name));
    holds("verbs", &asked.verb) && holds("apiGroups", &asked.group) && resource && named
}
