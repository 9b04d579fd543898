//! The operator against a real HTTP API server on 127.0.0.1 (tests/apiserver): a scaffolded
//! mesh rendered by dappctl, its CRD, namespaces and mesh ConfigMap applied, and the
//! controller running as in the cluster, through a kubeconfig.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use operator::controller::{self, MeshSource, Settings};
use serde_json::{Value, json};
use test_apiserver::{ApiServer, Options, Workloads};

mod rendering;

/// A cluster with the scaffolded mesh's platform pieces and its one DataProduct, the rendered
/// files to compare with, and the operator running.
struct Cluster {
    server: ApiServer,
    rendered: BTreeMap<String, Value>,
    client: kube::Client,
    shared: operator::web::Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(name: &str) -> Cluster {
    start_with(name, true, None).await
}

/// The cluster, with the operator in this process writing to `catalog`.
async fn start_catalog(name: &str, catalog: Option<operator::registry::Catalog>) -> Cluster {
    start_with(name, true, catalog).await
}

/// The cluster, with the operator running in this process (`in_process`) or not at all.
async fn start_with(
    name: &str,
    in_process: bool,
    catalog: Option<operator::registry::Catalog>,
) -> Cluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("operator-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in dappmesh_compiler::scaffold::files(&dir) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut rendered = BTreeMap::new();
    for (path, objects) in rendering::render(&dir) {
        for object in objects {
            rendered.insert(path.clone(), object);
        }
    }
    // No simulated controller: the operator is the one that marks DataProducts Ready.
    let server = ApiServer::start(Options {
        workloads: Workloads::Stuck,
        ..Options::default()
    });
    for path in [
        "platform/customresourcedefinition-dataproducts.dappmesh.io.yaml",
        "platform/namespace-dappmesh-system.yaml",
        "platform/configmap-dappmesh-mesh.yaml",
        "envs/dev/sales/namespace-sales.yaml",
        "envs/dev/sales/orders/dataproduct-orders.yaml",
    ] {
        server
            .apply_as("dappctl", rendered[path].clone())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let kubeconfig = dir.join("kubeconfig");
    server.kubeconfig(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = operator::web::Shared::default();
    let mesh = MeshSource {
        namespace: "dappmesh-system".into(),
        name: "dappmesh-mesh".into(),
    };
    if in_process {
        let settings = Settings {
            mesh,
            catalog,
            concurrency: 4,
        };
        tokio::spawn(controller::run(
            client.clone(),
            settings,
            shared.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
    }
    Cluster {
        server,
        rendered,
        client,
        shared,
        stop: Some(stop),
        dir: TempDir(dir),
    }
}

impl Cluster {
    /// The notes of the events recorded on the product with this reason.
    fn events(&self, reason: &str) -> Vec<String> {
        self.server
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == "Event" && o["regarding"]["name"] == "orders")
            .filter(|o| o["reason"] == reason)
            .map(|o| o["note"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.server.get(api_version, kind, namespace, name)
    }

    fn product(&self) -> Value {
        self.get(
            "dappmesh.io/v1alpha1",
            "DataProduct",
            Some("sales"),
            "orders",
        )
        .expect("the product")
    }

    fn api(&self, api_version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let resource = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::namespaced_with(self.client.clone(), "sales", &resource)
    }

    /// Deletes the product as its team would, and waits until the operator has let it go.
    async fn delete_product(&self) {
        self.api("dappmesh.io/v1alpha1", "DataProduct", "dataproducts")
            .delete("orders", &DeleteParams::default())
            .await
            .unwrap();
        eventually("the product is gone", || {
            self.get(
                "dappmesh.io/v1alpha1",
                "DataProduct",
                Some("sales"),
                "orders",
            )
            .is_none()
        })
        .await;
    }

    /// Changes the product's resource as its team would, with kubectl.
    async fn edit_product(&self, spec: Value) {
        let patch = json!({"apiVersion": "dappmesh.io/v1alpha1", "kind": "DataProduct",
                           "metadata": {"name": "orders", "namespace": "sales"}, "spec": spec});
        self.api("dappmesh.io/v1alpha1", "DataProduct", "dataproducts")
            .patch(
                "orders",
                &PatchParams::apply("dappctl").force(),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap();
    }
}

/// Waits up to 10 s for `check` to hold.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition(product: &Value, kind: &str) -> Option<Value> {
    product
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

fn ready(product: &Value) -> bool {
    condition(product, "Ready").is_some_and(|c| {
        c["status"] == "True" && c["observedGeneration"] == product["metadata"]["generation"]
    })
}

/// Whether every field of `wanted` is in `live` with the same value.
fn contains(live: &Value, wanted: &Value) -> bool {
    match (live, wanted) {
        (Value::Object(l), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| contains(lv, v))),
        (Value::Array(l), Value::Array(w)) => {
            l.len() == w.len() && l.iter().zip(w).all(|(a, b)| contains(a, b))
        }
        (l, w) => l == w,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_gets_the_children_dappctl_renders_and_a_ready_status() {
    let cluster = start("create").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;

    assert!(
        cluster
            .shared
            .ready
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let product = cluster.product();
    let finalizers = &product["metadata"]["finalizers"];
    assert_eq!(finalizers, &json!([controller::FINALIZER]));
    // Every object dappctl renders for the product is there, as rendered, owned by it.
    let uid = product["metadata"]["uid"].clone();
    let mut children = 0;
    for (path, object) in &cluster.rendered {
        if !path.starts_with("envs/dev/sales/orders/") || object["kind"] == "DataProduct" {
            continue;
        }
        let live = cluster
            .get(
                object["apiVersion"].as_str().unwrap(),
                object["kind"].as_str().unwrap(),
                Some("sales"),
                object["metadata"]["name"].as_str().unwrap(),
            )
            .unwrap_or_else(|| panic!("{path} was not applied"));
        assert!(
            contains(&live, object),
            "{path} differs from what dappctl renders"
        );
        assert_eq!(live["metadata"]["ownerReferences"][0]["uid"], uid, "{path}");
        assert_eq!(live["metadata"]["ownerReferences"][0]["controller"], true);
        children += 1;
    }
    // The scaffold's product: a ServiceAccount, a StatefulSet and a Service for its database,
    // its output port's Service and contract, and four NetworkPolicies.
    assert_eq!(children, 9);
    let status = &product["status"];
    assert_eq!(status["children"].as_array().unwrap().len(), children);
    assert_eq!(
        status["endpoints"][0]["url"],
        "orders-orders-api.sales.svc:5432"
    );
    assert_eq!(condition(&product, "Stalled").unwrap()["status"], "False");
    // The change is recorded as an event on the product.
    let applied = cluster.events("Applied");
    assert!(
        applied
            .iter()
            .any(|e| e.contains("generation 1: 9 children applied")),
        "{applied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_and_removed_children_go() {
    let cluster = start("drift").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    let services = cluster.api("v1", "Service", "services");

    // A child deleted by hand comes back.
    services
        .delete("orders-orders-api", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the deleted Service is back", || {
        cluster
            .get("v1", "Service", Some("sales"), "orders-orders-api")
            .is_some()
    })
    .await;

    // A child edited by hand is put back.
    let edit = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "orders-orders-db", "namespace": "sales"},
        "spec": {"ports": [{"name": "postgres", "port": 9999, "targetPort": 9999}]}});
    services
        .patch(
            "orders-orders-db",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(&edit),
        )
        .await
        .unwrap();
    eventually("the edited Service is repaired", || {
        cluster
            .get("v1", "Service", Some("sales"), "orders-orders-db")
            .is_some_and(|s| s["spec"]["ports"][0]["port"] == 5432)
    })
    .await;

    // A workflow added to the product adds its CronJob; removed, the CronJob goes.
    let mut spec = cluster.product()["spec"].clone();
    let without = spec.clone();
    spec["dataInMotion"]["workflows"] =
        json!([{"name": "hourly-load", "schedule": "0 * * * *", "steps": ["load"]}]);
    cluster.edit_product(spec).await;
    eventually("the CronJob exists", || {
        cluster
            .get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_some()
    })
    .await;
    eventually("the product is Ready again", || ready(&cluster.product())).await;
    cluster.edit_product(without).await;
    eventually("the CronJob is gone", || {
        cluster
            .get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_none()
    })
    .await;
    eventually("the removal is recorded", || {
        cluster
            .events("Pruned")
            .iter()
            .any(|e| e.contains("CronJob/orders-hourly-load"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_product_is_stalled_with_what_validate_would_say() {
    let cluster = start("invalid").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    let mut spec = cluster.product()["spec"].clone();
    spec["storage"][0]["engine"] = json!("oracle");
    cluster.edit_product(spec).await;
    eventually("the product is Stalled", || {
        condition(&cluster.product(), "Stalled").is_some_and(|c| c["status"] == "True")
    })
    .await;
    let product = cluster.product();
    let stalled = condition(&product, "Stalled").unwrap();
    let message = stalled["message"].as_str().unwrap();
    assert!(message.contains("dataproducts/sales/orders"), "{message}");
    assert!(message.contains("oracle"), "{message}");
    assert_eq!(
        cluster.events("Invalid").len(),
        1,
        "one warning, not one per retry"
    );
    assert_eq!(condition(&product, "Ready").unwrap()["status"], "False");
    // The children it had stay: a broken edit does not take a product down.
    assert!(
        cluster
            .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_some()
    );

    // Nor does it hold up the rest of the mesh: another product still renders.
    let mut returns = cluster.rendered["envs/dev/sales/orders/dataproduct-orders.yaml"].clone();
    returns["metadata"]["name"] = json!("returns");
    returns["metadata"]["labels"]["dappmesh.io/product"] = json!("returns");
    returns["metadata"]["annotations"]["dappmesh.io/urn"] =
        json!("urn:dpds:operator-test:dataproducts:returns:0");
    cluster.server.apply_as("kubectl", returns).unwrap();
    eventually("the other product is Ready", || {
        cluster
            .get(
                "dappmesh.io/v1alpha1",
                "DataProduct",
                Some("sales"),
                "returns",
            )
            .is_some_and(|p| ready(&p))
    })
    .await;
    assert!(
        cluster
            .get("apps/v1", "StatefulSet", Some("sales"), "returns-orders-db")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_releases_only_the_operators_finalizer() {
    let cluster = start("delete").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    // Another controller's finalizer, added the way it would add it.
    let products = cluster.api("dappmesh.io/v1alpha1", "DataProduct", "dataproducts");
    let both = json!({"metadata": {"finalizers": [controller::FINALIZER, "example.com/backup"]}});
    products
        .patch("orders", &PatchParams::default(), &Patch::Merge(&both))
        .await
        .unwrap();
    products
        .delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the operator's finalizer is released", || {
        cluster.product()["metadata"]["finalizers"] == json!(["example.com/backup"])
    })
    .await;
    assert!(cluster.product()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(cluster.events("Released").len(), 1);
    // Once the other controller is done, the product goes.
    let none = json!({"metadata": {"finalizers": []}});
    products
        .patch("orders", &PatchParams::default(), &Patch::Merge(&none))
        .await
        .unwrap();
    eventually("the product is gone", || {
        cluster
            .get(
                "dappmesh.io/v1alpha1",
                "DataProduct",
                Some("sales"),
                "orders",
            )
            .is_none()
    })
    .await;
}

/// A child process, killed if the test ends before it does.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP GET on 127.0.0.1: the status code and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let code = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_its_endpoints_and_stops_on_sigterm() {
    let cluster = start_with("binary", false, None).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Running(
        std::process::Command::new(env!("CARGO_BIN_EXE_operator"))
            .args([
                "run",
                "--mesh-namespace",
                "dappmesh-system",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("KUBECONFIG", cluster.dir.0.join("kubeconfig"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the operator starts"),
    );
    eventually("the product is Ready", || ready(&cluster.product())).await;
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 200);
    let (code, metrics) = http_get(port, "/metrics");
    assert_eq!(code, 200);
    let reconciles: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dappmesh_operator_reconciles_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_default();
    assert!(reconciles >= 1, "{metrics}");

    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the operator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

impl Cluster {
    /// Starts the operator binary as replica `identity`, with a short Lease.
    fn replica(&self, identity: &str) -> Running {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Running(
            std::process::Command::new(env!("CARGO_BIN_EXE_operator"))
                .args([
                    "run",
                    "--mesh-namespace",
                    "dappmesh-system",
                    "--lease-duration",
                    "2s",
                ])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .env("KUBECONFIG", self.dir.0.join("kubeconfig"))
                .env("POD_NAME", identity)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("the operator starts"),
        )
    }

    fn lease_holder(&self) -> Option<String> {
        let lease = self.get(
            "coordination.k8s.io/v1",
            "Lease",
            Some("dappmesh-system"),
            "dappmesh-operator",
        )?;
        lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_replica_takes_over_when_the_leader_dies() {
    let cluster = start_with("leaders", false, None).await;
    let mut a = cluster.replica("a");
    eventually("a leads and the product is Ready", || {
        cluster.lease_holder().as_deref() == Some("a") && ready(&cluster.product())
    })
    .await;
    let b = cluster.replica("b");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(cluster.lease_holder().as_deref(), Some("a"), "b waits");

    // The leader dies without a word; the standby takes over once the Lease expires, and
    // reconciles what changes from then on.
    a.0.kill().unwrap();
    eventually("b leads", || cluster.lease_holder().as_deref() == Some("b")).await;
    let mut spec = cluster.product()["spec"].clone();
    spec["dataInMotion"]["workflows"] =
        json!([{"name": "hourly-load", "schedule": "0 * * * *", "steps": ["load"]}]);
    cluster.edit_product(spec).await;
    eventually("b applied the change", || {
        cluster
            .get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_some()
    })
    .await;

    // Stopped with SIGTERM, a leader gives the Lease up at once.
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &b.0.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    eventually("b released the Lease", || cluster.lease_holder().is_none()).await;
}

/// The real registry (its library, on a SQLite file) on 127.0.0.1:`port`, with `tokens` (the
/// registry's token format) and reads as `reads` says.
async fn registry_on(
    port: u16,
    dir: &std::path::Path,
    tokens: String,
    reads: registry::auth::ReadAccess,
) {
    use std::sync::Arc;

    use registry::clock::SystemClock;
    use registry::keyring::Keyring;
    use registry::metrics::Metrics;
    use registry::state::{Limits, Registry};
    use registry::store::Store;
    use registry::ttl::TtlPolicy;

    let store = Store::open(dir).unwrap();
    let limits = Limits {
        max_registrations: 100,
        max_products: 100,
    };
    let (catalog, writer) =
        Registry::start(store, Arc::new(SystemClock), TtlPolicy::default(), limits).unwrap();
    // The writer thread runs as long as the registry does, which is as long as this test.
    std::mem::forget(writer);
    let keyring = Keyring::load(Vec::new(), Some(tokens)).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    let state = registry::AppState {
        registry: catalog,
        keyring: Arc::new(keyring),
        reads,
        metrics: Arc::new(Metrics::default()),
        watchers: Arc::new(registry::http::watch::Watchers::new(
            registry::http::watch::WatcherLimits {
                max: 16,
                reserve: 0,
                per_client: 16,
                per_token: 16,
            },
        )),
        shutdown: stopped,
        cors_origins: Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, registry::app(state)).await });
}

/// One HTTP GET of the registry's catalog entry: its status code and body.
fn catalog_entry(port: u16, id: &str) -> (u16, Value) {
    let (code, body) = http_get(port, &format!("/api/v1/products/{id}"));
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_being_down_holds_nothing_up_and_the_product_registers_once_it_is_back() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let catalog = operator::registry::Catalog::new(
        &format!("http://127.0.0.1:{port}"),
        Some("operator-test-token-0001".into()),
    )
    .unwrap();
    let cluster = start_catalog("registry", Some(catalog)).await;
    // Nothing listens on the registry's port yet: the product is still applied and Ready,
    // and its status says what is wrong with the registration.
    eventually("the product is Ready", || ready(&cluster.product())).await;
    let registry = cluster.product()["status"]["registry"].clone();
    assert_eq!(registry["state"], "Unavailable", "{registry}");
    assert!(
        registry["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach the registry")
    );
    let id = registry["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("urn:dpds:"), "{id}");

    // A registry that stays down is retried with a growing delay, not in a loop.
    let status_writes = || {
        cluster
            .server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with("/orders/status"))
            .count()
    };
    let before = status_writes();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        status_writes() - before <= 2,
        "{} reconciles in 1.5 s",
        status_writes() - before
    );

    registry_on(
        port,
        &cluster.dir.0,
        "operator-test-token-0001 products:*".into(),
        registry::auth::ReadAccess::Open,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.product()["status"]["registry"]["state"] != "Registered" {
        assert!(
            Instant::now() < deadline,
            "never registered: {}",
            cluster.product()["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, entry) = catalog_entry(port, &id);
    assert_eq!(code, 200, "{entry}");
    let product = &entry["product"];
    assert_eq!(product["name"], "orders", "{entry}");
    assert_eq!(product["owner"], "team-sales");
    assert_eq!(
        product["outputPorts"][0]["endpoint"],
        "http://orders-orders-api.sales.svc:5432"
    );

    // Deleted, the product leaves the catalog before it is released.
    cluster.delete_product().await;
    assert_eq!(catalog_entry(port, &id).0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_conflicts_from_the_api_server_are_retried_until_it_converges() {
    let cluster = start_with("faults", false, None).await;
    // The first writes of the database's StatefulSet fail, and so does a status write.
    cluster.server.inject(test_apiserver::Fault {
        method: Some(test_apiserver::Method::Patch),
        resource: Some("statefulsets".into()),
        name: None,
        status: 500,
        reason: "InternalError".into(),
        message: "etcdserver: request timed out".into(),
        times: Some(2),
    });
    cluster.server.inject(test_apiserver::Fault {
        method: Some(test_apiserver::Method::Patch),
        resource: Some("dataproducts".into()),
        name: Some("orders".into()),
        status: 409,
        reason: "Conflict".into(),
        message: "the object has been modified; please apply your changes to the latest version and try again".into(),
        times: Some(1),
    });
    let shared = operator::web::Shared::default();
    let settings = Settings {
        mesh: MeshSource {
            namespace: "dappmesh-system".into(),
            name: "dappmesh-mesh".into(),
        },
        catalog: None,
        concurrency: 4,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controller::run(
        cluster.client.clone(),
        settings,
        shared.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    // Retried every 5 s after a failure.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(&cluster.product()) {
        assert!(Instant::now() < deadline, "never converged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cluster
            .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_some()
    );
    let metrics = shared.metrics.render();
    assert!(
        metrics.contains("dappmesh_operator_reconcile_failures_total{reason=\"kube\"}"),
        "{metrics}"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_the_product_does_not_own_is_never_overwritten_and_the_status_names_it() {
    let cluster = start_with("foreign", false, None).await;
    // Someone else's Service where the product's output port would go: no labels of the
    // product, no owner.
    let foreign = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "orders-orders-api", "namespace": "sales",
                     "labels": {"team": "someone-else"}},
        "spec": {"selector": {"app": "theirs"}, "ports": [{"name": "http", "port": 80}]},
    });
    cluster.server.apply_as("kubectl", foreign).unwrap();
    // The product's own database, rendered for it (the label), scaled by hand: a field
    // another manager owns.
    let mut scaled =
        cluster.rendered["envs/dev/sales/orders/statefulset-orders-orders-db.yaml"].clone();
    scaled["spec"]["replicas"] = json!(3);
    cluster.server.apply_as("kubectl-scale", scaled).unwrap();

    let shared = operator::web::Shared::default();
    let settings = Settings {
        mesh: MeshSource {
            namespace: "dappmesh-system".into(),
            name: "dappmesh-mesh".into(),
        },
        catalog: None,
        concurrency: 4,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controller::run(
        cluster.client.clone(),
        settings,
        shared,
        async move {
            let _ = stopped.await;
        },
    ));
    eventually("the product is Stalled on the conflicts", || {
        condition(&cluster.product(), "Stalled").is_some_and(|c| c["status"] == "True")
    })
    .await;
    let stalled = condition(&cluster.product(), "Stalled").unwrap();
    assert_eq!(stalled["reason"], "Conflict");
    let message = stalled["message"].as_str().unwrap();
    assert!(
        message.contains("Service/orders-orders-api: exists and was not created by the operator"),
        "{message}"
    );
    assert!(
        message.contains("StatefulSet/orders-orders-db"),
        "{message}"
    );
    assert_eq!(
        condition(&cluster.product(), "Ready").unwrap()["status"],
        "False"
    );

    // Both are as their owners left them.
    let service = cluster
        .get("v1", "Service", Some("sales"), "orders-orders-api")
        .unwrap();
    assert_eq!(service["spec"]["selector"], json!({"app": "theirs"}));
    assert!(service["metadata"].get("ownerReferences").is_none());
    let database = cluster
        .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
        .unwrap();
    assert_eq!(database["spec"]["replicas"], 3);
    // What is the product's was applied all the same.
    assert!(
        cluster
            .get("v1", "ServiceAccount", Some("sales"), "orders")
            .is_some()
    );
    assert!(!cluster.events("Conflict").is_empty());
    let _ = stop.send(());
}

impl Cluster {
    /// A Secret's key, decoded; None when the Secret or the key is missing.
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        let secret = self.get("v1", "Secret", Some(namespace), name)?;
        let encoded = secret["data"].get(key)?.clone();
        let bytes: ByteString = serde_json::from_value(encoded).unwrap();
        Some(String::from_utf8(bytes.0).unwrap())
    }

    fn product_token(&self) -> Option<String> {
        self.secret_key("sales", "orders-registry-token", "token")
    }

    /// A product's line in the registry's product tokens.
    fn token_entry(&self, key: &str) -> Option<String> {
        self.secret_key("dappmesh-system", operator::tokens::PRODUCT_TOKENS, key)
    }

    /// Sets a key of the registry's product tokens by hand, as kubectl would.
    async fn write_entry(&self, key: &str, line: &str) {
        let patch = json!({"data": {key: ByteString(line.as_bytes().to_vec())}});
        Api::<Secret>::namespaced(self.client.clone(), "dappmesh-system")
            .patch(
                operator::tokens::PRODUCT_TOKENS,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
    }

    /// Writes to Secrets the server received so far.
    fn secret_writes(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.path.contains("/secrets"))
            .count()
    }

    /// Has the product reconciled once more (an annotation changes no generation, but the
    /// watch sees it), and waits until that reconcile has written its status.
    async fn reconcile_again(&self, round: u32) {
        let status_writes = || {
            self.server
                .requests()
                .iter()
                .filter(|r| r.method == "PATCH" && r.path.ends_with("/orders/status"))
                .count()
        };
        let before = status_writes();
        let touch =
            json!({"metadata": {"annotations": {"example.com/touched": round.to_string()}}});
        self.api("dappmesh.io/v1alpha1", "DataProduct", "dataproducts")
            .patch("orders", &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
        eventually("the product reconciled again", || status_writes() > before).await;
    }

    /// Gives the Ready product two widgets, waits for its token and line, and returns the
    /// token.
    async fn with_widgets(&self) -> String {
        eventually("the product is Ready", || ready(&self.product())).await;
        let mut spec = self.product()["spec"].clone();
        spec["widgets"] = json!([
            {"name": "chart", "tag": "orders-chart", "image": "sales/chart-widget:1.0.0"},
            {"name": "map", "tag": "orders-map", "image": "sales/map-widget:1.0.0"},
        ]);
        self.edit_product(spec).await;
        eventually("the token and its line exist", || {
            self.product_token().is_some() && self.token_entry("sales.orders").is_some()
        })
        .await;
        self.product_token().unwrap()
    }
}

/// The grants of the product with two widgets: exactly their ids.
const GRANTS: &str = "registry:sales-orders-chart registry:sales-orders-map";

fn is_hex_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_with_widgets_gets_its_own_token_granting_exactly_its_widget_ids() {
    let cluster = start("tokens").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    // Without widgets it needs no token.
    assert_eq!(cluster.product_token(), None);
    assert_eq!(cluster.token_entry("sales.orders"), None);

    let token = cluster.with_widgets().await;
    assert!(is_hex_token(&token), "{token}");
    assert_eq!(
        cluster.token_entry("sales.orders").unwrap(),
        format!("{token} {GRANTS}\n")
    );
    // The Secret is the product's, so it goes with it, and says who made it.
    let secret = cluster
        .get("v1", "Secret", Some("sales"), "orders-registry-token")
        .unwrap();
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], cluster.product()["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "dappmesh-operator"
    );
    // The widget's heartbeat mounts that Secret, and no other.
    let widget = cluster
        .get("apps/v1", "Deployment", Some("sales"), "orders-chart")
        .expect("the widget's Deployment");
    let volumes = widget["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let mounted: Vec<&Value> = volumes
        .iter()
        .filter_map(|v| v.pointer("/secret/secretName"))
        .collect();
    assert_eq!(mounted, [&json!("orders-registry-token")]);

    // A reconcile with nothing new writes no Secret: the token stays.
    let writes = cluster.secret_writes();
    cluster.reconcile_again(1).await;
    assert_eq!(cluster.secret_writes(), writes);
    assert_eq!(cluster.product_token().unwrap(), token);

    // A widget removed loses its grant.
    let mut spec = cluster.product()["spec"].clone();
    spec["widgets"] =
        json!([{"name": "map", "tag": "orders-map", "image": "sales/map-widget:1.0.0"}]);
    cluster.edit_product(spec).await;
    eventually("the line grants the one widget left", || {
        cluster.token_entry("sales.orders") == Some(format!("{token} registry:sales-orders-map\n"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_token_secret_rotates_the_token_and_a_widened_line_is_put_back() {
    let cluster = start("rotate").await;
    let token = cluster.with_widgets().await;

    // Someone widens the product's line by hand: it is put back.
    cluster
        .write_entry("sales.orders", &format!("{token} registry:*\n"))
        .await;
    cluster.reconcile_again(1).await;
    // Eventually: a reconcile already under way may have read the line before the edit.
    eventually("the line is put back", || {
        cluster.token_entry("sales.orders") == Some(format!("{token} {GRANTS}\n"))
    })
    .await;

    // Rotation: the deleted Secret is made anew with another token, which replaces the line.
    Api::<Secret>::namespaced(cluster.client.clone(), "sales")
        .delete("orders-registry-token", &DeleteParams::default())
        .await
        .unwrap();
    cluster.reconcile_again(2).await;
    eventually("a new token is made", || cluster.product_token().is_some()).await;
    let rotated = cluster.product_token().unwrap();
    assert!(is_hex_token(&rotated), "{rotated}");
    assert_ne!(rotated, token);
    eventually("the new token replaces the line", || {
        cluster.token_entry("sales.orders") == Some(format!("{rotated} {GRANTS}\n"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_product_takes_its_line_out_and_never_touches_another_products() {
    let cluster = start("token-delete").await;
    cluster.with_widgets().await;
    let theirs = "their-token-0123456789 registry:crm-customers-map\n";
    cluster.write_entry("crm.customers", theirs).await;
    // Their line survives the product's own writes (a rotation rewrites its line)...
    Api::<Secret>::namespaced(cluster.client.clone(), "sales")
        .delete("orders-registry-token", &DeleteParams::default())
        .await
        .unwrap();
    cluster.reconcile_again(1).await;
    eventually("the product's line has its new token", || {
        cluster.product_token().is_some_and(|token| {
            cluster.token_entry("sales.orders") == Some(format!("{token} {GRANTS}\n"))
        })
    })
    .await;
    assert_eq!(
        cluster.token_entry("crm.customers").as_deref(),
        Some(theirs)
    );

    // ...and its deletion, which takes its line out before the product goes.
    cluster.delete_product().await;
    assert_eq!(cluster.token_entry("sales.orders"), None);
    assert_eq!(
        cluster.token_entry("crm.customers").as_deref(),
        Some(theirs)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_secret_someone_else_left_unusable_is_not_overwritten_and_grants_nothing() {
    let cluster = start("foreign-token").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    let broken = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "orders-registry-token", "namespace": "sales"},
        "data": {"other": "eA=="}});
    cluster.server.apply_as("kubectl", broken).unwrap();
    let mut spec = cluster.product()["spec"].clone();
    spec["widgets"] =
        json!([{"name": "chart", "tag": "orders-chart", "image": "sales/chart-widget:1.0.0"}]);
    cluster.edit_product(spec).await;
    eventually("the product is Stalled on its token", || {
        condition(&cluster.product(), "Stalled").is_some_and(|c| {
            c["status"] == "True"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Secret/orders-registry-token"))
        })
    })
    .await;
    let secret = cluster
        .get("v1", "Secret", Some("sales"), "orders-registry-token")
        .unwrap();
    assert_eq!(secret["data"], json!({"other": "eA=="}));
    assert_eq!(cluster.token_entry("sales.orders"), None);
}

impl Cluster {
    /// The platform Secret's labels and data, as the server holds them.
    fn platform_secret(&self, name: &str) -> Option<Value> {
        self.get("v1", "Secret", Some("dappmesh-system"), name)
    }

    /// A key of the grants Secret the registry reads the platform's tokens from.
    fn platform_grant(&self, key: &str) -> Option<String> {
        self.secret_key("dappmesh-system", operator::platform::PLATFORM_TOKENS, key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_cluster_gets_random_platform_tokens_granting_exactly_what_each_needs_once() {
    use operator::platform::{self, DASHBOARD_TOKEN, OPERATOR_TOKEN};

    let cluster = start_with("platform", false, None).await;
    assert_eq!(cluster.server.count(|o| o["kind"] == "Secret"), 0);
    let made = platform::ensure(&cluster.client, "dappmesh-system")
        .await
        .unwrap();
    assert!(made.unusable.is_empty(), "{:?}", made.unusable);
    let operator = cluster
        .secret_key("dappmesh-system", OPERATOR_TOKEN, "token")
        .unwrap();
    let dashboard = cluster
        .secret_key("dappmesh-system", DASHBOARD_TOKEN, "token")
        .unwrap();
    assert!(is_hex_token(&operator) && is_hex_token(&dashboard));
    assert_ne!(operator, dashboard);
    assert_eq!(made.operator_token.as_deref(), Some(operator.as_str()));
    for name in [OPERATOR_TOKEN, DASHBOARD_TOKEN] {
        let secret = cluster.platform_secret(name).unwrap();
        assert_eq!(
            secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "dappmesh-operator"
        );
    }
    // The registry's grants: the operator writes the catalog, the dashboard reads; no more.
    assert_eq!(
        cluster.platform_grant("operator"),
        Some(format!("{operator} products:*\n"))
    );
    assert_eq!(
        cluster.platform_grant("dashboard"),
        Some(format!("{dashboard} read\n"))
    );
    let grants = cluster.platform_secret(platform::PLATFORM_TOKENS).unwrap();
    assert_eq!(grants["data"].as_object().unwrap().len(), 2, "{grants}");

    // A second start changes nothing: no write, the same tokens.
    let writes = cluster.secret_writes();
    let again = platform::ensure(&cluster.client, "dappmesh-system")
        .await
        .unwrap();
    assert_eq!(cluster.secret_writes(), writes);
    assert_eq!(again.operator_token.as_deref(), Some(operator.as_str()));
    assert_eq!(
        cluster.secret_key("dappmesh-system", DASHBOARD_TOKEN, "token"),
        Some(dashboard)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_token_secrets_a_person_made_are_never_overwritten_nor_granted_again() {
    use operator::platform::{self, DASHBOARD_TOKEN, OPERATOR_TOKEN};

    let cluster = start_with("platform-person", false, None).await;
    // The operator's token as an admin made it (and granted it in dappmesh-registry-tokens,
    // as before), and a dashboard Secret with no token in it.
    let theirs = "person-made-token-0123456789";
    for (name, data) in [
        (OPERATOR_TOKEN, json!({"token": ByteString(theirs.into())})),
        (DASHBOARD_TOKEN, json!({"other": "eA=="})),
    ] {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "dappmesh-system"}, "data": data});
        cluster.server.apply_as("kubectl", secret).unwrap();
    }
    let before: Vec<Value> = [OPERATOR_TOKEN, DASHBOARD_TOKEN]
        .map(|n| cluster.platform_secret(n).unwrap())
        .to_vec();
    let found = platform::ensure(&cluster.client, "dappmesh-system")
        .await
        .unwrap();
    // The person's token is the operator's, as a mount of it would have been.
    assert_eq!(found.operator_token.as_deref(), Some(theirs));
    assert_eq!(found.unusable.len(), 1, "{:?}", found.unusable);
    assert!(found.unusable[0].contains(DASHBOARD_TOKEN));
    let after: Vec<Value> = [OPERATOR_TOKEN, DASHBOARD_TOKEN]
        .map(|n| cluster.platform_secret(n).unwrap())
        .to_vec();
    assert_eq!(after, before, "untouched");
    // Theirs to grant: listing a token twice makes the registry refuse both.
    assert_eq!(cluster.platform_grant("operator"), None);
    assert_eq!(cluster.platform_grant("dashboard"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_makes_its_own_token_and_the_registry_takes_its_catalog_writes() {
    let cluster = start_with("platform-binary", false, None).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _operator = Running(
        std::process::Command::new(env!("CARGO_BIN_EXE_operator"))
            .args(["run", "--mesh-namespace", "dappmesh-system"])
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .args(["--registry-url", &format!("http://127.0.0.1:{port}")])
            .arg("--platform-secrets")
            .env("KUBECONFIG", cluster.dir.0.join("kubeconfig"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the operator starts"),
    );
    eventually("the platform's grants exist", || {
        cluster.platform_grant("operator").is_some()
            && cluster.platform_grant("dashboard").is_some()
    })
    .await;
    // The registry as rendered: reads need a token, and its tokens are the grants Secret's.
    let tokens = ["operator", "dashboard"]
        .map(|k| cluster.platform_grant(k).unwrap())
        .concat();
    registry_on(
        port,
        &cluster.dir.0,
        tokens,
        registry::auth::ReadAccess::Token,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.product()["status"]["registry"]["state"] != "Registered" {
        assert!(
            Instant::now() < deadline,
            "never registered: {}",
            cluster.product()["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_in_the_cluster_gets_credentials_that_outlive_the_product_and_s3_none() {
    let cluster = start("credentials").await;
    eventually("the product is Ready", || ready(&cluster.product())).await;
    let name = "orders-orders-db-credentials";
    let password = cluster.secret_key("sales", name, "password").unwrap();
    assert!(is_hex_token(&password), "{password}");
    assert_eq!(
        cluster.secret_key("sales", name, "username").as_deref(),
        Some("orders")
    );
    // The database's StatefulSet mounts exactly that Secret.
    let database = cluster
        .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
        .unwrap();
    let mounted: Vec<&Value> = database["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.pointer("/secret/secretName"))
        .collect();
    assert_eq!(mounted, [&json!(name)]);
    let secret = cluster.get("v1", "Secret", Some("sales"), name).unwrap();
    assert!(
        secret["metadata"].get("ownerReferences").is_none(),
        "{secret}"
    );
    assert_eq!(
        secret["metadata"]["labels"]["dappmesh.io/product"],
        "orders"
    );

    // An object store outside the cluster gets none; the password already made stays.
    let mut spec = cluster.product()["spec"].clone();
    spec["storage"].as_array_mut().unwrap().push(
        json!({"name": "lake", "kind": "object", "engine": "s3", "bucket": "acme-orders",
               "host": "s3.eu-central-1.amazonaws.com", "cidr": "52.219.168.0/21"}),
    );
    cluster.edit_product(spec).await;
    eventually("the lake's ConfigMap exists", || {
        cluster
            .get("v1", "ConfigMap", Some("sales"), "orders-lake")
            .is_some()
    })
    .await;
    eventually("the product is Ready again", || ready(&cluster.product())).await;
    assert!(
        cluster
            .get("v1", "Secret", Some("sales"), "orders-lake-credentials")
            .is_none()
    );
    assert_eq!(
        cluster.secret_key("sales", name, "password"),
        Some(password.clone())
    );

    // Deleted, the product leaves its database's password, as its volume stays.
    cluster.delete_product().await;
    assert_eq!(
        cluster.secret_key("sales", name, "password"),
        Some(password)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_a_person_made_are_never_overwritten_and_an_incomplete_one_is_named() {
    let cluster = start_with("credentials-person", false, None).await;
    let theirs = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "orders-orders-db-credentials", "namespace": "sales"},
        "data": {"password": ByteString(b"their-password".to_vec())}});
    cluster.server.apply_as("kubectl", theirs).unwrap();
    let before = cluster
        .get(
            "v1",
            "Secret",
            Some("sales"),
            "orders-orders-db-credentials",
        )
        .unwrap();
    let settings = Settings {
        mesh: MeshSource {
            namespace: "dappmesh-system".into(),
            name: "dappmesh-mesh".into(),
        },
        catalog: None,
        concurrency: 4,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controller::run(
        cluster.client.clone(),
        settings,
        operator::web::Shared::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    eventually("the product is Stalled on its credentials", || {
        condition(&cluster.product(), "Stalled").is_some_and(|c| {
            c["status"] == "True"
                && c["message"].as_str().is_some_and(|m| {
                    m.contains("Secret/orders-orders-db-credentials: has no key username")
                })
        })
    })
    .await;
    let after = cluster
        .get(
            "v1",
            "Secret",
            Some("sales"),
            "orders-orders-db-credentials",
        )
        .unwrap();
    assert_eq!(after, before, "untouched");
    // The database is applied all the same: its pod starts once the Secret is complete.
    assert!(
        cluster
            .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_some()
    );
    let _ = stop.send(());
}
