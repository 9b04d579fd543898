//! Widget bundles: fetching a script or stylesheet from the URL a widget registered, only
//! from addresses the [`crate::egress`] policy allows, with a content-type check, a size
//! limit, time limits, no redirects and no proxy; each URL's SHA-256 pinned at its first
//! fetch (a later fetch with other bytes is refused, and the page loads the bundle with
//! Subresource Integrity); concurrent fetches of one bundle coalesced into one request;
//! and an in-memory cache bounded in bytes.
//!
//! idea-lab's `/api/proxy` fetched any URL it was given (SSRF) and served CSS as
//! `text/plain`. Here the caller ([`crate::api`]) only asks for a URL that the registry
//! lists for that widget, and what comes back must already be labelled as the kind asked
//! for: a stylesheet URL answering `text/html` is refused, not relabelled.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::OnceCell;
use url::{Host, Url};

use crate::egress::{Policy, Resolver};
/// Which of a widget's two bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Script,
    Style,
}

impl Kind {
    /// The content type the page gets.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Script => "text/javascript; charset=utf-8",
            Kind::Style => "text/css; charset=utf-8",
        }
    }

    /// Whether an upstream media type (lowercase, no parameters) is this kind.
    fn accepts(self, mime: &str) -> bool {
        match self {
            // The MIME Sniffing standard's JavaScript MIME type essences, the common ones.
            Kind::Script => matches!(
                mime,
                "text/javascript"
                    | "application/javascript"
                    | "application/x-javascript"
                    | "application/ecmascript"
                    | "text/ecmascript"
            ),
            Kind::Style => mime == "text/css",
        }
    }
}

/// A fetched bundle.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub kind: Kind,
    /// The Subresource Integrity value of the body, `sha256-<base64>`.
    pub integrity: String,
    /// A strong validator over the body (its integrity, quoted).
    pub etag: String,
    at: Instant,
}

/// Why a bundle could not be served. The client never sees which: every one is the same
/// answer ([`crate::api`]), or the proxy would tell a registry writer what listens where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("refused by the address policy: {0}")]
    Refused(String),
    #[error("the widget host did not answer in time")]
    Timeout,
    #[error("the widget host is unreachable: {0}")]
    Unreachable(String),
    #[error("the widget host answered HTTP {0}")]
    Status(u16),
    #[error("the widget host answered with content type '{0}', not {1}")]
    ContentType(String, &'static str),
    #[error("the bundle is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the bundle changed since it was pinned: {pinned} at first fetch, {got} now")]
    Changed { pinned: String, got: String },
}

/// Limits of the proxy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bundle fetched.
    pub max_bundle_bytes: usize,
    /// Most bytes the cache holds.
    pub cache_bytes: usize,
    /// How long a cached bundle is served before it is fetched again.
    pub cache_ttl: Duration,
    /// Time limit of one fetch, connect included.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bundle_bytes: 2 * 1024 * 1024,
            cache_bytes: 16 * 1024 * 1024,
            cache_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Fetched>,
    bytes: usize,
}

impl Cache {
    fn get(&self, url: &str, kind: Kind, ttl: Duration) -> Option<Fetched> {
        self.entries
            .get(url)
            .filter(|f| f.kind == kind && f.at.elapsed() < ttl)
            .cloned()
    }

    fn remove(&mut self, url: &str) {
        if let Some(old) = self.entries.remove(url) {
            self.bytes -= old.body.len();
        }
    }

    /// Inserts, evicting the oldest entries until the total fits.
    fn put(&mut self, url: String, fetched: Fetched, limit: usize) {
        self.remove(&url);
        if fetched.body.len() > limit {
            return;
        }
        while self.bytes + fetched.body.len() > limit {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, f)| f.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
        self.bytes += fetched.body.len();
        self.entries.insert(url, fetched);
    }
}

/// One fetch in progress, shared by every request for the same bundle that arrives
/// meanwhile.
type Flight = Arc<OnceCell<Result<Fetched, BundleError>>>;

/// The integrity value of some bytes.
pub fn integrity(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// reqwest's error with its causes (the resolver's refusal is one of them), for the log.
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The proxy's fetcher, pins and cache.
pub struct Bundles {
    client: reqwest::Client,
    policy: Arc<Policy>,
    limits: Limits,
    cache: Mutex<Cache>,
    /// The integrity value of each URL's first fetch. Kept while the URL is registered
    /// ([`Bundles::keep_only`]), for the life of the process.
    pins: Mutex<HashMap<String, String>>,
    flights: Mutex<HashMap<(String, &'static str), Flight>>,
}

impl Bundles {
    pub fn new(limits: Limits, policy: Policy) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            // A redirect would send the proxy to a URL nobody registered, and a proxy
            // would resolve the widget host itself, out of the policy's sight.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Resolver {
                policy: Arc::clone(&policy),
            }))
            .build()?;
        Ok(Bundles {
            client,
            policy,
            limits,
            cache: Mutex::default(),
            pins: Mutex::default(),
            flights: Mutex::default(),
        })
    }

    /// Bytes the cache holds now.
    pub fn cached_bytes(&self) -> usize {
        lock(&self.cache).bytes
    }

    /// Forgets the pins, cached bodies and idle flights of URLs no longer registered, so
    /// memory follows the registry and a URL registered again is pinned afresh.
    pub fn keep_only(&self, registered: &HashSet<String>) {
        lock(&self.pins).retain(|url, _| registered.contains(url));
        let mut cache = lock(&self.cache);
        let gone: Vec<String> = cache
            .entries
            .keys()
            .filter(|url| !registered.contains(*url))
            .cloned()
            .collect();
        for url in gone {
            cache.remove(&url);
        }
        lock(&self.flights).retain(|(url, _), _| registered.contains(url));
    }

    /// The bundle at `url`, from the cache or fetched. The caller has checked that `url`
    /// is registered as this kind of bundle.
    pub async fn get(&self, url: &Url, kind: Kind) -> Result<Fetched, BundleError> {
        if let Some(hit) = lock(&self.cache).get(url.as_str(), kind, self.limits.cache_ttl) {
            return Ok(hit);
        }
        let key = (url.as_str().to_owned(), kind.content_type());
        let flight = Arc::clone(lock(&self.flights).entry(key.clone()).or_default());
        // Should the request that started the fetch go away, the next waiter takes it
        // over (that is how `OnceCell` initialises).
        let result = flight
            .get_or_init(|| self.fetch_pinned(url, kind))
            .await
            .clone();
        let mut flights = lock(&self.flights);
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            // Done: later requests find the cache, or try again after a failure.
            flights.remove(&key);
        }
        result
    }

    /// Fetches, checks the bytes against the URL's pin (pinning them the first time) and
    /// caches them.
    async fn fetch_pinned(&self, url: &Url, kind: Kind) -> Result<Fetched, BundleError> {
        let fetched = self.fetch(url, kind).await?;
        {
            let mut pins = lock(&self.pins);
            match pins.get(url.as_str()) {
                Some(pinned) if *pinned != fetched.integrity => {
                    return Err(BundleError::Changed {
                        pinned: pinned.clone(),
                        got: fetched.integrity,
                    });
                }
                Some(_) => {}
                None => {
                    tracing::info!(%url, integrity = %fetched.integrity, "bundle pinned");
                    pins.insert(url.as_str().to_owned(), fetched.integrity.clone());
                }
            }
        }
        lock(&self.cache).put(
            url.as_str().to_owned(),
            fetched.clone(),
            self.limits.cache_bytes,
        );
        Ok(fetched)
    }

    async fn fetch(&self, url: &Url, kind: Kind) -> Result<Fetched, BundleError> {
        // The client resolves names through the policy's resolver, but connects to an
        // address in the URL directly: that one is checked here.
        let literal = match url.host() {
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(Host::Domain(_)) => None,
            None => return Err(BundleError::Refused(format!("{url} has no host"))),
        };
        if let Some(ip) = literal
            && let Some(class) = self.policy.refusal(None, ip)
        {
            return Err(BundleError::Refused(format!("{ip} ({class})")));
        }
        let failed = |e: reqwest::Error| {
            let refused = std::iter::successors(
                std::error::Error::source(&e),
                |s: &&(dyn std::error::Error + 'static)| s.source(),
            )
            .find_map(|s| s.downcast_ref::<BundleError>().cloned());
            match refused {
                Some(refused) => refused,
                None if e.is_timeout() => BundleError::Timeout,
                None => BundleError::Unreachable(chain(&e)),
            }
        };
        let mut response = self.client.get(url.clone()).send().await.map_err(failed)?;
        let status = response.status();
        if status.as_u16() != 200 {
            return Err(BundleError::Status(status.as_u16()));
        }
        let mime = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !kind.accepts(&mime) {
            let wanted = match kind {
                Kind::Script => "a JavaScript type",
                Kind::Style => "text/css",
            };
            let shown: String = mime.chars().take(100).collect();
            return Err(BundleError::ContentType(shown, wanted));
        }
        let max = self.limits.max_bundle_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(BundleError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > max {
                return Err(BundleError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        let integrity = integrity(&body);
        Ok(Fetched {
            body: Bytes::from(body),
            kind,
            etag: format!("\"{integrity}\""),
            integrity,
            at: Instant::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fetched(len: usize) -> Fetched {
        Fetched {
            body: Bytes::from(vec![b'x'; len]),
            kind: Kind::Script,
            integrity: String::new(),
            etag: String::new(),
            at: Instant::now(),
        }
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget_evicting_the_oldest() {
        let mut cache = Cache::default();
        cache.put("a".into(), fetched(40), 100);
        cache.put("b".into(), fetched(40), 100);
        cache.put("c".into(), fetched(40), 100);
        assert_eq!(cache.bytes, 80);
        assert!(!cache.entries.contains_key("a"));
        cache.put("b".into(), fetched(10), 100);
        assert_eq!(cache.bytes, 50);
        cache.put("huge".into(), fetched(101), 100);
        assert_eq!(cache.bytes, 50);
        assert!(!cache.entries.contains_key("huge"));
        let ttl = Duration::from_secs(60);
        assert!(cache.get("c", Kind::Script, ttl).is_some());
        assert!(
            cache.get("c", Kind::Style, ttl).is_none(),
            "kind is part of the key"
        );
        assert!(
            cache.get("c", Kind::Script, Duration::ZERO).is_none(),
            "expired"
        );
    }

    #[test]
    fn only_the_matching_media_types_are_accepted() {
        assert!(Kind::Script.accepts("text/javascript"));
        assert!(Kind::Script.accepts("application/javascript"));
        assert!(!Kind::Script.accepts("text/plain"));
        assert!(!Kind::Script.accepts("text/html"));
        assert!(Kind::Style.accepts("text/css"));
        assert!(!Kind::Style.accepts("text/plain"));
        assert!(!Kind::Style.accepts("text/javascript"));
    }

    /// A widget host on 127.0.0.1 whose `/b.js` answers `body` after 200 ms, counting
    /// requests.
    async fn host(body: Arc<Mutex<&'static str>>) -> (String, Arc<AtomicUsize>) {
        use axum::routing::get;
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let app = axum::Router::new().route(
            "/b.js",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = *lock(&body);
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    ([(CONTENT_TYPE, "text/javascript")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("127.0.0.1:{port}"), hits)
    }

    fn bundles(allow: &[&str], ttl: Duration) -> Bundles {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rules = allow.iter().map(|r| r.parse().unwrap()).collect();
        let limits = Limits {
            cache_ttl: ttl,
            timeout: Duration::from_secs(2),
            ..Limits::default()
        };
        Bundles::new(limits, Policy::new(rules)).unwrap()
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_bundle_make_one_upstream_request() {
        let (addr, hits) = host(Arc::new(Mutex::new("one()"))).await;
        let proxy = bundles(&["127.0.0.1/32"], Duration::from_secs(60));
        let url = Url::parse(&format!("http://{addr}/b.js")).unwrap();
        let all = futures_util::future::join_all((0..20).map(|_| proxy.get(&url, Kind::Script)));
        for got in all.await {
            assert_eq!(got.unwrap().body, "one()");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(lock(&proxy.flights).is_empty(), "the flight is over");
    }

    #[tokio::test]
    async fn a_bundle_whose_bytes_change_after_its_first_fetch_is_refused() {
        let body = Arc::new(Mutex::new("good()"));
        let (addr, hits) = host(Arc::clone(&body)).await;
        // No caching: every get fetches again and is compared with the pin.
        let proxy = bundles(&["127.0.0.1/32"], Duration::ZERO);
        let url = Url::parse(&format!("http://{addr}/b.js")).unwrap();
        let first = proxy.get(&url, Kind::Script).await.unwrap();
        assert_eq!(first.integrity, integrity(b"good()"));
        assert!(first.integrity.starts_with("sha256-") && first.integrity.len() == 51);
        assert_eq!(proxy.get(&url, Kind::Script).await.unwrap().body, "good()");
        *lock(&body) = "evil()";
        assert_eq!(
            proxy.get(&url, Kind::Script).await.unwrap_err(),
            BundleError::Changed {
                pinned: integrity(b"good()"),
                got: integrity(b"evil()"),
            }
        );
        // The URL stops being registered, then is registered again: a new pin.
        proxy.keep_only(&HashSet::new());
        assert_eq!(proxy.get(&url, Kind::Script).await.unwrap().body, "evil()");
        assert_eq!(hits.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn loopback_is_refused_as_an_address_and_as_a_name_before_any_connection() {
        let (addr, hits) = host(Arc::new(Mutex::new("secret()"))).await;
        let port = addr.rsplit(':').next().unwrap();
        let proxy = bundles(&["*.localhost", "localhost"], Duration::from_secs(60));
        for url in [
            format!("http://{addr}/b.js"),
            format!("http://127.1:{port}/b.js"),
            format!("http://2130706433:{port}/b.js"),
            format!("http://0177.0.0.1:{port}/b.js"),
            format!("http://[::ffff:127.0.0.1]:{port}/b.js"),
            format!("http://0.0.0.0:{port}/b.js"),
            format!("http://localhost:{port}/b.js"),
        ] {
            let url = Url::parse(&url).unwrap();
            let got = proxy.get(&url, Kind::Script).await;
            assert!(
                matches!(got, Err(BundleError::Refused(_))),
                "{url}: {got:?}"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the host");
    }
}
