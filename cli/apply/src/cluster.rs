//! The connection to a cluster: kubeconfig and context, which API serves each kind, and what
//! the server's refusals mean, in words that name the object and say what to do.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::error::DiscoveryError;
use kube::{Client, Config};

/// Which cluster to talk to: `--kubeconfig` (else `KUBECONFIG`, else `~/.kube/config`) and
/// `--context` (else the current context).
#[derive(Debug, Default, Clone)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// Errors that stop a whole command: nothing can be done on this cluster.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClusterError {
    #[error("cannot load the kubeconfig: {message}")]
    #[diagnostic(
        code = "apply::kubeconfig",
        help(
            "pass --kubeconfig FILE, set KUBECONFIG, or pick a context that exists with --context"
        )
    )]
    Kubeconfig { message: String },

    #[error("cannot reach the cluster at {url}: {message}")]
    #[diagnostic(
        code = "apply::unreachable",
        help("is the cluster running, and is this the right context (--context, KUBECONFIG)?")
    )]
    Unreachable { url: String, message: String },

    #[error(
        "the cluster at {url} refused the credentials of context `{context}` (401 Unauthorized)"
    )]
    #[diagnostic(
        code = "apply::unauthorized",
        help("the token or certificate has expired or is wrong; log in to the cluster again")
    )]
    Unauthorized { url: String, context: String },
}

/// How one request about one object went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    NotFound,
    Conflict,
    Forbidden,
    Unauthorized,
    Unreachable,
    Other,
}

impl Refusal {
    /// What a kube error means for one request.
    pub fn of(error: kube::Error) -> Refusal {
        match error {
            kube::Error::Api(status) => {
                let kind = match (status.code, status.reason.as_str()) {
                    (404, _) => RefusalKind::NotFound,
                    (409, "Conflict") => RefusalKind::Conflict,
                    (403, _) => RefusalKind::Forbidden,
                    (401, _) => RefusalKind::Unauthorized,
                    _ => RefusalKind::Other,
                };
                let message = if status.message.is_empty() {
                    format!("{} {}", status.code, status.reason)
                } else {
                    status.message.clone()
                };
                Refusal { kind, message }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => Refusal {
                kind: RefusalKind::Unreachable,
                message: chain(&error),
            },
            // Discovery found the group but not the kind, or not the group at all.
            kube::Error::Discovery(
                DiscoveryError::MissingKind(_) | DiscoveryError::MissingApiGroup(_),
            ) => Refusal {
                kind: RefusalKind::NotFound,
                message: chain(&error),
            },
            other => Refusal {
                kind: RefusalKind::Other,
                message: chain(&other),
            },
        }
    }
}

/// An error and its causes on one line: kube's outer errors say little on their own.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A kind the cluster serves, and how to address it.
#[derive(Debug, Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// A connected cluster, with the kinds it serves looked up once each.
pub struct Cluster {
    pub client: Client,
    kinds: Mutex<HashMap<(String, String, String), Kind>>,
    /// The preferred version of each API group looked up so far.
    versions: Mutex<HashMap<String, String>>,
}

impl Cluster {
    /// Loads the kubeconfig and checks that the cluster answers and accepts the credentials,
    /// so that an unreachable cluster or an expired token is one clear error up front.
    pub async fn connect(target: &Target) -> Result<Cluster, ClusterError> {
        let options = KubeConfigOptions {
            context: target.context.clone(),
            ..KubeConfigOptions::default()
        };
        let bad = |e: &dyn std::error::Error| ClusterError::Kubeconfig { message: chain(e) };
        let kubeconfig = match &target.kubeconfig {
            Some(path) => Kubeconfig::read_from(path).map_err(|e| bad(&e))?,
            None => match Kubeconfig::from_env().map_err(|e| bad(&e))? {
                Some(config) => config,
                None => Kubeconfig::read().map_err(|e| bad(&e))?,
            },
        };
        let context = target
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_default();
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| bad(&e))?;
        config.connect_timeout = Some(Duration::from_secs(10));
        config.read_timeout = Some(Duration::from_secs(60));
        let url = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client = Client::try_from(config).map_err(|e| bad(&e))?;
        match client.apiserver_version().await.map_err(Refusal::of) {
            Ok(_) => {}
            Err(r) if r.kind == RefusalKind::Unauthorized => {
                return Err(ClusterError::Unauthorized { url, context });
            }
            Err(r) => {
                return Err(ClusterError::Unreachable {
                    url,
                    message: r.message,
                });
            }
        }
        Ok(Cluster {
            client,
            kinds: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
        })
    }

    /// The API serving `kind` in `group/version`, or why it is not served.
    pub async fn kind(&self, group: &str, version: &str, kind: &str) -> Result<Kind, Refusal> {
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        if let Some(found) = self.kinds.lock().expect("kinds lock").get(&key) {
            return Ok(found.clone());
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok((resource, caps)) => Kind::of(resource, &caps),
            Err(e) => {
                let refusal = Refusal::of(e);
                // Only a definite "not served" is about the CRD; a refusal or an outage is
                // reported as what it is.
                return Err(match refusal.kind {
                    RefusalKind::NotFound => Refusal {
                        kind: RefusalKind::NotFound,
                        message: not_served(group, version, kind),
                    },
                    _ => refusal,
                });
            }
        };
        self.kinds
            .lock()
            .expect("kinds lock")
            .insert(key, found.clone());
        Ok(found)
    }

    /// The preferred version of a group-kind, for kinds known only by group and kind (those
    /// an ApplySet parent records).
    pub async fn group_kind(&self, group: &str, kind: &str) -> Result<Kind, Refusal> {
        let known = self
            .versions
            .lock()
            .expect("versions lock")
            .get(group)
            .cloned();
        let version = match known {
            Some(version) => version,
            None if group.is_empty() => "v1".to_owned(),
            None => {
                let found = kube::discovery::group(&self.client, group)
                    .await
                    .map_err(|e| match Refusal::of(e) {
                        r if r.kind == RefusalKind::NotFound => Refusal {
                            kind: RefusalKind::NotFound,
                            message: format!("the cluster serves no API group `{group}`"),
                        },
                        r => r,
                    })?;
                let version = found.preferred_version_or_latest().to_owned();
                self.versions
                    .lock()
                    .expect("versions lock")
                    .insert(group.to_owned(), version.clone());
                version
            }
        };
        self.kind(group, &version, kind).await
    }

    /// The API of `kind`, in `namespace` for namespaced kinds.
    pub fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
        }
    }
}

impl Kind {
    fn of(resource: ApiResource, caps: &ApiCapabilities) -> Kind {
        Kind {
            resource,
            namespaced: caps.scope == Scope::Namespaced,
        }
    }
}

pub fn not_served(group: &str, version: &str, kind: &str) -> String {
    let api = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    format!(
        "the cluster does not serve kind {kind} in {api}: is its CustomResourceDefinition installed?"
    )
}
