//! Fuzzes loading and validating spec files: arbitrary bytes as one product file of the
//! example mesh. Nothing may panic, every diagnostic points inside the text it names, and
//! the report renders in every output format.
//!
//! The example mesh's other files stay valid, so the rules across documents (references,
//! ports, cycles) see the fuzzed product next to real ones, not alone.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

use dappmesh_compiler::report::{self, Format, HumanOptions};
use dappmesh_compiler::source::SourceFile;
use dappmesh_compiler::validate::validate_texts;

/// The example mesh without the product the input stands in for.
fn mesh() -> &'static [(PathBuf, String)] {
    static MESH: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    MESH.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut files = Vec::new();
        for dir in [root.clone(), root.join("products")] {
            for entry in std::fs::read_dir(&dir).expect("examples/ readable") {
                let path = entry.expect("an entry").path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".yaml") && name != "sales-orders.yaml" {
                    let text = std::fs::read_to_string(&path).expect("examples are UTF-8");
                    files.push((path.strip_prefix(&root).unwrap().to_owned(), text));
                }
            }
        }
        files.sort();
        files
    })
}

fuzz_target!(|data: &[u8]| {
    // The loader refuses what is not UTF-8 before parsing; the text is where bugs hide.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut texts: Vec<SourceFile> = mesh()
        .iter()
        .map(|(path, text)| SourceFile::new(path.clone(), text.as_str()))
        .collect();
    texts.push(SourceFile::new(
        PathBuf::from("products/sales-orders.yaml"),
        text,
    ));
    let outcome = validate_texts(texts);
    let report = &outcome.report;
    for diagnostic in &report.diagnostics {
        let places = diagnostic
            .location
            .iter()
            .chain(diagnostic.related.iter().map(|r| &r.location));
        for place in places {
            let file = &report.files[place.file];
            let len = file.text().len();
            assert!(
                place.span.start <= place.span.end && place.span.end <= len,
                "{}: span {:?} outside {} bytes of {}",
                diagnostic.code,
                place.span,
                len,
                file.path().display()
            );
            assert!(
                file.text().is_char_boundary(place.span.start)
                    && file.text().is_char_boundary(place.span.end),
                "{}: span {:?} splits a character",
                diagnostic.code,
                place.span
            );
        }
    }
    for format in [
        Format::Human(HumanOptions {
            color: false,
            width: 100,
        }),
        Format::Json,
        Format::Sarif,
        Format::Github,
    ] {
        let _ = report::render(report, format, false);
    }
});
