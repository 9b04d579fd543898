//! The operator under the RBAC dappctl renders for it: the example mesh (examples/) rendered
//! with the built-in templates, its platform and dev domain namespaces with every rendered
//! ServiceAccount, Role, ClusterRole and binding applied to the test API server, and the
//! controller running with the operator ServiceAccount's token. What the rendered roles grant
//! runs every dev product (and the leader's platform Secrets); what they do not grant, the
//! server refuses.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use operator::controller::{self, MeshSource, Settings};
use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options, User, Workloads};

mod rendering;

const OPERATOR: &str = "system:serviceaccount:dappmesh-system:operator";

const RBAC_KINDS: [&str; 5] = [
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
];

/// Whether `path` holds what the platform and the dev domains need before their products: the
/// CRD, the namespaces, the mesh ConfigMap, and every ServiceAccount, role and binding.
fn set_up(path: &str, object: &Value) -> bool {
    let kind = object["kind"].as_str().unwrap_or_default();
    let platform = path.starts_with("platform/") && !path.starts_with("platform/argocd/");
    // A domain's own files sit beside its products' directories.
    let domain = path.starts_with("envs/dev/") && path.matches('/').count() == 3;
    let mesh = kind == "ConfigMap" && object["metadata"]["name"] == "dappmesh-mesh";
    let wanted = matches!(kind, "Namespace" | "CustomResourceDefinition") || mesh;
    (platform || domain) && (wanted || RBAC_KINDS.contains(&kind))
}

/// Waits up to 60 s for `check` to hold; `state` says what there is instead.
async fn eventually(what: &str, check: impl Fn() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {}",
            state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ready(product: &Value) -> bool {
    let conditions = product["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten();
    conditions.into_iter().any(|c| {
        c["type"] == "Ready"
            && c["status"] == "True"
            && c["observedGeneration"] == product["metadata"]["generation"]
    })
}

/// The Status of a refused request, or a panic naming what happened instead.
fn refused<T: std::fmt::Debug>(outcome: kube::Result<T>) -> kube::core::Status {
    match outcome {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected the API server to refuse, got {other:?}"),
    }
}

/// Every object of the rendered files `path` picks, with its file.
fn objects<'r>(
    rendered: &'r BTreeMap<String, Vec<Value>>,
    path: impl Fn(&str) -> bool + 'r,
) -> impl Iterator<Item = (&'r String, &'r Value)> {
    rendered
        .iter()
        .filter(move |(p, _)| path(p))
        .flat_map(|(p, objects)| objects.iter().map(move |o| (p, o)))
}

/// Whether a ClusterRoleBinding among `objects` binds the operator's ServiceAccount.
fn binds_the_operator<'o>(mut objects: impl Iterator<Item = &'o Value>) -> bool {
    objects.any(|o| {
        let subjects = o["subjects"].as_array().into_iter().flatten();
        o["kind"] == "ClusterRoleBinding"
            && subjects.into_iter().any(|s| {
                let field = |f: &str| s[f].as_str().unwrap_or_default().to_owned();
                let user = format!(
                    "system:serviceaccount:{}:{}",
                    field("namespace"),
                    field("name")
                );
                s["kind"] == "ServiceAccount" && user == OPERATOR
            })
    })
}

/// A server with the rendered platform, dev domains and dev products, whose only user is the
/// operator's ServiceAccount, and a client that presents its token.
async fn cluster(rendered: &BTreeMap<String, Vec<Value>>) -> (ApiServer, kube::Client) {
    let token = "operator-service-account-token";
    let server = ApiServer::start(Options {
        users: vec![User::service_account("dappmesh-system", "operator", token)],
        // No simulated controller: the operator is the one that marks DataProducts Ready.
        workloads: Workloads::Stuck,
        ..Options::default()
    });
    let mut setup: Vec<(&String, &Value)> = objects(rendered, |_| true)
        .filter(|(path, object)| set_up(path, object))
        .collect();
    assert!(binds_the_operator(setup.iter().map(|(_, o)| *o)));
    // Namespaces and CRDs first, as Argo CD's sync waves order them; the products last.
    let first = |o: &Value| {
        matches!(
            o["kind"].as_str(),
            Some("Namespace" | "CustomResourceDefinition")
        )
    };
    setup.sort_by_key(|(_, o)| !first(o));
    let products = objects(rendered, |p| p.starts_with("envs/dev/"));
    setup.extend(products.filter(|(_, o)| o["kind"] == "DataProduct"));
    for (path, object) in setup {
        server
            .apply_as("dappctl", object.clone())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let kubeconfig =
        std::env::temp_dir().join(format!("operator-rbac-{}.kubeconfig", std::process::id()));
    server.kubeconfig_as(&kubeconfig, OPERATOR).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    _ = std::fs::remove_file(&kubeconfig);
    (server, kube::Client::try_from(config).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_rbac_runs_the_products_and_refuses_writes_outside_the_domains() {
    _ = rustls::crypto::ring::default_provider().install_default();
    let rendered = rendering::render(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"));
    let (server, client) = cluster(&rendered).await;
    makes_the_platform_secrets(&server, &client).await;
    let settings = Settings {
        mesh: MeshSource {
            namespace: "dappmesh-system".into(),
            name: "dappmesh-mesh".into(),
        },
        catalog: None,
        concurrency: 2,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = operator::web::Shared::default();
    tokio::spawn(controller::run(
        client.clone(),
        settings,
        shared,
        async move {
            _ = stopped.await;
        },
    ));

    let products = || server.count(|o| o["kind"] == "DataProduct");
    let unready = || {
        let objects = server.objects();
        let pending = objects
            .iter()
            .filter(|o| o["kind"] == "DataProduct" && !ready(o));
        pending
            .map(|p| format!("{}: {}", p["metadata"]["name"], p["status"]))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(products() >= 2, "the example's dev products");
    eventually("every product is Ready", || unready().is_empty(), unready).await;
    // Every child dappctl renders for them was applied, through the domains' Roles.
    let children = objects(&rendered, |p| {
        p.starts_with("envs/dev/") && p.matches('/').count() == 4
    })
    .filter(|(_, o)| o["kind"] != "DataProduct");
    let mut count = 0;
    for (path, child) in children {
        let field = |f: &str| child[f].as_str().unwrap_or_default();
        let meta = |f: &str| child["metadata"][f].as_str();
        let applied = server.get(
            field("apiVersion"),
            field("kind"),
            meta("namespace"),
            meta("name").unwrap_or_default(),
        );
        assert!(applied.is_some(), "{path} was not applied");
        count += 1;
    }
    assert!(count >= 10, "{count} children");
    every_database_got_its_credentials(&server, &rendered);
    refuses_writes_outside_the_domains(&server, client).await;
    _ = stop.send(());
}

/// What the leader does first: the platform's token Secrets, made under the platform Role
/// (create, and get or patch only by name); twice, as a restarted leader would.
async fn makes_the_platform_secrets(server: &ApiServer, client: &kube::Client) {
    for _ in 0..2 {
        let platform = operator::platform::ensure(client, "dappmesh-system")
            .await
            .unwrap_or_else(|e| panic!("the rendered Role refuses them: {e}"));
        assert!(platform.operator_token.is_some());
    }
    for name in [
        operator::platform::OPERATOR_TOKEN,
        operator::platform::DASHBOARD_TOKEN,
        operator::platform::PLATFORM_TOKENS,
    ] {
        assert!(
            server
                .get("v1", "Secret", Some("dappmesh-system"), name)
                .is_some(),
            "{name}"
        );
    }
}

/// Every database a dev product runs in the cluster got its credentials, through the
/// domains' Roles; no other Secret was made there but the products' registry tokens.
fn every_database_got_its_credentials(server: &ApiServer, rendered: &BTreeMap<String, Vec<Value>>) {
    let mounted: Vec<(String, String)> = objects(rendered, |p| p.starts_with("envs/dev/"))
        .filter(|(_, o)| o["kind"] == "StatefulSet")
        .flat_map(|(_, o)| {
            let namespace = o["metadata"]["namespace"].as_str().unwrap().to_owned();
            let volumes = o["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
            let names: Vec<String> = volumes
                .iter()
                .filter_map(|v| v.pointer("/secret/secretName")?.as_str())
                .map(str::to_owned)
                .collect();
            names.into_iter().map(move |n| (namespace.clone(), n))
        })
        .collect();
    assert!(mounted.len() >= 5, "{mounted:?}");
    for (namespace, name) in &mounted {
        let secret = server.get("v1", "Secret", Some(namespace), name);
        assert!(
            secret.is_some_and(|s| s["data"]["password"].is_string()),
            "{namespace}/{name}"
        );
    }
    let made = server.count(|o| {
        o["kind"] == "Secret"
            && o["metadata"]["namespace"] != "dappmesh-system"
            && !o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-registry-token"))
    });
    assert_eq!(made, mounted.len());
}

/// The operator's token creates nothing in kube-system, nor Secrets in `default`.
async fn refuses_writes_outside_the_domains(server: &ApiServer, client: kube::Client) {
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "miner", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "miner"}},
                 "template": {"metadata": {"labels": {"app": "miner"}},
                              "spec": {"containers": [{"name": "miner", "image": "miner:1"}]}}},
    }))
    .unwrap();
    let system: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let status = refused(system.create(&PostParams::default(), &deployment).await);
    assert_eq!((status.code, &*status.reason), (403, "Forbidden"));
    let message = format!(
        "deployments.apps is forbidden: User \"{OPERATOR}\" cannot create resource \
         \"deployments\" in API group \"apps\" in the namespace \"kube-system\""
    );
    assert_eq!(status.message, message);
    let apply = PatchParams::apply("dappmesh-operator").force();
    let status = refused(
        system
            .patch("miner", &apply, &Patch::Apply(&deployment))
            .await,
    );
    assert_eq!(status.code, 403, "{}", status.message);
    assert!(
        status
            .message
            .contains("cannot patch resource \"deployments\""),
        "{}",
        status.message
    );

    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "stolen", "namespace": "default"},
        "stringData": {"token": "x"},
    }))
    .unwrap();
    let default: Api<Secret> = Api::namespaced(client.clone(), "default");
    let status = refused(default.create(&PostParams::default(), &secret).await);
    let message = format!(
        "secrets is forbidden: User \"{OPERATOR}\" cannot create resource \"secrets\" in API \
         group \"\" in the namespace \"default\""
    );
    assert_eq!((status.code, status.message), (403, message));
    let status = refused(default.get("default-token").await);
    assert_eq!(
        status.code, 403,
        "nor reads Secrets there: {}",
        status.message
    );
    assert!(
        server
            .get("apps/v1", "Deployment", Some("kube-system"), "miner")
            .is_none()
    );
    assert!(
        server
            .get("v1", "Secret", Some("default"), "stolen")
            .is_none()
    );
}
