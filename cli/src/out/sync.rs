//! Keeping an output directory (a GitOps repository) in step with a render: [`sync`] writes
//! only the files whose content differs, removes only files it owned, and records what it
//! owns; the fingerprint [`Cache`] spares reading back files nobody touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use dappmesh_compiler::render::Output;
use rayon::prelude::*;

use super::atomic::{append, create, replace};
use super::interrupted::Writing;

/// The record, inside an output directory, of the files dappctl wrote there: one relative
/// path per line, sorted. Files not listed are someone else's and are never touched. It
/// holds nothing that differs between machines, so it can be committed with the output. The
/// compiler's loader skips a directory that holds it.
pub use dappmesh_compiler::load::OWNED;

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
        write!(f, "{:016x}:{}:", self.hash, self.len)?;
        // Nanoseconds since 1970 fit 64 bits until 2554, and a u128 prints many times slower
        // (tens of thousands of these per render).
        match u64::try_from(self.modified) {
            Ok(modified) => write!(f, "{modified}"),
            Err(_) => write!(f, "{}", self.modified),
        }
    }
}

/// What one sync of an output directory leaves for the next, outside the directory: the
/// fingerprint of every file it wrote, and for each directory of generated files the key of
/// the inputs they were made from. Only an optimisation: a missing, stale or corrupt cache
/// makes the next run compare (and render) more, never less correctly.
///
/// The file holds a line per owned file (`F`, sorted by path) and per directory (`K`), then the
/// lines appended by later runs, which supersede earlier ones. Tens of thousands of `F` lines
/// are indexed as loaded and parsed only when a path is asked about.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    text: String,
    /// Each `F` line as (path, fingerprint) byte ranges of `text`, sorted by path.
    prints: Vec<(Range<usize>, Range<usize>)>,
    /// How many `F` lines the file has, superseded ones included.
    lines: usize,
    keys: HashMap<String, u64>,
    /// For each template run (`R` lines): its key and its files.
    runs: HashMap<String, (u64, Vec<String>)>,
}

impl Cache {
    /// The cache of output directory `out` ([`fingerprint_cache`]), empty when there is none
    /// or `out` holds no [`OWNED`] record.
    pub fn load(out: &Path) -> Cache {
        let path = fingerprint_cache(out);
        // The cache speaks only of files listed in the record: with the record gone, the
        // directory was emptied or replaced since, and trusting the cache would make a
        // render look for, compare and replace each file where it can simply create it.
        if out.join(OWNED).exists() {
            Cache::at(path)
        } else {
            Cache {
                path,
                ..Cache::default()
            }
        }
    }

    /// The cache kept in the file `path` (none: start empty, keep nothing).
    pub fn at(path: Option<PathBuf>) -> Cache {
        let mut cache = Cache {
            text: path
                .as_ref()
                .and_then(|p| fs::read_to_string(p).ok())
                .unwrap_or_default(),
            ..Cache::default()
        };
        let mut at = 0;
        for line in cache.text.split_inclusive('\n') {
            let start = at;
            at += line.len();
            let line = line.trim_end_matches('\n');
            let mut parts = line.splitn(3, '\t');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("F"), Some(file), Some(_)) => {
                    let path = start + 2..start + 2 + file.len();
                    cache
                        .prints
                        .push((path.clone(), path.end + 1..start + line.len()));
                }
                (Some("K"), Some(dir), Some(key)) => {
                    if let Ok(key) = u64::from_str_radix(key, 16) {
                        cache.keys.insert(dir.to_owned(), key);
                    }
                }
                (Some("R"), Some(run), Some(rest)) => {
                    let mut fields = rest.split('\t');
                    let key = fields.next().and_then(|k| u64::from_str_radix(k, 16).ok());
                    if let Some(key) = key {
                        let files = fields.map(str::to_owned).collect();
                        cache.runs.insert(run.to_owned(), (key, files));
                    }
                }
                _ => {}
            }
        }
        let text = &cache.text;
        cache.lines = cache.prints.len();
        // Sorted as written, then appended to: a stable sort keeps a path's lines in file
        // order, and the last one is what holds now.
        cache
            .prints
            .sort_by(|a, b| text[a.0.clone()].cmp(&text[b.0.clone()]));
        cache.prints.dedup_by(|later, earlier| {
            let same = text[later.0.clone()] == text[earlier.0.clone()];
            if same {
                earlier.1 = later.1.clone();
            }
            same
        });
        cache.path = path;
        cache
    }

    fn file(&self, index: usize) -> &str {
        &self.text[self.prints[index].0.clone()]
    }

    fn print(&self, index: usize) -> Option<Fingerprint> {
        Fingerprint::parse(&self.text[self.prints[index].1.clone()])
    }

    /// The index of the first `F` line whose path is not below `path`.
    fn first_from(&self, path: &str) -> usize {
        self.prints
            .partition_point(|(p, _)| &self.text[p.clone()] < path)
    }

    /// The fingerprint recorded for one file.
    fn known(&self, path: &str) -> Option<Fingerprint> {
        let at = self.first_from(path);
        (at < self.prints.len() && self.file(at) == path)
            .then(|| self.print(at))
            .flatten()
    }

    /// The files dappctl wrote below `subdir` of `out`, when they were made from inputs with
    /// this `key` and every one is still on disk as written: they need no rendering again.
    pub fn intact(&self, out: &Path, subdir: &str, key: u64) -> Option<Vec<String>> {
        if self.keys.get(subdir) != Some(&key) {
            return None;
        }
        let prefix = format!("{subdir}/");
        let files: Vec<(&str, Fingerprint)> = (self.first_from(&prefix)..self.prints.len())
            .map(|i| (self.file(i), i))
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, i)| Some((p, self.print(i)?)))
            .collect::<Option<_>>()?;
        untouched(out, &files).then(|| files.into_iter().map(|(p, _)| p.to_owned()).collect())
    }

    /// The files one template run wrote, when it was made from inputs with this `key` and
    /// every file is still on disk as written.
    pub fn run_intact(&self, out: &Path, run: &str, key: u64) -> Option<Vec<String>> {
        let (recorded, files) = self.runs.get(run)?;
        if *recorded != key || !files.is_sorted() {
            return None;
        }
        let prints: Vec<(&str, Fingerprint)> = files
            .iter()
            .map(|f| Some((f.as_str(), self.known(f)?)))
            .collect::<Option<_>>()?;
        untouched(out, &prints).then(|| files.clone())
    }

    /// The lines to append to record this sync, when appending is enough: the files owned
    /// are the files recorded (a re-render that created or removed nothing), every one still
    /// has a fingerprint, and superseded lines are not yet as many as live ones. Then one
    /// edited product costs a few lines instead of rewriting megabytes.
    fn changes(
        &self,
        owned: &[&str],
        found: &[(&str, Option<Fingerprint>)],
        output: &Output,
    ) -> Option<String> {
        let same_files = owned.len() == self.prints.len()
            && owned.iter().enumerate().all(|(i, f)| self.file(i) == *f);
        if self.text.is_empty() || !same_files || self.lines >= 2 * self.prints.len() {
            return None;
        }
        let mut tail = String::new();
        for (file, print) in found {
            let print = (*print)?;
            if self.known(file) != Some(print) {
                tail.push_str(&format!("F\t{file}\t{print}\n"));
            }
        }
        for (dir, key) in &output.keys {
            if self.keys.get(dir) != Some(key) {
                tail.push_str(&format!("K\t{dir}\t{key:016x}\n"));
            }
        }
        for (run, recorded) in &output.runs {
            if self.runs.get(run) != Some(recorded) {
                run_line(&mut tail, run, recorded.0, &recorded.1);
            }
        }
        Some(tail)
    }

    /// The `F` lines of `owned` (sorted): the fingerprint in `found` (sorted) when it has
    /// one, else the one recorded before.
    fn file_lines(&self, owned: &[&str], found: &[(&str, Option<Fingerprint>)]) -> String {
        let Some(first) = owned.first() else {
            return String::new();
        };
        let mut text = String::with_capacity(owned.len() * (first.len() + 48));
        let mut new = found.partition_point(|(path, _)| path < first);
        let mut old = self.first_from(first);
        for file in owned {
            while new < found.len() && found[new].0 < *file {
                new += 1;
            }
            if new < found.len() && found[new].0 == *file {
                if let Some(print) = found[new].1 {
                    // Into the text: no string for each line.
                    let _ = writeln!(text, "F\t{file}\t{print}");
                }
                continue;
            }
            while old < self.prints.len() && self.file(old) < *file {
                old += 1;
            }
            if old < self.prints.len() && self.file(old) == *file {
                text.push_str("F\t");
                text.push_str(file);
                text.push('\t');
                text.push_str(&self.text[self.prints[old].1.clone()]);
                text.push('\n');
            }
        }
        text
    }

    /// Records what `owned` (sorted) is now: the fingerprints this sync made or found
    /// (`found`, sorted by path; None where it has none) and, for the rest, the recorded
    /// ones; and the keys of the product directories and template runs rendered, beside
    /// those of the others (left out by `--env`).
    fn save(&self, owned: &[&str], found: &[(&str, Option<Fingerprint>)], output: &Output) {
        let Some(path) = &self.path else { return };
        if let Some(tail) = self.changes(owned, found, output) {
            if !tail.is_empty() {
                let _ = append(path, &tail);
            }
            return;
        }
        // Tens of thousands of lines, formatted a few thousand at a time side by side.
        let chunks: Vec<String> = owned
            .par_chunks(4096)
            .map(|chunk| self.file_lines(chunk, found))
            .collect();
        let mut text =
            String::with_capacity(self.text.len().max(chunks.iter().map(String::len).sum()) + 1024);
        for chunk in chunks {
            text.push_str(&chunk);
        }
        let mut all: BTreeMap<&str, u64> =
            self.keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        all.extend(output.keys.iter().map(|(k, v)| (k.as_str(), *v)));
        for (dir, key) in all {
            let _ = writeln!(text, "K\t{dir}\t{key:016x}");
        }
        let mut runs: BTreeMap<&str, &(u64, Vec<String>)> =
            self.runs.iter().map(|(k, v)| (k.as_str(), v)).collect();
        runs.extend(output.runs.iter().map(|(k, v)| (k.as_str(), v)));
        for (run, (key, files)) in runs {
            run_line(&mut text, run, *key, files);
        }
        // Megabytes for a large mesh: rewritten only when something in them changed. A cache
        // that cannot be written costs the next run time, never correctness.
        if text != self.text {
            let _ = replace(path, text.as_bytes(), false);
        }
    }
}

/// The line recording one template run: its name, key and files, separated by tabs (paths
/// hold none: [`inside`] refuses control characters).
fn run_line(text: &mut String, run: &str, key: u64, files: &[String]) {
    let _ = write!(text, "R\t{run}\t{key:016x}");
    for file in files {
        text.push('\t');
        text.push_str(file);
    }
    text.push('\n');
}

/// Whether every one of `files` (sorted) has the size and time its fingerprint recorded.
fn untouched(out: &Path, files: &[(&str, Fingerprint)]) -> bool {
    let mut untouched = !files.is_empty();
    let mut at = 0;
    while untouched && at < files.len() {
        let parent = files[at].0.rsplit_once('/').map_or("", |(p, _)| p);
        let end = at
            + files[at..]
                .iter()
                .take_while(|(p, _)| p.rsplit_once('/').map_or("", |(d, _)| d) == parent)
                .count();
        untouched = listed_untouched(&out.join(parent), &files[at..end], parent.len() + 1);
        at = end;
    }
    untouched
}

/// Whether each of `files` (relative paths whose names start at `name_at`, all in `dir`) is
/// in `dir` with the size and modification time its fingerprint recorded. A symbolic link is
/// never taken for the file it points to.
#[cfg(unix)]
fn listed_untouched(dir: &Path, files: &[(&str, Fingerprint)], name_at: usize) -> bool {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    // Each file looked up by name in the open directory: the kernel resolves one path
    // component per file instead of the whole path, tens of thousands of times per run.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(handle) = rustix::fs::open(dir, flags, Mode::empty()) else {
        return false;
    };
    files.iter().all(|(path, print)| {
        rustix::fs::statat(&handle, &path[name_at..], AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
            // The field types differ between platforms; i128 holds them all.
            let modified = i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec);
            FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
                && u64::try_from(st.st_size) == Ok(print.len)
                && u128::try_from(modified) == Ok(print.modified)
        })
    })
}

#[cfg(not(unix))]
fn listed_untouched(dir: &Path, files: &[(&str, Fingerprint)], name_at: usize) -> bool {
    files.iter().all(|(path, print)| {
        fs::symlink_metadata(dir.join(&path[name_at..])).is_ok_and(|meta| {
            meta.is_file() && meta.len() == print.len && modified(&meta) == Some(print.modified)
        })
    })
}

/// Makes `dir` hold `output`: writes only files whose content differs, keeps the intact ones,
/// removes the files it owned before that are no longer wanted and that `covers` says this
/// output speaks for, and records what it owns now in [`OWNED`]. Paths must stay inside `dir`
/// (no `..`, not absolute). `cache` spares reading back files nobody touched and is updated.
#[allow(clippy::too_many_lines)]
pub fn sync(
    dir: &Path,
    output: &Output,
    covers: impl Fn(&str) -> bool,
    cache: &mut Cache,
) -> io::Result<Synced> {
    let files = &output.files;
    let mut intact: Vec<&str> = output.intact.iter().map(String::as_str).collect();
    sorted(&mut intact);
    if let Some(bad) = files
        .par_iter()
        .map(|(path, _)| path.as_str())
        .chain(intact.par_iter().copied())
        .find_first(|p| !inside(p))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{bad}` would be written outside the output directory"),
        ));
    }
    let record = dir.join(OWNED);
    let recorded = match fs::read_to_string(&record) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut before: Vec<&str> = recorded.lines().filter(|p| inside(p)).collect();
    sorted(&mut before);
    let known = &*cache;

    // Directories first, then the files, each in parallel (thousands of small files: the
    // kernel's work per file dominates, and two cores halve it).
    let mut real = directories(dir, files.keys().map(String::as_str))?;
    let writing = Writing::begin(dir);
    if writing.interrupted() {
        // Only directories that are what they seem are searched for temporaries: one behind
        // a symbolic link, which a tampered record could name, is not.
        let listed: BTreeSet<&str> = before
            .iter()
            .filter_map(|p| Some(p.rsplit_once('/')?.0))
            .filter(|parent| !real.contains(parent))
            .collect();
        let listed: Vec<&str> = listed
            .into_iter()
            .filter(|parent| no_symlink(dir, parent, &mut real).is_ok())
            .collect();
        writing.sweep(real.iter().chain(&listed).copied())?;
    }
    // Files about to be created are owned before they exist: should writing stop halfway,
    // the next run still knows them, and prunes them if they are no longer wanted.
    let mut rewritten = None;
    let rendered: Vec<&str> = files.keys().map(String::as_str).collect();
    if rendered.iter().any(|p| before.binary_search(p).is_err()) {
        let owned = merge(&before, &rendered);
        writing.mark()?;
        replace(&record, listing(&owned).as_bytes(), true)?;
        rewritten = Some(owned);
    }
    let outcomes: Vec<(&str, Option<Fingerprint>, bool)> = files
        .par_iter()
        .map(|(relative, contents)| {
            let path = dir.join(relative);
            let recorded = known.known(relative);
            let hash = xxhash_rust::xxh3::xxh3_64(contents);
            // Neither owned nor fingerprinted: most likely not there (a first render), so it
            // is created without looking first.
            if recorded.is_none() && before.binary_search(&relative.as_str()).is_err() {
                writing.mark()?;
                match create(&path, contents) {
                    Ok(meta) => return Ok((relative.as_str(), Fingerprint::of(hash, &meta), true)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            let current = fs::metadata(&path).ok();
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
                writing.mark()?;
                replace(&path, contents, false)?;
            }
            let meta = if same {
                current
            } else {
                fs::metadata(&path).ok()
            };
            let print = meta.and_then(|m| Fingerprint::of(hash, &m));
            Ok((relative.as_str(), print, !same))
        })
        .collect::<io::Result<_>>()?;

    let mut synced = Synced {
        unchanged: intact.len(),
        ..Synced::default()
    };
    for (relative, _, written) in &outcomes {
        if *written {
            synced.written.push((*relative).to_owned());
        } else {
            synced.unchanged += 1;
        }
    }
    let wanted = merge(&rendered, &intact);
    let (stale, kept): (Vec<&str>, Vec<&str>) =
        minus(&before, &wanted).into_iter().partition(|p| covers(p));
    for stale in stale {
        if let Some((parent, _)) = stale.rsplit_once('/') {
            no_symlink(dir, parent, &mut real)?;
        }
        match fs::remove_file(dir.join(stale)) {
            Ok(()) => synced.removed.push(stale.to_owned()),
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
    let owned = merge(&wanted, &kept);
    // Tens of thousands of paths: compared as a list with what was just recorded (a first
    // render records everything up front), as text only with a record of an earlier run.
    let changed = match &rewritten {
        Some(paths) if *paths == owned => None,
        Some(_) => Some(listing(&owned)),
        None => Some(listing(&owned)).filter(|now| *now != recorded),
    };
    if let Some(listing) = changed {
        writing.mark()?;
        replace(&record, listing.as_bytes(), true)?;
    }
    writing.end()?;
    let found: Vec<(&str, Option<Fingerprint>)> = outcomes
        .iter()
        .map(|(path, print, _)| (*path, *print))
        .collect();
    cache.save(&owned, &found, output);
    Ok(synced)
}

/// The text of [`OWNED`]: sorted paths, one per line.
fn listing(paths: &[&str]) -> String {
    let mut text = String::with_capacity(paths.iter().map(|p| p.len() + 1).sum());
    for path in paths {
        text.push_str(path);
        text.push('\n');
    }
    text
}

// Tens of thousands of paths with long common prefixes go through every sync, most of them
// sorted already (the record is written sorted, products come in order): the set operations
// below walk sorted lists instead of sorting or searching again.

/// Sorts `paths`, once each, unless they already are. Often they are a few sorted runs one
/// after the other, which the standard library's stable sort merges in linear time.
fn sorted(paths: &mut Vec<&str>) {
    if !paths.is_sorted() {
        paths.sort();
    }
    paths.dedup();
}

/// The paths in either sorted list, sorted, once each.
fn merge<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => {
                all.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                all.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                all.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    all.extend_from_slice(&a[i..]);
    all.extend_from_slice(&b[j..]);
    all
}

/// The paths of sorted list `a` that are not in sorted list `b`.
fn minus<'a>(a: &[&'a str], b: &[&str]) -> Vec<&'a str> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|path| {
            while j < b.len() && b[j] < *path {
                j += 1;
            }
            j >= b.len() || b[j] != *path
        })
        .collect()
}

/// Where [`sync`] keeps the fingerprints of one output directory: in dappctl's
/// [cache](super::cache), named by a hash of the directory's absolute path.
pub fn fingerprint_cache(out: &Path) -> Option<PathBuf> {
    super::cache::file(
        super::cache::Entry::Fingerprints,
        &super::cache::about_path(out)?,
    )
}

/// Makes every directory the files at `paths` (relative to `dir`) go in, or checks that it is a
/// real directory when it is there: a symbolic link could lead outside `dir`. One level at a
/// time, top down, so each directory's parent is known real before it is made; the directories
/// of one level (thousands of products') in parallel. Returns the directories.
fn directories<'a>(
    dir: &Path,
    paths: impl Iterator<Item = &'a str>,
) -> io::Result<BTreeSet<&'a str>> {
    let mut all = BTreeSet::new();
    let mut last = None;
    for path in paths {
        // Paths come sorted, so mostly in runs of one directory: one lookup per run.
        let parent = path.rsplit_once('/').map(|(parent, _)| parent);
        if parent == last {
            continue;
        }
        last = parent;
        let mut rest = path;
        // A directory met before came with its ancestors.
        while let Some((parent, _)) = rest.rsplit_once('/')
            && all.insert(parent)
        {
            rest = parent;
        }
    }
    if !all.is_empty() {
        fs::create_dir_all(dir)?;
    }
    let mut levels: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for relative in &all {
        levels
            .entry(relative.matches('/').count())
            .or_default()
            .push(relative);
    }
    for level in levels.values() {
        level.par_iter().try_for_each(|relative| {
            let path = dir.join(relative);
            match fs::create_dir(&path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let meta = fs::symlink_metadata(&path)?;
                    if meta.file_type().is_symlink() {
                        Err(symbolic_link(relative))
                    } else if meta.is_dir() {
                        Ok(())
                    } else {
                        Err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            format!("`{relative}` is a file where dappctl writes a directory"),
                        ))
                    }
                }
                made => made,
            }
        })?;
    }
    Ok(all)
}

fn symbolic_link(relative: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("`{relative}` is a symbolic link; dappctl writes only real directories"),
    )
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
            Ok(meta) if meta.file_type().is_symlink() => return Err(symbolic_link(prefix)),
            // A directory not there yet is created by dappctl itself, so it is real.
            Ok(_) | Err(_) => {
                real.insert(prefix);
            }
        }
    }
    Ok(())
}

/// A relative path with no `..`, root or prefix: it cannot leave the directory it is joined to.
/// Checked on bytes (tens of thousands of paths per run): '/'-separated, no empty, `.` or `..`
/// segment, no backslash or colon (a separator and a drive on Windows), no control character.
fn inside(path: &str) -> bool {
    !path.is_empty()
        && !path
            .bytes()
            .any(|b| b == b'\\' || b == b':' || b.is_ascii_control())
        && path
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_file_in_the_way_of_a_new_one_is_replaced_and_counted() {
        let dir = temp_dir("in-the-way");
        fs::write(dir.join("a.yaml"), "someone's").unwrap();
        let synced = sync(
            &dir,
            &output(files(&[("a.yaml", "ours"), ("b.yaml", "new")])),
            all,
            &mut Cache::default(),
        )
        .unwrap();
        assert_eq!(synced.written, ["a.yaml", "b.yaml"]);
        assert_eq!(fs::read_to_string(dir.join("a.yaml")).unwrap(), "ours");
        assert_eq!(fs::read_to_string(dir.join("b.yaml")).unwrap(), "new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_sync_after_a_stopped_one_removes_its_temporaries_and_nothing_else() {
        let dir = temp_dir("stopped");
        let want = || output(files(&[("a/x.yaml", "1"), ("b/y.yaml", "2")]));
        sync(&dir, &want(), all, &mut Cache::default()).unwrap();
        // What a sync killed while it replaced a/x.yaml and the record leaves, beside files
        // of the user's that only look alike.
        fs::write(dir.join(super::super::interrupted::WRITING), "").unwrap();
        for stray in [
            "a/.x.yaml.4242.dappctl-tmp",
            ".dappctl-owned.4242.dappctl-tmp",
        ] {
            fs::write(dir.join(stray), "half").unwrap();
        }
        let users = [
            "a/.x.yaml.dappctl-tmp",
            "b/.y.yaml.tmp-1",
            "a/x.yaml.4242.dappctl-tmp",
        ];
        for user in users {
            fs::write(dir.join(user), "mine").unwrap();
        }
        let synced = sync(&dir, &want(), all, &mut Cache::default()).unwrap();
        assert_eq!(synced.unchanged, 2);
        let mut left: Vec<String> = ["", "a", "b"]
            .iter()
            .flat_map(|d| fs::read_dir(dir.join(d)).unwrap())
            .map(|e| {
                e.unwrap()
                    .path()
                    .strip_prefix(&dir)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .filter(|p| p.ends_with("tmp") || p.contains("tmp-") || p.contains("writing"))
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "a/.x.yaml.dappctl-tmp",
                "a/x.yaml.4242.dappctl-tmp",
                "b/.y.yaml.tmp-1"
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sorted_lists_merge_and_subtract_once_each() {
        assert_eq!(
            merge(&["a", "c", "d"], &["b", "c", "e"]),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(minus(&["a", "b", "c", "d"], &["b", "d", "z"]), ["a", "c"]);
        let mut paths = vec!["b/x", "a/y", "b/x", "a-b/z"];
        sorted(&mut paths);
        assert_eq!(paths, ["a-b/z", "a/y", "b/x"]);
    }

    #[test]
    fn paths_that_could_leave_the_directory_are_not_inside() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../../b",
            "./a",
            "a//b",
            "a/",
            "c:x",
            "a\\b",
        ] {
            assert!(!inside(bad), "{bad}");
        }
        assert!(inside("envs/dev/crm/customers/service-customers.yaml"));
    }

    #[test]
    fn a_re_render_that_keeps_the_same_files_appends_to_the_cache() {
        let dir = temp_dir("cache-append");
        let path = dir.with_extension("cache");
        let mut want = output(files(&[("p/a.yaml", "1"), ("p/b.yaml", "2")]));
        want.keys.insert("p".to_owned(), 1);
        sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        let written = fs::read_to_string(&path).unwrap();

        // Same files, one content and the key changed: two lines appended, and they win.
        want.files.insert("p/b.yaml".to_owned(), b"22".to_vec());
        want.keys.insert("p".to_owned(), 2);
        sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        let appended = fs::read_to_string(&path).unwrap();
        assert_eq!(
            appended.strip_prefix(&written).map(|t| t.lines().count()),
            Some(2)
        );
        let cache = Cache::at(Some(path.clone()));
        assert_eq!(
            cache.intact(&dir, "p", 1),
            None,
            "the old key is superseded"
        );
        assert_eq!(
            cache.intact(&dir, "p", 2),
            Some(vec!["p/a.yaml".to_owned(), "p/b.yaml".to_owned()])
        );

        // A file gone: the cache is written afresh, without superseded lines.
        want.files.remove("p/b.yaml");
        sync(&dir, &want, all, &mut Cache::at(Some(path.clone()))).unwrap();
        let rewritten = fs::read_to_string(&path).unwrap();
        assert_eq!(
            rewritten.lines().filter(|l| l.starts_with("F\t")).count(),
            1
        );
        assert_eq!(
            rewritten.lines().filter(|l| l.starts_with("K\t")).count(),
            1
        );
        fs::remove_file(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hand_edited_cache_still_finds_what_it_lists() {
        let dir = temp_dir("cache-order");
        fs::create_dir_all(dir.join("p")).unwrap();
        fs::write(dir.join("p/a.yaml"), "1").unwrap();
        fs::write(dir.join("p/b.yaml"), "22").unwrap();
        let print = |name: &str| {
            let meta = fs::metadata(dir.join(name)).unwrap();
            Fingerprint::of(0, &meta).unwrap()
        };
        // Out of order, with a line that means nothing.
        let text = format!(
            "F\tp/b.yaml\t{}\nnonsense\nF\tp/a.yaml\t{}\nK\tp\t0000000000000007\n",
            print("p/b.yaml"),
            print("p/a.yaml")
        );
        let path = dir.with_extension("cache");
        fs::write(&path, text).unwrap();
        let cache = Cache::at(Some(path.clone()));
        assert_eq!(
            cache.intact(&dir, "p", 7),
            Some(vec!["p/a.yaml".to_owned(), "p/b.yaml".to_owned()])
        );
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
        let deeper = output(files(&[("envs/dev/deep/x.yaml", "1")]));
        let err = sync(&dir, &deeper, all, &mut Cache::default()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!outside.join("dev").exists());
        // A file where a directory goes is left as it is.
        fs::write(dir.join("platform"), "mine").unwrap();
        let err = sync(
            &dir,
            &output(files(&[("platform/x.yaml", "1")])),
            all,
            &mut Cache::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(dir.join("platform")).unwrap(), "mine");
        fs::remove_file(dir.join("platform")).unwrap();
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
