//! The `dappctl` binary: parse the arguments, run one command, exit 0 (valid), 1 (invalid)
//! or 2 (usage or I/O error).

mod args;
mod commands;
mod out;

use std::process::ExitCode;

use clap::Parser;

// Loading a mesh is allocation-heavy (a tree per document); mimalloc cuts validate's wall time
// by about a fifth against glibc's allocator. Metered counts what a user's template holds while
// it renders (`--templates`), so that one doubling a string stops with a diagnostic.
#[global_allocator]
static ALLOCATOR: dappmesh_compiler::render::Metered<mimalloc::MiMalloc> =
    dappmesh_compiler::render::Metered(mimalloc::MiMalloc);

fn main() -> ExitCode {
    ExitCode::from(commands::run(args::Args::parse().command))
}
