//! Test support: starting the registry and the dashboard as processes, a widget host
//! that serves bundles (and misbehaves on request), and registering widgets.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

pub const TOKEN: &str = "dashboard-test-token-0123456789";

/// A child process killed when dropped.
pub struct Process {
    pub child: Child,
    pub url: String,
    _dir: Option<TempDir>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// SIGKILL: the registry dies without a goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dashboard-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The registry binary: built by `cargo build -p registry` into the same target directory.
fn registry_binary() -> PathBuf {
    if let Ok(path) = std::env::var("REGISTRY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/dashboard-<hash> -> target/<profile>/registry
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("registry"))
        .expect("the target directory");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p registry` first (or set REGISTRY_BIN)",
        path.display()
    );
    path
}

/// Spawns a server that prints "… listening on http://ADDR" on stdout and returns its URL.
fn spawn(mut command: Command, dir: Option<TempDir>) -> Process {
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().expect("starting the server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading the listening line");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .replace("0.0.0.0", "127.0.0.1");
    Process {
        child,
        url,
        _dir: dir,
    }
}

pub fn start_registry(ttl: &str) -> Process {
    let dir = TempDir::new("registry");
    let mut command = Command::new(registry_binary());
    command
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--ttl", ttl])
        .arg("--sweep-interval")
        .arg("100ms")
        .arg("--data-dir")
        .arg(&dir.0)
        .arg("--tokens")
        .arg(format!("{TOKEN} registry:* products:*"))
        .env("REGISTRY_LOG", "warn");
    spawn(command, Some(dir))
}

pub fn start_dashboard(registry: &str, extra: &[&str]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dashboard"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--registry-url",
            registry,
        ])
        .args(["--refresh", "200ms", "--upstream-timeout", "1s"])
        .args(extra)
        .env("DASHBOARD_LOG", "warn");
    spawn(command, None)
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// POSTs a registration; returns the status.
pub async fn register(registry: &str, id: &str, body: serde_json::Value) -> u16 {
    client()
        .post(format!("{registry}/api/v1/registry/{id}"))
        .bearer_auth(TOKEN)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("registering")
        .status()
        .as_u16()
}

/// GETs a dashboard path as JSON.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = client().get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    let text = response.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&text).unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Polls `check` until it holds, for up to five seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A widget host. `/w.js` and `/w.css` are well-behaved; `/html.css` labels itself
/// text/html; `/big.js` is 3 MiB; `/slow.js` answers after 3 s; `/redirect.js` redirects.
pub struct WidgetHost {
    pub url: String,
    /// How many times `/w.js` was fetched.
    pub script_hits: Arc<AtomicUsize>,
}

pub async fn start_widget_host() -> WidgetHost {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/w.js",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        [(CONTENT_TYPE, "application/javascript")],
                        "window.loaded = 1;",
                    )
                }
            }),
        )
        .route(
            "/w.css",
            get(|| async { ([(CONTENT_TYPE, "text/css")], "w-x{}") }),
        )
        .route(
            "/html.css",
            get(|| async { ([(CONTENT_TYPE, "text/html")], "<script>x</script>") }),
        )
        .route(
            "/big.js",
            get(|| async { ([(CONTENT_TYPE, "text/javascript")], vec![b' '; 3 << 20]) }),
        )
        .route(
            "/slow.js",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                ([(CONTENT_TYPE, "text/javascript")], "1")
            }),
        )
        .route(
            "/redirect.js",
            get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, "/w.js")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the widget host");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    WidgetHost {
        url: format!("http://{addr}"),
        script_hits: hits,
    }
}
