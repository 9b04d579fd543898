//! A Kubernetes API server small enough to start in every test, on 127.0.0.1: discovery,
//! get/list/create/replace/patch/delete, server-side apply with managed fields and conflicts,
//! watches, finalizers, CRDs, simulated controllers and injected faults, over real HTTP, so that
//! kube-rs clients can be tested through a kubeconfig file.
//!
//! ```no_run
//! let server = test_apiserver::ApiServer::start(test_apiserver::Options::default());
//! server.kubeconfig(std::path::Path::new("/tmp/kubeconfig")).unwrap();
//! ```
//!
//! Simplifications against the real server: no schemas (objects are stored as sent, with no
//! defaulting or validation beyond names and namespaces), no version conversion, lists ignore
//! `limit`, keyed lists are recognised by field name wherever they occur, maps are always
//! granular, and the namespaces `default` and `kube-system` exist from the start.
//!
//! RBAC is opt-in: the [`Options::token`] is an all-powerful admin, and only the
//! [`Options::users`] are authorised against the Roles, ClusterRoles and bindings stored here
//! (no aggregated ClusterRoles; a path naming no served resource answers 404 before any
//! authorisation; discovery is open to every authenticated user).

mod apply;
mod controllers;
mod discovery;
mod fault;
mod fieldset;
mod jsonpatch;
mod kubeconfig;
mod rbac;
mod routes;
mod selector;
mod status;
mod store;
mod watch;

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{runtime::Handle, sync::oneshot};

pub use fault::{Fault, Method};
pub use rbac::User;
pub use store::HISTORY as WATCH_HISTORY;

use crate::{
    routes::{Change, Target},
    store::Store,
};

/// How a server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The admin's bearer token, allowed everything; `None` lets in as the admin every request
    /// that presents no user's token.
    pub token: Option<String>,
    /// Users known by their own tokens, whose requests the RBAC objects in the server
    /// authorise.
    pub users: Vec<User>,
    /// How long a new CRD takes to become Established (and its kind to be served).
    pub crd_established_after: Duration,
    /// What the simulated workload controllers do.
    pub workloads: Workloads,
}

impl Default for Options {
    /// Admin token `test-token` and no other user, CRDs established at once, workloads ready
    /// at once.
    fn default() -> Self {
        Options {
            token: Some("test-token".into()),
            users: Vec::new(),
            crd_established_after: Duration::ZERO,
            workloads: Workloads::Ready {
                after: Duration::ZERO,
            },
        }
    }
}

/// The simulated workload controllers.
#[derive(Debug, Clone, Copy)]
pub enum Workloads {
    /// `after` each write of a Deployment, StatefulSet, DaemonSet, Job, PersistentVolumeClaim or
    /// custom resource with a status subresource, report it rolled out, bound, complete or
    /// `Ready`, with `observedGeneration` equal to its generation.
    Ready { after: Duration },
    /// Never report any status, as if the workloads never became ready.
    Stuck,
}

/// One request as the server received it, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub field_manager: Option<String>,
    /// `dryRun=All` in the query, or in a delete's body.
    pub dry_run: bool,
}

/// What the request handlers share.
pub(crate) struct Shared {
    store: Mutex<Store>,
    faults: Mutex<Vec<Fault>>,
    requests: Mutex<Vec<Request>>,
    options: Options,
    address: SocketAddr,
    runtime: Handle,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

/// Locks without caring about poisoning: every critical section leaves its data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running server. It stops, and its thread ends, when dropped.
pub struct ApiServer {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Starts a server on its own thread and tokio runtime, on a free port of 127.0.0.1, and
    /// returns once it is listening.
    ///
    /// # Panics
    /// When no thread, runtime or port can be had.
    pub fn start(options: Options) -> ApiServer {
        let (ready, listening) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-apiserver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = runtime.expect("a tokio runtime for the test API server");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("a port on 127.0.0.1");
                    let address = listener.local_addr().expect("the address of the listener");
                    let shared = Arc::new(Shared {
                        store: Mutex::new(Store::new()),
                        faults: Mutex::default(),
                        requests: Mutex::default(),
                        options,
                        address,
                        runtime: Handle::current(),
                    });
                    for name in ["default", "kube-system"] {
                        let target = Target {
                            resource: discovery::namespaces(),
                            namespace: None,
                            name: None,
                            status: false,
                        };
                        let namespace = Change::Create(json!({"metadata": {"name": name}}));
                        _ = routes::write(&shared, &target, namespace, "kube-apiserver", false);
                    }
                    _ = ready.send(shared.clone());
                    tokio::select! {
                        _ = axum::serve(listener, routes::router(shared)).into_future() => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("a thread for the test API server");
        let shared = listening
            .recv()
            .expect("the test API server to start listening");
        ApiServer {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.address)
    }

    /// Writes a kubeconfig: cluster `test` at [`url`](Self::url); context `test` (current)
    /// whose user presents the server's token; context `other` whose user presents a wrong
    /// one; and a context named after each of [`Options::users`], presenting its token.
    pub fn kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        self.write_kubeconfig(path, None)
    }

    /// The same kubeconfig, with the context of the user named `user` current, so that a client
    /// reading it is authorised as that user.
    ///
    /// # Errors
    /// `InvalidInput` when no user of that name was registered; any error writing the file.
    pub fn kubeconfig_as(&self, path: &Path, user: &str) -> std::io::Result<()> {
        if !self.shared.options.users.iter().any(|u| u.name == user) {
            let message = format!("no user {user:?} is registered with the server");
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                message,
            ));
        }
        self.write_kubeconfig(path, Some(user))
    }

    fn write_kubeconfig(&self, path: &Path, current: Option<&str>) -> std::io::Result<()> {
        let options = &self.shared.options;
        let text = kubeconfig::render(
            &self.url(),
            options.token.as_deref(),
            &options.users,
            current,
        );
        std::fs::write(path, text)
    }

    /// One stored object as `api_version` serves it; `namespace` is `None` for cluster-scoped
    /// kinds.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let store = self.shared.store();
        let r = discovery::find_kind(&store, api_version, kind)?;
        store
            .get(&r, namespace.unwrap_or_default(), name)
            .map(|o| r.serve(o))
    }

    /// Every stored object, sorted by apiVersion, kind, namespace and name.
    pub fn objects(&self) -> Vec<Value> {
        let mut objects: Vec<Value> = self.shared.store().all().cloned().collect();
        let key = |o: &Value| {
            let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let meta = &o["metadata"];
            [
                field(&o["apiVersion"]),
                field(&o["kind"]),
                field(&meta["namespace"]),
                field(&meta["name"]),
            ]
        };
        objects.sort_by_cached_key(key);
        objects
    }

    /// How many stored objects match, without copying them: cheap enough to poll while a
    /// benchmark runs against the server.
    pub fn count(&self, matches: impl Fn(&Value) -> bool) -> usize {
        self.shared.store().all().filter(|o| matches(o)).count()
    }

    /// Every request received so far, in order, including refused ones.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Makes matching requests fail; faults are tried in the order they were injected.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Replaces `.status` as a controller would (field manager `test-apiserver`, through the
    /// status subresource where there is one): bumps the resourceVersion and emits a watch
    /// event unless the status is unchanged. `Err` is the Status body.
    pub fn set_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) -> Result<Value, Value> {
        let identity = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}});
        // A missing object still goes through the write, which answers the real 404.
        let mut object = self
            .get(api_version, kind, namespace, name)
            .unwrap_or(identity);
        object["status"] = status;
        let change = Change::Replace(object.clone());
        self.write(&object, change, "test-apiserver", true)
    }

    /// Server-side applies `object` as field manager `manager`, without force, as another tool
    /// would. `Err` is the Status body, such as a 409 conflict.
    pub fn apply_as(&self, manager: &str, object: Value) -> Result<Value, Value> {
        let change = Change::Apply {
            config: object.clone(),
            force: false,
        };
        self.write(&object, change, manager, false)
    }

    fn write(
        &self,
        object: &Value,
        change: Change,
        manager: &str,
        status: bool,
    ) -> Result<Value, Value> {
        let meta = &object["metadata"];
        let (api_version, kind) = (object["apiVersion"].as_str(), object["kind"].as_str());
        let resource = discovery::find_kind(
            &self.shared.store(),
            api_version.unwrap_or_default(),
            kind.unwrap_or_default(),
        )
        .ok_or_else(|| status::Status::no_resource().body())?;
        let target = Target {
            namespace: meta["namespace"]
                .as_str()
                .filter(|_| resource.namespaced)
                .map(String::from),
            name: meta["name"].as_str().map(String::from),
            status: status && resource.status,
            resource,
        };
        routes::write(&self.shared, &target, change, manager, false)
            .map(|(o, _)| o)
            .map_err(|s| s.body())
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            _ = thread.join();
        }
    }
}
