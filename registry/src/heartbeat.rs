//! The widget sidecar (`registry heartbeat`): registers a service, heartbeats at an
//! interval, backs off with full jitter while the registry is unreachable, never gives up,
//! and deregisters when told to stop. It listens on no port.
//!
//! idea-lab's sidecar exited on its first failed POST, so a registry restart took every
//! widget off the dashboard until its pod restarted. Here every failure, even a 401 (a
//! token may be rotated by remounting its file, which is re-read on every attempt), is
//! logged and retried.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::watch;
use url::Url;

use registry_api::text::{IdKind, check_id};

/// The first retry waits up to this long; each further failure doubles it, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How long the deregistration on shutdown may take.
const DEREGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the bearer token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Value(String),
    /// Read on every attempt, so a rotated Secret takes effect without a restart.
    File(PathBuf),
}

/// The sidecar's settings, as given (flags, their variables, and idea-lab's names).
#[derive(Debug, Clone, Default)]
pub struct HeartbeatArgs {
    pub id: Option<String>,
    pub body: Option<String>,
    pub registry_url: Option<String>,
    /// idea-lab's `HOSTPORT` (`host:port`, or a URL), used when no registry URL is given.
    pub hostport: Option<String>,
    pub interval: Option<String>,
    /// idea-lab's `FREQUENCY_IN_SECONDS`, used when no interval is given.
    pub frequency_in_seconds: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

/// The sidecar's settings, checked.
#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    pub id: String,
    pub body: String,
    /// `…/api/v1/registry/{id}`.
    pub url: Url,
    pub interval: Duration,
    pub token: TokenSource,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required (flag or environment variable)")]
    Missing(&'static str),
    #[error("ID: {0}")]
    Id(String),
    #[error("BODY must be a JSON object: {0}")]
    Body(String),
    #[error("REGISTRY_URL: {0}")]
    Url(String),
    #[error("INTERVAL: {0}")]
    Interval(String),
}

fn parse_interval(text: &str) -> Result<Duration, ConfigError> {
    let d = match text.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| ConfigError::Interval(e.to_string()))?,
    };
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err(ConfigError::Interval("must be between 100ms and 1h".into()));
    }
    Ok(d)
}

impl HeartbeatArgs {
    pub fn resolve(self) -> Result<HeartbeatConfig, ConfigError> {
        let id = self.id.ok_or(ConfigError::Missing("ID"))?;
        check_id(IdKind::Registration, &id).map_err(|e| ConfigError::Id(e.reason))?;
        let body = self.body.ok_or(ConfigError::Missing("BODY"))?;
        match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(v) if v.is_object() => {}
            Ok(_) => return Err(ConfigError::Body("not an object".into())),
            Err(e) => return Err(ConfigError::Body(e.to_string())),
        }
        let base = self
            .registry_url
            .or(self.hostport)
            .ok_or(ConfigError::Missing("REGISTRY_URL (or HOSTPORT)"))?;
        let base = if base.contains("://") {
            base
        } else {
            format!("http://{base}")
        };
        let url = Url::parse(&format!(
            "{}/api/v1/registry/{id}",
            base.trim_end_matches('/')
        ))
        .map_err(|e| ConfigError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::Url(
                "must be an http:// or https:// URL".into(),
            ));
        }
        let interval = match (self.interval, self.frequency_in_seconds) {
            (Some(i), _) | (None, Some(i)) => parse_interval(&i)?,
            (None, None) => Duration::from_secs(3),
        };
        let token = match (self.token, self.token_file) {
            (Some(t), _) if !t.trim().is_empty() => TokenSource::Value(t.trim().to_owned()),
            (_, Some(path)) => TokenSource::File(path),
            _ => {
                return Err(ConfigError::Missing(
                    "REGISTRY_TOKEN or REGISTRY_TOKEN_FILE",
                ));
            }
        };
        Ok(HeartbeatConfig {
            id,
            body,
            url,
            interval,
            token,
            max_backoff: self.max_backoff.max(FIRST_BACKOFF),
            timeout: self.timeout,
        })
    }
}

/// The wait before retry number `failures` (1-based): uniformly random between zero and
/// the exponential bound ("full jitter"), so sidecars that lost the registry together do
/// not come back in lockstep.
pub fn backoff(failures: u32, cap: Duration, random: impl FnOnce(u64) -> u64) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let bound = u64::try_from(exp.min(cap).as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random(bound))
}

impl HeartbeatConfig {
    /// Whether the sidecar can do its work from here: the token readable and not empty.
    /// Answers the kubelet's exec probes without opening a port or depending on the
    /// registry being up (a registry outage must not take widget pods out of service).
    pub fn check(&self) -> Result<(), String> {
        match token(&self.token)? {
            t if t.is_empty() => Err("the bearer token is empty".into()),
            _ => Ok(()),
        }
    }
}

fn token(source: &TokenSource) -> Result<String, String> {
    match source {
        TokenSource::Value(t) => Ok(t.clone()),
        TokenSource::File(path) => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display())),
    }
}

async fn send(
    client: &reqwest::Client,
    cfg: &HeartbeatConfig,
    method: reqwest::Method,
) -> Result<reqwest::StatusCode, String> {
    let token = token(&cfg.token)?;
    let mut req = client
        .request(method.clone(), cfg.url.clone())
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if method == reqwest::Method::POST {
        req = req
            .header(CONTENT_TYPE, "application/json")
            .body(cfg.body.clone());
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    Ok(resp.status())
}

/// Runs until `stop` turns true, then deregisters. Returns whether the deregistration
/// succeeded (the process exits 0 either way: the registration also expires by itself).
/// The only error is failing to build an HTTP client at all (no TLS provider), which no
/// retry can fix.
pub async fn run(
    cfg: HeartbeatConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<bool, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .user_agent(concat!(
            "dappmesh-registry-heartbeat/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    tracing::info!(id = %cfg.id, url = %cfg.url, interval = ?cfg.interval, "heartbeat starting");
    let mut failures: u32 = 0;
    loop {
        let delay = match send(&client, &cfg, reqwest::Method::POST).await {
            Ok(status) if status.is_success() => {
                if failures > 0 {
                    tracing::info!(failures, "registered again");
                } else {
                    tracing::debug!("heartbeat sent");
                }
                failures = 0;
                cfg.interval
            }
            outcome => {
                failures = failures.saturating_add(1);
                let delay = backoff(failures, cfg.max_backoff, |bound| fastrand::u64(0..=bound));
                match outcome {
                    Ok(status)
                        if status.is_client_error()
                            && status != reqwest::StatusCode::TOO_MANY_REQUESTS =>
                    {
                        tracing::error!(%status, failures, retry_in = ?delay, "the registry refused the registration; check the body and token");
                    }
                    Ok(status) => {
                        tracing::warn!(%status, failures, retry_in = ?delay, "heartbeat failed")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, failures, retry_in = ?delay, "heartbeat failed")
                    }
                }
                delay
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            () = dappmesh_service::shutdown::stopped(&mut stop) => break,
        }
    }
    tracing::info!(id = %cfg.id, "deregistering");
    let outcome = tokio::time::timeout(
        DEREGISTER_TIMEOUT,
        send(&client, &cfg, reqwest::Method::DELETE),
    )
    .await;
    Ok(match outcome {
        Ok(Ok(status)) if status.is_success() || status == reqwest::StatusCode::NOT_FOUND => true,
        Ok(Ok(status)) => {
            tracing::warn!(%status, "deregistration refused; the registration will expire");
            false
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "deregistration failed; the registration will expire");
            false
        }
        Err(_) => {
            tracing::warn!("deregistration timed out; the registration will expire");
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> HeartbeatArgs {
        HeartbeatArgs {
            id: Some("w".into()),
            body: Some(r#"{"label":"x"}"#.into()),
            registry_url: Some("http://registry:8080/".into()),
            token: Some("tok".into()),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            ..HeartbeatArgs::default()
        }
    }

    #[test]
    fn resolves_flags_and_idea_lab_names() {
        let cfg = args().resolve().unwrap();
        assert_eq!(cfg.url.as_str(), "http://registry:8080/api/v1/registry/w");
        assert_eq!(cfg.interval, Duration::from_secs(3));
        let cfg = HeartbeatArgs {
            registry_url: None,
            hostport: Some("registry.ns:8080".into()),
            frequency_in_seconds: Some("5".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            cfg.url.as_str(),
            "http://registry.ns:8080/api/v1/registry/w"
        );
        assert_eq!(cfg.interval, Duration::from_secs(5));
        let cfg = HeartbeatArgs {
            interval: Some("250ms".into()),
            frequency_in_seconds: Some("5".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(cfg.interval, Duration::from_millis(250));
    }

    #[test]
    fn refuses_what_cannot_work() {
        let cases = [
            HeartbeatArgs { id: None, ..args() },
            HeartbeatArgs {
                id: Some("a/b".into()),
                ..args()
            },
            HeartbeatArgs {
                body: Some("{".into()),
                ..args()
            },
            HeartbeatArgs {
                body: Some("[1]".into()),
                ..args()
            },
            HeartbeatArgs {
                registry_url: Some("ftp://x".into()),
                ..args()
            },
            HeartbeatArgs {
                registry_url: None,
                ..args()
            },
            HeartbeatArgs {
                interval: Some("0s".into()),
                ..args()
            },
            HeartbeatArgs {
                interval: Some("soon".into()),
                ..args()
            },
            HeartbeatArgs {
                token: None,
                ..args()
            },
            HeartbeatArgs {
                token: Some("  ".into()),
                ..args()
            },
        ];
        for a in cases {
            assert!(a.clone().resolve().is_err(), "{a:?}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_to_the_cap_with_full_jitter() {
        let cap = Duration::from_secs(10);
        let top = |n| backoff(n, cap, |bound| bound);
        assert_eq!(top(1), Duration::from_millis(250));
        assert_eq!(top(2), Duration::from_millis(500));
        assert_eq!(top(3), Duration::from_secs(1));
        assert_eq!(top(7), Duration::from_secs(10));
        assert_eq!(top(u32::MAX), Duration::from_secs(10));
        assert_eq!(backoff(5, cap, |_| 0), Duration::ZERO);
        for n in 1..40 {
            let d = backoff(n, cap, |bound| fastrand::u64(0..=bound));
            assert!(d <= cap);
        }
    }

    #[test]
    fn token_files_are_read_each_time() {
        let path = std::env::temp_dir().join(format!("registry-token-{}", std::process::id()));
        std::fs::write(&path, "first\n").unwrap();
        let source = TokenSource::File(path.clone());
        assert_eq!(token(&source).unwrap(), "first");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(token(&source).unwrap(), "second");
        std::fs::remove_file(&path).unwrap();
        assert!(token(&source).is_err());
    }
}
