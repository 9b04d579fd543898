//! Writing output so a reader never sees half of a file: write a temporary file beside the
//! target, then rename it over the target. [`sync`] keeps a whole directory of generated files
//! (a GitOps repository) in step with what should be there, touching only files it owns.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

/// Replaces one file, flushed to disk before the rename.
pub fn atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, true)
}

/// Replaces one file by rename; with `durable`, the data reaches the disk first (one file
/// written by hand), without it only the rename's atomicity holds (thousands of generated
/// files, where a sync per file would dominate).
fn replace(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "output path has no file name")
    })?;
    let temp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The record, inside an output directory, of the files dappctl wrote there: one relative
/// path per line, sorted. Files not listed are someone else's and are never touched. It
/// holds nothing that differs between machines, so it can be committed with the output.
pub const OWNED: &str = ".dappctl-owned";

/// What [`sync`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Files created or whose content changed.
    pub written: Vec<String>,
    /// Files already as they should be.
    pub unchanged: usize,
    /// Files dappctl wrote before that are no longer wanted.
    pub removed: Vec<String>,
}

/// What the fingerprint cache remembers of a file written: a hash of the content and the size
/// and modification time the file had then. When all three still hold, the file is as dappctl
/// left it and is not read again; a hand edit changes the time, and the file is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    hash: u64,
    len: u64,
    modified: u128,
}

impl Fingerprint {
    fn parse(text: &str) -> Option<Fingerprint> {
        let mut parts = text.split(':');
        let fingerprint = Fingerprint {
            hash: u64::from_str_radix(parts.next()?, 16).ok()?,
            len: parts.next()?.parse().ok()?,
            modified: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(fingerprint)
    }

    fn of(hash: u64, metadata: &fs::Metadata) -> Option<Fingerprint> {
        Some(Fingerprint {
            hash,
            len: metadata.len(),
            modified: modified(metadata)?,
        })
    }
}

fn modified(metadata: &fs::Metadata) -> Option<u128> {
    let time = metadata.modified().ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}:{}:{}", self.hash, self.len, self.modified)
    }
}

/// What one sync of an output directory leaves for the next, outside the directory: the
/// fingerprint of every file it wrote, and for each directory of generated files the key of
/// the inputs they were made from. Only an optimisation: a missing, stale or corrupt cache
/// makes the next run compare (and render) more, never less correctly.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    fingerprints: BTreeMap<String, Fingerprint>,
    keys: BTreeMap<String, u64>,
    /// Whether anything differs from the file it was loaded from.
    changed: bool,
}

impl Cache {
    /// The cache of output directory `out` ([`fingerprint_cache`]), empty when there is none.
    pub fn load(out: &Path) -> Cache {
        Cache::at(fingerprint_cache(out))
    }

    /// The cache kept in the file `path` (none: start empty, keep nothing).
    pub fn at(path: Option<PathBuf>) -> Cache {
        let mut cache = Cache::default();
        if let Some(text) = path.as_ref().and_then(|p| fs::read_to_string(p).ok()) {
            for line in text.lines() {
                let mut parts = line.splitn(3, '\t');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("F"), Some(file), Some(print)) => {
                        if let Some(print) = Fingerprint::parse(print) {
                            cache.fingerprints.insert(file.to_owned(), print);
                        }
                    }
                    (Some("K"), Some(dir), Some(key)) => {
                        if let Ok(key) = u64::from_str_radix(key, 16) {
                            cache.keys.insert(dir.to_owned(), key);
                        }
                    }
                    _ => {}
                }
            }
        }
        cache.path = path;
        cache
    }

    /// The files dappctl wrote below `subdir` of `out`, when they were made from inputs with
    /// this `key` and every one is still on disk as written: they need no rendering again.
    pub fn intact(&self, out: &Path, subdir: &str, key: u64) -> Option<Vec<String>> {
        if self.keys.get(subdir) != Some(&key) {
            return None;
        }
        let prefix = format!("{subdir}/");
        let files: Vec<(&String, &Fingerprint)> = self
            .fingerprints
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .collect();
        let untouched = |(path, print): &(&String, &Fingerprint)| {
            fs::metadata(out.join(path)).is_ok_and(|meta| {
                meta.len() == print.len && modified(&meta) == Some(print.modified)
            })
        };
        (!files.is_empty() && files.iter().all(untouched))
            .then(|| files.into_iter().map(|(p, _)| p.clone()).collect())
    }

    fn save(&mut self, owned: &BTreeSet<&String>, keys: &BTreeMap<String, u64>) {
        let Some(path) = &self.path else { return };
        let stale_prints = self.fingerprints.keys().any(|f| !owned.contains(f));
        let new_keys = keys.iter().any(|(k, v)| self.keys.get(k) != Some(v));
        // Thousands of lines: rewritten only when something in them changed.
        if !(self.changed || stale_prints || new_keys) {
            return;
        }
        let mut text = String::new();
        for (file, print) in &self.fingerprints {
            if owned.contains(file) {
                text.push_str(&format!("F\t{file}\t{print}\n"));
            }
        }
        let mut all = self.keys.clone();
        all.extend(keys.iter().map(|(k, v)| (k.clone(), *v)));
        for (dir, key) in all {
            text.push_str(&format!("K\t{dir}\t{key:016x}\n"));
        }
        // A cache that cannot be written costs the next run time, never correctness.
        let _ = replace(path, text.as_bytes(), false);
    }
}

/// What to write: files by relative path with their content, the files a [`Cache`] found
/// intact (kept as they are, still owned), and the keys of the inputs behind each directory.
#[derive(Debug, Default)]
pub struct Output {
    pub files: BTreeMap<String, Vec<u8>>,
    pub intact: BTreeSet<String>,
    pub keys: BTreeMap<String, u64>,
}

/// Makes `dir` hold `output`: writes only files whose content differs, keeps the intact ones,
/// removes the files it owned before that are no longer wanted and that `covers` says this
/// output speaks for, and records what it owns now in [`OWNED`]. Paths must stay inside `dir`
/// (no `..`, not absolute). `cache` spares reading back files nobody touched and is updated.
pub fn sync(
    dir: &Path,
    output: &Output,
    covers: impl Fn(&str) -> bool,
    cache: &mut Cache,
) -> io::Result<Synced> {
    let files = &output.files;
    if let Some(bad) = files.keys().chain(&output.intact).find(|p| !inside(p)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{bad}` would be written outside the output directory"),
        ));
    }
    let record = dir.join(OWNED);
    let before: BTreeSet<String> = match fs::read_to_string(&record) {
        Ok(text) => text
            .lines()
            .filter(|p| inside(p))
            .map(str::to_owned)
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let known = &cache.fingerprints;

    // Directories first, once each; then the files, in parallel (thousands of small files:
    // the kernel's work per file dominates, and two cores halve it).
    let parents: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| Some(p.rsplit_once('/')?.0))
        .collect();
    let mut real = BTreeSet::new();
    for parent in parents {
        no_symlink(dir, parent, &mut real)?;
        fs::create_dir_all(dir.join(parent))?;
    }
    // Files about to be created are owned before they exist: should writing stop halfway,
    // the next run still knows them, and prunes them if they are no longer wanted.
    if files.keys().any(|p| !before.contains(p)) {
        let owned: BTreeSet<&String> = before.iter().chain(files.keys()).collect();
        let listing: String = owned.iter().map(|p| format!("{p}\n")).collect();
        replace(&record, listing.as_bytes(), true)?;
    }
    let outcomes: Vec<(&String, Option<Fingerprint>, bool)> = files
        .par_iter()
        .map(|(relative, contents)| {
            let path = dir.join(relative);
            let recorded = known.get(relative).copied();
            let current = fs::metadata(&path).ok();
            let hash = xxhash_rust::xxh3::xxh3_64(contents);
            let same = match (&current, recorded) {
                (Some(meta), Some(print))
                    if meta.len() == print.len && modified(meta) == Some(print.modified) =>
                {
                    print.hash == hash
                }
                (Some(meta), _) if meta.len() == contents.len() as u64 => {
                    fs::read(&path).is_ok_and(|now| &now == contents)
                }
                _ => false,
            };
            if !same {
                replace(&path, contents, false)?;
            }
            let meta = if same {
                current
            } else {
                fs::metadata(&path).ok()
            };
            let print = meta.and_then(|m| Fingerprint::of(hash, &m));
            Ok((relative, print, !same))
        })
        .collect::<io::Result<_>>()?;

    let mut synced = Synced {
        unchanged: output.intact.len(),
        ..Synced::default()
    };
    for (relative, _, written) in &outcomes {
        if *written {
            synced.written.push((*relative).clone());
        } else {
            synced.unchanged += 1;
        }
    }
    let (stale, kept): (Vec<&String>, Vec<&String>) = before
        .iter()
        .filter(|p| !files.contains_key(*p) && !output.intact.contains(*p))
        .partition(|p| covers(p));
    for stale in stale {
        if let Some((parent, _)) = stale.rsplit_once('/') {
            no_symlink(dir, parent, &mut real)?;
        }
        match fs::remove_file(dir.join(stale)) {
            Ok(()) => synced.removed.push(stale.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Directories the pruning emptied go too; a directory holding anything stays.
        for parent in Path::new(stale)
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
        {
            if fs::remove_dir(dir.join(parent)).is_err() {
                break;
            }
        }
    }
    let owned: BTreeSet<&String> = files.keys().chain(&output.intact).chain(kept).collect();
    let listing: String = owned.iter().map(|p| format!("{p}\n")).collect();
    if fs::read(&record).ok().as_deref() != Some(listing.as_bytes()) {
        replace(&record, listing.as_bytes(), true)?;
    }
    for (path, print, _) in &outcomes {
        let before = match print {
            Some(print) => cache.fingerprints.insert((*path).clone(), *print),
            None => cache.fingerprints.remove(*path),
        };
        cache.changed |= before != *print;
    }
    cache.save(&owned, &output.keys);
    Ok(synced)
}

/// Where [`sync`] keeps the fingerprints of one output directory: under `DAPPCTL_CACHE_DIR`,
/// else the user's cache directory (`XDG_CACHE_HOME` or `~/.cache`), in `dappctl/`, named by
/// a hash of the directory's absolute path. None when there is no such place.
pub fn fingerprint_cache(out: &Path) -> Option<PathBuf> {
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
    let absolute = std::path::absolute(out).ok()?;
    let key = xxhash_rust::xxh3::xxh3_64(absolute.as_os_str().as_encoded_bytes());
    fs::create_dir_all(&base).ok()?;
    Some(base.join(format!("fingerprints-{key:016x}")))
}

/// Refuses a directory path below `dir` that goes through a symbolic link: the link could
/// lead outside `dir`, and a committed record could then name files there to delete.
/// `real` remembers the prefixes already checked.
fn no_symlink<'a>(dir: &Path, relative: &'a str, real: &mut BTreeSet<&'a str>) -> io::Result<()> {
    let mut end = 0;
    while end < relative.len() {
        end = relative[end..]
            .find('/')
            .map_or(relative.len(), |i| end + i);
        let prefix = &relative[..end];
        end += 1;
        if real.contains(prefix) {
            continue;
        }
        match fs::symlink_metadata(dir.join(prefix)) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{prefix}` is a symbolic link; dappctl writes only real directories"),
                ));
            }
            // A directory not there yet is created by dappctl itself, so it is real.
            Ok(_) | Err(_) => {
                real.insert(prefix);
            }
        }
    }
    Ok(())
}

/// A relative path with no `..`, root or prefix: it cannot leave the directory it is joined to.
fn inside(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_target_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("dappctl-write-{}", std::process::id()));
        let target = dir.join("nested/out.json");
        atomic(&target, b"one").unwrap();
        atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let left: Vec<_> = fs::read_dir(target.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dappctl-sync-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    fn all(_: &str) -> bool {
        true
    }

    fn output(files: BTreeMap<String, Vec<u8>>) -> Output {
        Output {
            files,
            ..Output::default()
        }
    }

    /// The paths the record lists.
    fn owned(dir: &Path) -> String {
        fs::read_to_string(dir.join(OWNED)).unwrap()
    }

    #[test]
    fn sync_keeps_owned_files_it_does_not_cover() {
        let dir = temp_dir("cover");
        sync(
            &dir,
            &output(files(&[
                ("envs/dev/x.yaml", "1"),
                ("envs/prod/x.yaml", "1"),
            ])),
            all,
            &mut Cache::default(),
        )
        .unwrap();
        let dev_only = |p: &str| !p.starts_with("envs/prod/");
        let synced = sync(
            &dir,
            &output(files(&[("envs/dev/x.yaml", "2")])),
            dev_only,
            &mut Cache::default(),
        )
        .unwrap();
        assert!(synced.removed.is_empty());
        assert!(dir.join("envs/prod/x.yaml").exists());
        assert_eq!(
            owned(&dir),
            "envs/dev/x.yaml\nenvs/prod/x.yaml\n",
            "files left alone stay owned"
        );
        sync(&dir, &output(files(&[])), all, &mut Cache::default()).unwrap();
        assert!(!dir.join("envs").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sync_writes_only_what_changed_and_prunes_only_what_it_owned() {
        let dir = temp_dir("prune");
        fs::write(dir.join("README.md"), "not ours").unwrap();
        let three = || {
            output(files(&[
                ("a/x.yaml", "1"),
                ("a/y.yaml", "2"),
                ("b/z.yaml", "3"),
            ]))
        };
        let first = sync(&dir, &three(), all, &mut Cache::default()).unwrap();
        assert_eq!(first.written.len(), 3);

        let again = sync(&dir, &three(), all, &mut Cache::default()).unwrap();
        assert_eq!(
            (again.written.len(), again.unchanged, again.removed.len()),
            (0, 3, 0)
        );

        let next = sync(
            &dir,
            &output(files(&[("a/x.yaml", "1"), ("a/y.yaml", "changed")])),
            all,
            &mut Cache::default(),
        )
        .unwrap();
        assert_eq!(next.written, vec!["a/y.yaml".to_owned()]);
        assert_eq!(next.removed, vec!["b/z.yaml".to_owned()]);
        assert!(!dir.join("b").exists(), "the emptied directory is removed");
        assert_eq!(fs::read_to_string(dir.join("a/y.yaml")).unwrap(), "changed");
        assert_eq!(
            fs::read_to_string(dir.join("README.md")).unwrap(),
            "not ours"
        );
        assert_eq!(owned(&dir), "a/x.yaml\na/y.yaml\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fingerprints_skip_reading_but_a_hand_edit_is_still_repaired() {
        let dir = temp_dir("fingerprint");
        let path = dir.with_extension("cache");
        let want = output(files(&[("a/x.yaml", "original")]));
        sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("F\ta/x.yaml\t")
        );
        let stamp = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let again = sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        assert_eq!((again.written.len(), again.unchanged), (0, 1));
        let now = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(now, stamp, "an unchanged cache is not written again");

        // Same size, other bytes, a later time: the fingerprint no longer holds.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.join("a/x.yaml"), "ORIGINAL").unwrap();
        let repaired = sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        assert_eq!(repaired.written, vec!["a/x.yaml".to_owned()]);
        assert_eq!(
            fs::read_to_string(dir.join("a/x.yaml")).unwrap(),
            "original"
        );

        // A corrupt cache is ignored, not trusted.
        fs::write(&path, "F\ta/x.yaml\tnonsense\n").unwrap();
        let checked = sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        assert_eq!(checked.unchanged, 1);
        assert_eq!(owned(&dir), "a/x.yaml\n", "the record holds paths only");
        fs::remove_file(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_intact_only_with_its_key_and_untouched_files() {
        let dir = temp_dir("intact");
        let path = dir.with_extension("cache");
        let mut first = output(files(&[
            ("p/a.yaml", "1"),
            ("p/b.yaml", "2"),
            ("q/c.yaml", "3"),
        ]));
        first.keys.insert("p".to_owned(), 7);
        sync(&dir, &first, all, &mut Cache::at(Some(path.clone()))).unwrap();
        let cache = Cache::at(Some(path.clone()));
        let p = "p";
        assert_eq!(
            cache.intact(&dir, p, 7),
            Some(vec!["p/a.yaml".to_owned(), "p/b.yaml".to_owned()])
        );
        assert_eq!(cache.intact(&dir, p, 8), None, "other inputs");
        assert_eq!(cache.intact(&dir, "q", 7), None, "no key");

        // Kept intact, the files stay owned and are neither written nor pruned.
        let mut next = output(files(&[("q/c.yaml", "3")]));
        next.intact = ["p/a.yaml".to_owned(), "p/b.yaml".to_owned()].into();
        let synced = sync(&dir, &next, all, &mut Cache::at(Some(path.clone()))).unwrap();
        assert_eq!(
            (synced.written.len(), synced.unchanged, synced.removed.len()),
            (0, 3, 0)
        );
        assert_eq!(owned(&dir), "p/a.yaml\np/b.yaml\nq/c.yaml\n");

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.join("p/b.yaml"), "x").unwrap();
        assert_eq!(
            Cache::at(Some(path.clone())).intact(&dir, p, 7),
            None,
            "a file was edited"
        );
        fs::remove_file(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sync_never_removes_a_file_it_did_not_write() {
        let dir = temp_dir("foreign");
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::write(dir.join("a/mine.yaml"), "hand-written").unwrap();
        sync(
            &dir,
            &output(files(&[("a/x.yaml", "1")])),
            all,
            &mut Cache::default(),
        )
        .unwrap();
        sync(&dir, &output(files(&[])), all, &mut Cache::default()).unwrap();
        assert!(!dir.join("a/x.yaml").exists());
        assert_eq!(
            fs::read_to_string(dir.join("a/mine.yaml")).unwrap(),
            "hand-written"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sync_never_writes_or_deletes_through_a_symbolic_link() {
        let dir = temp_dir("symlink");
        let outside = dir.with_extension("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("victim.yaml"), "keep").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("envs")).unwrap();
        let err = sync(
            &dir,
            &output(files(&[("envs/x.yaml", "1")])),
            all,
            &mut Cache::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!outside.join("x.yaml").exists());
        // A record naming a file behind the link does not get it deleted either.
        fs::write(dir.join(OWNED), "envs/victim.yaml\n").unwrap();
        assert!(sync(&dir, &output(files(&[])), all, &mut Cache::default()).is_err());
        assert_eq!(
            fs::read_to_string(outside.join("victim.yaml")).unwrap(),
            "keep"
        );
        fs::remove_dir_all(&outside).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sync_refuses_paths_that_leave_the_directory() {
        let dir = temp_dir("escape");
        for bad in ["../x.yaml", "/etc/x.yaml", "a/../../x.yaml"] {
            let err = sync(
                &dir,
                &output(files(&[(bad, "1")])),
                all,
                &mut Cache::default(),
            )
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
        // A tampered record cannot make it delete outside either.
        let victim = format!("dappctl-victim-{}.yaml", std::process::id());
        let outside = dir.parent().unwrap().join(&victim);
        fs::write(&outside, "keep").unwrap();
        fs::write(dir.join(OWNED), format!("../{victim}\n")).unwrap();
        sync(&dir, &output(files(&[])), all, &mut Cache::default()).unwrap();
        assert!(outside.exists(), "a file outside the directory was removed");
        fs::remove_file(&outside).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
