//! `dappctl graph`: the mesh's lineage as Mermaid or DOT.

use std::path::PathBuf;

use dappmesh_compiler::graph::{self, Format};

use super::{VALID, print, validated};
use crate::args::{Color, GraphFormat};

pub fn run(paths: &[PathBuf], format: GraphFormat, color: Color) -> u8 {
    let validated = match validated(paths, color) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let format = match format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
    };
    match print(&graph::graph(&validated, format)) {
        Ok(()) => VALID,
        Err(code) => code,
    }
}
