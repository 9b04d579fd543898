//! The four components that get an image, and what each one's image needs beyond its
//! binary: its ports, its default command, whether it makes outbound TLS (and so needs CA
//! certificates) and whether it keeps state in a directory of its own.

use crate::{Error, Result};

/// The user every image runs as. The rendered pods run as uid and gid 10001
/// (`runAsUser: 10001` in `pod_security` and `container_security`, cli/docs/macros.j2), so the
/// image names the same ids: the process then has a passwd entry, and a `docker run` without
/// Kubernetes' securityContext runs as the same non-root user.
pub const UID: u64 = 10001;
pub const USER: &str = "nonroot";

/// Where every binary sits, as in distroless images and ko's.
pub const BIN_DIR: &str = "usr/local/bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The image's name (`ghcr.io/dappmesh/<name>`), and the binary's.
    pub name: &'static str,
    /// The Cargo package that builds the binary.
    pub package: &'static str,
    pub description: &'static str,
    /// The ports the rendered templates expose (`ExposedPorts`).
    pub ports: &'static [u16],
    /// The image's default arguments; the rendered pods always give their own.
    pub cmd: &'static [&'static str],
    /// Whether the image carries the CA certificates (/etc/ssl/certs/ca-certificates.crt).
    pub ca_certificates: bool,
    /// A directory the process writes its state to, owned by [`UID`], for a `docker run`
    /// with no volume; the rendered StatefulSet mounts a volume over it.
    pub data_dir: Option<&'static str>,
}

pub const ALL: [Component; 4] = [
    Component {
        name: "operator",
        package: "operator",
        description: "The DappMesh operator: reconciles DataProduct resources",
        ports: &[8080],
        cmd: &["run"],
        // It talks TLS to the API server through kube and rustls-platform-verifier. In a
        // cluster it trusts the ServiceAccount's ca.crt, but run with a kubeconfig (a managed
        // cluster's endpoint, or an https --registry-url) it needs the public roots.
        ca_certificates: true,
        data_dir: None,
    },
    Component {
        name: "registry",
        package: "registry",
        description: "The DappMesh registry and data-product catalog, and the widgets' heartbeat sidecar",
        ports: &[8080, 9090],
        cmd: &["serve", "--data-dir", "/data"],
        // It serves plain HTTP and makes no outbound call but the heartbeat sidecar's, which
        // the render points at the in-cluster http://registry.<namespace>.svc:8080: no TLS,
        // so no certificates (220 KiB left out of every widget pod's sidecar).
        ca_certificates: false,
        data_dir: Some("data"),
    },
    Component {
        name: "dashboard",
        package: "dashboard",
        description: "The DappMesh dashboard: the page that mounts the registry's widgets, and its bundle proxy",
        ports: &[8080],
        cmd: &["serve"],
        // Its bundle proxy fetches widget bundles from the URLs widgets register, which may
        // be https (a widget served outside the cluster, or behind TLS), and its registry URL
        // may be https too.
        ca_certificates: true,
        data_dir: None,
    },
    Component {
        name: "dappctl",
        package: "dappctl",
        description: "dappctl: validate, render and apply a DappMesh (also the Argo CD plugin sidecar)",
        ports: &[],
        cmd: &["--help"],
        // `dappctl apply` talks TLS to whatever cluster its kubeconfig names, often a managed
        // one whose certificate chains to a public root.
        ca_certificates: true,
        data_dir: None,
    },
];

impl Component {
    pub fn by_name(name: &str) -> Result<&'static Component> {
        ALL.iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::UnknownComponent(name.to_owned()))
    }

    /// The binary's path in the image, absolute.
    pub fn entrypoint(&self) -> String {
        format!("/{BIN_DIR}/{}", self.name)
    }
}

/// The CPU architecture of an image, in the OCI (Go) spelling, and its Rust target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn parse(s: &str) -> Result<Arch> {
        match s {
            "amd64" => Ok(Arch::Amd64),
            "arm64" => Ok(Arch::Arm64),
            _ => Err(Error::UnknownArch(s.to_owned())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The glibc target: `+crt-static` links glibc statically there, and `--target` keeps
    /// build scripts and proc-macros (which run on the host) dynamic.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for c in &ALL {
            assert_eq!(Component::by_name(c.name).unwrap(), c);
        }
        assert!(matches!(
            Component::by_name("tracker"),
            Err(Error::UnknownComponent(_))
        ));
    }
}
