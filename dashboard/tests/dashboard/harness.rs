//! Test support: starting the registry and the dashboard as processes, a widget host
//! that serves bundles (and misbehaves on request), registering widgets, and running a
//! test inside a network namespace of its own, with names of our choosing.

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

/// A widget host. `/w.js` and `/w.css` are well-behaved; `/pause.js` answers after
/// 300 ms; `/html.css` labels itself text/html; `/big.js` is 3 MiB; `/slow.js` answers
/// after 3 s; `/redirect.js` redirects; `/missing.js` is 404, `/broken.js` 500.
pub struct WidgetHost {
    pub url: String,
    /// How many times `/w.js` was fetched.
    pub script_hits: Arc<AtomicUsize>,
    /// How many times `/pause.js` was fetched.
    pub pause_hits: Arc<AtomicUsize>,
}

pub async fn start_widget_host() -> WidgetHost {
    start_widget_host_on("127.0.0.1:0").await
}

/// A widget host listening on `addr`.
pub async fn start_widget_host_on(addr: &str) -> WidgetHost {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let pause_hits = Arc::new(AtomicUsize::new(0));
    let paused = Arc::clone(&pause_hits);
    let app = Router::new()
        .route(
            "/pause.js",
            get(move || {
                paused.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    ([(CONTENT_TYPE, "text/javascript")], "window.paused = 1;")
                }
            }),
        )
        .route(
            "/missing.js",
            get(|| async { axum::http::StatusCode::NOT_FOUND }),
        )
        .route(
            "/broken.js",
            get(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
        )
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
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("binding the widget host");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    WidgetHost {
        url: format!("http://{addr}"),
        script_hits: hits,
        pause_hits,
    }
}

/// Set in the environment of a test that runs inside the namespace [`in_namespace`] made.
const INSIDE: &str = "DASHBOARD_TEST_NETNS";

/// The namespace's `/etc/hosts`. The registry refuses URLs that name loopback or metadata
/// addresses literally (or as `localhost`), so the tests reach their hosts by names, as an
/// attacker would.
const HOSTS: &str = "127.0.0.1 localhost
::1 localhost
127.0.0.1 widgets.test
127.0.0.1 evil.test
10.0.0.2 private.test
169.254.169.254 metadata.test
127.0.0.1 mixed.test
10.0.0.2 mixed.test
";

fn unshare_flags() -> &'static [&'static str] {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        &["--net", "--mount"]
    } else {
        // Not root: a user namespace gives the capabilities inside.
        &["--map-root-user", "--net", "--mount"]
    }
}

/// Runs the ignored test `inner` (its full path, e.g. `dashboard::egress::x_inside`) in a
/// new network and mount namespace: only loopback, with 169.254.169.254 (a fake metadata
/// service) and 10.0.0.2 (a private address) on it and [`HOSTS`] as `/etc/hosts`. Where no
/// namespace can be made, prints why and returns.
pub fn in_namespace(inner: &str) {
    let flags = unshare_flags();
    let probe = Command::new("unshare")
        .args(flags)
        .arg("true")
        .stderr(Stdio::piped())
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: no network namespace (unshare {}: {})",
                flags.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: no network namespace (unshare: {e})");
            return;
        }
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .args(flags)
        .arg("--")
        .arg(exe)
        .args([
            inner,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INSIDE, "1")
        .env("REGISTRY_BIN", registry_binary())
        .output()
        .expect("running the test in a namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{inner} failed inside its namespace"
    );
}

/// Inside the namespace: loopback up, the two extra addresses, the hosts file. False (with
/// the reason printed) when the test was not started by [`in_namespace`].
pub fn namespace_ready() -> bool {
    if std::env::var_os(INSIDE).is_none() {
        eprintln!("skipped: this test runs inside the namespace that its outer test creates");
        return false;
    }
    let sh = |script: &str| {
        let status = Command::new("sh")
            .args(["-ec", script])
            .status()
            .expect("running sh");
        assert!(status.success(), "{script}");
    };
    sh("ip link set lo up
        ip addr add 169.254.169.254/32 dev lo
        ip addr add 10.0.0.2/32 dev lo");
    let hosts = std::env::temp_dir().join(format!("dashboard-netns-hosts-{}", std::process::id()));
    std::fs::write(&hosts, HOSTS).expect("writing the hosts file");
    sh(&format!("mount --bind '{}' /etc/hosts", hosts.display()));
    // The mount holds the file; the name is not needed any more.
    let _ = std::fs::remove_file(&hosts);
    true
}
