//! Documents remembered from an earlier run, kept on disk: the compiler's
//! [`Memo`] hook backed by a file in dappctl's cache ([`super::cache`]), one per set of input
//! paths, trusted only by the build of dappctl that wrote it. For a spec file whose exact
//! content passed its schema before, it holds the JSON of each of its documents.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;

use dappmesh_compiler::schema::Kind;
use dappmesh_compiler::validate::{Memo, Remembered};

use super::{atomic, cache};

const HEADER: &str = "dappctl-documents";

#[derive(Debug, Default)]
pub struct Stored {
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

impl Stored {
    /// A memo that remembers nothing and keeps nothing.
    pub fn none() -> Stored {
        Stored::default()
    }

    /// The memo for a run over `paths`, with what the last run over the same paths left.
    pub fn load(paths: &[PathBuf]) -> Stored {
        let Some(build) = cache::build() else {
            return Stored::none();
        };
        let mut about = Vec::new();
        for path in paths {
            match cache::about_path(path) {
                Some(bytes) => about.extend(bytes),
                None => return Stored::none(),
            }
            about.push(0);
        }
        let Some(path) = cache::file(cache::Entry::Documents, &about) else {
            return Stored::none();
        };
        let known = fs::read_to_string(&path)
            .ok()
            .and_then(|text| parse(&text, build));
        Stored {
            path: Some(path),
            build,
            loaded: known.is_some(),
            known: known.unwrap_or_default(),
            this_run: Mutex::default(),
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
                let _ = atomic::append(&path, &entries(&new));
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
        let _ = atomic::replace(&path, text.as_bytes(), false);
    }
}

impl Memo for Stored {
    fn recall(&self, hash: u64) -> Option<&[Remembered]> {
        let documents = self.known.get(&hash)?;
        self.lock().recalled.push(hash);
        Some(documents)
    }

    fn remember(&self, hash: u64, documents: Vec<Remembered>) {
        self.lock().found.push((hash, documents));
    }

    fn keeps(&self) -> bool {
        self.path.is_some()
    }
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
