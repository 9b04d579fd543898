//! The image builder's library: which components there are and what each image holds
//! (`component`, `filesystem`), how the static binaries are made (`compile`), the one layer
//! (`layer`), the OCI image layout (`layout`), what the workspace says about versions,
//! licences and the dependency graph (`workspace`) and the CycloneDX SBOM drawn from it
//! (`sbom`). Data moves one way: workspace → compile → filesystem → layer → layout, sbom.

pub mod compile;
pub mod component;
pub mod filesystem;
pub mod json;
pub mod layer;
pub mod layout;
pub mod sbom;
pub mod workspace;

use std::path::PathBuf;

/// Everything the builder can fail with; each says what it was doing and on which path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown component `{0}` (one of: operator, registry, dashboard, dappctl)")]
    UnknownComponent(String),
    #[error("unknown architecture `{0}` (one of: amd64, arm64)")]
    UnknownArch(String),
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status})")]
    Command { command: String, status: String },
    #[error("`cargo metadata` gave output this builder cannot read: {0}")]
    Metadata(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SOURCE_DATE_EPOCH must be whole seconds since 1970, not `{0}`")]
    Epoch(String),
    #[error("writing a JSON document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("building the OCI {what}: {source}")]
    Oci {
        what: &'static str,
        source: oci_spec::OciSpecError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An I/O error with the path it happened on.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
