//! `dappctl apply`, `diff` and `delete`: the commands that talk to a cluster. Each renders
//! the mesh (or reads `--rendered`), groups the objects into ApplySets, connects, and hands
//! both to the delivery crate, printing its report as it goes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dappmesh_apply::cluster::{Cluster, Target};
use dappmesh_apply::{self as apply, DryRun, manifest};
use dappmesh_compiler::render::{self, Afresh};

use super::{FAILURE, INVALID, VALID, fail, print, terminal_width, validated};
use crate::args::{Color, DryRunArg, Source};

/// `apply`'s options as given on the command line.
pub struct ApplyFlags {
    pub dry_run: Option<DryRunArg>,
    pub force_conflicts: bool,
    pub prune: bool,
    pub wait: Option<Duration>,
}

pub fn apply(source: Source, target: Target, flags: ApplyFlags, color: Color) -> u8 {
    let options = apply::Options {
        dry_run: flags.dry_run.map(|d| match d {
            DryRunArg::Client => DryRun::Client,
            DryRunArg::Server => DryRun::Server,
        }),
        force_conflicts: flags.force_conflicts,
        prune: flags.prune,
        wait: flags.wait,
    };
    deliver(
        source,
        target,
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

pub fn diff(source: Source, target: Target, color: Color) -> u8 {
    let style = apply::diff::Style {
        color: color.enabled(std::io::stdout().is_terminal()),
    };
    // Exit 1 means "differences": an invalid mesh is an error here (2).
    deliver(source, target, color, FAILURE, move |cluster, sets, _| {
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
    })
}

pub fn delete(
    source: Source,
    target: Target,
    product: Option<String>,
    dry_run: bool,
    timeout: Duration,
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

/// What a command that talks to a cluster runs once the cluster answers.
type Work<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = u8> + 'a>>;

/// Renders (or reads `--rendered`), groups the objects into ApplySets, connects to the
/// cluster, and hands both to `run`.
fn deliver(
    source: Source,
    target: Target,
    color: Color,
    invalid_mesh: u8,
    run: impl for<'a> FnOnce(Arc<Cluster>, Vec<manifest::Set>, &'a mut dyn apply::Report) -> Work<'a>,
) -> u8 {
    let sets = match objects(&source, color) {
        Ok(sets) => sets,
        Err(INVALID) => return invalid_mesh,
        Err(code) => return code,
    };
    on_cluster(&target, move |cluster, report| run(cluster, sets, report))
}

/// The ApplySets of the objects a command works on.
fn objects(source: &Source, color: Color) -> Result<Vec<manifest::Set>, u8> {
    let (files, root) = match &source.rendered {
        Some(dir) => (manifest::read_dir(dir).map_err(fail)?, dir.clone()),
        None => {
            let validated = validated(&source.paths, color)?;
            let options = render::Options {
                env: source.env.clone(),
                templates: source.templates.clone(),
            };
            let rendered = render::render(&validated, &options, &Afresh).map_err(fail)?;
            (rendered.output.files, PathBuf::from("(rendered)"))
        }
    };
    apply::sets_of(&files, source.env.as_deref(), &root).map_err(fail)
}

/// Starts the async runtime, connects, and runs `work` with a report printing to the
/// terminal.
fn on_cluster<F>(target: &Target, work: F) -> u8
where
    F: for<'a> FnOnce(Arc<Cluster>, &'a mut dyn apply::Report) -> Work<'a>,
{
    // One TLS provider for the process, chosen here rather than by whichever crate asks first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(miette::miette!(code = "io::runtime", "cannot start: {e}")),
    };
    runtime.block_on(async {
        let cluster = match Cluster::connect(target).await {
            Ok(cluster) => Arc::new(cluster),
            Err(e) => return fail(e),
        };
        let mut report = Printer::new();
        work(cluster, &mut report).await
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
