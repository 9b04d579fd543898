//! The apply scenarios against a real cluster (kind, k3d, any), opt-in:
//!
//! ```sh
//! kind create cluster --name dappmesh
//! DAPPCTL_E2E_KUBECONFIG=~/.kube/config cargo test -p dappctl --test cli e2e -- --ignored
//! ```
//!
//! One test runs the scenarios in order, as they share the cluster: it deletes what an
//! earlier run left, applies, re-applies, diffs, prunes, forces a conflict, dry-runs, waits
//! (for objects that need no image, then for a Deployment whose image does not exist), and
//! deletes everything it applied.

use std::path::{Path, PathBuf};
use std::process::Output;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;

use super::harness::{TempDir, assert_exit, run};

const CONTEXT: &str = "DAPPCTL_E2E_CONTEXT";

struct Real {
    dir: TempDir,
    kubeconfig: PathBuf,
}

impl Real {
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend([
            "--kubeconfig".to_owned(),
            self.kubeconfig.display().to_string(),
        ]);
        if let Ok(context) = std::env::var(CONTEXT) {
            all.extend(["--context".to_owned(), context]);
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        run(&all, self.dir.path())
    }

    fn render(&self, name: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        assert_exit(
            &run(
                &["render", "mesh", "--out", out.to_str().unwrap()],
                self.dir.path(),
            ),
            0,
        );
        out
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Removes every rendered file whose name starts with one of `kinds` (`deployment-`).
fn drop_kinds(dir: &Path, kinds: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            drop_kinds(&path, kinds);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && kinds.iter().any(|k| name.starts_with(k))
        {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
#[ignore = "needs a real cluster: set DAPPCTL_E2E_KUBECONFIG and run with --ignored"]
fn e2e_apply_diff_prune_conflict_wait_delete_on_a_real_cluster() {
    let kubeconfig = PathBuf::from(
        std::env::var("DAPPCTL_E2E_KUBECONFIG")
            .expect("DAPPCTL_E2E_KUBECONFIG names the kubeconfig of a disposable cluster"),
    );
    let real = Real {
        dir: TempDir::new("e2e"),
        kubeconfig,
    };
    assert_exit(&run(&["init", "mesh"], real.dir.path()), 0);
    // What an earlier, interrupted run left.
    let _ = real.run(&["delete", "mesh"]);

    // On a cluster without the mesh, a server dry run cannot check what lives in namespaces
    // and kinds the same run creates, and says so rather than failing.
    let first_look = real.run(&["apply", "mesh", "--dry-run=server"]);
    assert_exit(&first_look, 0);
    assert!(
        text(&first_look).contains("not checked by the server")
            || text(&first_look).contains(" 0 created,"),
        "{}",
        text(&first_look)
    );

    // Objects that are ready without pulling an image.
    let calm = real.render("calm");
    drop_kinds(
        &calm,
        &["deployment-", "statefulset-", "cronjob-", "dataproduct-"],
    );
    let calm = calm.to_str().unwrap().to_owned();
    let first = real.run(&["apply", "--rendered", &calm, "--wait", "--timeout", "2m"]);
    assert_exit(&first, 0);
    assert!(
        text(&first).contains("objects ready after"),
        "{}",
        text(&first)
    );
    let again = real.run(&["apply", "--rendered", &calm]);
    assert_exit(&again, 0);
    assert!(text(&again).contains(", 0 failed"), "{}", text(&again));
    assert!(
        text(&again).contains(" 0 created, 0 configured,"),
        "{}",
        text(&again)
    );
    assert_exit(&real.run(&["diff", "--rendered", &calm]), 0);

    // The whole product, with a workflow; then without it, pruned.
    let dry = real.run(&["apply", "mesh", "--dry-run=server"]);
    assert_exit(&dry, 0);
    let diff = real.run(&["diff", "mesh"]);
    assert_exit(&diff, 1);
    assert!(
        text(&diff).contains("+++ rendered/apps.v1.StatefulSet.sales.orders-orders-db"),
        "{}",
        text(&diff)
    );
    let orders = real.dir.path().join("mesh/products/orders.yaml");
    let scaffold = std::fs::read_to_string(&orders).unwrap();
    let flow =
        "      - { id: load, from: [port:shop], to: orders@0.1.0, pipeline: orders-loader }\n";
    std::fs::write(
        &orders,
        scaffold.replace(flow, &format!("{flow}    workflows:\n      - name: hourly-load\n        schedule: \"0 * * * *\"\n        steps: [load]\n")),
    )
    .unwrap();
    assert_exit(&real.run(&["apply", "mesh"]), 0);
    std::fs::write(&orders, &scaffold).unwrap();
    let pruned = real.run(&["apply", "mesh", "--prune"]);
    assert_exit(&pruned, 0);
    assert!(
        text(&pruned).contains("cronjob.batch/orders-hourly-load (namespace sales) pruned"),
        "{}",
        text(&pruned)
    );

    // Another manager takes a field; apply refuses until --force-conflicts.
    take_replicas(&real.kubeconfig);
    let conflict = real.run(&["apply", "mesh"]);
    assert_exit(&conflict, 1);
    assert!(
        text(&conflict).contains("conflict with \"e2e-scaler\""),
        "{}",
        text(&conflict)
    );
    assert_exit(&real.run(&["apply", "mesh", "--force-conflicts"]), 0);

    // The operator's image is not published: waiting for it times out, naming it.
    let late = real.run(&["apply", "mesh", "--wait", "--timeout", "20s"]);
    assert_exit(&late, 1);
    assert!(
        text(&late)
            .contains("deployment.apps/operator (namespace dappmesh-system): not ready after 20s"),
        "{}",
        text(&late)
    );

    let deleted = real.run(&["delete", "mesh"]);
    assert_exit(&deleted, 0);
    assert_exit(&real.run(&["delete", "--product", "orders"]), 2);
}

/// Scales the product's database to 2 as field manager `e2e-scaler`, forcing.
fn take_replicas(kubeconfig: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions {
                context: std::env::var(CONTEXT).ok(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let resource = ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            plural: "statefulsets".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client, "sales", &resource);
        let patch = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "orders-orders-db", "namespace": "sales"}, "spec": {"replicas": 2}});
        api.patch("orders-orders-db", &PatchParams::apply("e2e-scaler").force(), &Patch::Apply(&patch))
            .await
            .unwrap();
    });
}
