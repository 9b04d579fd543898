//! Widget bundles: fetching a script or stylesheet from the URL a widget registered, with
//! a content-type check, a size limit, time limits, no redirects, and an in-memory cache
//! bounded in bytes.
//!
//! idea-lab's `/api/proxy` fetched any URL it was given (SSRF) and served CSS as
//! `text/plain`. Here the caller ([`crate::api`]) only asks for a URL that the registry
//! lists for that widget, and what comes back must already be labelled as the kind asked
//! for: a stylesheet URL answering `text/html` is refused, not relabelled.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use reqwest::header::CONTENT_TYPE;
use url::Url;

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
    /// A strong validator over the body.
    pub etag: String,
    at: Instant,
}

/// Why a bundle could not be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the widget host did not answer in time")]
    Timeout,
    #[error("the widget host is unreachable")]
    Unreachable,
    #[error("the widget host answered HTTP {0}")]
    Status(u16),
    #[error("the widget host answered with content type '{0}', not {1}")]
    ContentType(String, &'static str),
    #[error("the bundle is larger than {0} bytes")]
    TooLarge(usize),
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

    /// Inserts, evicting the oldest entries until the total fits.
    fn put(&mut self, url: String, fetched: Fetched, limit: usize) {
        if let Some(old) = self.entries.remove(&url) {
            self.bytes -= old.body.len();
        }
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
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes -= old.body.len();
            }
        }
        self.bytes += fetched.body.len();
        self.entries.insert(url, fetched);
    }
}

/// The proxy's fetcher and cache.
pub struct Bundles {
    client: reqwest::Client,
    limits: Limits,
    cache: Mutex<Cache>,
}

impl Bundles {
    pub fn new(limits: Limits) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            // A redirect would send the proxy to a URL nobody registered.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Bundles {
            client,
            limits,
            cache: Mutex::default(),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes the cache holds now.
    pub fn cached_bytes(&self) -> usize {
        self.cache().bytes
    }

    /// The bundle at `url`, from the cache or fetched. The caller has checked that `url`
    /// is registered as this kind of bundle.
    pub async fn get(&self, url: &Url, kind: Kind) -> Result<Fetched, BundleError> {
        if let Some(hit) = self.cache().get(url.as_str(), kind, self.limits.cache_ttl) {
            return Ok(hit);
        }
        let fetched = self.fetch(url, kind).await?;
        self.cache().put(
            url.as_str().to_owned(),
            fetched.clone(),
            self.limits.cache_bytes,
        );
        Ok(fetched)
    }

    async fn fetch(&self, url: &Url, kind: Kind) -> Result<Fetched, BundleError> {
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                BundleError::Timeout
            } else {
                BundleError::Unreachable
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
        let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body));
        Ok(Fetched {
            body: Bytes::from(body),
            kind,
            etag,
            at: Instant::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(len: usize) -> Fetched {
        Fetched {
            body: Bytes::from(vec![b'x'; len]),
            kind: Kind::Script,
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
}
