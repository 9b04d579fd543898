//! The image's one layer: the planned tree as a tar with nothing taken from the build
//! machine but file contents (fixed mtime, root owners unless planned otherwise, no user or
//! group names, sorted entries), gzip-compressed with a fixed header.

use std::io::Write;

use flate2::{Compression, GzBuilder};
use ring::digest::{SHA256, digest};

use crate::filesystem::{Content, Node};
use crate::{Error, Result, io};

/// The bytes the planned nodes refer to.
pub struct Sources<'a> {
    pub binary: &'a [u8],
    /// Needed only when the plan has the CA bundle.
    pub ca_certificates: Option<&'a [u8]>,
}

pub struct Layer {
    /// The gzip stream: the blob pushed and pulled.
    pub blob: Vec<u8>,
    /// `sha256:…` of the blob.
    pub digest: String,
    /// `sha256:…` of the uncompressed tar: the config's `rootfs.diff_ids`.
    pub diff_id: String,
    /// The uncompressed tar's size, for the report.
    pub tar_size: u64,
}

pub fn sha256(bytes: &[u8]) -> String {
    let d = digest(&SHA256, bytes);
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for b in d.as_ref() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The tar of `nodes` with every mtime at `epoch` (seconds since 1970).
pub fn tar(nodes: &[Node], sources: &Sources, epoch: u64) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for node in nodes {
        let (kind, data): (_, &[u8]) = match &node.content {
            Content::Directory => (tar::EntryType::Directory, &[]),
            Content::Binary => (tar::EntryType::Regular, sources.binary),
            Content::Text(text) => (tar::EntryType::Regular, text.as_bytes()),
            Content::CaCertificates => (
                tar::EntryType::Regular,
                sources.ca_certificates.ok_or_else(|| Error::Io {
                    path: node.path.clone().into(),
                    source: std::io::Error::other("no CA certificates were given"),
                })?,
            ),
        };
        // ustar: every path here is short, and the format has no field that varies by
        // machine (GNU headers would carry the same, but ustar is what every reader knows).
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(node.mode);
        header.set_uid(node.uid);
        header.set_gid(node.uid);
        header.set_mtime(epoch);
        header.set_size(data.len() as u64);
        let path = match kind {
            tar::EntryType::Directory => format!("{}/", node.path),
            _ => node.path.clone(),
        };
        builder
            .append_data(&mut header, &path, data)
            .map_err(io(&path))?;
    }
    builder.into_inner().map_err(io("layer.tar"))
}

/// The layer of `nodes`. gzip rather than an uncompressed tar: the binaries shrink to
/// about a third (see the README's table), which every pull of every widget pod's sidecar
/// gains; the stream is the same for the same input because the header's mtime is 0, it
/// names no file and no OS, and the compressor (miniz_oxide, pinned by Cargo.lock) has no
/// threads or randomness.
pub fn build(nodes: &[Node], sources: &Sources, epoch: u64) -> Result<Layer> {
    let tar = tar(nodes, sources, epoch)?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::default());
    gz.write_all(&tar).map_err(io("layer.tar.gz"))?;
    let blob = gz.finish().map_err(io("layer.tar.gz"))?;
    Ok(Layer {
        digest: sha256(&blob),
        diff_id: sha256(&tar),
        tar_size: tar.len() as u64,
        blob,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Component;
    use crate::filesystem::plan;

    fn entries(tar: &[u8]) -> Vec<(String, u32, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_tar_has_the_plan_in_order_with_fixed_times_and_owners() {
        let registry = Component::by_name("registry").unwrap();
        let sources = Sources {
            binary: b"\x7fELF",
            ca_certificates: None,
        };
        let tar = tar(&plan(registry), &sources, 1_700_000_000).unwrap();
        let got = entries(&tar);
        let paths: Vec<_> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "data/",
                "etc/",
                "etc/group",
                "etc/passwd",
                "tmp/",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/registry"
            ]
        );
        assert!(got.iter().all(|e| e.3 == 1_700_000_000));
        assert_eq!(got[0].2, 10001, "/data belongs to the image's user");
        assert!(got[1..].iter().all(|e| e.2 == 0));
        assert_eq!(got[4].1, 0o1777);
    }

    #[test]
    fn a_plan_with_certificates_needs_them() {
        let operator = Component::by_name("operator").unwrap();
        let sources = Sources {
            binary: b"",
            ca_certificates: None,
        };
        assert!(build(&plan(operator), &sources, 0).is_err());
    }
}
