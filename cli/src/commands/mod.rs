//! One module per command; this one dispatches and holds what they share: exit codes, loading
//! a mesh (with the memo), and printing to a stream that may be a closed pipe.

mod cluster;
mod graph;
mod init;
mod render;
mod schema;
mod validate;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use dappmesh_compiler::report::{self, Format, HumanOptions};
use dappmesh_compiler::validate::{Outcome, Validated};

use crate::args::{Color, Command};
use crate::out::memo;

pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const FAILURE: u8 = 2;

/// Runs one command; returns its exit code.
pub fn run(command: Command) -> u8 {
    match command {
        Command::Validate {
            paths,
            format,
            strict,
            color,
        } => validate::run(&paths, format, strict, color),
        Command::Schema { kind, out } => schema::run(kind.map(Into::into), out),
        Command::Init { dir } => init::run(&dir),
        Command::Graph {
            paths,
            format,
            color,
        } => graph::run(&paths, format, color),
        Command::Render {
            paths,
            out,
            env,
            templates,
            color,
        } => render::run(
            &paths,
            &out,
            dappmesh_compiler::render::Options { env, templates },
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
        } => cluster::apply(
            source,
            cluster.target(),
            cluster::ApplyFlags {
                dry_run,
                force_conflicts,
                prune,
                wait: wait.then_some(timeout),
            },
            color,
        ),
        Command::Diff {
            source,
            cluster,
            color,
        } => cluster::diff(source, cluster.target(), color),
        Command::Delete {
            source,
            cluster,
            product,
            dry_run,
            timeout,
            color,
        } => cluster::delete(source, cluster.target(), product, dry_run, timeout, color),
    }
}

/// Validates, remembering the files found valid (in the user's cache) so that the next run
/// over the same paths reads them again but parses and checks only what changed.
fn checked(paths: &[PathBuf]) -> Result<Outcome, dappmesh_compiler::load::LoadError> {
    let memo = memo::Stored::load(paths);
    let outcome = dappmesh_compiler::validate::validate_paths_with(paths, &memo)?;
    memo.save();
    Ok(outcome)
}

/// Validates, and on success hands back the mesh; otherwise prints the diagnostics (on stderr:
/// stdout belongs to the command's own output) and returns the exit code.
fn validated(paths: &[PathBuf], color: Color) -> Result<Validated, u8> {
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

/// Prints an error that stops the command, with miette's formatting, and returns exit code 2.
fn fail(error: impl Into<miette::Report>) -> u8 {
    eprintln!("{:?}", error.into());
    FAILURE
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
