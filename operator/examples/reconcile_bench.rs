//! The operator benchmark's cluster: reads what `dappctl render --env dev --out DIR` wrote
//! for a synthetic mesh, starts the test API server on 127.0.0.1 with the CRD, namespaces,
//! mesh ConfigMap and every DataProduct of it, runs the operator binary given (under GNU
//! time, for its peak RSS), and waits until every DataProduct is Ready.
//!
//! ```text
//! cargo run --release -p operator --example reconcile_bench -- RENDERED_DIR OPERATOR_BINARY
//! ```
//!
//! Prints the number of products, the seconds until all were Ready, the throughput, and the
//! operator's peak RSS. `tests/bench/operator.sh` builds everything and runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_apiserver::{ApiServer, Options, Workloads};

fn objects(dir: &Path, out: &mut Vec<(String, Value)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the rendered directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            objects(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("a rendered file");
            let source = dappmesh_compiler::source::SourceFile::new(path.clone(), text);
            for object in dappmesh_compiler::load::yaml::parse::<Value>(&source, Default::default())
                .expect("rendered YAML")
            {
                out.push((path.display().to_string(), object));
            }
        }
    }
}

#[allow(clippy::too_many_lines)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, rendered, operator] = args.as_slice() else {
        eprintln!("usage: reconcile_bench RENDERED_DIR OPERATOR_BINARY");
        std::process::exit(2);
    };
    let mut all = Vec::new();
    objects(Path::new(rendered), &mut all);
    let wanted = |path: &str, object: &Value| {
        let kind = object["kind"].as_str().unwrap_or_default();
        kind == "CustomResourceDefinition"
            || kind == "Namespace"
            || kind == "DataProduct"
            || (kind == "ConfigMap" && path.ends_with("configmap-dappmesh-mesh.yaml"))
    };
    let mut setup: Vec<Value> = all
        .into_iter()
        .filter(|(p, o)| wanted(p, o) && !p.contains("/argocd/"))
        .map(|(_, o)| o)
        .collect();
    // CRDs, then namespaces, then the rest, as apply orders them.
    let rank = |o: &Value| match o["kind"].as_str() {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    };
    setup.sort_by_key(rank);
    let products = setup.iter().filter(|o| o["kind"] == "DataProduct").count();

    let server = ApiServer::start(Options {
        workloads: Workloads::Stuck,
        ..Options::default()
    });
    for object in setup {
        server
            .apply_as("dappctl", object)
            .expect("the set-up applies");
    }
    let dir = std::env::temp_dir().join(format!("operator-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let kubeconfig = dir.join("kubeconfig");
    server.kubeconfig(&kubeconfig).expect("a kubeconfig");
    let rss = dir.join("rss");

    // The operator's own log, for when it does not get there.
    let log = std::fs::File::create(dir.join("operator.log")).expect("a log file");
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(operator)
        .args([
            "run",
            "--mesh-namespace",
            "dappmesh-system",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(log.try_clone().expect("the log file"))
        .stderr(log)
        .spawn()
        .expect("GNU time and the operator run");
    let ready = |o: &Value| {
        o["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    };
    let deadline = started + Duration::from_secs(1800);
    loop {
        let done = server.count(|o| o["kind"] == "DataProduct" && ready(o));
        if done == products {
            break;
        }
        eprint!("\r{done} of {products} Ready");
        if std::env::var_os("BENCH_DEBUG").is_some() && started.elapsed() > Duration::from_secs(8) {
            let first = server
                .objects()
                .into_iter()
                .find(|o| o["kind"] == "DataProduct");
            eprintln!(
                "\n{}",
                first.map(|o| o["status"].to_string()).unwrap_or_default()
            );
            break;
        }
        if Instant::now() > deadline {
            eprintln!("only {done} of {products} Ready after 30 minutes");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed().as_secs_f64();
    // GNU time forwards SIGTERM to nothing: stop the operator itself, then time reports.
    let _ = Command::new("pkill")
        .args(["-TERM", "-P", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let kib: u64 = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse().ok())
        .unwrap_or(0);
    println!("products: {products}");
    println!("all Ready after: {took:.1} s");
    println!("throughput: {:.0} products/s", products as f64 / took);
    println!("operator peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    if kib > 0 {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("the operator's log: {}", dir.join("operator.log").display());
    }
}
