//! The memo hook: documents an earlier run found valid, which validation takes instead of
//! parsing and checking their file again. The compiler says what is remembered and when; where
//! it is kept is the caller's (dappctl keeps it in the user's cache, the operator nowhere).

use super::{Checked, Doc};
use crate::load::SpecFile;
use crate::schema::Kind;

/// What one document of a remembered file was: a typed document's kind and compact JSON, or
/// nothing at all (an empty document between `---` lines).
pub type Remembered = Option<(Kind, String)>;

/// Where validation looks up files it checked before, by the hash of their content
/// ([`hash`]), and tells the files found valid now. The rules across documents always run
/// again; only the per-file parse and schema check is spared.
pub trait Memo: Sync {
    /// The documents of a file whose content hashes to `hash`, if one was found valid before.
    fn recall(&self, hash: u64) -> Option<&[Remembered]>;

    /// A file whose content hashes to `hash` passed, with these documents.
    fn remember(&self, hash: u64, documents: Vec<Remembered>);

    /// Whether [`Memo::remember`] keeps anything: when not, documents are not copied for it.
    fn keeps(&self) -> bool {
        true
    }
}

/// A memo that remembers nothing and keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forgetful;

impl Memo for Forgetful {
    fn recall(&self, _: u64) -> Option<&[Remembered]> {
        None
    }

    fn remember(&self, _: u64, _: Vec<Remembered>) {}

    fn keeps(&self) -> bool {
        false
    }
}

/// The hash a file's content is remembered by.
pub fn hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// The checked documents of `file`, if its content (`hash`) is remembered.
pub(super) fn recall(memo: &dyn Memo, hash: u64, file: &SpecFile) -> Option<Vec<Checked>> {
    let documents = memo.recall(hash)?;
    let mut checked = Vec::with_capacity(documents.len());
    for (index, document) in documents.iter().enumerate() {
        let Some((kind, json)) = document else {
            checked.push(Checked::Skipped(None));
            continue;
        };
        // A document that no longer reads as its kind (a model change the memo's build
        // identity missed) is simply checked again.
        checked.push(match kind {
            Kind::Mesh => Checked::Mesh(typed(file, index, json)?),
            Kind::Domain => Checked::Domain(typed(file, index, json)?),
            Kind::DataProduct => Checked::Product(typed(file, index, json)?),
        });
    }
    Some(checked)
}

/// Remembers a file whose every document passed its schema (or was empty); a file with
/// anything to report is checked again next time.
pub(super) fn remember(memo: &dyn Memo, hash: u64, checked: &[Checked]) {
    if !memo.keeps() {
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
        memo.remember(hash, documents);
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
