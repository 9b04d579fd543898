//! `dappctl schema`: a kind's JSON Schema on stdout, or every kind's written into a directory
//! for editors.

use std::path::PathBuf;

use dappmesh_compiler::schema::{self, Kind};

use super::{VALID, fail, print};
use crate::out::atomic;

pub fn run(kind: Option<Kind>, out: Option<PathBuf>) -> u8 {
    match (kind, out) {
        (kind, Some(dir)) => {
            let kinds = kind.map_or_else(|| Kind::ALL.to_vec(), |k| vec![k]);
            let written: std::io::Result<Vec<String>> = kinds
                .into_iter()
                .map(|kind| {
                    let path = dir.join(kind.file_name());
                    atomic::atomic(&path, schema::pretty(kind).as_bytes())?;
                    Ok(path.display().to_string())
                })
                .collect();
            match written {
                Ok(names) => {
                    eprintln!("wrote {}", names.join(", "));
                    VALID
                }
                Err(e) => fail(miette::miette!(
                    code = "io::write",
                    "cannot write schemas into `{}`: {e}",
                    dir.display()
                )),
            }
        }
        (Some(kind), None) => match print(&schema::pretty(kind)) {
            Ok(()) => VALID,
            Err(code) => code,
        },
        (None, None) => unreachable!("clap requires a kind or --out"),
    }
}
