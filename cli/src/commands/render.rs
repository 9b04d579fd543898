//! `dappctl render`: the validated mesh's objects into an output directory (incrementally, see
//! [`crate::out::incremental`]) or as one YAML stream on stdout.

use std::io::Write;
use std::path::{Path, PathBuf};

use dappmesh_compiler::render::{self, Afresh, Options};

use super::{FAILURE, VALID, fail, validated};
use crate::args::Color;
use crate::out::incremental;

pub fn run(paths: &[PathBuf], out: &Path, options: Options, color: Color) -> u8 {
    let streaming = out.as_os_str() == "-";
    if streaming || incremental::is_first(out) {
        incremental::lean_pages();
    }
    let validated = match validated(paths, color) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if streaming {
        return match render::render(&validated, &options, &Afresh) {
            Ok(rendered) => {
                let code = stream(&rendered.output.files);
                std::mem::forget((rendered, validated));
                code
            }
            Err(e) => fail(e),
        };
    }
    match incremental::render_into(out, &validated, &options) {
        Ok(summary) => {
            eprintln!("{summary}");
            // Tens of thousands of files' text and the mesh: the exit frees them at once.
            std::mem::forget(validated);
            VALID
        }
        Err(e) => fail(e),
    }
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
