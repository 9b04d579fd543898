//! What each image's root filesystem holds: every path, its mode, owner and where its bytes
//! come from, in the order the layer writes them. The Containerfiles are checked against
//! this list (tests/images.rs), so both builds give the same tree.

use crate::component::{BIN_DIR, Component, UID, USER};

/// Where the CA bundle sits: the path Debian's ca-certificates writes, which rustls's
/// native-certs loader (through openssl-probe) looks at first.
pub const CA_CERTIFICATES: &str = "etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Directory,
    /// The component's static binary.
    Binary,
    /// The CA bundle, copied from the build host.
    CaCertificates,
    /// Bytes the builder writes itself.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Relative to the root, no leading or trailing slash.
    pub path: String,
    pub mode: u32,
    pub uid: u64,
    pub content: Content,
}

/// The tree of one component's image, sorted by path (parents before children).
pub fn plan(component: &Component) -> Vec<Node> {
    let node = |path: &str, mode, uid, content| Node {
        path: path.to_owned(),
        mode,
        uid,
        content,
    };
    let dir = |path: &str| node(path, 0o755, 0, Content::Directory);
    let mut nodes = vec![
        dir("etc"),
        // Root stays in passwd so tools that map uid 0 find it; its shell is nologin, as is
        // ours: there is no shell in the image to start.
        node(
            "etc/group",
            0o644,
            0,
            Content::Text(format!("root:x:0:\n{USER}:x:{UID}:\n")),
        ),
        node(
            "etc/passwd",
            0o644,
            0,
            Content::Text(format!(
                "root:x:0:0:root:/root:/sbin/nologin\n\
                 {USER}:x:{UID}:{UID}:{USER}:/nonexistent:/sbin/nologin\n"
            )),
        ),
        // Every rendered pod mounts an emptyDir at /tmp; the directory is here so that a
        // plain `docker run` (and a read-only root with a tmpfs) finds it, sticky and
        // world-writable as on any Linux.
        node("tmp", 0o1777, 0, Content::Directory),
        dir("usr"),
        dir("usr/local"),
        dir(BIN_DIR),
        node(
            &format!("{BIN_DIR}/{}", component.name),
            0o755,
            0,
            Content::Binary,
        ),
    ];
    if component.ca_certificates {
        nodes.extend([
            dir("etc/ssl"),
            dir("etc/ssl/certs"),
            node(CA_CERTIFICATES, 0o644, 0, Content::CaCertificates),
        ]);
    }
    if let Some(data) = component.data_dir {
        // Owned by the image's user: the only entry not owned by root, so the process can
        // create its database there when no volume is mounted.
        nodes.push(node(data, 0o755, UID, Content::Directory));
    }
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    nodes
}

/// The entries a build must create explicitly: files, and directories with nothing in
/// them (the others appear as the parents of what is copied). What a Containerfile's COPY
/// lines are compared with.
pub fn leaves(nodes: &[Node]) -> Vec<&Node> {
    nodes
        .iter()
        .filter(|n| {
            n.content != Content::Directory
                || !nodes
                    .iter()
                    .any(|m| m.path.starts_with(&format!("{}/", n.path)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::ALL;

    #[test]
    fn every_parent_is_listed_before_its_children() {
        for c in &ALL {
            let nodes = plan(c);
            for (i, n) in nodes.iter().enumerate() {
                if let Some((parent, _)) = n.path.rsplit_once('/') {
                    let at = nodes.iter().position(|m| m.path == parent);
                    assert!(at.is_some_and(|at| at < i), "{}: {}", c.name, n.path);
                }
            }
        }
    }

    #[test]
    fn only_components_that_make_tls_calls_carry_certificates() {
        let has = |name| {
            plan(Component::by_name(name).unwrap())
                .iter()
                .any(|n| n.content == Content::CaCertificates)
        };
        assert!(has("operator") && has("dashboard") && has("dappctl"));
        assert!(!has("registry"));
    }
}
