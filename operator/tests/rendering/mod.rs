//! What `dappctl render` makes of a mesh directory, as objects by file: what the operator
//! tests apply to the test API server and compare the operator's children with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every object the built-in templates render from the mesh in `dir`, by file.
pub fn render(dir: &Path) -> BTreeMap<String, Vec<Value>> {
    let validated = dappmesh_compiler::validate::validate_paths(&[dir.to_owned()])
        .unwrap()
        .validated
        .expect("the mesh is valid");
    let files = dappmesh_compiler::render::render(
        &validated,
        &Default::default(),
        &dappmesh_compiler::render::Afresh,
    )
    .unwrap()
    .output
    .files;
    files
        .iter()
        .map(|(path, bytes)| (path.clone(), read(path, bytes)))
        .collect()
}

fn read(path: &str, bytes: &[u8]) -> Vec<Value> {
    let source = dappmesh_compiler::source::SourceFile::new(
        PathBuf::from(path),
        String::from_utf8_lossy(bytes),
    );
    dappmesh_compiler::load::yaml::parse(&source, dappmesh_compiler::load::yaml::Limits::default())
        .unwrap()
}
