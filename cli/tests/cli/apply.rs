//! `dappctl apply`, `diff` and `delete` against a real HTTP API server on 127.0.0.1
//! (tests/apiserver), driven through a kubeconfig file as a user would.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use test_apiserver::{ApiServer, Fault, Method, Options, Workloads};

use super::harness::{TempDir, assert_exit, dappctl, run};

/// A scaffolded mesh (one domain, one product) and a cluster to apply it to.
struct Fixture {
    dir: TempDir,
    server: ApiServer,
    kubeconfig: PathBuf,
}

impl Fixture {
    fn new(name: &str, options: Options) -> Fixture {
        let dir = TempDir::new(name);
        assert_exit(&run(&["init", "mesh"], dir.path()), 0);
        let server = ApiServer::start(options);
        let kubeconfig = dir.path().join("kubeconfig");
        server.kubeconfig(&kubeconfig).expect("kubeconfig");
        Fixture {
            dir,
            server,
            kubeconfig,
        }
    }

    fn mesh(&self) -> PathBuf {
        self.dir.path().join("mesh")
    }

    /// Runs dappctl with this fixture's kubeconfig after `args`.
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let kubeconfig = self.kubeconfig.to_str().expect("utf-8 path");
        all.extend(["--kubeconfig", kubeconfig]);
        run(&all, self.dir.path())
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "mesh"];
        args.extend(extra);
        self.run(&args)
    }

    /// Adds a scheduled workflow to the product: one more object (a CronJob).
    fn add_workflow(&self) {
        let path = self.mesh().join("products/orders.yaml");
        let text = std::fs::read_to_string(&path).expect("orders.yaml");
        let flow =
            "      - { id: load, from: [port:shop], to: orders@0.1.0, pipeline: orders-loader }\n";
        assert!(text.contains(flow), "the scaffold changed:\n{text}");
        let with = text.replace(
            flow,
            &format!(
                "{flow}    workflows:\n      - name: hourly-load\n        schedule: \"0 * * * *\"\n        steps: [load]\n"
            ),
        );
        std::fs::write(&path, with).expect("write");
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

    /// Every stored object but the namespaces a cluster starts with, as
    /// `kind/namespace/name`.
    fn names(&self) -> Vec<String> {
        self.server
            .objects()
            .iter()
            .filter(|o| {
                !(o["kind"] == "Namespace"
                    && ["default", "kube-system"]
                        .contains(&o["metadata"]["name"].as_str().unwrap_or("")))
            })
            .map(|o| {
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["metadata"]["namespace"].as_str().unwrap_or("_"),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rendered_count(dir: &Path) -> usize {
    let out = dir.join("out");
    assert_exit(
        &run(&["render", "mesh", "--out", out.to_str().unwrap()], dir),
        0,
    );
    walk(&out)
        .iter()
        .filter(|p| {
            let p = p.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
            !p.starts_with("argocd/") && !p.starts_with("platform/argocd/")
        })
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files
}

const PART_OF: &str = "applyset.kubernetes.io/part-of";

#[test]
fn a_first_apply_creates_everything_crds_and_namespaces_first_and_a_second_changes_nothing() {
    let f = Fixture::new("apply-first", Options::default());
    let out = f.apply(&[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let expected = rendered_count(f.dir.path());
    assert!(
        text.contains(&format!(
            "applied {expected}: {expected} created, 0 configured, 0 unchanged, 0 failed"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "customresourcedefinition.apiextensions.k8s.io/dataproducts.dappmesh.io created"
        ),
        "{text}"
    );
    assert!(
        text.contains("dataproduct.dappmesh.io/orders (namespace sales) created"),
        "{text}"
    );

    // Every rendered object is there, labelled as a member of its product's set, and each set
    // has a parent recording its kinds.
    let storage = f
        .get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
        .expect("storage applied");
    let parent = f
        .get("v1", "ConfigMap", Some("sales"), "applyset-product-orders")
        .expect("a parent");
    assert_eq!(
        storage["metadata"]["labels"][PART_OF],
        parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
    );
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap();
    assert!(
        kinds.contains("StatefulSet.apps") && kinds.contains("DataProduct.dappmesh.io"),
        "{kinds}"
    );
    let appliers: Vec<&str> = storage["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["operation"] == "Apply")
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(appliers, ["dappctl"]);

    // The CRD went first, then the namespaces, and only then anything namespaced.
    let writes: Vec<String> = f
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path.clone())
        .collect();
    let first = |needle: &str| {
        writes
            .iter()
            .position(|p| p.contains(needle))
            .unwrap_or_else(|| panic!("no write of {needle}: {writes:?}"))
    };
    assert_eq!(first("customresourcedefinitions"), 0, "{writes:?}");
    let last_namespace = writes
        .iter()
        .rposition(|p| p.starts_with("/api/v1/namespaces/") && p.matches('/').count() == 4)
        .unwrap();
    let first_namespaced = writes
        .iter()
        .position(|p| p.matches('/').count() > 5)
        .unwrap();
    assert!(last_namespace < first_namespaced, "{writes:?}");

    // Then wave by wave: storage (1) before pipelines' and ports' objects (3), the
    // DataProduct (4) last.
    let storage_at = first("statefulsets/orders-orders-db");
    let port_at = first("services/orders-orders-api");
    let product_at = first("dataproducts/orders");
    assert!(storage_at < port_at && port_at < product_at, "{writes:?}");

    let versions = |f: &Fixture| -> Vec<String> {
        f.server
            .objects()
            .iter()
            .map(|o| o["metadata"]["resourceVersion"].to_string())
            .collect()
    };
    let before = versions(&f);
    let again = f.apply(&[]);
    assert_exit(&again, 0);
    assert!(
        stdout(&again).contains(&format!(
            "applied {expected}: 0 created, 0 configured, {expected} unchanged, 0 failed"
        )),
        "{}",
        stdout(&again)
    );
    assert_eq!(before, versions(&f), "a second apply changed something");
}

#[test]
fn prune_removes_what_is_no_longer_rendered_and_nothing_else() {
    let f = Fixture::new("apply-prune", Options::default());
    f.add_workflow();
    assert_exit(&f.apply(&[]), 0);
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_some()
    );
    // Someone else's objects: one unlabelled, one labelled for another set.
    for (name, labels) in [
        ("not-ours", json!({})),
        ("other-set", json!({PART_OF: "applyset-someone-else-v1"})),
    ] {
        f.server
            .apply_as(
                "kubectl",
                json!({"apiVersion": "batch/v1", "kind": "CronJob",
                       "metadata": {"name": name, "namespace": "sales", "labels": labels},
                       "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1"}], "restartPolicy": "Never"}}}}}}),
            )
            .expect("a foreign CronJob");
    }

    // Without --prune the dropped workflow's CronJob stays.
    let fresh = Fixture::new("apply-prune-scaffold", Options::default());
    std::fs::copy(
        fresh.mesh().join("products/orders.yaml"),
        f.mesh().join("products/orders.yaml"),
    )
    .unwrap();
    assert_exit(&f.apply(&[]), 0);
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_some()
    );

    let out = f.apply(&["--prune"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("cronjob.batch/orders-hourly-load (namespace sales) pruned"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("; pruned 1"), "{}", stdout(&out));
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "orders-hourly-load")
            .is_none()
    );
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "not-ours")
            .is_some()
    );
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "other-set")
            .is_some()
    );

    // A product gone from the mesh goes with all of its objects and its parent.
    std::fs::remove_file(f.mesh().join("products/orders.yaml")).unwrap();
    let out = f.apply(&["--prune"]);
    assert_exit(&out, 0);
    assert!(
        f.get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_none(),
        "{}",
        stdout(&out)
    );
    assert!(
        f.get("v1", "ConfigMap", Some("sales"), "applyset-product-orders")
            .is_none()
    );
    assert!(
        f.get("v1", "Namespace", None, "sales").is_some(),
        "the domain stays"
    );
    assert!(
        f.get("batch/v1", "CronJob", Some("sales"), "not-ours")
            .is_some()
    );
}

#[test]
fn a_conflict_names_the_other_manager_and_only_force_takes_over() {
    let f = Fixture::new("apply-conflict", Options::default());
    assert_exit(&f.apply(&[]), 0);
    // Another tool scales the registry to 3 with server-side apply, forcing the field.
    f.server
        .apply_as(
            "kubectl-scale",
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "registry", "namespace": "dappmesh-system"},
                   "spec": {"replicas": 3}}),
        )
        .expect_err("dappctl owns replicas, so a plain apply conflicts");
    force_as(
        &f,
        "kubectl-scale",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "registry", "namespace": "dappmesh-system"}, "spec": {"replicas": 3}}),
    );

    let out = f.apply(&[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("statefulset.apps/registry (namespace dappmesh-system)"),
        "{text}"
    );
    assert!(text.contains("conflict with \"kubectl-scale\""), "{text}");
    assert!(text.contains(".spec.replicas"), "{text}");
    assert!(text.contains("--force-conflicts"), "{text}");
    assert!(text.contains("1 failed"), "{text}");
    let replicas = |f: &Fixture| {
        f.get(
            "apps/v1",
            "StatefulSet",
            Some("dappmesh-system"),
            "registry",
        )
        .unwrap()["spec"]["replicas"]
            .clone()
    };
    assert_eq!(replicas(&f), json!(3));

    let out = f.apply(&["--force-conflicts"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("statefulset.apps/registry (namespace dappmesh-system) configured"),
        "{}",
        stdout(&out)
    );
    assert_eq!(replicas(&f), json!(1));
}

/// Applies with force as another manager, over a plain HTTP request (the library's
/// `apply_as` does not force).
fn force_as(f: &Fixture, manager: &str, object: Value) {
    use std::io::{Read, Write};
    let ns = object["metadata"]["namespace"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    let body = object.to_string();
    let url = f.server.url();
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PATCH /apis/apps/v1/namespaces/{ns}/statefulsets/{name}?fieldManager={manager}&force=true HTTP/1.1\r\n\
         Host: {host}\r\nAuthorization: Bearer test-token\r\n\
         Content-Type: application/apply-patch+yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn dry_runs_change_nothing() {
    let f = Fixture::new("apply-dry", Options::default());
    let server = f.apply(&["--dry-run=server"]);
    assert_exit(&server, 0);
    let expected = rendered_count(f.dir.path());
    assert!(
        stdout(&server).contains(&format!("{expected} created")),
        "{}",
        stdout(&server)
    );
    assert!(f.names().is_empty(), "{:?}", f.names());
    assert!(
        f.server
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .all(|r| r.dry_run),
        "a server dry run sent a real write"
    );

    let client = f.apply(&["--dry-run=client"]);
    assert_exit(&client, 0);
    assert!(
        f.server
            .requests()
            .iter()
            .filter(|r| !r.dry_run)
            .all(|r| r.method == "GET")
    );
    assert!(f.names().is_empty(), "{:?}", f.names());

    // After a real apply, a dry run sees nothing to change.
    assert_exit(&f.apply(&[]), 0);
    let count = f.server.objects().len();
    for mode in ["--dry-run=server", "--dry-run=client"] {
        let out = f.apply(&[mode]);
        assert_exit(&out, 0);
        assert!(
            stdout(&out).contains(&format!("0 created, 0 configured, {expected} unchanged")),
            "{mode}: {}",
            stdout(&out)
        );
    }
    assert_eq!(f.server.objects().len(), count);
}

#[test]
fn wait_succeeds_when_workloads_become_ready() {
    let f = Fixture::new(
        "apply-wait",
        Options {
            workloads: Workloads::Ready {
                after: Duration::from_millis(300),
            },
            ..Options::default()
        },
    );
    let out = f.apply(&["--wait", "--timeout", "30s"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("objects ready after"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wait_times_out_naming_what_is_not_ready() {
    let f = Fixture::new(
        "apply-wait-timeout",
        Options {
            workloads: Workloads::Stuck,
            ..Options::default()
        },
    );
    let out = f.apply(&["--wait", "--timeout", "2s"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("deployment.apps/operator (namespace dappmesh-system): not ready after 2s"),
        "{text}"
    );
    assert!(text.contains("dataproduct.dappmesh.io/orders (namespace sales): not ready after 2s: no Ready condition yet"), "{text}");
    assert!(text.contains("not ready"), "{text}");
}

#[test]
fn an_unreachable_cluster_and_refused_credentials_are_one_clear_error_each() {
    let f = Fixture::new("apply-unreachable", Options::default());
    // A port nothing listens on: bind one, note it, and close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = std::fs::read_to_string(&f.kubeconfig)
        .unwrap()
        .replace(&f.server.url(), &format!("http://127.0.0.1:{port}"));
    let dead = f.dir.write("dead-kubeconfig", config);
    let out = run(
        &["apply", "mesh", "--kubeconfig", dead.to_str().unwrap()],
        f.dir.path(),
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains(&format!(
            "cannot reach the cluster at http://127.0.0.1:{port}"
        )),
        "{}",
        stderr(&out)
    );

    let out = f.apply(&["--context", "other"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("refused the credentials of context"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("`other` (401 Unauthorized)"),
        "{}",
        stderr(&out)
    );

    let out = f.apply(&["--context", "missing"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot load the kubeconfig"),
        "{}",
        stderr(&out)
    );
    assert!(f.names().is_empty(), "{:?}", f.names());
}

#[test]
fn forbidden_and_rejected_objects_are_named_and_the_rest_is_applied() {
    let f = Fixture::new("apply-refused", Options::default());
    f.server
        .inject(Fault::forbidden(Method::Patch, "networkpolicies"));
    f.server.inject(Fault::invalid(
        "services",
        "orders-orders-api",
        "spec.ports[0].port: Invalid value: 0",
    ));
    let out = f.apply(&[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("networkpolicy.networking.k8s.io/orders-default-deny (namespace sales): networkpolicies.networking.k8s.io \"orders-default-deny\" is forbidden"), "{text}");
    assert!(
        text.contains(
            "service/orders-orders-api (namespace sales): spec.ports[0].port: Invalid value: 0"
        ),
        "{text}"
    );
    let policies = text.lines().filter(|l| l.contains("is forbidden")).count();
    assert!(text.contains(&format!("{} failed", policies + 1)), "{text}");
    assert!(
        f.get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_some(),
        "the rest is applied"
    );
    // Pruning skips a set with failures rather than guess.
    let out = f.apply(&["--prune"]);
    assert!(
        stdout(&out).contains("product sales/orders: not pruned"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_named_with_its_crd() {
    let f = Fixture::new("apply-nocrd", Options::default());
    let out_dir = f.dir.path().join("out");
    assert_exit(
        &run(
            &["render", "mesh", "--out", out_dir.to_str().unwrap()],
            f.dir.path(),
        ),
        0,
    );
    std::fs::remove_file(
        out_dir.join("platform/customresourcedefinition-dataproducts.dappmesh.io.yaml"),
    )
    .unwrap();
    let out = f.run(&["apply", "--rendered", out_dir.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("dataproduct.dappmesh.io/orders (namespace sales): the cluster does not serve kind DataProduct in dappmesh.io/v1alpha1: is its CustomResourceDefinition installed?"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_broken_rendered_file_is_reported_with_its_position() {
    let f = Fixture::new("apply-broken", Options::default());
    let out_dir = f.dir.path().join("out");
    assert_exit(
        &run(
            &["render", "mesh", "--out", out_dir.to_str().unwrap()],
            f.dir.path(),
        ),
        0,
    );
    std::fs::write(
        out_dir.join("envs/dev/sales/orders/serviceaccount-orders.yaml"),
        "apiVersion: v1\nkind: A\nkind: B\n",
    )
    .unwrap();
    let out = f.run(&["apply", "--rendered", out_dir.to_str().unwrap()]);
    assert_exit(&out, 2);
    let text = stderr(&out);
    assert!(text.contains("serviceaccount-orders.yaml"), "{text}");
    assert!(
        text.contains("serviceaccount-orders.yaml:3:1]"),
        "the line is shown: {text}"
    );
    assert!(f.server.requests().is_empty(), "nothing was sent");
}

#[test]
fn diff_shows_what_apply_would_change_and_exits_like_kubectl_diff() {
    let f = Fixture::new("apply-diff", Options::default());
    let out = f.run(&["diff", "mesh"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("+++ rendered/apps.v1.StatefulSet.sales.orders-orders-db"),
        "{}",
        stdout(&out)
    );
    assert!(
        f.names().is_empty(),
        "diff changed the cluster: {:?}",
        f.names()
    );

    assert_exit(&f.apply(&[]), 0);
    let out = f.run(&["diff", "mesh"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");

    f.add_workflow();
    let out = f.run(&["diff", "mesh"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("+++ rendered/batch.v1.CronJob.sales.orders-hourly-load"),
        "{text}"
    );
    assert!(
        text.contains("+  schedule: 0 * * * *") || text.contains("+  schedule: \"0 * * * *\""),
        "{text}"
    );
    assert!(
        !text.contains("StatefulSet"),
        "unchanged objects are not shown: {text}"
    );

    let out = f.run(&["diff", "mesh", "--context", "other"]);
    assert_exit(&out, 2);
}

#[test]
fn delete_removes_a_product_then_the_whole_mesh() {
    let f = Fixture::new("apply-delete", Options::default());
    assert_exit(&f.apply(&[]), 0);
    let out = f.run(&["delete", "--product", "orders"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("statefulset.apps/orders-orders-db (namespace sales) deleted"),
        "{}",
        stdout(&out)
    );
    assert!(
        f.get("apps/v1", "StatefulSet", Some("sales"), "orders-orders-db")
            .is_none()
    );
    assert!(
        f.get("v1", "ConfigMap", Some("sales"), "applyset-product-orders")
            .is_none()
    );
    assert!(f.get("v1", "Namespace", None, "sales").is_some());
    assert!(
        f.get("apps/v1", "Deployment", Some("dappmesh-system"), "operator")
            .is_some()
    );

    let out = f.run(&["delete", "--product", "orders"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("no product `orders` applied by dappctl"),
        "{}",
        stderr(&out)
    );

    let out = f.run(&["delete", "mesh"]);
    assert_exit(&out, 0);
    // Namespaces and the CRD are marked Delete=false: deleting them would delete what others
    // put in them, and every DataProduct of the cluster.
    let text = stdout(&out);
    assert!(
        text.contains("namespace/sales kept: it is marked Delete=false"),
        "{text}"
    );
    assert!(
        text.contains(
            "customresourcedefinition.apiextensions.k8s.io/dataproducts.dappmesh.io kept"
        ),
        "{text}"
    );
    assert!(
        text.contains("deployment.apps/operator (namespace dappmesh-system) deleted"),
        "{text}"
    );
    assert_eq!(
        f.names(),
        [
            "CustomResourceDefinition/_/dataproducts.dappmesh.io",
            "Namespace/_/dappmesh-system",
            "Namespace/_/sales",
        ]
    );
}

#[test]
fn pruning_a_whole_domain_keeps_its_namespace_and_what_others_put_in_it() {
    let f = Fixture::new("apply-domain", Options::default());
    let mesh = f.mesh().join("mesh.yaml");
    let text = std::fs::read_to_string(&mesh).unwrap();
    let crm = "---\napiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata:\n  name: crm\nspec:\n  owner: team-crm\n  description: Customers.\n";
    std::fs::write(&mesh, format!("{text}{crm}")).unwrap();
    assert_exit(&f.apply(&[]), 0);
    assert!(
        f.get("v1", "ConfigMap", Some("crm"), "applyset-domain-crm")
            .is_some()
    );
    f.server
        .apply_as(
            "kubectl",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "team-notes", "namespace": "crm"}, "data": {"a": "b"}}),
        )
        .expect("someone else's ConfigMap");

    std::fs::write(&mesh, text).unwrap();
    let out = f.apply(&["--prune"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("namespace/crm kept: it is marked Delete=false"),
        "{}",
        stdout(&out)
    );
    assert!(f.get("v1", "Namespace", None, "crm").is_some());
    assert!(
        f.get("v1", "ConfigMap", Some("crm"), "team-notes")
            .is_some()
    );
    assert!(
        f.get("v1", "ConfigMap", Some("crm"), "applyset-domain-crm")
            .is_none(),
        "the set itself is gone"
    );
}

#[test]
fn diff_and_apply_on_an_invalid_mesh_exit_as_errors_and_send_nothing() {
    let f = Fixture::new("apply-invalid", Options::default());
    let orders = f.mesh().join("products/orders.yaml");
    let text = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(&orders, text.replace("owner: team-sales", "owner: 42")).unwrap();
    assert_exit(&f.run(&["diff", "mesh"]), 2);
    assert_exit(&f.apply(&[]), 1);
    assert!(
        f.server.requests().is_empty(),
        "nothing reaches the cluster"
    );
}

#[test]
fn apply_help_documents_the_flags() {
    let out = dappctl().args(["apply", "--help"]).output().unwrap();
    let text = stdout(&out);
    for flag in [
        "--dry-run",
        "--force-conflicts",
        "--prune",
        "--wait",
        "--timeout",
        "--kubeconfig",
        "--context",
        "--env",
        "--rendered",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn kubeconfig_comes_from_the_environment_and_crds_are_waited_for() {
    let f = Fixture::new(
        "apply-env",
        Options {
            crd_established_after: Duration::from_millis(800),
            ..Options::default()
        },
    );
    let out = dappctl()
        .args(["apply", "mesh"])
        .current_dir(f.dir.path())
        .env("KUBECONFIG", &f.kubeconfig)
        .env("DAPPCTL_CACHE_DIR", f.dir.path().join("cache"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    // The DataProduct could only be applied once its CRD was Established, 800 ms in.
    assert!(
        stdout(&out).contains("dataproduct.dappmesh.io/orders (namespace sales) created"),
        "{}",
        stdout(&out)
    );
    assert!(
        f.get(
            "dappmesh.io/v1alpha1",
            "DataProduct",
            Some("sales"),
            "orders"
        )
        .is_some()
    );
}

#[test]
fn wait_shows_progress_on_a_terminal() {
    let f = Fixture::new(
        "apply-tty",
        Options {
            workloads: Workloads::Stuck,
            ..Options::default()
        },
    );
    // `script` gives the command a pseudo-terminal and copies what it prints.
    let command = format!(
        "'{}' apply mesh --kubeconfig '{}' --wait --timeout 2s",
        env!("CARGO_BIN_EXE_dappctl"),
        f.kubeconfig.display()
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(f.dir.path())
        .env("DAPPCTL_CACHE_DIR", f.dir.path().join("cache"))
        .output()
        .expect("script (util-linux) runs");
    let text = stdout(&out);
    assert!(
        text.contains("waiting for ") && text.contains(" objects (0s): "),
        "{text}"
    );
    assert!(
        text.contains("\r\x1b[K"),
        "the status line is replaced in place: {text:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
}
