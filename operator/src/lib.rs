//! The DappMesh operator as a library: the DataProduct resource, the mesh it is rendered
//! with, the children it owns, its registry token and database credentials, its status, and
//! the controller that keeps them in step; and the platform's own registry tokens, which
//! the leader makes at start. The binary in `main.rs` only reads flags, starts telemetry and runs
//! the controller.
//!
//! It renders with `dappmesh-compiler` and answers HTTP with `dappmesh-service`; it never
//! depends on dappctl's binary or delivery crates, nor on the registry's.

pub mod children;
pub mod controller;
pub mod credentials;
pub mod leader;
pub mod mesh;
pub mod metrics;
pub mod platform;
pub mod registry;
pub mod resource;
pub mod secrets;
pub mod status;
pub mod tokens;
pub mod web;

/// Why a reconcile failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

    #[error("the mesh ConfigMap {0} is missing or has no mesh.yaml")]
    NoMesh(String),

    #[error("cannot render: {0}")]
    Render(String),

    #[error("cannot remove the product from the registry: {0}")]
    Registry(String),

    #[error("the operating system's random number generator failed: no token was made")]
    Random,
}

impl Error {
    /// The label of this failure in the `reconcile_failures_total` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            // Failures inside the reconcile count under their own reason.
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "finalizer",
            },
            Error::NoMesh(_) => "no_mesh",
            Error::Render(_) => "render",
            Error::Registry(_) => "registry",
            Error::Random => "random",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
