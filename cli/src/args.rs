//! The command line: clap's definitions of every command and option, and the small types
//! they resolve to. Nothing here does any work.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use dappmesh_apply as apply;
use dappmesh_compiler::schema::Kind;

#[derive(Parser)]
#[command(name = "dappctl", version, about = "Compile a declarative data mesh for Kubernetes", long_about = None)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check every spec file below the paths against the Data Application Model.
    Validate {
        /// Files or directories to check (directories are searched for .yaml/.yml files).
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// How to print the diagnostics.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
        /// Fail on warnings too.
        #[arg(long)]
        strict: bool,
        /// When to colour human output (auto: when stdout is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Print a kind's JSON Schema, or write the schemas into a directory for editors.
    Schema {
        /// Mesh, Domain or DataProduct (all kinds when writing with --out).
        #[arg(value_enum, required_unless_present = "out")]
        kind: Option<KindArg>,
        /// Write `<kind>.schema.json` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Validate the mesh, then write its Kubernetes and Argo CD manifests into a directory.
    Render {
        /// The mesh: files or directories of spec files.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// The GitOps repository (or a directory in it) to write; created if missing. `-` prints
        /// every object to stdout instead, as one YAML stream (for kubectl apply -f - or a
        /// validator), each document headed by its path.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Render one environment of the mesh (default: all).
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// Templates that replace built-in ones of the same path, or add new ones.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// When to colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Print the lineage: ports between products and the flow DAG inside each.
    Graph {
        /// The mesh: files or directories of spec files.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// mermaid (a flowchart for Markdown) or dot (for Graphviz).
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// When to colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Render the mesh and send it to a cluster with server-side apply (field manager
    /// `dappctl`): CRDs first, then namespaces, then the rest by sync wave.
    Apply {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Check without changing anything: `client` compares with what is live, `server` has
        /// the API server validate every change and store nothing.
        #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
        dry_run: Option<DryRunArg>,
        /// Take over fields that another field manager owns instead of failing.
        #[arg(long)]
        force_conflicts: bool,
        /// Delete what an earlier apply created and this one no longer renders (members of
        /// this mesh's ApplySets only).
        #[arg(long)]
        prune: bool,
        /// Wait until every object is ready (rolled out, complete, Ready).
        #[arg(long)]
        wait: bool,
        /// How long --wait waits.
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
        /// When to colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Show what `apply` would change, as a unified diff of the fields dappctl manages. Exit
    /// 0: no difference, 1: differences, 2: error.
    Diff {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// When to colour the diff (auto: when stdout is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Remove from a cluster what `apply` put there: every member of the mesh's ApplySets
    /// (or of one product's) and their parents.
    Delete {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Delete one product, found on the cluster by name (no mesh needed).
        #[arg(long, value_name = "NAME", conflicts_with = "rendered")]
        product: Option<String>,
        /// List what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// How long to wait for each set's objects to be gone (finalizers run first).
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
        /// When to colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset).
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Write a small mesh that `dappctl validate` accepts.
    Init {
        /// Where to write it (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// Where the objects come from: a mesh to render, or a directory `dappctl render` wrote.
#[derive(clap::Args)]
pub struct Source {
    /// The mesh: files or directories of spec files.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Take the objects from a directory `dappctl render --out` wrote instead of rendering.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub rendered: Option<PathBuf>,
    /// The environment this cluster runs (needed when the mesh has several).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Templates that replace built-in ones of the same path, or add new ones.
    #[arg(long, value_name = "DIR", conflicts_with = "rendered")]
    pub templates: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ClusterArgs {
    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current one).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl ClusterArgs {
    pub fn target(self) -> apply::cluster::Target {
        apply::cluster::Target {
            kubeconfig: self.kubeconfig,
            context: self.context,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DryRunArg {
    Client,
    Server,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    #[value(name = "Mesh", alias = "mesh")]
    Mesh,
    #[value(name = "Domain", alias = "domain")]
    Domain,
    #[value(name = "DataProduct", aliases = ["dataproduct", "data-product"])]
    DataProduct,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Kind {
        match kind {
            KindArg::Mesh => Kind::Mesh,
            KindArg::Domain => Kind::Domain,
            KindArg::DataProduct => Kind::DataProduct,
        }
    }
}
