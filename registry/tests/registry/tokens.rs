//! Tokens through the binary: grants that match whole id segments, entries refused when
//! the tokens load, and `--tokens-file` paths (a file, or a directory mounted the way the
//! kubelet mounts a Secret) re-read while the server runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::*;

const SALES: &str = "sales-token-0123456789abcdef";
const OLD: &str = "old-admin-token-0123456789ab";
const NEW: &str = "new-admin-token-0123456789ab";
const ORDERS: &str = "orders-token-0123456789abcdef";
const RETURNS: &str = "returns-token-0123456789abcde";

/// The status of registering `id` with `token`.
async fn write_as(c: &reqwest::Client, base: &str, token: &str, id: &str) -> StatusCode {
    call(
        c,
        Method::POST,
        &format!("{base}/api/v1/registry/{id}"),
        Some(token),
        Some("{}"),
    )
    .await
    .expect("POST")
    .status
}

/// Runs `registry serve` with `args`, which must make it exit with an error within 20 s;
/// returns its stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let log = dir.join("refused.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir.join("refused-data"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("registry starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("registry {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[tokio::test]
async fn grants_match_whole_segments_and_a_star_inside_one_is_refused() {
    let dir = TempDir::new("segments");
    let file = dir.path().join("tokens");
    let path = file.display().to_string();
    std::fs::write(&file, format!("{SALES} registry:sales.*\n")).unwrap();
    let server = Server::start(dir.path(), &["--tokens-file", &path]);
    let c = client();
    assert_eq!(
        write_as(&c, &server.url, SALES, "sales.orders.chart").await,
        StatusCode::OK
    );
    assert_eq!(
        write_as(&c, &server.url, SALES, "sales-eu.x").await,
        StatusCode::FORBIDDEN
    );

    std::fs::write(&file, format!("# sales\n{SALES} registry:sales-*\n")).unwrap();
    let stderr = refused(dir.path(), &["--tokens-file", &path]);
    assert!(
        stderr.contains(&format!(
            "{path} line 2: 'registry:sales-*': '*' stands for whole segments only"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains(SALES),
        "the token is never logged: {stderr}"
    );
}

/// A Secret mounted as the kubelet mounts it: the files in `..<version>/`, `..data`
/// pointing at that, and `key -> ..data/key` for each key.
struct Mount {
    dir: PathBuf,
    version: u32,
    keys: Vec<String>,
}

impl Mount {
    /// Mounts into `dir`, an existing directory (an `optional: true` Secret that does not
    /// exist yet is an empty one).
    fn new(dir: PathBuf) -> Mount {
        Mount {
            dir,
            version: 0,
            keys: Vec::new(),
        }
    }

    fn key(&self, key: &str) -> String {
        self.dir.join(key).display().to_string()
    }

    /// Writes the next version and swaps `..data` to it with one rename, then adds the
    /// new keys' symlinks, removes the old keys' and the old version, in the kubelet's
    /// order (its atomic writer).
    fn update(&mut self, data: &[(&str, String)]) {
        use std::os::unix::fs::symlink;
        let old = format!("..2026_12_03_00_00_00.{:03}", self.version);
        self.version += 1;
        let new = format!("..2026_12_03_00_00_00.{:03}", self.version);
        std::fs::create_dir(self.dir.join(&new)).unwrap();
        for (key, value) in data {
            std::fs::write(self.dir.join(&new).join(key), value).unwrap();
        }
        symlink(&new, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
        let keys: Vec<String> = data.iter().map(|(k, _)| (*k).to_owned()).collect();
        for key in keys.iter().filter(|k| !self.keys.contains(k)) {
            symlink(format!("..data/{key}"), self.dir.join(key)).unwrap();
        }
        for key in self.keys.iter().filter(|k| !keys.contains(k)) {
            std::fs::remove_file(self.dir.join(key)).unwrap();
        }
        let _ = std::fs::remove_dir_all(self.dir.join(old));
        self.keys = keys;
    }
}

/// A server run with the rendered Deployment's arguments and the products' Secret beside
/// them: `--tokens-file <admin mount>/tokens --tokens-file <products mount>`.
struct Mounted {
    server: Server,
    admin: Mount,
    products: Mount,
    tokens_path: String,
}

impl Mounted {
    /// The admin Secret holds `admin`; the products' Secret does not exist yet (an empty
    /// directory, as the kubelet mounts an `optional: true` Secret that is missing).
    fn start(dir: &Path, admin_tokens: String) -> Mounted {
        let mut admin = Mount::new(dir.join("registry"));
        let products = Mount::new(dir.join("products"));
        std::fs::create_dir(&admin.dir).unwrap();
        std::fs::create_dir(&products.dir).unwrap();
        admin.update(&[("tokens", admin_tokens)]);
        let tokens_path = admin.key("tokens");
        let products_path = products.dir.display().to_string();
        let server = Server::start(
            dir,
            &[
                "--tokens-file",
                &tokens_path,
                "--tokens-file",
                &products_path,
                "--read-access",
                "token",
                "--metrics-port",
                "0",
                "--tokens-poll-interval",
                "200ms",
            ],
        );
        Mounted {
            server,
            admin,
            products,
            tokens_path,
        }
    }

    /// Waits (at most 10 s) until `token` may register `id`.
    async fn until_accepted(&self, c: &reqwest::Client, token: &str, id: &str) {
        let base = &self.server.url;
        eventually(Duration::from_secs(10), token, || async move {
            write_as(c, base, token, id).await == StatusCode::OK
        })
        .await;
    }
}

fn orders_only() -> Vec<(&'static str, String)> {
    vec![(
        "orders",
        format!("{ORDERS} registry:sales.orders.chart registry:sales.orders.table"),
    )]
}

#[tokio::test]
async fn a_mounted_secret_is_reloaded_when_the_kubelet_swaps_it() {
    let dir = TempDir::new("tokens-reload");
    let mut m = Mounted::start(dir.path(), format!("{OLD} registry:a.* read"));
    let c = client();
    let base = m.server.url.clone();
    assert_eq!(write_as(&c, &base, OLD, "a.w").await, StatusCode::OK);
    assert_eq!(
        write_as(&c, &base, ORDERS, "sales.orders.chart").await,
        StatusCode::UNAUTHORIZED,
        "the products' Secret does not exist yet"
    );

    let mut stream = c
        .get(format!("{base}/api/v1/watch/registry"))
        .bearer_auth(OLD)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.chunk().await.unwrap().is_some(), "the first event");

    // The operator creates the products' Secret, and an admin rotates the old token.
    m.products.update(&orders_only());
    m.admin
        .update(&[("tokens", format!("{NEW} registry:a.* read"))]);
    m.until_accepted(&c, NEW, "a.w").await;
    // One ring replaced whole: the token the same file no longer lists is gone with it.
    assert_eq!(
        write_as(&c, &base, OLD, "a.w").await,
        StatusCode::UNAUTHORIZED
    );
    // The event stream it opened ends too, rather than outliving the token.
    tokio::time::timeout(Duration::from_secs(10), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await
    .expect("the removed token's event stream ends");
    let read = call(
        &c,
        Method::GET,
        &format!("{base}/api/v1/registry"),
        Some(OLD),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (read.status, read.json["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    m.until_accepted(&c, ORDERS, "sales.orders.table").await;
    assert_eq!(
        write_as(&c, &base, ORDERS, "sales.orders.other").await,
        StatusCode::FORBIDDEN
    );

    // A product gone from the Secret takes its token with it.
    m.products
        .update(&[("returns", format!("{RETURNS} registry:sales.returns.chart"))]);
    m.until_accepted(&c, RETURNS, "sales.returns.chart").await;
    assert_eq!(
        write_as(&c, &base, ORDERS, "sales.orders.chart").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_broken_update_keeps_its_files_tokens_and_is_logged_once() {
    let dir = TempDir::new("tokens-broken");
    let missing = dir.path().join("missing").display().to_string();
    let stderr = refused(dir.path(), &["--tokens-file", &missing]);
    assert!(
        stderr.contains(&format!("reading the tokens file {missing}")),
        "{stderr}"
    );

    let mut m = Mounted::start(dir.path(), format!("{OLD} registry:a.* read"));
    let c = client();
    let base = m.server.url.clone();
    m.admin.update(&[(
        "tokens",
        format!("{NEW} registry:a.* read\nshort-token read\n"),
    )]);
    let fault = format!(
        "{} line 2: a token must be 16 to 512 characters",
        m.tokens_path
    );
    eventually(Duration::from_secs(10), "the fault in the log", || {
        let logged = m.server.log().contains(&fault);
        async move { logged }
    })
    .await;
    assert_eq!(write_as(&c, &base, OLD, "a.w").await, StatusCode::OK);
    assert_eq!(
        write_as(&c, &base, NEW, "a.w").await,
        StatusCode::UNAUTHORIZED,
        "nothing of the broken file applies"
    );

    // The other Secret still updates meanwhile, and the fault is not logged again.
    m.products.update(&orders_only());
    m.until_accepted(&c, ORDERS, "sales.orders.chart").await;
    assert_eq!(write_as(&c, &base, OLD, "a.w").await, StatusCode::OK);
    let log = m.server.log();
    assert_eq!(log.matches(&fault).count(), 1, "{log}");
    for token in [OLD, NEW, ORDERS] {
        assert!(!log.contains(token), "a token in the log: {log}");
    }

    // Fixed, it applies.
    m.admin
        .update(&[("tokens", format!("{NEW} registry:a.* read"))]);
    m.until_accepted(&c, NEW, "a.w").await;
    assert_eq!(
        write_as(&c, &base, OLD, "a.w").await,
        StatusCode::UNAUTHORIZED
    );
}
