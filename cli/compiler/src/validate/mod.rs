//! Validation: every loaded document against its kind's schema, then the rules that span the
//! whole mesh. The outcome is a [`Report`] of every problem found and, only when there is no
//! error, a [`Validated`] mesh: the one input later steps (render, apply) accept.

mod document;
mod memo;
mod rules;

use std::sync::Arc;

use rayon::prelude::*;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{DocSpans, Loaded, LoadedDocument, SpecFile};
use crate::model::{DataProduct, Domain, Mesh};
use crate::schema::Kind;
use crate::source::{SourceFile, Span};
use document::Envelope;
pub use memo::{Forgetful, Memo, Remembered};

/// A document that passed its schema, with its typed form and the tree it came from (so later
/// rules can still point at the exact text).
#[derive(Debug)]
pub struct Doc<T> {
    pub file: usize,
    pub spans: DocSpans,
    pub spec: T,
    /// The document as compact JSON text, as written: what render copies into custom
    /// resources. Text, because a tree of every document would double the mesh's memory.
    pub json: String,
}

impl<T> Doc<T> {
    /// The span to underline for the value at a JSON Pointer such as `/spec/storage/0/name`.
    pub fn span(&self, pointer: &str) -> Span {
        self.spans.label(&segments(pointer))
    }

    pub fn error(
        &self,
        code: &'static str,
        message: impl Into<String>,
        pointer: &str,
    ) -> Diagnostic {
        Diagnostic::error(code, message).at(self.file, self.span(pointer))
    }

    pub fn warning(
        &self,
        code: &'static str,
        message: impl Into<String>,
        pointer: &str,
    ) -> Diagnostic {
        Diagnostic::warning(code, message).at(self.file, self.span(pointer))
    }
}

fn segments(pointer: &str) -> Vec<&str> {
    pointer.split('/').skip(1).collect()
}

/// A mesh whose every document holds to the model and every cross-document rule.
#[derive(Debug)]
pub struct Validated {
    pub mesh: Doc<Mesh>,
    pub domains: Vec<Doc<Domain>>,
    pub products: Vec<Doc<DataProduct>>,
}

/// Everything found, and the files the diagnostics point into.
#[derive(Debug)]
pub struct Report {
    pub files: Vec<Arc<SourceFile>>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many documents were checked.
    pub documents: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether the mesh fails: any error, or with `strict` any warning too.
    pub fn fails(&self, strict: bool) -> bool {
        self.count(Severity::Error) > 0 || (strict && self.count(Severity::Warning) > 0)
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub validated: Option<Validated>,
}

/// Documents sorted by kind, each either typed or known only by name (it failed its schema).
#[derive(Default)]
struct Sorted {
    meshes: Vec<Doc<Mesh>>,
    domains: Vec<Doc<Domain>>,
    products: Vec<Doc<DataProduct>>,
    /// (domain, name) of products that failed their schema: references to them are not
    /// reported again as unresolved.
    broken_products: Vec<(String, String)>,
    broken_domains: Vec<String>,
    broken_mesh: bool,
    /// Some file or document could not even be identified (a YAML error, no `kind`): names
    /// it declares are unknown, so "not found" rules would only add noise.
    incomplete: bool,
}

enum Checked {
    Mesh(Doc<Mesh>),
    Domain(Doc<Domain>),
    Product(Doc<DataProduct>),
    /// Failed its schema; `domain` and `name` from its metadata, when they are strings.
    Broken {
        kind: Kind,
        domain: Option<String>,
        name: Option<String>,
        found: Vec<Diagnostic>,
    },
    Skipped(Option<Diagnostic>),
    Unidentified(Diagnostic),
}

/// Validates documents already loaded.
pub fn validate(loaded: Loaded) -> Outcome {
    let Loaded {
        files,
        documents,
        diagnostics,
    } = loaded;
    let documents = documents.into_par_iter().map(check_document).collect();
    conclude(Loaded {
        files,
        documents,
        diagnostics,
    })
}

/// Finds, loads and validates every spec file below `paths`. Each document is checked as
/// soon as its file is parsed, so the mesh is never held as JSON all at once.
pub fn validate_paths(paths: &[std::path::PathBuf]) -> Result<Outcome, crate::load::LoadError> {
    validate_paths_with(paths, &Forgetful)
}

/// Validates spec documents held in memory, each text named by the path its diagnostics
/// show: the operator's way in, whose mesh comes from the cluster rather than from files.
pub fn validate_texts(texts: Vec<crate::source::SourceFile>) -> Outcome {
    let loaded = crate::load::load_texts(texts, crate::load::Limits::default(), |file| {
        Ok(file.parse()?.into_iter().map(check_document).collect())
    });
    conclude(loaded)
}

/// [`validate_paths`], skipping the files whose content `memo` remembers as valid, and
/// telling it about the ones found valid now.
pub fn validate_paths_with(
    paths: &[std::path::PathBuf],
    memo: &dyn Memo,
) -> Result<Outcome, crate::load::LoadError> {
    let files = crate::load::discover(paths)?;
    let loaded = crate::load::load_with(&files, crate::load::Limits::default(), |file| {
        check_file(file, memo)
    })?;
    Ok(conclude(loaded))
}

fn check_file(file: &SpecFile, memo: &dyn Memo) -> Result<Vec<Checked>, Box<Diagnostic>> {
    let hash = memo::hash(file.source.text());
    if let Some(checked) = memo::recall(memo, hash, file) {
        return Ok(checked);
    }
    let checked: Vec<Checked> = file.parse()?.into_iter().map(check_document).collect();
    memo::remember(memo, hash, &checked);
    Ok(checked)
}

/// The rules across documents, over the documents checked one by one.
fn conclude(loaded: Loaded<Checked>) -> Outcome {
    let Loaded {
        files,
        documents: checked,
        mut diagnostics,
    } = loaded;
    let count = checked.len();
    // Every load diagnostic is a file that yielded no documents at all.
    let unreadable_files = !diagnostics.is_empty();

    let mut sorted = Sorted {
        incomplete: unreadable_files,
        ..Sorted::default()
    };
    for outcome in checked {
        match outcome {
            Checked::Mesh(d) => sorted.meshes.push(d),
            Checked::Domain(d) => sorted.domains.push(d),
            Checked::Product(d) => sorted.products.push(d),
            Checked::Broken {
                kind,
                domain,
                name,
                found,
            } => {
                diagnostics.extend(found);
                match (kind, domain, name) {
                    (Kind::Mesh, ..) => sorted.broken_mesh = true,
                    (Kind::Domain, _, Some(name)) => sorted.broken_domains.push(name),
                    (Kind::DataProduct, Some(domain), Some(product)) => {
                        sorted.broken_products.push((domain, product));
                    }
                    // A broken document whose name is unknown may be the one others refer to.
                    _ => sorted.incomplete = true,
                }
            }
            Checked::Skipped(found) => diagnostics.extend(found),
            Checked::Unidentified(d) => {
                sorted.incomplete = true;
                diagnostics.push(d);
            }
        }
    }

    diagnostics.extend(rules::check(&sorted));
    sort(&mut diagnostics);
    cap(&mut diagnostics);
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let validated = if has_errors || sorted.meshes.len() != 1 {
        None
    } else {
        let Sorted {
            mut meshes,
            domains,
            products,
            ..
        } = sorted;
        Some(Validated {
            mesh: meshes.remove(0),
            domains,
            products,
        })
    };
    Outcome {
        report: Report {
            files,
            diagnostics,
            documents: count,
        },
        validated,
    }
}

fn check_document(document: LoadedDocument) -> Checked {
    let LoadedDocument { file, json, spans } = document;
    let kind = match document::envelope(file, &json, &spans) {
        Envelope::Kind(kind) => kind,
        Envelope::Empty => return Checked::Skipped(None),
        Envelope::Foreign(d) => return Checked::Skipped(Some(d)),
        Envelope::Invalid(d) => return Checked::Unidentified(d),
    };
    let found = document::check(file, kind, &json, &spans);
    if !found.is_empty() {
        return broken(kind, &json, found);
    }
    match kind {
        Kind::Mesh => typed(kind, file, spans, json, Checked::Mesh),
        Kind::Domain => typed(kind, file, spans, json, Checked::Domain),
        Kind::DataProduct => typed(kind, file, spans, json, Checked::Product),
    }
}

fn broken(kind: Kind, json: &serde_json::Value, found: Vec<Diagnostic>) -> Checked {
    let name = |key: &str| {
        json.get("metadata")
            .and_then(|m| m.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Checked::Broken {
        kind,
        domain: name("domain"),
        name: name("name"),
        found,
    }
}

/// A document's JSON text, without the spare capacity the writer grew it by (up to half of
/// it): every document's text is kept for as long as the mesh is.
fn exact_text(json: &serde_json::Value) -> String {
    let mut text = json.to_string();
    text.shrink_to_fit();
    text
}

/// The typed form of a document that passed its schema. A failure here means the schema and
/// the Rust model disagree: a bug in dappctl, reported as such rather than a panic.
fn typed<T: DeserializeOwned>(
    kind: Kind,
    file: usize,
    spans: DocSpans,
    json: serde_json::Value,
    wrap: fn(Doc<T>) -> Checked,
) -> Checked {
    match T::deserialize(&json) {
        Ok(spec) => wrap(Doc {
            file,
            spans,
            spec,
            json: exact_text(&json),
        }),
        Err(e) => {
            let span = spans.label::<&str>(&[]);
            let d = Diagnostic::error(
                "internal::model",
                format!("dappctl could not read this document: {e}"),
            )
            .at(file, span)
            .help("the schema accepted it, so this is a bug in dappctl; please report it");
            // The JSON is spent; without it the names are unknown (see `Sorted::incomplete`).
            broken(kind, &serde_json::Value::Null, vec![d])
        }
    }
}

/// Diagnostics a report shows: a hostile or generated tree can have a million, and no
/// reader gets past the first few hundred.
pub const MAX_REPORTED: usize = 1000;

/// Keeps the first [`MAX_REPORTED`] diagnostics (in report order) and says what was left out,
/// as an error if any left out was one, so the exit code stays what it would have been.
fn cap(diagnostics: &mut Vec<Diagnostic>) {
    if diagnostics.len() <= MAX_REPORTED {
        return;
    }
    let dropped = &diagnostics[MAX_REPORTED..];
    let errors = dropped
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = dropped.len() - errors;
    let message = format!(
        "{} more diagnostics are not shown ({errors} errors, {warnings} warnings)",
        dropped.len()
    );
    let help = "fix the ones shown and run again, or validate fewer files at a time";
    let note = if errors > 0 {
        Diagnostic::error("report::truncated", message)
    } else {
        Diagnostic::warning("report::truncated", message)
    };
    diagnostics.truncate(MAX_REPORTED);
    diagnostics.push(note.help(help));
}

/// Diagnostics in a stable order: by file (files are loaded in path order), then position,
/// then code and message.
fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.location.map(|l| (l.file, l.span.start));
        key(a)
            .cmp(&key(b))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::source::SourceFile;

    fn examples() -> Vec<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        crate::load::discover(&[root]).expect("the examples are there")
    }

    #[test]
    fn texts_in_memory_validate_as_the_same_files_do() {
        let files = examples();
        let texts: Vec<SourceFile> = files
            .iter()
            .map(|p| SourceFile::new(p.clone(), std::fs::read_to_string(p).unwrap()))
            .collect();
        let from_files = validate_paths(&files).unwrap();
        let from_texts = validate_texts(texts);
        let products = |o: &Outcome| o.validated.as_ref().map(|v| v.products.len());
        assert_eq!(products(&from_texts), products(&from_files));
        assert!(products(&from_texts).is_some_and(|n| n > 0));

        // A text that breaks the schema fails, as the same file would.
        let broken = vec![SourceFile::new(
            PathBuf::from("dataproducts/sales/orders.yaml"),
            "apiVersion: dappmesh.io/v1alpha1\nkind: DataProduct\nmetadata: {}\n",
        )];
        let outcome = validate_texts(broken);
        assert!(outcome.report.fails(false));
        assert!(outcome.validated.is_none());
    }
}
