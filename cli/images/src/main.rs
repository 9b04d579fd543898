//! The `images` binary: `images build` makes the OCI image layout and SBOM of each component
//! asked for, from binaries it builds (or is given), and prints each image's digest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dappmesh_images::compile::Build;
use dappmesh_images::component::{ALL, Arch, Component};
use dappmesh_images::filesystem::{Content, plan};
use dappmesh_images::layer::{self, Sources};
use dappmesh_images::layout::{self, Release};
use dappmesh_images::sbom;
use dappmesh_images::workspace::{self, Workspace};

#[derive(Parser)]
#[command(
    name = "images",
    version,
    about = "Builds the DappMesh container images without a daemon"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the images: `OUT/<component>/` (an OCI image layout) and `OUT/<component>.cdx.json`
    /// (its CycloneDX SBOM) for each component.
    Build {
        /// operator, registry, dashboard or dappctl; repeat for more (default: all four).
        #[arg(long = "component", value_name = "NAME")]
        components: Vec<String>,
        #[arg(long, default_value = "target/images")]
        out: PathBuf,
        /// Take the binaries from this directory (one file per component, named after it)
        /// instead of building them.
        #[arg(long, value_name = "DIR")]
        binaries: Option<PathBuf>,
        /// amd64 or arm64: the image's platform and the Rust target built for.
        #[arg(long, default_value = "amd64")]
        arch: String,
        /// The Cargo profile of the build (the tests use a faster one than release).
        #[arg(long, default_value = "release")]
        profile: String,
        /// The CA bundle put into the images that make TLS calls.
        #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
        ca_certificates: PathBuf,
        /// The commit the images say they come from (default: `git rev-parse HEAD`).
        #[arg(long)]
        revision: Option<String>,
    },
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("images: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the nearest directory up from here with a Cargo.lock.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    here.ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
        .with_context(|| format!("no Cargo.lock in {} or above it", here.display()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let Command::Build {
        components,
        out,
        binaries,
        arch,
        profile,
        ca_certificates,
        revision,
    } = args.command;
    let arch = Arch::parse(&arch)?;
    let components: Vec<&Component> = if components.is_empty() {
        ALL.iter().collect()
    } else {
        components
            .iter()
            .map(|n| Component::by_name(n))
            .collect::<Result<_, _>>()?
    };
    let root = workspace_root()?;
    let workspace = Workspace::load(&root, arch.rust_target())?;
    let revision = match revision {
        Some(r) => r,
        None => workspace::revision(&root)?,
    };
    let epoch = workspace::epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    let created = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch),
    )
    .to_string();
    let paths = match &binaries {
        Some(dir) => components.iter().map(|c| dir.join(c.name)).collect(),
        None => Build {
            root: &root,
            arch,
            profile: &profile,
        }
        .run(&components)?,
    };
    let certificates = if components.iter().any(|c| c.ca_certificates) {
        Some(std::fs::read(&ca_certificates).with_context(|| {
            format!(
                "cannot read the CA bundle {} (Debian: apt-get install ca-certificates)",
                ca_certificates.display()
            )
        })?)
    } else {
        None
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (component, binary) in components.iter().zip(paths) {
        let package = workspace.member(component.package)?;
        let release = Release {
            version: package.version.clone(),
            revision: revision.clone(),
            source: package.repository.clone().unwrap_or_default(),
            licenses: package.license.clone().unwrap_or_default(),
            created: created.clone(),
        };
        let bytes = std::fs::read(&binary).with_context(|| {
            format!(
                "cannot read the {} binary {}",
                component.name,
                binary.display()
            )
        })?;
        let nodes = plan(component);
        let sources = Sources {
            binary: &bytes,
            ca_certificates: nodes
                .iter()
                .any(|n| n.content == Content::CaCertificates)
                .then_some(certificates.as_deref())
                .flatten(),
        };
        let layer = layer::build(&nodes, &sources, epoch)?;
        let image = layout::write(&out.join(component.name), component, arch, &layer, &release)?;
        let bom = sbom::render(component, &workspace.linked(package), &created)?;
        let bom_path = out.join(format!("{}.cdx.json", component.name));
        std::fs::write(&bom_path, bom)
            .with_context(|| format!("cannot write {}", bom_path.display()))?;
        println!(
            "{}\t{}\tlayer {} bytes (tar {} bytes)\t{}",
            component.name,
            image.manifest_digest,
            image.layer_size,
            layer.tar_size,
            out.join(component.name).display()
        );
    }
    Ok(())
}
