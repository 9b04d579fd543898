//! The tokens in force, and where they come from: the `--tokens-file` paths (files, or
//! directories of files as the kubelet mounts a Secret), re-read while the server runs so
//! that a changed Secret takes effect without a restart, and the inline `--tokens`, read
//! once.
//!
//! A directory stands for every regular file in it (a symlink to one counts) whose name
//! does not start with `.`: the kubelet mounts a Secret as `key -> ..data/key` symlinks
//! and swaps the `..data` symlink atomically on an update, and the dot names are its
//! internals. Every poll reads each path again as given, so a swapped symlink is
//! followed, and compares what it read with the last time by a hash; only a change is
//! parsed.
//!
//! Each `--tokens-file` path stands alone: when what it holds changed and does not parse
//! (or cannot be read), that path's previous tokens stay in force and the reason is
//! logged once, naming the file and line, while the other paths still update (the
//! operator's Secret of product tokens is not held up by a typo in the admin's file). A
//! change that parses builds a new key ring from every path and replaces the old one at
//! once, so a request sees either the old tokens or the new ones, never a mix.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use dappmesh_service::shutdown::stopped;
use tokio::sync::watch;

use crate::auth::{Tokens, TokensError};

/// Largest tokens file read: a Kubernetes Secret holds at most 1 MiB, and a path pointed
/// at something bigger by mistake should fail rather than fill memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The name that errors give the inline tokens.
const INLINE: &str = "REGISTRY_TOKENS";

/// Why the tokens cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("reading the tokens file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the tokens file {0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(String),
    #[error("{0} is neither a file nor a directory")]
    NotAFile(String),
    #[error(transparent)]
    Tokens(#[from] TokensError),
}

/// What one [`Keyring::reload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Nothing that parses changed: the tokens in force stay.
    Unchanged,
    /// A new key ring is in force, with this many tokens.
    Applied(usize),
    /// A path changed to something that cannot be read or parsed (logged); its previous
    /// tokens stay in force.
    Kept,
}

/// One `--tokens-file` path: what it held when it last parsed, and the hash of what was
/// read from it last (parsed or not), so that a fault is logged once.
struct Source {
    path: PathBuf,
    good: Vec<(String, String)>,
    seen: u64,
}

/// The tokens in force; cheap to share. Requests take the current [`Tokens`] with
/// [`Keyring::current`], which a reload replaces as a whole.
pub struct Keyring {
    sources: Mutex<Vec<Source>>,
    inline: Option<String>,
    current: RwLock<Arc<Tokens>>,
    /// Counts the key rings put in force, for what outlives a request (an event stream)
    /// to check its token again.
    changes: watch::Sender<u64>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("tokens", &self.current())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Reads and parses every source. Unlike a reload, any fault is an error: a missing
    /// path at start is a mistake in the configuration, not an update in progress.
    pub fn load(paths: Vec<PathBuf>, inline: Option<String>) -> Result<Keyring, KeyringError> {
        let mut sources = Vec::with_capacity(paths.len());
        for path in paths {
            let texts = read_source(&path)?;
            sources.push(Source {
                path,
                seen: fingerprint(Ok(&texts)),
                good: texts,
            });
        }
        let tokens = combine(&sources, inline.as_deref())?;
        Ok(Keyring {
            sources: Mutex::new(sources),
            inline,
            current: RwLock::new(Arc::new(tokens)),
            changes: watch::Sender::new(0),
        })
    }

    /// The tokens in force now.
    pub fn current(&self) -> Arc<Tokens> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sees every new key ring put in force.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Reads every path again and puts a new key ring in force if what parses changed.
    pub fn reload(&self) -> Reload {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut changed, mut kept) = (false, false);
        for source in sources.iter_mut() {
            let texts = read_source(&source.path);
            let hash = fingerprint(texts.as_ref());
            if hash == source.seen {
                continue;
            }
            // Logged at most once per new content: the next poll stops at `seen`.
            source.seen = hash;
            match texts.and_then(|texts| Ok(parse(&texts).map(|_| texts)?)) {
                Ok(texts) => {
                    changed |= texts != source.good;
                    source.good = texts;
                }
                Err(e) => {
                    tracing::warn!(
                        "{e}; the previous tokens from {} stay in force",
                        source.path.display()
                    );
                    kept = true;
                }
            }
        }
        if !changed {
            return if kept {
                Reload::Kept
            } else {
                Reload::Unchanged
            };
        }
        match combine(&sources, self.inline.as_deref()) {
            Ok(tokens) => {
                let n = tokens.len();
                if tokens.is_empty() {
                    tracing::warn!("tokens reloaded: none configured, every write is refused");
                } else {
                    tracing::info!(tokens = n, "tokens reloaded");
                }
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(tokens);
                self.changes.send_modify(|n| *n += 1);
                Reload::Applied(n)
            }
            Err(e) => {
                // Each path parses alone, so this is a token listed in two of them.
                tracing::warn!("{e}; the previous tokens stay in force");
                Reload::Kept
            }
        }
    }

    /// Reloads every `every` until `stop` turns true; returns at once without files.
    pub async fn watch(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        if self
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate, and the files were just read.
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stopped(&mut stop) => return,
            }
            let keyring = Arc::clone(&self);
            // Reading files blocks: keep it off the threads that serve requests.
            let _ = tokio::task::spawn_blocking(move || keyring.reload()).await;
        }
    }
}

/// The texts one path holds, as (file name, text): the file, or a directory's files by
/// name.
fn read_source(path: &Path) -> Result<Vec<(String, String)>, KeyringError> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    let mut texts = Vec::new();
    if meta.is_dir() {
        read_dir(path, &mut texts)?;
    } else if meta.is_file() {
        texts.push((path.display().to_string(), read_file(path)?));
    } else {
        return Err(KeyringError::NotAFile(path.display().to_string()));
    }
    Ok(texts)
}

/// The regular files of `dir` whose names do not start with `.`, by name. An entry that
/// is gone by the time it is read (a key removed from the Secret while it is listed, or a
/// symlink left dangling by the swap) is skipped: it no longer holds tokens.
fn read_dir(dir: &Path, texts: &mut Vec<(String, String)>) -> Result<(), KeyringError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let name = entry.file_name();
        if !name.as_encoded_bytes().starts_with(b".") {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(name);
        let text = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => read_file(&path),
            // Subdirectories and special files are not tokens files.
            Ok(_) => continue,
            Err(e) => Err(read_error(&path, e)),
        };
        match text {
            Ok(text) => texts.push((path.display().to_string(), text)),
            Err(KeyringError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<String, KeyringError> {
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| read_error(path, e))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(KeyringError::TooLarge(path.display().to_string()));
    }
    Ok(text)
}

fn read_error(path: &Path, source: std::io::Error) -> KeyringError {
    KeyringError::Read {
        path: path.display().to_string(),
        source,
    }
}

fn parse(texts: &[(String, String)]) -> Result<Tokens, TokensError> {
    let mut tokens = Tokens::default();
    for (name, text) in texts {
        tokens.add(name, text)?;
    }
    Ok(tokens)
}

/// The key ring of every path's good texts, then the inline tokens.
fn combine(sources: &[Source], inline: Option<&str>) -> Result<Tokens, TokensError> {
    let mut tokens = Tokens::default();
    for (name, text) in sources.iter().flat_map(|s| &s.good) {
        tokens.add(name, text)?;
    }
    if let Some(text) = inline {
        tokens.add(INLINE, text)?;
    }
    Ok(tokens)
}

/// A hash of what was read, or of why it could not be: two polls that see the same fault
/// hash alike, so it is logged once.
fn fingerprint(texts: Result<&Vec<(String, String)>, &KeyringError>) -> u64 {
    // Fixed keys: the hash is compared only within this process, never shown.
    let mut h = std::hash::DefaultHasher::new();
    match texts {
        Ok(texts) => {
            0u8.hash(&mut h);
            texts.hash(&mut h);
        }
        Err(e) => {
            1u8.hash(&mut h);
            e.to_string().hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Need, ReadAccess};

    const ONE: &str = "first-token-0123456789";
    const TWO: &str = "second-token-0123456789";

    fn valid(k: &Keyring, token: &str) -> bool {
        k.current()
            .check(Some(token), Need::Read, ReadAccess::Token)
            .is_ok()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("keyring-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_directory_is_its_visible_regular_files() {
        let d = dir("visible");
        std::fs::write(d.join("b"), format!("{TWO} read")).unwrap();
        std::fs::write(d.join(".hidden"), "not a token line").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        let k = Keyring::load(vec![d.clone()], Some(format!("{ONE} read"))).unwrap();
        assert!(valid(&k, ONE) && valid(&k, TWO));
        assert_eq!(k.current().len(), 2);
        let empty = dir("empty");
        assert!(
            Keyring::load(vec![empty.clone()], None)
                .unwrap()
                .current()
                .is_empty()
        );
        let missing = Keyring::load(vec![d.join("nope")], None).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        std::fs::remove_dir_all(d).unwrap();
        std::fs::remove_dir_all(empty).unwrap();
    }

    #[test]
    fn a_change_applies_and_a_bad_one_keeps_that_paths_tokens() {
        const THREE: &str = "third-token-0123456789";
        let d = dir("reload");
        let file = d.join("tokens");
        let products = d.join("products");
        std::fs::create_dir(&products).unwrap();
        std::fs::write(&file, format!("{ONE} read")).unwrap();
        let k = Keyring::load(vec![file.clone(), products.clone()], None).unwrap();
        assert_eq!(k.reload(), Reload::Unchanged);
        std::fs::write(&file, format!("{TWO} read")).unwrap();
        assert_eq!(k.reload(), Reload::Applied(1));
        assert!(valid(&k, TWO) && !valid(&k, ONE));

        std::fs::write(&file, format!("{ONE} read\n{ONE} read")).unwrap();
        assert_eq!(k.reload(), Reload::Kept);
        assert_eq!(k.reload(), Reload::Unchanged, "the same fault is seen once");
        // The other path still updates, with the bad one's previous tokens.
        std::fs::write(
            products.join("orders"),
            format!("{THREE} registry:orders.chart"),
        )
        .unwrap();
        assert_eq!(k.reload(), Reload::Applied(2));
        assert!(valid(&k, TWO) && !valid(&k, ONE));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(k.reload(), Reload::Kept);
        assert!(valid(&k, TWO), "a vanished file keeps its tokens");

        // Each path parses alone, but together they list a token twice: nothing changes.
        std::fs::write(&file, format!("{TWO} read")).unwrap();
        std::fs::write(products.join("twice"), format!("{TWO} read")).unwrap();
        assert_eq!(k.reload(), Reload::Kept);
        assert_eq!(k.current().len(), 2);
        std::fs::remove_dir_all(d).unwrap();
    }
}
