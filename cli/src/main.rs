//! The `dappctl` binary: parse arguments, call the library, print, exit 0 (valid), 1 (invalid)
//! or 2 (usage or I/O error).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use dappctl::apply::{self, DryRun};
use dappctl::report::{self, Format, HumanOptions};
use dappctl::schema::Kind;

#[derive(Parser)]
#[command(name = "dappctl", version, about = "Compile a declarative data mesh for Kubernetes", long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        /// Write <kind>.schema.json files into this directory instead of printing.
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
struct Source {
    /// The mesh: files or directories of spec files.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Take the objects from a directory `dappctl render --out` wrote instead of rendering.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    rendered: Option<PathBuf>,
    /// The environment this cluster runs (needed when the mesh has several).
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// Templates that replace built-in ones of the same path, or add new ones.
    #[arg(long, value_name = "DIR", conflicts_with = "rendered")]
    templates: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ClusterArgs {
    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl ClusterArgs {
    fn target(self) -> apply::cluster::Target {
        apply::cluster::Target {
            kubeconfig: self.kubeconfig,
            context: self.context,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DryRunArg {
    Client,
    Server,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    fn enabled(self, terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
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

// Loading a mesh is allocation-heavy (a tree per document); mimalloc cuts validate's wall time
// by about a fifth against glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VALID: u8 = 0;
const INVALID: u8 = 1;
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let args = Args::parse();
    let code = match args.command {
        Command::Validate {
            paths,
            format,
            strict,
            color,
        } => validate(&paths, format, strict, color),
        Command::Schema { kind, out } => schema(kind.map(Kind::from), out),
        Command::Init { dir } => init(&dir),
        Command::Graph {
            paths,
            format,
            color,
        } => graph(&paths, format, color),
        Command::Render {
            paths,
            out,
            env,
            templates,
            color,
        } => render(
            &paths,
            &out,
            dappctl::render::Options { env, templates },
            color,
        ),
        Command::Apply {
            source,
            cluster,
            dry_run,
            force_conflicts,
            prune,
            wait,
            timeout,
            color,
        } => {
            let options = apply::Options {
                dry_run: dry_run.map(|d| match d {
                    DryRunArg::Client => DryRun::Client,
                    DryRunArg::Server => DryRun::Server,
                }),
                force_conflicts,
                prune,
                wait: wait.then_some(timeout),
            };
            deliver(
                source,
                cluster.target(),
                color,
                INVALID,
                move |cluster, sets, report| {
                    Box::pin(async move {
                        let summary = apply::apply(cluster, &sets, &options, report).await;
                        report.line(&summary.to_string());
                        if summary.succeeded() { VALID } else { INVALID }
                    })
                },
            )
        }
        Command::Diff {
            source,
            cluster,
            color,
        } => {
            let style = apply::diff::Style {
                color: color.enabled(std::io::stdout().is_terminal()),
            };
            // Exit 1 means "differences": an invalid mesh is an error here (2).
            deliver(
                source,
                cluster.target(),
                color,
                FAILURE,
                move |cluster, sets, _| {
                    Box::pin(async move {
                        let (text, errors) = apply::diff::diff(cluster, &sets, style).await;
                        let printed = print(&text);
                        for error in &errors {
                            eprintln!("error: {error}");
                        }
                        match printed {
                            Err(code) => code,
                            Ok(()) if !errors.is_empty() => FAILURE,
                            Ok(()) if text.is_empty() => VALID,
                            Ok(()) => INVALID,
                        }
                    })
                },
            )
        }
        Command::Delete {
            source,
            cluster,
            product,
            dry_run,
            timeout,
            color,
        } => delete(source, cluster.target(), product, dry_run, timeout, color),
    };
    ExitCode::from(code)
}

fn validate(paths: &[PathBuf], format: OutputFormat, strict: bool, color: Color) -> u8 {
    let outcome = match checked(paths) {
        Ok(outcome) => outcome,
        Err(e) => return fail(e),
    };
    let stdout = std::io::stdout();
    let format = match format {
        OutputFormat::Human => Format::Human(HumanOptions {
            color: color.enabled(stdout.is_terminal()),
            width: terminal_width(),
        }),
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Github => Format::Github,
    };
    let text = report::render(&outcome.report, format, strict);
    let code = match print(&text) {
        Err(code) => code,
        Ok(()) if outcome.report.fails(strict) => INVALID,
        Ok(()) => VALID,
    };
    // The process ends here: freeing every tree one by one would only delay the exit.
    std::mem::forget(outcome);
    code
}

/// What the last render into an output directory left there, as the cache knows it.
struct Earlier<'a> {
    cache: &'a dappctl::write::Cache,
    out: &'a std::path::Path,
}

impl dappctl::render::Earlier for Earlier<'_> {
    fn directory(&self, dir: &str, key: u64) -> Option<Vec<String>> {
        self.cache.intact(self.out, dir, key)
    }

    fn run(&self, run: &str, key: u64) -> Option<Vec<String>> {
        self.cache.run_intact(self.out, run, key)
    }
}

/// Validates, remembering the files found valid (in the user's cache) so that the next run
/// over the same paths reads them again but parses and checks only what changed.
fn checked(paths: &[PathBuf]) -> Result<dappctl::validate::Outcome, dappctl::load::LoadError> {
    let memo = dappctl::validate::Memo::load(paths);
    let outcome = dappctl::validate::validate_paths_with(paths, &memo)?;
    memo.save();
    Ok(outcome)
}

/// Validates, and on success hands back the mesh; otherwise prints the diagnostics (on stderr:
/// stdout belongs to the command's own output) and returns the exit code.
fn validated(paths: &[PathBuf], color: Color) -> Result<dappctl::validate::Validated, u8> {
    let outcome = checked(paths).map_err(fail)?;
    let stderr = std::io::stderr();
    if !outcome.report.diagnostics.is_empty() || outcome.validated.is_none() {
        let format = Format::Human(HumanOptions {
            color: color.enabled(stderr.is_terminal()),
            width: terminal_width(),
        });
        eprint!("{}", report::render(&outcome.report, format, false));
    }
    match outcome.validated {
        Some(validated) if !outcome.report.fails(false) => Ok(validated),
        _ => Err(INVALID),
    }
}

fn render(
    paths: &[PathBuf],
    out: &std::path::Path,
    options: dappctl::render::Options,
    color: Color,
) -> u8 {
    if out.as_os_str() == "-" || !out.join(dappctl::write::OWNED).exists() {
        lean_pages();
    }
    let validated = match validated(paths, color) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if out.as_os_str() == "-" {
        return match dappctl::render::render(&validated, &options, &dappctl::render::Afresh) {
            Ok(rendered) => {
                let code = stream(&rendered.output.files);
                std::mem::forget((rendered, validated));
                code
            }
            Err(e) => fail(e),
        };
    }
    let mut cache = dappctl::write::Cache::load(out);
    let earlier = Earlier { cache: &cache, out };
    let rendered = match dappctl::render::render(&validated, &options, &earlier) {
        Ok(rendered) => rendered,
        Err(e) => return fail(e),
    };
    match dappctl::write::sync(out, &rendered.output, |p| rendered.covers(p), &mut cache) {
        Ok(synced) => {
            eprintln!(
                "rendered {} files into {}: {} written, {} unchanged, {} removed",
                rendered.output.files.len() + rendered.output.intact.len(),
                out.display(),
                synced.written.len(),
                synced.unchanged,
                synced.removed.len()
            );
            // Tens of thousands of files' text and the mesh: the exit frees them at once.
            std::mem::forget((rendered, validated, cache));
            VALID
        }
        Err(e) => fail(miette::miette!(
            "cannot write into `{}`: {e}",
            out.display()
        )),
    }
}

/// A render from scratch holds every file at once and touches its memory only once, where
/// transparent huge pages map 2 MiB for each page it writes to: without them its peak RSS drops
/// by a sixth (300 to 250 MiB for 1,000 products). A re-render keeps them, as they make its
/// many small lookups faster.
fn lean_pages() {
    #[cfg(target_os = "linux")]
    // Only the memory use changes when the kernel refuses, so its answer does not matter.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// What a command that talks to a cluster runs once the cluster answers.
type Work<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = u8> + 'a>>;

/// Renders (or reads `--rendered`), groups the objects into ApplySets, connects to the
/// cluster, and hands both to `run`.
fn deliver(
    source: Source,
    target: apply::cluster::Target,
    color: Color,
    invalid_mesh: u8,
    run: impl for<'a> FnOnce(
        std::sync::Arc<apply::cluster::Cluster>,
        Vec<apply::manifest::Set>,
        &'a mut dyn apply::Report,
    ) -> Work<'a>,
) -> u8 {
    let sets = match objects(&source, color) {
        Ok(sets) => sets,
        Err(INVALID) => return invalid_mesh,
        Err(code) => return code,
    };
    on_cluster(&target, move |cluster, report| run(cluster, sets, report))
}

/// The ApplySets of the objects a command works on.
fn objects(source: &Source, color: Color) -> Result<Vec<apply::manifest::Set>, u8> {
    let (files, root) = match &source.rendered {
        Some(dir) => (apply::manifest::read_dir(dir).map_err(fail)?, dir.clone()),
        None => {
            let validated = validated(&source.paths, color)?;
            let options = dappctl::render::Options {
                env: source.env.clone(),
                templates: source.templates.clone(),
            };
            let rendered = dappctl::render::render(&validated, &options, &dappctl::render::Afresh)
                .map_err(fail)?;
            (rendered.output.files, PathBuf::from("(rendered)"))
        }
    };
    apply::sets_of(&files, source.env.as_deref(), &root).map_err(fail)
}

/// Starts the async runtime, connects, and runs `work` with a report printing to the
/// terminal.
fn on_cluster<F>(target: &apply::cluster::Target, work: F) -> u8
where
    F: for<'a> FnOnce(
        std::sync::Arc<apply::cluster::Cluster>,
        &'a mut dyn apply::Report,
    ) -> Work<'a>,
{
    // One TLS provider for the process, chosen here rather than by whichever crate asks first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(miette::miette!("cannot start: {e}")),
    };
    runtime.block_on(async {
        let cluster = match apply::cluster::Cluster::connect(target).await {
            Ok(cluster) => std::sync::Arc::new(cluster),
            Err(e) => return fail(e),
        };
        let mut report = Printer::new();
        work(cluster, &mut report).await
    })
}

fn delete(
    source: Source,
    target: apply::cluster::Target,
    product: Option<String>,
    dry_run: bool,
    timeout: std::time::Duration,
    color: Color,
) -> u8 {
    let sets = match &product {
        Some(_) => Vec::new(),
        None => match objects(&source, color) {
            Ok(sets) => sets,
            Err(code) => return code,
        },
    };
    let env = source.env.clone();
    on_cluster(&target, move |cluster, report| {
        Box::pin(async move {
            let selection = match &product {
                Some(name) => apply::delete::Selection::Product {
                    name,
                    env: env.as_deref(),
                },
                None => apply::delete::Selection::Sets(&sets),
            };
            let mode = if dry_run {
                apply::prune::Mode::ClientDryRun
            } else {
                apply::prune::Mode::Delete
            };
            match apply::delete::delete(&cluster, selection, mode, timeout, report).await {
                Ok(done) => {
                    let suffix = if dry_run { " (dry run)" } else { "" };
                    report.line(&format!(
                        "deleted {}{suffix}, {} failed",
                        done.pruned, done.failed
                    ));
                    if done.failed == 0 { VALID } else { INVALID }
                }
                Err(e) => fail(e),
            }
        })
    })
}

/// Prints results on stdout and, on a terminal, a status line on stderr that the next
/// output replaces.
struct Printer {
    terminal: bool,
    showing: bool,
}

impl Printer {
    fn new() -> Printer {
        Printer {
            terminal: std::io::stderr().is_terminal(),
            showing: false,
        }
    }

    fn clear(&mut self) {
        if self.showing {
            eprint!("\r\x1b[K");
            self.showing = false;
        }
    }
}

impl apply::Report for Printer {
    fn line(&mut self, text: &str) {
        self.clear();
        // A closed pipe (`dappctl apply | head`) must not stop an apply halfway.
        let _ = writeln!(std::io::stdout(), "{text}");
    }

    fn progress(&mut self, text: &str) {
        if !self.terminal {
            return;
        }
        self.clear();
        if !text.is_empty() {
            let width = terminal_width().saturating_sub(1);
            let shown: String = text.chars().take(width).collect();
            eprint!("{shown}");
            self.showing = true;
        }
    }
}

fn graph(paths: &[PathBuf], format: GraphFormat, color: Color) -> u8 {
    let validated = match validated(paths, color) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let format = match format {
        GraphFormat::Mermaid => dappctl::graph::Format::Mermaid,
        GraphFormat::Dot => dappctl::graph::Format::Dot,
    };
    match print(&dappctl::graph::graph(&validated, format)) {
        Ok(()) => VALID,
        Err(code) => code,
    }
}

fn schema(kind: Option<Kind>, out: Option<PathBuf>) -> u8 {
    match (kind, out) {
        (kind, Some(dir)) => match dappctl::schema::export(kind, &dir) {
            Ok(written) => {
                let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
                eprintln!("wrote {}", names.join(", "));
                VALID
            }
            Err(e) => fail(miette::miette!(
                "cannot write schemas into `{}`: {e}",
                dir.display()
            )),
        },
        (Some(kind), None) => match print(&dappctl::schema::pretty(kind)) {
            Ok(()) => VALID,
            Err(code) => code,
        },
        (None, None) => unreachable!("clap requires a kind or --out"),
    }
}

fn init(dir: &std::path::Path) -> u8 {
    match dappctl::scaffold::init(dir) {
        Ok(written) => {
            for path in &written {
                eprintln!("created {}", path.display());
            }
            eprintln!("next: dappctl validate {}", dir.display());
            eprintln!("then: dappctl render {} --out rendered", dir.display());
            VALID
        }
        Err(e) => fail(e),
    }
}

/// Prints an error that stops the command, with miette's formatting, and returns exit code 2.
fn fail(error: impl Into<miette::Report>) -> u8 {
    eprintln!("{:?}", error.into());
    FAILURE
}

/// Every object as one YAML stream on stdout, each document headed by the path it would have.
fn stream(files: &std::collections::BTreeMap<String, Vec<u8>>) -> u8 {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = files
        .iter()
        .try_for_each(|(path, text)| {
            out.write_all(format!("---\n# Source: {path}\n").as_bytes())?;
            out.write_all(text)
        })
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {e}");
            FAILURE
        }
        _ => VALID,
    }
}

/// Writes to stdout; a closed pipe (`dappctl validate | head`) is not an error, any other
/// failure to write is (exit 2).
fn print(text: &str) -> Result<(), u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write output: {e}");
            Err(FAILURE)
        }
        _ => Ok(()),
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w: &usize| w >= 40)
        .unwrap_or(100)
}
