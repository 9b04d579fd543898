//! `dappctl render` through the real binary: the rendered examples (snapshots, and checked
//! against the CRD schemas of what they create), re-render and pruning, errors, and the
//! template override point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dappmesh_compiler::load::{Limits, yaml};
use dappmesh_compiler::source::SourceFile;
use serde_json::Value;

use super::harness::{TempDir, assert_exit, repo_root, run};

fn examples() -> PathBuf {
    repo_root().join("examples")
}

fn render(mesh: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "render",
        mesh.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, &repo_root())
}

/// Every file below `dir` (but the ownership record), by relative path.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if relative != ".dappctl-owned" {
                    found.insert(relative, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
    }
    found
}

fn parse(name: &str, text: &str) -> Value {
    let file = SourceFile::new(name.into(), text);
    let mut docs: Vec<Value> = yaml::parse(&file, Limits::default()).expect(name);
    assert_eq!(docs.len(), 1, "{name} holds one object");
    docs.remove(0)
}

fn rendered_examples() -> (TempDir, BTreeMap<String, String>) {
    let out = TempDir::new("render-examples");
    let result = render(&examples(), out.path(), &[]);
    assert_exit(&result, 0);
    let files = tree(out.path());
    (out, files)
}

#[test]
fn rendered_examples_match_the_snapshots() {
    let (_out, files) = rendered_examples();
    // One snapshot per directory keeps a change to one product in one reviewable file.
    let mut by_dir: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in &files {
        let dir = Path::new(path)
            .parent()
            .unwrap()
            .to_string_lossy()
            .replace('/', "__");
        let entry = by_dir.entry(dir).or_default();
        entry.push_str(&format!("# ---- {path}\n{text}"));
    }
    for (dir, text) in by_dir {
        insta::assert_snapshot!(dir, text);
    }
}

#[test]
fn every_object_carries_the_labels_namespace_and_hardening() {
    let (_out, files) = rendered_examples();
    let cluster_scoped = [
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
    ];
    let mut workloads = 0;
    for (path, text) in &files {
        let object = parse(path, text);
        let kind = object["kind"].as_str().unwrap();
        let labels = &object["metadata"]["labels"];
        let product_object = path.starts_with("envs/") && path.matches('/').count() == 4;
        if !path.starts_with("platform/argocd/") {
            for key in [
                "name",
                "instance",
                "version",
                "component",
                "part-of",
                "managed-by",
            ] {
                let key = format!("app.kubernetes.io/{key}");
                assert!(labels.get(&key).is_some(), "{path}: no label {key}");
            }
            assert_eq!(labels["app.kubernetes.io/managed-by"], "dappctl", "{path}");
        }
        if product_object {
            assert!(labels.get("dappmesh.io/domain").is_some(), "{path}");
            assert!(labels.get("dappmesh.io/product").is_some(), "{path}");
            assert!(
                object["metadata"]["annotations"]
                    .get("argocd.argoproj.io/sync-wave")
                    .is_some(),
                "{path}: no sync wave"
            );
        }
        if !cluster_scoped.contains(&kind) {
            assert!(
                object["metadata"]["namespace"].is_string(),
                "{path}: no explicit namespace"
            );
        }
        let pod = match kind {
            "Deployment" | "StatefulSet" | "Job" => &object["spec"]["template"]["spec"],
            "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            _ => continue,
        };
        workloads += 1;
        let security = &pod["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{path}");
        assert_eq!(
            security["seccompProfile"]["type"], "RuntimeDefault",
            "{path}"
        );
        let needs_token = path.ends_with("deployment-operator.yaml");
        assert_eq!(pod["automountServiceAccountToken"], needs_token, "{path}");
        let containers = pod["containers"].as_array().unwrap().iter();
        let init = pod["initContainers"].as_array().into_iter().flatten();
        for container in containers.chain(init) {
            let c = &container["securityContext"];
            let name = container["name"].as_str().unwrap();
            assert_eq!(c["allowPrivilegeEscalation"], false, "{path} {name}");
            assert_eq!(c["readOnlyRootFilesystem"], true, "{path} {name}");
            assert_eq!(c["capabilities"]["drop"][0], "ALL", "{path} {name}");
            for field in ["cpu", "memory"] {
                assert!(
                    container["resources"]["requests"][field].is_string(),
                    "{path} {name}"
                );
                assert!(
                    container["resources"]["limits"][field].is_string(),
                    "{path} {name}"
                );
            }
            let image = container["image"].as_str().unwrap();
            assert!(
                image.contains(':') && !image.ends_with(":latest"),
                "{path}: {image}"
            );
            let long_running = matches!(kind, "Deployment" | "StatefulSet");
            let main = pod["containers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == container["name"]);
            if long_running && main {
                assert!(container["livenessProbe"].is_object(), "{path} {name}");
                assert!(container["readinessProbe"].is_object(), "{path} {name}");
            }
        }
    }
    assert!(workloads > 20, "only {workloads} workloads were checked");
}

#[test]
fn widgets_heartbeat_as_a_native_sidecar_and_workflows_carry_retries_and_timeouts() {
    let (_out, files) = rendered_examples();
    let widget = parse(
        "widget",
        &files["envs/dev/sales/sales-orders/deployment-sales-orders-revenue-chart.yaml"],
    );
    let sidecar = &widget["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(sidecar["restartPolicy"], "Always");
    let body: Value = serde_json::from_str(
        sidecar["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "BODY")
            .unwrap()["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["webComponent"]["element"]["tag"],
        "sales-revenue-chart"
    );
    assert_eq!(
        body["webComponent"]["componentId"],
        "<sales-revenue-chart currency=\"EUR\"></sales-revenue-chart>"
    );

    // The product's own labels reach its resource, but never shadow dappctl's.
    let resource = parse(
        "dataproduct",
        &files["envs/dev/marketing/web-analytics/dataproduct-web-analytics.yaml"],
    );
    let labels = &resource["metadata"]["labels"];
    assert_eq!(labels["tier"], "gold");
    assert_eq!(labels["app.kubernetes.io/name"], "web-analytics");

    let cron = parse(
        "cron",
        &files["envs/prod/sales/sales-orders/cronjob-sales-orders-nightly-revenue.yaml"],
    );
    assert_eq!(cron["spec"]["schedule"], "0 2 * * *");
    let job = &cron["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 3);
    assert_eq!(job["activeDeadlineSeconds"], 3600);

    // prod overrides the storage class and the replicas of stream pipelines.
    let stream = parse(
        "stream",
        &files["envs/prod/sales/sales-orders/deployment-sales-orders-orders-stream.yaml"],
    );
    assert_eq!(stream["spec"]["replicas"], 2);
    let store = parse(
        "store",
        &files["envs/prod/sales/sales-orders/statefulset-sales-orders-warehouse.yaml"],
    );
    assert_eq!(
        store["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "fast-ssd"
    );
}

#[test]
fn network_policies_follow_the_declared_ports() {
    let (_out, files) = rendered_examples();
    // crm/customers serves customers-sql; sales-orders and customer-360 declare input ports on
    // it, and only they may connect.
    let ingress = parse(
        "ingress",
        &files["envs/dev/crm/customers/networkpolicy-customers-customers-sql-consumers.yaml"],
    );
    let from: Vec<String> = ingress["spec"]["ingress"][0]["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|peer| {
            format!(
                "{}/{}",
                peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    .as_str()
                    .unwrap(),
                peer["podSelector"]["matchLabels"]["dappmesh.io/product"]
                    .as_str()
                    .unwrap()
            )
        })
        .collect();
    assert_eq!(from, ["crm/customer-360", "sales/sales-orders"]);
    assert_eq!(ingress["spec"]["ingress"][0]["ports"][0]["port"], 5432);

    let egress = parse(
        "egress",
        &files["envs/dev/sales/sales-orders/networkpolicy-sales-orders-egress.yaml"],
    );
    let to_customers = egress["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| {
            rule["to"][0]["podSelector"]["matchLabels"]["dappmesh.io/product"] == "customers"
        })
        .expect("sales-orders may reach the port it consumes");
    assert_eq!(to_customers["ports"][0]["port"], 5432);

    let deny = parse(
        "deny",
        &files["envs/dev/sales/sales-orders/networkpolicy-sales-orders-default-deny.yaml"],
    );
    assert_eq!(
        deny["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert!(deny["spec"].get("ingress").is_none() && deny["spec"].get("egress").is_none());
}

/// Every `to`/`from` peer of a policy's rules, as text: `cidr:<range>`, or the namespace and
/// pod labels as `ns{k=v,…} pods{k=v,…}`.
fn peers(rules: &Value) -> Vec<String> {
    let labels = |v: &Value| {
        let map = v["matchLabels"].as_object().cloned().unwrap_or_default();
        let pairs: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        pairs.join(",")
    };
    let mut found = Vec::new();
    for rule in rules.as_array().into_iter().flatten() {
        let ports: Vec<String> = rule["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["port"].to_string())
            .collect();
        for peer in rule["to"]
            .as_array()
            .or(rule["from"].as_array())
            .into_iter()
            .flatten()
        {
            let who = match peer["ipBlock"]["cidr"].as_str() {
                Some(cidr) => format!("cidr:{cidr}"),
                None => format!(
                    "ns{{{}}} pods{{{}}}",
                    labels(&peer["namespaceSelector"]),
                    labels(&peer["podSelector"])
                ),
            };
            found.push(format!("{who} :{}", ports.join(",")));
        }
    }
    found
}

#[test]
fn egress_goes_only_where_a_product_or_platform_service_says() {
    let (_out, files) = rendered_examples();
    for (path, text) in &files {
        assert!(
            !text.contains("0.0.0.0/0") && !text.contains("::/0"),
            "{path} allows every address"
        );
    }
    let orders = parse(
        "egress",
        &files["envs/dev/sales/sales-orders/networkpolicy-sales-orders-egress.yaml"],
    );
    let orders = peers(&orders["spec"]["egress"]);
    // The shop's database (a CDC connector) and the S3 lake, at the CIDRs they name.
    assert!(
        orders.contains(&"cidr:10.40.20.0/24 :5432".to_owned()),
        "{orders:?}"
    );
    assert!(
        orders.contains(&"cidr:52.219.168.0/21 :443".to_owned()),
        "{orders:?}"
    );
    let inventory = parse(
        "egress",
        &files["envs/dev/supply/inventory/networkpolicy-inventory-egress.yaml"],
    );
    // A Kafka connector at a Service in the cluster: that Service's namespace, nothing else.
    assert_eq!(
        peers(&inventory["spec"]["egress"])[0],
        "ns{kubernetes.io/metadata.name=kafka} pods{} :9092"
    );

    let operator = parse("operator", &files["platform/networkpolicy-operator.yaml"]);
    assert_eq!(
        peers(&operator["spec"]["egress"]),
        [
            "ns{kubernetes.io/metadata.name=kube-system} pods{k8s-app=kube-dns} :53,53",
            "cidr:10.0.0.0/8 :443,6443",
            "cidr:172.16.0.0/12 :443,6443",
            "cidr:192.168.0.0/16 :443,6443",
            "ns{kubernetes.io/metadata.name=dappmesh-system} pods{app.kubernetes.io/instance=registry} :8080",
        ]
    );
}

#[test]
fn the_registry_takes_reads_with_a_token_from_its_clients_and_metrics_on_its_own_port() {
    let (_out, files) = rendered_examples();
    let policy = parse("registry", &files["platform/networkpolicy-registry.yaml"]);
    assert_eq!(
        peers(&policy["spec"]["ingress"]),
        [
            "ns{kubernetes.io/metadata.name=dappmesh-system} pods{app.kubernetes.io/instance=dashboard} :8080",
            "ns{kubernetes.io/metadata.name=dappmesh-system} pods{app.kubernetes.io/instance=operator} :8080",
            "ns{app.kubernetes.io/part-of=acme,app.kubernetes.io/component=domain} pods{app.kubernetes.io/component=widget} :8080",
            "ns{kubernetes.io/metadata.name=monitoring} pods{app.kubernetes.io/name=prometheus} :9090",
        ]
    );
    let registry = parse("registry", &files["platform/statefulset-registry.yaml"]);
    let container = &registry["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--read-access", "token"]),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w == ["--metrics-port", "9090"]),
        "{args:?}"
    );
    assert_eq!(container["ports"][1]["name"], "metrics");
    assert_eq!(container["ports"][1]["containerPort"], 9090);
    // Every token Secret it reads is optional and a directory: it starts before any exists
    // (the operator makes two of them), and no person has to make one.
    let paths: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--tokens-file")
        .map(|w| w[1])
        .collect();
    assert_eq!(
        paths,
        [
            "/run/secrets/registry",
            "/run/secrets/registry-platform",
            "/run/secrets/registry-products"
        ]
    );
    let volumes = registry["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let secrets: Vec<(&str, Option<bool>)> = volumes
        .iter()
        .filter_map(|v| {
            let secret = &v["secret"];
            Some((secret["secretName"].as_str()?, secret["optional"].as_bool()))
        })
        .collect();
    assert_eq!(
        secrets,
        [
            ("dappmesh-registry-tokens", Some(true)),
            ("dappmesh-registry-platform-tokens", Some(true)),
            ("dappmesh-registry-product-tokens", Some(true)),
        ]
    );
    // The operator makes its own token's Secret, so it mounts none (it would wait for it).
    let operator = parse("operator", &files["platform/deployment-operator.yaml"]);
    let pod = &operator["spec"]["template"]["spec"];
    let args = pod["containers"][0]["args"].to_string();
    assert!(args.contains(r#""--platform-secrets""#), "{args}");
    assert!(!args.contains("--registry-token-file"), "{args}");
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("secret").is_none()),
        "{pod}"
    );

    let dashboard = parse("dashboard", &files["platform/deployment-dashboard.yaml"]);
    let pod = &dashboard["spec"]["template"]["spec"];
    let args = pod["containers"][0]["args"].to_string();
    assert!(
        args.contains(r#""--registry-token-file","/run/secrets/registry/token""#),
        "{args}"
    );
    assert_eq!(
        pod["volumes"][1]["secret"]["secretName"],
        "dappmesh-dashboard-registry-token"
    );
}

/// A role's rules, one line each: `group resource verbs [names]`.
fn rules(role: &Value) -> Vec<String> {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let mut found = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in list(&rule["apiGroups"]) {
            for resource in list(&rule["resources"]) {
                let names = list(&rule["resourceNames"]);
                let names = if names.is_empty() {
                    String::new()
                } else {
                    format!(" {names:?}")
                };
                found.push(format!(
                    "{group}/{resource} {}{names}",
                    list(&rule["verbs"]).join(",")
                ));
            }
        }
    }
    found
}

#[test]
fn the_operator_writes_only_in_the_domain_namespaces_and_reads_elsewhere() {
    let (_out, files) = rendered_examples();
    let cluster = parse(
        "clusterrole",
        &files["platform/clusterrole-dappmesh-operator.yaml"],
    );
    assert_eq!(
        rules(&cluster),
        [
            "dappmesh.io/dataproducts get,list,watch",
            "/services list,watch",
            "/serviceaccounts list,watch",
            "/configmaps list,watch",
            "apps/deployments list,watch",
            "apps/statefulsets list,watch",
            "batch/cronjobs list,watch",
            "networking.k8s.io/networkpolicies list,watch",
        ]
    );
    let platform = parse(
        "platform role",
        &files["platform/role-dappmesh-operator.yaml"],
    );
    assert_eq!(platform["metadata"]["namespace"], "dappmesh-system");
    assert_eq!(
        rules(&platform),
        [
            r#"coordination.k8s.io/leases get,update ["dappmesh-operator"]"#,
            "coordination.k8s.io/leases create",
            r#"/secrets get,patch ["dappmesh-registry-product-tokens", "dappmesh-registry-platform-tokens"]"#,
            r#"/secrets get ["dappmesh-operator-registry-token", "dappmesh-dashboard-registry-token"]"#,
            "/secrets create",
        ]
    );
    let written = [
        "dappmesh.io/dataproducts patch",
        "dappmesh.io/dataproducts/status patch",
        "dappmesh.io/dataproducts/finalizers update",
        "/services get,create,patch,delete",
        "/serviceaccounts get,create,patch,delete",
        "/configmaps get,create,patch,delete",
        "apps/deployments get,create,patch,delete",
        "apps/statefulsets get,create,patch,delete",
        "batch/cronjobs get,create,patch,delete",
        "batch/jobs get,create,patch,delete",
        "networking.k8s.io/networkpolicies get,create,patch,delete",
        "/secrets get,create",
        "events.k8s.io/events create,patch",
    ];
    // A Role and its binding in each domain's namespace, in every environment; none
    // anywhere else (kube-system included), and no binding to a ClusterRole that writes.
    let mut roles = Vec::new();
    for (path, text) in &files {
        let object = parse(path, text);
        let kind = object["kind"].as_str().unwrap();
        if !matches!(
            kind,
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
        ) {
            continue;
        }
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
        roles.push(format!("{kind} {namespace}"));
        if kind == "Role" && namespace != "dappmesh-system" {
            assert_eq!(rules(&object), written, "{path}");
        }
        if kind.ends_with("Binding") {
            assert_eq!(object["subjects"][0]["name"], "operator", "{path}");
            assert_eq!(
                object["subjects"][0]["namespace"], "dappmesh-system",
                "{path}"
            );
            let role = if kind == "RoleBinding" {
                "Role"
            } else {
                "ClusterRole"
            };
            assert_eq!(object["roleRef"]["kind"], role, "{path}");
        }
    }
    roles.sort();
    let mut expected = vec!["ClusterRole ".to_owned(), "ClusterRoleBinding ".to_owned()];
    for namespace in [
        "crm",
        "dappmesh-system",
        "finance",
        "marketing",
        "sales",
        "supply",
    ] {
        // Two environments render the domains' Roles; the platform's is rendered once.
        let times = if namespace == "dappmesh-system" { 1 } else { 2 };
        for _ in 0..times {
            expected.push(format!("Role {namespace}"));
            expected.push(format!("RoleBinding {namespace}"));
        }
    }
    expected.sort();
    assert_eq!(roles, expected);
}

/// The `openAPIV3Schema` of a CRD file, as a validator (Kubernetes extensions are ignored).
fn crd_validator(text: &str, name: &str) -> jsonschema::Validator {
    let crd = parse(name, text);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn argo_cd_and_data_product_objects_validate_against_their_crds() {
    let (_out, files) = rendered_examples();
    let shared = repo_root().join("../shared/data/schemas");
    let mut validators: BTreeMap<&str, jsonschema::Validator> = BTreeMap::new();
    for (kind, file) in [
        ("Application", "argocd-application-crd.yaml"),
        ("AppProject", "argocd-appproject-crd.yaml"),
    ] {
        let text = std::fs::read_to_string(shared.join(file)).expect(file);
        validators.insert(kind, crd_validator(&text, file));
    }
    let crd = files
        .get("platform/customresourcedefinition-dataproducts.dappmesh.io.yaml")
        .expect("the DataProduct CRD is rendered");
    validators.insert("DataProduct", crd_validator(crd, "DataProduct CRD"));

    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, text) in &files {
        let object = parse(path, text);
        let kind = object["kind"].as_str().unwrap();
        let Some((kind, validator)) = validators.get_key_value(kind) else {
            continue;
        };
        let errors: Vec<String> = validator
            .iter_errors(&object)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path}:\n{}", errors.join("\n"));
        *checked.entry(kind).or_default() += 1;
    }
    assert_eq!(checked.get("DataProduct"), Some(&14));
    assert_eq!(checked.get("AppProject"), Some(&6));
    assert!(checked.get("Application").copied().unwrap_or(0) >= 28);

    // The CRD schema must catch what validate catches at the schema level.
    let dp = validators.get("DataProduct").unwrap();
    let mut broken = parse(
        "dp",
        &files["envs/dev/sales/sales-orders/dataproduct-sales-orders.yaml"],
    );
    broken["spec"]["storage"][0]["engine"] = "oracle".into();
    assert!(
        !dp.is_valid(&broken),
        "an unknown engine passes the CRD schema"
    );
}

#[test]
fn contracts_are_odcs_documents() {
    let (_out, files) = rendered_examples();
    let path = repo_root().join("../shared/data/schemas/odcs-json-schema-v3.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let mut contracts = 0;
    for (path, text) in files.iter().filter(|(p, _)| p.ends_with("-contract.yaml")) {
        let map = parse(path, text);
        let contract: Value = serde_json::from_str(map["data"]["odcs.json"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&contract)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path}:\n{}", errors.join("\n"));
        contracts += 1;
    }
    assert_eq!(
        contracts, 16,
        "one contract per output port and environment"
    );
    let orders = parse(
        "orders",
        &files["envs/dev/sales/sales-orders/configmap-sales-orders-orders-sql-contract.yaml"],
    );
    let contract: Value =
        serde_json::from_str(orders["data"]["odcs.json"].as_str().unwrap()).unwrap();
    assert_eq!(
        contract["id"],
        "urn:dpds:acme:dataproducts:sales-orders:2:outputports:orders-sql"
    );
    let order_id = &contract["schema"][0]["properties"][0];
    assert_eq!(order_id["name"], "order_id");
    assert_eq!(order_id["quality"][0]["metric"], "duplicateValues");
    assert_eq!(contract["schema"][0]["quality"][0]["metric"], "rowCount");
}

#[test]
fn rendering_is_deterministic_and_a_second_render_writes_nothing() {
    let (first, files) = rendered_examples();
    // The second into a directory that is not there yet, two levels down.
    let again = TempDir::new("render-again");
    let nested = again.path().join("gitops/repo");
    assert_exit(&render(&examples(), &nested, &[]), 0);
    assert!(tree(&nested) == files, "two renders differ");
    let owned = |dir: &Path| std::fs::read_to_string(dir.join(".dappctl-owned")).unwrap();
    assert_eq!(
        owned(first.path()),
        owned(&nested),
        "the ownership record differs"
    );

    let out = render(&examples(), first.path(), &[]);
    assert_exit(&out, 0);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("0 written") && summary.contains("0 removed"),
        "{summary}"
    );
}

#[test]
fn a_re_render_prunes_what_it_owned_and_nothing_else() {
    let mesh = TempDir::new("render-prune-mesh");
    for entry in ["mesh.yaml", "domains.yaml"] {
        std::fs::copy(examples().join(entry), mesh.path().join(entry)).unwrap();
    }
    std::fs::create_dir(mesh.path().join("products")).unwrap();
    for entry in std::fs::read_dir(examples().join("products")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            mesh.path().join("products").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let out = TempDir::new("render-prune-out");
    assert_exit(&render(mesh.path(), out.path(), &[]), 0);
    let foreign = out.write(
        "envs/dev/finance/revenue-forecast/NOTES.md",
        "ours, not dappctl's",
    );

    // finance/revenue-forecast consumes nothing anyone else depends on: drop it.
    std::fs::remove_file(mesh.path().join("products/finance-revenue-forecast.yaml")).unwrap();
    let result = render(mesh.path(), out.path(), &[]);
    assert_exit(&result, 0);
    let files = tree(out.path());
    assert!(
        !files
            .keys()
            .any(|p| p.contains("revenue-forecast/") && !p.ends_with("NOTES.md")),
        "files of the removed product remain"
    );
    assert!(!files.contains_key("argocd/apps/dev/application-dev-finance-revenue-forecast.yaml"));
    assert_eq!(
        std::fs::read_to_string(foreign).unwrap(),
        "ours, not dappctl's"
    );

    // One environment at a time leaves the other's files as they are (the platform, the
    // mesh's copy for the operator included, is every environment's).
    let prod = |files: BTreeMap<String, String>| -> BTreeMap<String, String> {
        files
            .into_iter()
            .filter(|(p, _)| p.starts_with("envs/prod/") || p.starts_with("argocd/apps/prod/"))
            .collect()
    };
    let before = prod(tree(out.path()));
    assert!(!before.is_empty());
    let mesh_file = mesh.path().join("mesh.yaml");
    let text = std::fs::read_to_string(&mesh_file).unwrap();
    std::fs::write(&mesh_file, text.replace("replicas: 2", "replicas: 3")).unwrap();
    assert_exit(&render(mesh.path(), out.path(), &["--env", "dev"]), 0);
    assert_eq!(
        prod(tree(out.path())),
        before,
        "prod changed although only dev was rendered"
    );
    assert_exit(&render(mesh.path(), out.path(), &["--env", "prod"]), 0);
    let stream = "envs/prod/sales/sales-orders/deployment-sales-orders-orders-stream.yaml";
    assert!(tree(out.path())[stream].contains("replicas: 3"));
}

#[test]
fn an_invalid_mesh_or_an_unknown_environment_writes_nothing() {
    let dir = TempDir::new("render-invalid");
    std::fs::copy(examples().join("mesh.yaml"), dir.path().join("mesh.yaml")).unwrap();
    dir.write(
        "domains.yaml",
        "apiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata: {name: sales}\nspec: {ownr: x}\n",
    );
    let out = dir.path().join("out");
    let result = render(dir.path(), &out, &[]);
    assert_exit(&result, 1);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("domains.yaml:4:"), "{stderr}");
    assert!(!out.exists(), "an invalid mesh left output behind");

    let result = render(&examples(), &out, &["--env", "staging"]);
    assert_exit(&result, 2);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("no environment `staging`") && stderr.contains("dev, prod"));
    assert!(!out.exists());
}

#[test]
fn templates_from_a_directory_replace_and_add_to_the_built_in_ones() {
    let templates = TempDir::new("render-templates");
    templates.write(
        "product/storage/_s3.yaml.j2",
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ s.resourceName }}-custom\n  namespace: {{ product.namespace }}\ndata:\n  bucket: {{ s.bucket | tojson }}\n",
    );
    templates.write(
        "domain/quota.yaml.j2",
        "{apiVersion: v1, kind: ResourceQuota, metadata: {name: {{ domain.name }}-quota, namespace: {{ domain.namespace }}}, spec: {hard: {pods: \"50\"}}}\n",
    );
    let out = TempDir::new("render-templates-out");
    let result = render(
        &examples(),
        out.path(),
        &["--templates", templates.path().to_str().unwrap()],
    );
    assert_exit(&result, 0);
    let files = tree(out.path());
    assert!(
        files.contains_key("envs/dev/sales/sales-orders/configmap-sales-orders-lake-custom.yaml")
    );
    assert!(!files.contains_key("envs/dev/sales/sales-orders/configmap-sales-orders-lake.yaml"));
    assert!(files.contains_key("envs/prod/crm/resourcequota-crm-quota.yaml"));
}

#[test]
fn template_mistakes_are_reported_with_the_template_and_line() {
    let cases = [
        (
            "product/serviceaccount.yaml.j2",
            "kind: ServiceAccount\nmetadata:\n  name: {{ product.nmae }}\n",
            "product/serviceaccount.yaml.j2:3",
        ),
        (
            "product/extra.yaml.j2",
            "kind: [unclosed\n",
            "not valid YAML",
        ),
        (
            "product/extra.yaml.j2",
            "kind: ConfigMap\nmetadata:\n  name: ../../escape\n",
            "metadata.name",
        ),
        (
            "product/broken.yaml.j2",
            "{% if %}",
            "product/broken.yaml.j2",
        ),
        ("elsewhere/x.yaml.j2", "kind: A\n", "not under platform/"),
    ];
    for (name, text, expected) in cases {
        let templates = TempDir::new("render-bad-template");
        templates.write(name, text);
        let out = templates.path().join("out");
        let result = render(
            &examples(),
            &out,
            &["--templates", templates.path().to_str().unwrap()],
        );
        assert_exit(&result, 2);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: output written despite the error");
    }
}

#[test]
fn the_documented_override_turns_postgres_into_cloudnativepg_clusters() {
    let out = TempDir::new("render-cnpg");
    let templates = repo_root().join("examples/templates");
    let result = render(
        &examples(),
        out.path(),
        &["--templates", templates.to_str().unwrap()],
    );
    assert_exit(&result, 0);
    let files = tree(out.path());
    let clusters: Vec<&String> = files.keys().filter(|p| p.contains("/cluster-")).collect();
    assert_eq!(
        clusters.len(),
        10,
        "one Cluster per postgres storage and environment"
    );
    assert!(
        !files
            .keys()
            .any(|p| p.contains("statefulset-customers-customer-store"))
    );
    let cluster = parse(
        "cluster",
        &files["envs/dev/crm/customers/cluster-customers-customer-store.yaml"],
    );
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    // The port's Service selects the Cluster's pods by the labels they inherit.
    let inherited = &cluster["spec"]["inheritedMetadata"]["labels"];
    assert_eq!(
        inherited["app.kubernetes.io/instance"],
        "customers-customer-store"
    );
    assert!(files["argocd/apps/appproject-crm.yaml"].contains("postgresql.cnpg.io"));
}

/// Copies the example mesh into a directory of its own, to edit.
fn copy_examples(into: &Path) {
    for entry in ["mesh.yaml", "domains.yaml"] {
        std::fs::copy(examples().join(entry), into.join(entry)).unwrap();
    }
    std::fs::create_dir_all(into.join("products")).unwrap();
    for entry in std::fs::read_dir(examples().join("products")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, into.join("products").join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn after_one_product_changes_only_its_files_are_rewritten_and_lost_files_come_back() {
    let mesh = TempDir::new("render-one-mesh");
    copy_examples(mesh.path());
    let out = TempDir::new("render-one-out");
    assert_exit(&render(mesh.path(), out.path(), &[]), 0);
    let before = tree(out.path());

    let product = mesh.path().join("products/supply-inventory.yaml");
    let text = std::fs::read_to_string(&product).unwrap();
    std::fs::write(
        &product,
        text.replacen("version: 1.4.0", "version: 1.4.1", 1),
    )
    .unwrap();
    let result = render(mesh.path(), out.path(), &[]);
    assert_exit(&result, 0);
    let after = tree(out.path());
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, text)| before.get(*path) != Some(text))
        .map(|(path, _)| path)
        .collect();
    assert!(!changed.is_empty(), "the version is in the labels");
    assert!(
        changed.iter().all(|p| p.contains("/supply/inventory/")),
        "{changed:#?}"
    );
    let summary = String::from_utf8_lossy(&result.stderr);
    assert!(
        summary.contains(&format!("{} written", changed.len())),
        "{summary}"
    );

    // A file deleted by hand is noticed although its product did not change.
    let lost = out
        .path()
        .join("envs/dev/crm/customers/dataproduct-customers.yaml");
    std::fs::remove_file(&lost).unwrap();
    let result = render(mesh.path(), out.path(), &[]);
    assert_exit(&result, 0);
    assert!(String::from_utf8_lossy(&result.stderr).contains("1 written"));
    assert_eq!(tree(out.path()), after);

    // So are the files of the runs outside products (Applications, the platform), which are
    // not rendered again either while their inputs stay the same.
    std::fs::remove_file(
        out.path()
            .join("argocd/apps/dev/application-dev-crm-customers.yaml"),
    )
    .unwrap();
    std::fs::write(
        out.path().join("platform/namespace-dappmesh-system.yaml"),
        "edited\n",
    )
    .unwrap();
    let result = render(mesh.path(), out.path(), &[]);
    assert_exit(&result, 0);
    assert!(String::from_utf8_lossy(&result.stderr).contains("2 written"));
    assert_eq!(tree(out.path()), after);
}

#[test]
fn out_dash_prints_one_stream_of_the_same_objects() {
    let (_out, files) = rendered_examples();
    let cwd = TempDir::new("render-stdout");
    let result = run(
        &["render", examples().to_str().unwrap(), "--out", "-"],
        cwd.path(),
    );
    assert_exit(&result, 0);
    let stream = String::from_utf8(result.stdout).unwrap();
    let expected: String = files
        .iter()
        .map(|(path, text)| format!("---\n# Source: {path}\n{text}"))
        .collect();
    assert!(stream == expected, "the stream differs from the files");
    assert!(!cwd.path().join("-").exists());
}

#[test]
fn a_rendered_directory_inside_the_mesh_is_not_read_as_specs() {
    let mesh = TempDir::new("render-inside");
    copy_examples(mesh.path());
    let out = mesh.path().join("rendered");
    for _ in 0..2 {
        let result = run(&["render", ".", "--out", "rendered"], mesh.path());
        assert_exit(&result, 0);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    assert!(out.join(".dappctl-owned").exists());
    assert_exit(&run(&["validate", "."], mesh.path()), 0);
}

#[test]
fn a_file_remembered_as_valid_is_checked_again_once_it_changes() {
    let mesh = TempDir::new("memo-mesh");
    copy_examples(mesh.path());
    // Twice: the second run reads what the first remembered.
    for _ in 0..2 {
        assert_exit(&run(&["validate", "."], mesh.path()), 0);
    }
    // One file breaks its schema; another disappears, so a file that did not change (and is
    // remembered) now refers to nothing: its diagnostic must still point at its text.
    let product = mesh.path().join("products/supply-inventory.yaml");
    let text = std::fs::read_to_string(&product).unwrap();
    std::fs::write(
        &product,
        text.replacen("version: 1.4.0", "version: banana", 1),
    )
    .unwrap();
    std::fs::remove_file(mesh.path().join("products/crm-customers.yaml")).unwrap();

    let remembered = run(&["validate", "."], mesh.path());
    assert_exit(&remembered, 1);
    let fresh_cache = TempDir::new("memo-cache");
    let fresh = super::harness::dappctl()
        .args(["validate", "."])
        .current_dir(mesh.path())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("DAPPCTL_CACHE_DIR", fresh_cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&remembered.stdout);
    assert_eq!(stdout, String::from_utf8_lossy(&fresh.stdout));
    assert!(stdout.contains("supply-inventory.yaml:"), "{stdout}");
    assert!(stdout.contains("crm-customer-360.yaml:"), "{stdout}");
}

#[test]
fn a_pinot_time_column_is_typed_by_its_logical_type() {
    let pinot_schema = |out: &Path| -> Value {
        let path = "envs/dev/marketing/web-analytics/configmap-web-analytics-pinot.yaml";
        let map = parse(path, &std::fs::read_to_string(out.join(path)).unwrap());
        let text = map["data"]["schema.json"].as_str().unwrap().to_owned();
        serde_json::from_str(&text).unwrap()
    };
    let mesh = TempDir::new("render-pinot-mesh");
    copy_examples(mesh.path());
    let out = TempDir::new("render-pinot-out");
    assert_exit(&render(mesh.path(), out.path(), &[]), 0);
    let time = &pinot_schema(out.path())["dateTimeFieldSpecs"][0];
    assert_eq!(time["name"], "timestamp_in_epoch");
    assert_eq!(
        (&time["dataType"], &time["format"]),
        (&Value::from("LONG"), &Value::from("1:MILLISECONDS:EPOCH"))
    );

    // The same column as ISO 8601 text: Pinot's TIMESTAMP reads it, LONG would not.
    let product = mesh.path().join("products/marketing-web-analytics.yaml");
    let text = std::fs::read_to_string(&product).unwrap();
    let edited = text.replace(
        "{ name: timestamp_in_epoch, logicalType: integer",
        "{ name: timestamp_in_epoch, logicalType: timestamp",
    );
    assert_ne!(edited, text);
    std::fs::write(&product, edited).unwrap();
    assert_exit(&render(mesh.path(), out.path(), &[]), 0);
    let time = &pinot_schema(out.path())["dateTimeFieldSpecs"][0];
    assert_eq!(
        (&time["dataType"], &time["format"]),
        (
            &Value::from("TIMESTAMP"),
            &Value::from("1:MILLISECONDS:TIMESTAMP")
        )
    );
}

#[test]
fn cache_entries_unused_for_a_month_are_swept_at_most_daily() {
    let cache = TempDir::new("swept-cache");
    let validate = || {
        let out = super::harness::dappctl()
            .args(["validate", examples().to_str().unwrap()])
            .env("DAPPCTL_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        assert_exit(&out, 0);
    };
    let days_ago = |name: &str, days: u64| {
        let path = cache.path().join(name);
        if !path.exists() {
            std::fs::write(&path, "x").unwrap();
        }
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    };
    let present = |name: &str| cache.path().join(name).exists();
    days_ago("documents-00000000000000aa", 40);
    days_ago("fingerprints-00000000000000bb", 31);
    days_ago(".fingerprints-00000000000000bb.tmp-4242", 40);
    days_ago("documents-00000000000000cc", 29);
    days_ago("notes-of-the-user.txt", 400);

    validate();
    assert!(!present("documents-00000000000000aa"));
    assert!(!present("fingerprints-00000000000000bb"));
    assert!(!present(".fingerprints-00000000000000bb.tmp-4242"));
    assert!(present("documents-00000000000000cc"), "still in its month");
    assert!(present("notes-of-the-user.txt"), "not dappctl's to remove");
    let memo: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("documents-") && !n.ends_with("cc"))
        .collect();
    assert_eq!(memo.len(), 1, "this run's own entry: {memo:?}");

    days_ago("documents-00000000000000dd", 40);
    validate();
    assert!(
        present("documents-00000000000000dd"),
        "swept once a day, not every run"
    );

    days_ago(".swept", 2);
    validate();
    assert!(!present("documents-00000000000000dd"));
    assert!(present(&memo[0]));
}

#[test]
fn a_macros_file_of_the_users_replaces_the_built_in_pieces() {
    // The documented Jinja macros write what dappctl's own functions write...
    let reference = std::fs::read_to_string(repo_root().join("cli/docs/macros.j2")).unwrap();
    let templates = TempDir::new("render-macros");
    templates.write("_macros.j2", &reference);
    let out = TempDir::new("render-macros-out");
    let result = render(
        &examples(),
        out.path(),
        &["--templates", templates.path().to_str().unwrap()],
    );
    assert_exit(&result, 0);
    let (_plain, expected) = rendered_examples();
    assert_eq!(tree(out.path()), expected);

    // ...and, edited, change every object that uses them.
    templates.write(
        "_macros.j2",
        reference.replace(
            "app.kubernetes.io/managed-by: dappctl\n",
            "app.kubernetes.io/managed-by: dappctl\nexample.com/team: data\n",
        ),
    );
    let out = TempDir::new("render-macros-edited");
    let result = render(
        &examples(),
        out.path(),
        &["--templates", templates.path().to_str().unwrap()],
    );
    assert_exit(&result, 0);
    let deployment =
        &tree(out.path())["envs/dev/sales/sales-orders/deployment-sales-orders-orders-stream.yaml"];
    assert_eq!(
        deployment.matches("example.com/team: data").count(),
        2,
        "{deployment}"
    );
}
