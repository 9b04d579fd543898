//! Property-based fuzzing of loading and validation, through the library (cargo-fuzz needs a
//! nightly toolchain; proptest runs on stable and in CI). Three kinds of input:
//!
//! - arbitrary byte strings;
//! - the example mesh with one file mutated (byte flips, deletions, duplicated line ranges,
//!   truncation), so the cross-document rules see near-valid documents;
//! - a soup of YAML tokens (`{`, `[`, `:`, `- `, anchors, aliases, tags, quotes, newlines,
//!   indentation), which reaches the parser's corners far faster than random bytes.
//!
//! For every input: nothing panics (including rendering the report in every format); every
//! diagnostic's span, and every related span, lies inside its file's text on character
//! boundaries; diagnostics come out sorted; and a second run gives the identical report.
//!
//! Each property runs `DEFAULT_CASES` cases (about 12 s in all in a debug build); set
//! `PROPTEST_CASES` to run more, e.g. `PROPTEST_CASES=5000 cargo test --test cli fuzz`.
//! Failures are not persisted to a regressions file: proptest prints the minimal input.

use std::path::PathBuf;

use dappmesh_compiler::diagnostic::Location;
use dappmesh_compiler::load::{self, Limits};
use dappmesh_compiler::report::{self, Format, HumanOptions};
use dappmesh_compiler::validate::{self, Outcome};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

use super::harness::{TempDir, repo_root};

const DEFAULT_CASES: u32 = 800;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Loads and validates `paths`; panics inside dappctl surface as proptest failures.
fn check(paths: &[PathBuf]) -> Outcome {
    let loaded = load::load(paths, Limits::default()).expect("the files are readable");
    validate::validate(loaded)
}

fn location_ok(outcome: &Outcome, location: Location, what: &str) -> Result<(), TestCaseError> {
    let files = &outcome.report.files;
    prop_assert!(
        location.file < files.len(),
        "{what}: file index {} out of {} files",
        location.file,
        files.len()
    );
    let text: &str = files[location.file].text();
    let span = location.span;
    prop_assert!(
        span.start <= span.end && span.end <= text.len(),
        "{what}: span {span:?} outside a text of {} bytes",
        text.len()
    );
    prop_assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: span {span:?} is not on character boundaries of {:?}",
        &text[span.start.saturating_sub(4)..(span.end + 4).min(text.len())]
            .escape_debug()
            .to_string()
    );
    Ok(())
}

/// Every property, for the files at `paths`.
fn holds(paths: &[PathBuf]) -> Result<(), TestCaseError> {
    let outcome = check(paths);
    let diagnostics = &outcome.report.diagnostics;
    for d in diagnostics {
        if let Some(location) = d.location {
            location_ok(&outcome, location, d.code)?;
        }
        for related in &d.related {
            location_ok(&outcome, related.location, d.code)?;
        }
    }
    let keys: Vec<_> = diagnostics
        .iter()
        .map(|d| d.location.map(|l| (l.file, l.span.start)))
        .collect();
    prop_assert!(
        keys.is_sorted(),
        "diagnostics are not sorted by file and position: {keys:?}"
    );
    prop_assert_eq!(
        outcome.validated.is_some(),
        !outcome.report.fails(false),
        "a validated mesh exactly when there is no error"
    );

    // Rendering must not panic either, whatever the spans and texts are.
    let human = Format::Human(HumanOptions {
        color: false,
        width: 80,
    });
    for format in [human, Format::Sarif, Format::Github] {
        report::render(&outcome.report, format, false);
    }
    let json = report::render(&outcome.report, Format::Json, false);

    let again = check(paths);
    prop_assert_eq!(
        diagnostics,
        &again.report.diagnostics,
        "a second run differs"
    );
    prop_assert_eq!(
        json,
        report::render(&again.report, Format::Json, false),
        "a second run renders differently"
    );
    Ok(())
}

/// The example mesh's files, in path order.
fn example_files() -> Vec<PathBuf> {
    load::discover(&[repo_root().join("examples")]).expect("examples/ is readable")
}

// ---------------------------------------------------------------------------------------
// (a) arbitrary bytes

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Anything at all: mostly not UTF-8.
        3 => prop::collection::vec(any::<u8>(), 0..512),
        // Text-like bytes, with the odd control or high byte.
        2 => prop::collection::vec(
            prop_oneof![8 => 0x20u8..0x7f, 1 => Just(b'\n'), 1 => any::<u8>()],
            0..512
        ),
        // Valid UTF-8, including multi-byte characters.
        2 => ".{0,200}".prop_map(String::into_bytes),
    ]
}

#[test]
fn arbitrary_bytes() {
    let dir = TempDir::new("fuzz-bytes");
    proptest!(config(), |(bytes in bytes_strategy())| {
        let path = dir.write("input.yaml", &bytes);
        holds(&[path])?;
    });
}

// ---------------------------------------------------------------------------------------
// (b) mutations of the example files

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Remove up to `len` bytes.
    Delete(Index, usize),
    /// Repeat a range of up to `len` lines right after itself.
    DuplicateLines(Index, usize),
    /// Keep only a prefix.
    Truncate(Index),
    /// Overwrite a byte with one that means something to YAML.
    Poke(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::DuplicateLines(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), prop::sample::select(b"{}[]:,-&*!|>'\"#? \n\t%@".to_vec()))
            .prop_map(|(i, b)| Mutation::Poke(i, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    match *mutation {
        Mutation::Flip(ref i, mask) => {
            let at = i.index(bytes.len());
            bytes[at] ^= mask;
        }
        Mutation::Delete(ref i, len) => {
            let at = i.index(bytes.len());
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::DuplicateLines(ref i, lines) => {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(
                    bytes
                        .iter()
                        .enumerate()
                        .filter(|&(_, &b)| b == b'\n')
                        .map(|(at, _)| at + 1),
                )
                .filter(|&at| at < bytes.len())
                .collect();
            let first = i.index(starts.len());
            let start = starts[first];
            let end = starts.get(first + lines).copied().unwrap_or(bytes.len());
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Truncate(ref i) => {
            let at = i.index(bytes.len());
            bytes.truncate(at);
        }
        Mutation::Poke(ref i, b) => {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
    }
    bytes
}

#[test]
fn mutated_examples() {
    let files = example_files();
    let texts: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("example readable"))
        .collect();
    let dir = TempDir::new("fuzz-mutations");
    let count = files.len();
    let strategy = (0..count, prop::collection::vec(mutation(), 1..5));
    proptest!(config(), |((which, mutations) in strategy)| {
        let mutant = mutations.iter().fold(texts[which].clone(), apply);
        // The mutant takes the original's place in the mesh, so cross-document rules (ports,
        // consumers, duplicate names) see it next to the intact files.
        let name = files[which].file_name().expect("a file name").to_owned();
        let path = dir.write(&name.to_string_lossy(), &mutant);
        let mut paths = files.clone();
        paths[which] = path;
        holds(&paths)?;
    });
}

#[test]
fn unmutated_examples_are_valid() {
    // The baseline the mutations start from: without a mutation, no diagnostic at all.
    let outcome = check(&example_files());
    assert!(
        outcome.report.diagnostics.is_empty(),
        "{:?}",
        outcome.report.diagnostics
    );
}

// ---------------------------------------------------------------------------------------
// (c) YAML token soup

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    ",",
    ", ",
    "- ",
    "-",
    "? ",
    "&a ",
    "&b ",
    "*a",
    "*b",
    "*c",
    "!!str ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!null ",
    "!!map ",
    "!!seq ",
    "!!binary ",
    "!local ",
    "!<tag:x> ",
    "'",
    "''",
    "\"",
    "\\",
    "\\u00e9",
    "\n",
    "\n",
    "\n",
    "\r\n",
    " ",
    "  ",
    "    ",
    "\t",
    "#",
    " # comment",
    "|",
    "|-",
    ">",
    ">+",
    "---",
    "---\n",
    "...",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2024:\n",
    "<<: *a",
    "key",
    "name",
    "x",
    "é",
    "日本",
    "😀",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "~",
    "null",
    "true",
    "yes",
    "0x1F",
    "0o17",
    "1e9",
    ".inf",
    "-.inf",
    ".nan",
    "123",
    "99999999999999999999",
    "1.0.0",
    "orders@1.0.0",
    "port:src",
    "apiVersion: dappmesh.io/v1alpha1\n",
    "kind: DataProduct\n",
    "kind: Mesh\n",
    "kind: Domain\n",
    "metadata:\n",
    "  name: orders\n",
    "  domain: sales\n",
    "spec:\n",
    "  dataAtRest:\n",
    "    schemas:\n",
    "      - ",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.concat())
}

#[test]
fn token_soup() {
    let dir = TempDir::new("fuzz-soup");
    proptest!(config(), |(text in soup())| {
        let path = dir.write("soup.yaml", text.as_bytes());
        holds(&[path])?;
    });
}

#[test]
fn token_soup_inside_a_mesh() {
    // The same soup as a product file of the example mesh, so documents that happen to
    // parse meet the whole-mesh rules.
    let files = example_files();
    let dir = TempDir::new("fuzz-soup-mesh");
    let config = Config {
        cases: config().cases / 2,
        ..config()
    };
    proptest!(config, |(text in soup())| {
        let prefix = "apiVersion: dappmesh.io/v1alpha1\nkind: DataProduct\n";
        let path = dir.write("products/zz-soup.yaml", format!("{prefix}{text}"));
        let mut paths = files.clone();
        paths.push(path);
        holds(&paths)?;
    });
}
