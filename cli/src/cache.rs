//! What dappctl keeps between runs, outside the user's files: one directory in the user's
//! cache (`DAPPCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/dappctl` or `~/.cache/dappctl`), and the
//! identity of the build that wrote an entry. Everything kept there only saves work: a
//! missing, stale or corrupt entry makes a run do more, never something different.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The file for one kind of entry (`prefix`) about one thing (`about`, hashed into the
/// name), created directory and all. None when the user has no cache directory.
pub fn file(prefix: &str, about: &[u8]) -> Option<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = env("DAPPCTL_CACHE_DIR").or_else(|| {
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .map(|c| c.join("dappctl"))
    })?;
    std::fs::create_dir_all(&base).ok()?;
    let key = xxhash_rust::xxh3::xxh3_64(about);
    Some(base.join(format!("{prefix}-{key:016x}")))
}

/// The name, in the cache, of a path given on the command line: its absolute form.
pub fn about_path(path: &Path) -> Option<Vec<u8>> {
    let absolute = std::path::absolute(path).ok()?;
    Some(absolute.into_os_string().into_encoded_bytes())
}

/// This build of dappctl: its version, and the size and modification time of its executable.
/// A rebuilt binary (new templates, schemas or rules under the same version number) is a
/// different build, so it never trusts what another one concluded. None when the executable
/// cannot be found: then nothing is cached.
pub fn build() -> Option<u64> {
    static BUILD: OnceLock<Option<u64>> = OnceLock::new();
    *BUILD.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let meta = std::fs::metadata(exe).ok()?;
        let modified = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(&meta.len().to_le_bytes());
        hasher.update(&modified.to_le_bytes());
        Some(hasher.digest())
    })
}
