//! RBAC for registered users: what Roles and ClusterRoles grant through RoleBindings and
//! ClusterRoleBindings, by verb, group, resource, subresource and name, and the real server's
//! refusal when they do not; the admin token and discovery stay open.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options, User};

use crate::{APPLY, MERGE, call_as, configmap, deployment, kube_client, post, quiet, refusal};

const WEB: &str = "system:serviceaccount:shop:web";

/// A quiet server with namespace `shop`, the ServiceAccount `shop:web` (token `web-token`),
/// user `jane` in group `viewers` (token `jane-token`), and `objects` created by the admin.
async fn server(objects: &[Value]) -> ApiServer {
    let jane = User {
        name: "jane".into(),
        groups: vec!["viewers".into()],
        token: "jane-token".into(),
    };
    let server = ApiServer::start(Options {
        users: vec![User::service_account("shop", "web", "web-token"), jane],
        ..quiet()
    });
    let shop = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    for object in std::iter::once(&shop).chain(objects) {
        server.apply_as("admin", object.clone()).unwrap();
    }
    server
}

/// Metadata named `name`, in `namespace` unless the kind is cluster-scoped.
fn metadata(name: &str, namespace: Option<&str>) -> Value {
    match namespace {
        Some(namespace) => json!({"name": name, "namespace": namespace}),
        None => json!({"name": name}),
    }
}

fn role(kind: &str, namespace: Option<&str>, name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
           "metadata": metadata(name, namespace), "rules": rules})
}

fn binding(kind: &str, namespace: Option<&str>, role: (&str, &str), subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
           "metadata": metadata(&format!("{}-binding", role.1), namespace),
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role.0, "name": role.1},
           "subjects": subjects})
}

fn web_subject() -> Value {
    json!([{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}])
}

async fn web(server: &ApiServer, method: &str, path: &str) -> (u16, Value) {
    call_as(server, "web-token", method, path, None).await
}

async fn web_with(server: &ApiServer, method: &str, path: &str, body: (&str, &Value)) -> u16 {
    call_as(server, "web-token", method, path, Some(body))
        .await
        .0
}

fn in_shop(mut object: Value) -> Value {
    object["metadata"]["namespace"] = json!("shop");
    object
}

#[tokio::test]
async fn a_role_grants_its_verbs_in_its_namespace_and_nothing_else() {
    let rules = json!([
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]);
    let server = server(&[
        role("Role", Some("shop"), "web", rules),
        binding("RoleBinding", Some("shop"), ("Role", "web"), web_subject()),
    ])
    .await;
    let shop_deployments = "/apis/apps/v1/namespaces/shop/deployments";
    assert_eq!(web(&server, "GET", shop_deployments).await.0, 200);
    let answer = web(
        &server,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments",
    )
    .await;
    assert_eq!(refusal(&answer), (403, "Forbidden"));
    let message = format!(
        "deployments.apps is forbidden: User \"{WEB}\" cannot list resource \"deployments\" in \
         API group \"apps\" in the namespace \"default\""
    );
    assert_eq!(answer.1["message"], message);
    assert_eq!(
        answer.1["details"],
        json!({"group": "apps", "kind": "deployments"})
    );
    let answer = web(&server, "GET", "/apis/apps/v1/deployments").await;
    let message = format!(
        "deployments.apps is forbidden: User \"{WEB}\" cannot list resource \"deployments\" in \
         API group \"apps\" at the cluster scope"
    );
    assert_eq!(
        (answer.0, answer.1["message"].as_str()),
        (403, Some(&*message))
    );
    let watch = format!("{shop_deployments}?watch=true");
    let answer = web(&server, "GET", &watch).await;
    assert_eq!(
        refusal(&answer),
        (403, "Forbidden"),
        "a watch is not a list"
    );
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("cannot watch")
    );

    let configmaps = "/api/v1/namespaces/shop/configmaps";
    let cm = in_shop(configmap("a", json!({})));
    let json = "application/json";
    assert_eq!(
        web_with(&server, "POST", configmaps, (json, &cm)).await,
        201
    );
    let answer = web(&server, "DELETE", &format!("{configmaps}/a")).await;
    let message = format!(
        "configmaps \"a\" is forbidden: User \"{WEB}\" cannot delete resource \"configmaps\" in \
         API group \"\" in the namespace \"shop\""
    );
    assert_eq!(
        (answer.0, answer.1["message"].as_str()),
        (403, Some(&*message))
    );
    assert!(server.get("v1", "ConfigMap", Some("shop"), "a").is_some());
    let answer = web(&server, "DELETE", configmaps).await;
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("cannot deletecollection")
    );

    // Discovery is open to every authenticated user, and the admin is allowed everything.
    for path in ["/api", "/apis", "/version", "/apis/apps/v1"] {
        assert_eq!(web(&server, "GET", path).await.0, 200, "{path}");
    }
    assert_eq!(call_as(&server, "nobody", "GET", "/api", None).await.0, 401);
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    assert_eq!(
        post(&server, deployments, &deployment("web", 1)).await.0,
        201
    );
}

#[tokio::test]
async fn cluster_role_bindings_grant_everywhere_role_bindings_in_their_namespace_only() {
    let everything = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    let namespaces = json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]);
    // The ServiceAccount subject has no namespace: it is the binding's own.
    let local_web = json!([{"kind": "ServiceAccount", "name": "web"}]);
    let viewers = json!([{"kind": "Group", "name": "viewers"}]);
    let server = server(&[
        role("ClusterRole", None, "admin", everything),
        role("ClusterRole", None, "namespaces", namespaces),
        binding(
            "RoleBinding",
            Some("shop"),
            ("ClusterRole", "admin"),
            local_web,
        ),
        binding(
            "ClusterRoleBinding",
            None,
            ("ClusterRole", "namespaces"),
            viewers,
        ),
    ])
    .await;
    let jane = |path: &'static str| {
        let server = &server;
        async move { call_as(server, "jane-token", "GET", path, None).await.0 }
    };
    assert_eq!(
        web(&server, "GET", "/api/v1/namespaces/shop/secrets")
            .await
            .0,
        200
    );
    assert_eq!(
        web(&server, "GET", "/api/v1/namespaces/default/secrets")
            .await
            .0,
        403
    );
    assert_eq!(web(&server, "GET", "/api/v1/namespaces").await.0, 403);
    // A request for namespace `shop` itself is in that namespace, where the RoleBinding is.
    assert_eq!(web(&server, "GET", "/api/v1/namespaces/shop").await.0, 200);
    assert_eq!(
        web(&server, "GET", "/api/v1/namespaces/default").await.0,
        403
    );
    assert_eq!(jane("/api/v1/namespaces").await, 200, "through her group");
    assert_eq!(
        jane("/api/v1/namespaces/shop").await,
        403,
        "list is not get"
    );
    assert_eq!(jane("/api/v1/namespaces/shop/secrets").await, 403);
}

/// The server of the tests below: `web` may get, list, watch and create Deployment `web` only,
/// update Deployments' status, patch every kind's status, and patch ConfigMaps.
async fn narrow_server() -> ApiServer {
    let rules = json!([
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"],
         "verbs": ["get", "list", "watch", "create"]},
        {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["update"]},
        {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]},
    ]);
    server(&[
        role("Role", Some("shop"), "web", rules),
        binding("RoleBinding", Some("shop"), ("Role", "web"), web_subject()),
        in_shop(deployment("web", 1)),
        in_shop(deployment("api", 1)),
        in_shop(configmap("old", json!({}))),
    ])
    .await
}

const SHOP_DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";

#[tokio::test]
async fn resource_names_grant_only_requests_that_name_the_object() {
    let server = narrow_server().await;
    let deployments = SHOP_DEPLOYMENTS;
    let named = |name: &str| format!("{deployments}/{name}");
    assert_eq!(web(&server, "GET", &named("web")).await.0, 200);
    let answer = web(&server, "GET", &named("api")).await;
    assert_eq!(answer.1["details"]["name"], "api");
    assert_eq!(refusal(&answer), (403, "Forbidden"));
    let list = web(&server, "GET", deployments).await;
    assert_eq!(list.0, 403, "a list has no name");
    let one = format!("{deployments}?fieldSelector=metadata.name%3Dweb");
    let list = web(&server, "GET", &one).await;
    assert_eq!(list.0, 200, "a list of one has its name");
    let other = format!("{deployments}?fieldSelector=metadata.name%3Dapi");
    assert_eq!(web(&server, "GET", &other).await.0, 403);
    let created = in_shop(deployment("web-2", 1));
    let json = "application/json";
    let create = web_with(&server, "POST", deployments, (json, &created)).await;
    assert_eq!(create, 403, "a create has no name");
}

#[tokio::test]
async fn a_subresource_rule_grants_the_subresource_and_not_the_object() {
    let server = narrow_server().await;
    let live = server.get("apps/v1", "Deployment", Some("shop"), "web");
    let (live, json) = (live.unwrap(), "application/json");
    let status = |name: &str| format!("{SHOP_DEPLOYMENTS}/{name}/status");
    let object = |name: &str| format!("{SHOP_DEPLOYMENTS}/{name}");
    assert_eq!(
        web_with(&server, "PUT", &status("web"), (json, &live)).await,
        200
    );
    let answer = call_as(
        &server,
        "web-token",
        "PUT",
        &object("web"),
        Some((json, &live)),
    )
    .await;
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains("cannot update resource \"deployments\" in API group \"apps\""));
    // `*/status` is the status of every kind, and of every object.
    let patch = json!({"status": {"replicas": 1}});
    for name in ["web", "api"] {
        let code = web_with(&server, "PATCH", &status(name), (MERGE, &patch)).await;
        assert_eq!(code, 200, "{name}");
    }
    let answer = call_as(
        &server,
        "web-token",
        "PATCH",
        &object("web"),
        Some((MERGE, &patch)),
    )
    .await;
    assert_eq!(
        refusal(&answer),
        (403, "Forbidden"),
        "*/status is not the object"
    );
}

#[tokio::test]
async fn an_apply_changes_with_patch_but_creates_only_with_create_too() {
    let server = narrow_server().await;
    let configmaps = "/api/v1/namespaces/shop/configmaps";
    let apply = |name: &str| format!("{configmaps}/{name}?fieldManager=web");
    let old = in_shop(configmap("old", json!({"changed": "yes"})));
    assert_eq!(
        web_with(&server, "PATCH", &apply("old"), (APPLY, &old)).await,
        200
    );
    let new = in_shop(configmap("new", json!({})));
    let answer = call_as(
        &server,
        "web-token",
        "PATCH",
        &apply("new"),
        Some((APPLY, &new)),
    )
    .await;
    let message = format!(
        "configmaps \"new\" is forbidden: User \"{WEB}\" cannot create resource \"configmaps\" \
         in API group \"\" in the namespace \"shop\""
    );
    assert_eq!(
        (answer.0, answer.1["message"].as_str()),
        (403, Some(&*message))
    );
    assert!(server.get("v1", "ConfigMap", Some("shop"), "new").is_none());
}

#[tokio::test]
async fn a_binding_to_a_missing_role_is_named_in_the_refusal() {
    let server = server(&[binding(
        "RoleBinding",
        Some("shop"),
        ("Role", "gone"),
        web_subject(),
    )])
    .await;
    let answer = web(&server, "GET", "/api/v1/namespaces/shop/pods").await;
    let message = format!(
        "pods is forbidden: User \"{WEB}\" cannot list resource \"pods\" in API group \"\" in \
         the namespace \"shop\": RBAC: role.rbac.authorization.k8s.io \"gone\" not found"
    );
    assert_eq!(
        (answer.0, answer.1["message"].as_str()),
        (403, Some(&*message))
    );
}

#[tokio::test]
async fn a_kube_client_authenticates_as_the_user_whose_kubeconfig_it_reads() {
    let rules = json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]);
    let server = server(&[
        role("Role", Some("shop"), "web", rules),
        binding("RoleBinding", Some("shop"), ("Role", "web"), web_subject()),
    ])
    .await;
    let path = std::env::temp_dir().join(format!("rbac-{}.kubeconfig", std::process::id()));
    server.kubeconfig_as(&path, WEB).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    _ = std::fs::remove_file(&path);
    assert_eq!(kubeconfig.current_context.as_deref(), Some(WEB));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let shop: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    assert!(shop.list(&ListParams::default()).await.is_ok());
    let default: Api<ConfigMap> = Api::namespaced(client, "default");
    match default.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, &*status.reason), (403, "Forbidden"))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The user's context is in the ordinary kubeconfig too, under the user's name.
    let as_web: Api<ConfigMap> = Api::namespaced(kube_client(&server, WEB).await, "default");
    assert!(as_web.list(&ListParams::default()).await.is_err());
    let unknown = server.kubeconfig_as(&path, "system:serviceaccount:shop:nobody");
    assert_eq!(
        unknown.unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}
