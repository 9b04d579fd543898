//! `dappctl validate`: every diagnostic of the mesh, in the format asked for.

use std::io::IsTerminal;
use std::path::PathBuf;

use dappmesh_compiler::report::{self, Format, HumanOptions};

use super::{INVALID, VALID, checked, fail, print, terminal_width};
use crate::args::{Color, OutputFormat};

pub fn run(paths: &[PathBuf], format: OutputFormat, strict: bool, color: Color) -> u8 {
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
