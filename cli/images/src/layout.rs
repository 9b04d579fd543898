//! The OCI image layout of one image (image-spec `image-layout.md`): `oci-layout`,
//! `index.json` naming the manifest by its tag, and `blobs/sha256/` holding the manifest,
//! the config and the layer. Every JSON document is canonical, so the digests depend on the
//! inputs only.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use oci_spec::image::{
    ANNOTATION_CREATED, ANNOTATION_DESCRIPTION, ANNOTATION_LICENSES, ANNOTATION_REF_NAME,
    ANNOTATION_REVISION, ANNOTATION_SOURCE, ANNOTATION_TITLE, ANNOTATION_VERSION, Arch,
    ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    PlatformBuilder, RootFsBuilder,
};

use crate::component::{self, Component, UID};
use crate::filesystem::CA_CERTIFICATES;
use crate::json::canonical;
use crate::layer::{Layer, sha256};
use crate::{Error, Result, io};

/// What an image says about where it comes from: the OCI annotations, also set as labels.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: String,
    pub revision: String,
    pub source: String,
    pub licenses: String,
    /// The fixed build time, RFC 3339 (`created` everywhere).
    pub created: String,
}

/// What was written, for the report and the tests.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub layer_digest: String,
    pub layer_size: u64,
}

fn oci(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> Error {
    move |source| Error::Oci { what, source }
}

fn descriptor(media_type: MediaType, bytes: &[u8]) -> Result<Descriptor> {
    let digest = Digest::from_str(&sha256(bytes)).map_err(oci("digest"))?;
    DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(bytes.len() as u64)
        .build()
        .map_err(oci("descriptor"))
}

fn annotations(component: &Component, release: &Release) -> HashMap<String, String> {
    [
        (ANNOTATION_TITLE, component.name),
        (ANNOTATION_DESCRIPTION, component.description),
        (ANNOTATION_SOURCE, &release.source),
        (ANNOTATION_REVISION, &release.revision),
        (ANNOTATION_VERSION, &release.version),
        (ANNOTATION_LICENSES, &release.licenses),
        (ANNOTATION_CREATED, &release.created),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The image config: the user the pods run as, the binary as entrypoint, the ports the
/// templates expose.
fn config(
    component: &Component,
    arch: component::Arch,
    layer: &Layer,
    release: &Release,
) -> Result<Vec<u8>> {
    let mut env = vec![format!("PATH=/{}", component::BIN_DIR)];
    if component.ca_certificates {
        // Said outright, so a TLS stack that does not probe the usual paths finds it too.
        env.push(format!("SSL_CERT_FILE=/{CA_CERTIFICATES}"));
    }
    let mut exec = ConfigBuilder::default()
        .user(format!("{UID}:{UID}"))
        .env(env)
        .entrypoint(vec![component.entrypoint()])
        .cmd(
            component
                .cmd
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
        )
        .working_dir("/")
        .labels(annotations(component, release));
    if !component.ports.is_empty() {
        exec = exec.exposed_ports(
            component
                .ports
                .iter()
                .map(|p| format!("{p}/tcp"))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(data) = component.data_dir {
        exec = exec.volumes(vec![format!("/{data}")]);
    }
    let config = ImageConfigurationBuilder::default()
        .created(release.created.clone())
        .architecture(match arch {
            component::Arch::Amd64 => Arch::Amd64,
            component::Arch::Arm64 => Arch::ARM64,
        })
        .os(Os::Linux)
        .config(exec.build().map_err(oci("config"))?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![layer.diff_id.clone()])
                .build()
                .map_err(oci("rootfs"))?,
        )
        .history(vec![
            HistoryBuilder::default()
                .created(release.created.clone())
                .created_by(format!(
                    "{} {}",
                    env!("CARGO_PKG_NAME"),
                    env!("CARGO_PKG_VERSION")
                ))
                .comment(format!(
                    "{} {} on an empty base",
                    component.name, release.version
                ))
                .build()
                .map_err(oci("history"))?,
        ])
        .build()
        .map_err(oci("image config"))?;
    Ok(canonical(&config)?)
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Result<()> {
    let digest = sha256(bytes);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(&path, bytes).map_err(io(path))
}

/// Writes the layout of `component` into `dir` (created; an older layout there is
/// replaced whole, so no stale blob stays behind).
pub fn write(
    dir: &Path,
    component: &Component,
    arch: component::Arch,
    layer: &Layer,
    release: &Release,
) -> Result<Image> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(io(dir))?;
    let config = config(component, arch, layer, release)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &config)?)
        .layers(vec![descriptor(MediaType::ImageLayerGzip, &layer.blob)?])
        .annotations(annotations(component, release))
        .build()
        .map_err(oci("manifest"))?;
    let manifest = canonical(&manifest)?;
    let mut entry = descriptor(MediaType::ImageManifest, &manifest)?;
    entry.set_platform(Some(
        PlatformBuilder::default()
            .architecture(match arch {
                component::Arch::Amd64 => Arch::Amd64,
                component::Arch::Arm64 => Arch::ARM64,
            })
            .os(Os::Linux)
            .build()
            .map_err(oci("platform"))?,
    ));
    // The tag skopeo and umoci find the image by (`oci:DIR:<version>`).
    entry.set_annotations(Some(HashMap::from([(
        ANNOTATION_REF_NAME.to_owned(),
        release.version.clone(),
    )])));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![entry])
        .build()
        .map_err(oci("index"))?;
    let index = canonical(&index)?;
    for blob in [&config, &manifest, &layer.blob] {
        write_blob(dir, blob)?;
    }
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    std::fs::write(dir.join("oci-layout"), layout).map_err(io(dir.join("oci-layout")))?;
    std::fs::write(dir.join("index.json"), &index).map_err(io(dir.join("index.json")))?;
    Ok(Image {
        manifest_digest: sha256(&manifest),
        manifest_size: manifest.len() as u64,
        layer_digest: layer.digest.clone(),
        layer_size: layer.blob.len() as u64,
    })
}
