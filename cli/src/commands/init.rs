//! `dappctl init`: writes the compiler's scaffold into a directory, never over a file.

use std::path::{Path, PathBuf};

use super::{VALID, fail};
use crate::out::atomic;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum InitError {
    #[error("`{0}` already exists; dappctl init never overwrites a file")]
    #[diagnostic(
        code = "init::exists",
        help("choose an empty directory, or move the file away")
    )]
    Exists(PathBuf),
    #[error("cannot write `{path}`")]
    #[diagnostic(code = "io::write")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn run(dir: &Path) -> u8 {
    match init(dir) {
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

/// Writes the scaffold, refusing before anything is written if a file is in the way.
fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let files = dappmesh_compiler::scaffold::files(dir);
    if let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(InitError::Exists(path.clone()));
    }
    for (path, text) in &files {
        atomic::atomic(path, text.as_bytes()).map_err(|source| InitError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}
