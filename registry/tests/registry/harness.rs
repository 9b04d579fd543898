//! Test support: fresh directories, the real server and sidecar processes, and an HTTP
//! client that returns status, headers and JSON.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub use reqwest::{Method, StatusCode};
pub use serde_json::{Value, json};

/// May write and read everything.
pub const ADMIN: &str = "admin-token-0123456789abcdef";
/// May write registrations whose ids start with `team-a.`.
pub const TEAM_A: &str = "team-a-token-0123456789abcdef";

pub const IDEA_LAB_BODY: &str = r#"{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css","componentId":"<w-tag param_one=\"x\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}"#;

pub fn tokens() -> String {
    format!("{ADMIN} registry:* products:* read; {TEAM_A} registry:team-a.*")
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "registry-test-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: kill(2) on a pid this test spawned and has not reaped yet.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Waits for a child to exit, at most `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process {} did not exit within {limit:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `registry serve` on 127.0.0.1.
pub struct Server {
    child: Child,
    pub url: String,
    pub port: u16,
    /// The metrics listener's base URL, when started with `--metrics-port`.
    pub metrics_url: Option<String>,
    data_dir: PathBuf,
    log: PathBuf,
    extra: Vec<String>,
    nofile: Option<u64>,
}

impl Server {
    /// Starts a server on a free port with its data in `dir/data` and its log in
    /// `dir/server.log`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Self::start_on(dir, 0, extra)
    }

    pub fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Server {
        Self::launch(dir, port, extra, None)
    }

    /// Starts a server whose open-file limit (`ulimit -n`, soft and hard) is `nofile`.
    pub fn start_with_file_limit(dir: &Path, extra: &[&str], nofile: u64) -> Server {
        Self::launch(dir, 0, extra, Some(nofile))
    }

    fn launch(dir: &Path, port: u16, extra: &[&str], nofile: Option<u64>) -> Server {
        let log = dir.join("server.log");
        let data_dir = dir.join("data");
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, url, metrics_url) = spawn_server(&data_dir, &log, port, &extra, nofile);
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in url");
        Server {
            child,
            url,
            port,
            metrics_url,
            data_dir,
            log,
            extra,
            nofile,
        }
    }

    /// The process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        signal(&self.child, libc::SIGKILL);
        wait_exit(&mut self.child, Duration::from_secs(10));
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(&self.child, libc::SIGTERM);
        wait_exit(&mut self.child, Duration::from_secs(20))
    }

    /// Starts it again on the same port and data directory (after kill or terminate).
    pub fn restart(&mut self) {
        let (child, url, metrics_url) = spawn_server(
            &self.data_dir,
            &self.log,
            self.port,
            &self.extra,
            self.nofile,
        );
        self.child = child;
        self.url = url;
        self.metrics_url = metrics_url;
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server and reads its address (and its metrics address with
/// `--metrics-port`) from stdout, which stays drained so later prints never fail.
fn spawn_server(
    data_dir: &Path,
    log: &Path,
    port: u16,
    extra: &[String],
    nofile: Option<u64>,
) -> (Child, String, Option<String>) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry"));
    if let Some(n) = nofile {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let mut child = cmd
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(data_dir)
        .args(["--tokens", &tokens()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("registry starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
    });
    let mut address = |prefix: &str| {
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        match line.trim().strip_prefix(prefix) {
            Some(url) => url.to_owned(),
            None => {
                let _ = child.kill();
                panic!(
                    "registry did not start: {line:?}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            }
        }
    };
    let url = address("registry listening on ");
    let metrics_url = extra
        .iter()
        .any(|a| a == "--metrics-port")
        .then(|| address("registry metrics on "));
    (child, url, metrics_url)
}

/// A running `registry heartbeat`.
pub struct Sidecar {
    pub child: Child,
    pub log: PathBuf,
}

impl Sidecar {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Sidecar {
        Sidecar::start_with(dir, &[], env)
    }

    /// `registry heartbeat` with extra flags.
    pub fn start_with(dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Sidecar {
        let log = dir.join("sidecar.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry"));
        cmd.arg("heartbeat")
            .args(flags)
            .env_clear()
            .env("REGISTRY_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Sidecar {
            child: cmd.spawn().expect("sidecar starts"),
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(30))
}

/// A client whose requests fail after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    // No idle connections: a pooled connection to a server a test killed would make the
    // first request after its restart fail on the client side.
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .expect("client")
}

/// The outcome of a request; `json` is `Null` for an empty body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn index(&self) -> u64 {
        self.headers["x-registry-index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// Sends a request with an optional bearer token and JSON body.
pub async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Reply, reqwest::Error> {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await?;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Ok(Reply {
        status,
        headers,
        json,
    })
}

/// GET without a token, which must succeed at the HTTP level.
pub async fn get(client: &reqwest::Client, url: &str) -> Reply {
    call(client, Method::GET, url, None, None)
        .await
        .expect("GET")
}

/// POSTs a registration with the admin token.
pub async fn register(client: &reqwest::Client, base: &str, id: &str, body: &str) -> Reply {
    call(
        client,
        Method::POST,
        &format!("{base}/api/v1/registry/{id}"),
        Some(ADMIN),
        Some(body),
    )
    .await
    .expect("POST")
}

/// Polls `check` every 50 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
