//! What dappctl keeps between runs, outside the user's files: one directory in the user's
//! cache (`DAPPCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/dappctl` or `~/.cache/dappctl`), and the
//! identity of the build that wrote an entry. Everything kept there only saves work: a
//! missing, stale or corrupt entry makes a run do more, never something different.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// What an entry holds, which names its file.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    /// The documents validated, per set of input paths.
    Documents,
    /// The fingerprints of the files written, per output directory.
    Fingerprints,
}

impl Entry {
    const ALL: [Entry; 2] = [Entry::Documents, Entry::Fingerprints];

    fn prefix(self) -> &'static str {
        match self {
            Entry::Documents => "documents",
            Entry::Fingerprints => "fingerprints",
        }
    }
}

/// An entry not used for this long is removed. Every checkout, temporary directory or CI
/// workspace rendered once leaves megabytes behind that nothing would ever read again.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The cache is swept at most this often; the time of the last sweep is [`SWEPT`]'s.
const SWEEP_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
const SWEPT: &str = ".swept";

/// The file for one kind of entry about one thing (`about`, hashed into the name), created
/// directory and all, and marked as used now. None when the user has no cache directory.
pub fn file(entry: Entry, about: &[u8]) -> Option<PathBuf> {
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
    file_in(&base, entry, about)
}

fn file_in(base: &Path, entry: Entry, about: &[u8]) -> Option<PathBuf> {
    fs::create_dir_all(base).ok()?;
    let key = xxhash_rust::xxh3::xxh3_64(about);
    let path = base.join(format!("{}-{key:016x}", entry.prefix()));
    // An entry read but left as it was (nothing changed) is still in use: the sweep goes by
    // modification time. There may be no entry yet.
    let _ = fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    sweep(base);
    Some(path)
}

/// Removes the entries unused for [`UNUSED_FOR`] (and temporary files a killed run left), when
/// the last sweep is [`SWEEP_EVERY`] ago. Files in the directory that are not dappctl's stay.
fn sweep(base: &Path) {
    let marker = base.join(SWEPT);
    let now = SystemTime::now();
    let age = |meta: &fs::Metadata| {
        meta.modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
    };
    // A marker from the future (a clock set back) does not hold sweeping off.
    let due = fs::metadata(&marker).map_or(true, |m| age(&m).is_none_or(|a| a >= SWEEP_EVERY));
    // Claimed before the sweep, so that runs started meanwhile skip it.
    if !due || fs::write(&marker, "").is_err() {
        return;
    }
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = Entry::ALL.iter().any(|kind| {
            name.strip_prefix(kind.prefix())
                .is_some_and(|rest| rest.starts_with('-'))
        }) || super::atomic::is_temporary(&name)
            // The names earlier builds gave.
            || (name.starts_with('.') && name.contains(".tmp-"));
        let unused = entry
            .metadata()
            .is_ok_and(|meta| meta.is_file() && age(&meta).is_some_and(|a| a >= UNUSED_FOR));
        if ours && unused {
            let _ = fs::remove_file(entry.path());
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, days: u64) {
        if !path.exists() {
            fs::write(path, "x").unwrap();
        }
        let when = SystemTime::now() - Duration::from_secs(days * 24 * 60 * 60);
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(when).unwrap();
    }

    #[test]
    fn the_entry_asked_for_is_marked_used_before_the_sweep() {
        let base = std::env::temp_dir().join(format!("dappctl-cache-sweep-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let asked = file_in(&base, Entry::Fingerprints, b"out").unwrap();
        let other = file_in(&base, Entry::Fingerprints, b"elsewhere").unwrap();
        aged(&asked, 40);
        aged(&other, 40);
        aged(&base.join(SWEPT), 2);
        assert_eq!(
            file_in(&base, Entry::Fingerprints, b"out"),
            Some(asked.clone())
        );
        assert!(asked.exists(), "in use, so kept");
        assert!(!other.exists(), "unused for a month");
        fs::remove_dir_all(&base).unwrap();
    }
}
