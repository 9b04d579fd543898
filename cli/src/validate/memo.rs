//! Documents remembered from an earlier run. For a spec file whose exact content passed its
//! schema before, the memo holds the JSON of each of its documents, so a later run skips
//! parsing and checking the file again; the rules across documents always run again. It is
//! kept in dappctl's [cache](crate::cache), one file per set of input paths, and trusted only
//! by the build of dappctl that wrote it.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Checked, Doc};
use crate::load::SpecFile;
use crate::schema::Kind;

/// What one document of a remembered file was: a typed document's kind and JSON, or nothing
/// at all (an empty document between `---` lines).
type Remembered = Option<(Kind, String)>;

const HEADER: &str = "dappctl-documents";

#[derive(Debug, Default)]
pub struct Memo {
    path: Option<PathBuf>,
    build: u64,
    /// What the last run remembered, by hash of the file's content.
    known: HashMap<u64, Vec<Remembered>>,
    /// Whether the memo's file was there and written by this build.
    loaded: bool,
    this_run: Mutex<ThisRun>,
}

/// This run's files: the ones remembered, by hash, and the ones newly found good.
#[derive(Debug, Default)]
struct ThisRun {
    recalled: Vec<u64>,
    found: Vec<(u64, Vec<Remembered>)>,
}

impl Memo {
    /// A memo that remembers nothing and keeps nothing.
    pub fn none() -> Memo {
        Memo::default()
    }

    /// The memo for a run over `paths`, with what the last run over the same paths left.
    pub fn load(paths: &[PathBuf]) -> Memo {
        let Some(build) = crate::cache::build() else {
            return Memo::none();
        };
        let mut about = Vec::new();
        for path in paths {
            match crate::cache::about_path(path) {
                Some(bytes) => about.extend(bytes),
                None => return Memo::none(),
            }
            about.push(0);
        }
        let Some(path) = crate::cache::file(crate::cache::Entry::Documents, &about) else {
            return Memo::none();
        };
        let known = fs::read_to_string(&path)
            .ok()
            .and_then(|text| parse(&text, build));
        Memo {
            path: Some(path),
            build,
            loaded: known.is_some(),
            known: known.unwrap_or_default(),
            this_run: Mutex::default(),
        }
    }

    /// The hash a file's content is remembered by.
    pub(super) fn hash(text: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    /// The checked documents of `file`, if its content (`hash`) is remembered.
    pub(super) fn recall(&self, hash: u64, file: &SpecFile) -> Option<Vec<Checked>> {
        let documents = self.known.get(&hash)?;
        let mut checked = Vec::with_capacity(documents.len());
        for (index, document) in documents.iter().enumerate() {
            let Some((kind, json)) = document else {
                checked.push(Checked::Skipped(None));
                continue;
            };
            // A document that no longer reads as its kind (a model change the build
            // identity missed) is simply checked again.
            checked.push(match kind {
                Kind::Mesh => Checked::Mesh(typed(file, index, json)?),
                Kind::Domain => Checked::Domain(typed(file, index, json)?),
                Kind::DataProduct => Checked::Product(typed(file, index, json)?),
            });
        }
        self.lock().recalled.push(hash);
        Some(checked)
    }

    /// Remembers a file whose every document passed its schema (or was empty); a file with
    /// anything to report is checked again next time.
    pub(super) fn remember(&self, hash: u64, checked: &[Checked]) {
        if self.path.is_none() {
            return;
        }
        let documents: Option<Vec<Remembered>> = checked
            .iter()
            .map(|c| match c {
                Checked::Mesh(d) => Some(Some((Kind::Mesh, d.json.clone()))),
                Checked::Domain(d) => Some(Some((Kind::Domain, d.json.clone()))),
                Checked::Product(d) => Some(Some((Kind::DataProduct, d.json.clone()))),
                Checked::Skipped(None) => Some(None),
                _ => None,
            })
            .collect();
        if let Some(documents) = documents {
            self.lock().found.push((hash, documents));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ThisRun> {
        // A panic elsewhere cannot leave the lists half-changed: each change is one push.
        self.this_run
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps this run's files for the next run, when they differ from what was loaded. A memo
    /// that cannot be written costs the next run time, never correctness.
    pub fn save(self) {
        let Some(path) = self.path else { return };
        let ThisRun {
            mut recalled,
            found: mut new,
        } = self
            .this_run
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recalled.sort_unstable();
        recalled.dedup();
        new.sort_by_key(|(hash, _)| *hash);
        new.dedup_by_key(|(hash, _)| *hash);
        // Files that changed or went leave their old entries behind. Until those are as many
        // as the live ones, new entries are appended (a few kilobytes after one edit) rather
        // than the whole memo rewritten (megabytes for a large mesh).
        let dead = self.known.len() - recalled.len();
        if self.loaded && dead <= recalled.len() + new.len() {
            if !new.is_empty() {
                let _ = crate::write::append(&path, &entries(&new));
            }
            return;
        }
        let mut known = self.known;
        let mut files: Vec<(u64, Vec<Remembered>)> = recalled
            .into_iter()
            .filter_map(|hash| Some((hash, known.remove(&hash)?)))
            .chain(new)
            .collect();
        files.sort_by_key(|(hash, _)| *hash);
        let text = format!("{HEADER}\t{:016x}\n{}", self.build, entries(&files));
        let _ = crate::write::replace(&path, text.as_bytes(), false);
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    file: &SpecFile,
    index: usize,
    json: &str,
) -> Option<Doc<T>> {
    Some(Doc {
        file: file.index,
        spans: file.spans(index),
        spec: serde_json::from_str(json).ok()?,
        json: json.to_owned(),
    })
}

/// The memo's entries: per file a line with its hash and its number of documents, and a
/// line per document (`-` for an empty one). Compact JSON has no raw newline or tab, so every
/// document fits one line. The file starts with a header naming the build that wrote it.
fn entries(files: &[(u64, Vec<Remembered>)]) -> String {
    let mut text = String::new();
    for (hash, documents) in files {
        text.push_str(&format!("{hash:016x}\t{}\n", documents.len()));
        for document in documents {
            match document {
                Some((kind, json)) => {
                    text.push_str(kind.name());
                    text.push('\t');
                    text.push_str(json);
                    text.push('\n');
                }
                None => text.push_str("-\n"),
            }
        }
    }
    text
}

fn parse(text: &str, build: u64) -> Option<HashMap<u64, Vec<Remembered>>> {
    let mut lines = text.lines();
    let (header, written_by) = lines.next()?.split_once('\t')?;
    if header != HEADER || u64::from_str_radix(written_by, 16).ok()? != build {
        return None;
    }
    let mut known = HashMap::new();
    while let Some(line) = lines.next() {
        let (hash, count) = line.split_once('\t')?;
        let hash = u64::from_str_radix(hash, 16).ok()?;
        let count: usize = count.parse().ok()?;
        let mut documents = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let line = lines.next()?;
            documents.push(match line {
                "-" => None,
                _ => {
                    let (kind, json) = line.split_once('\t')?;
                    Some((Kind::from_name(kind)?, json.to_owned()))
                }
            });
        }
        known.insert(hash, documents);
    }
    Some(known)
}
