//! Writing a file so a reader never sees half of it, even when the process is killed
//! mid-write: the content goes into a file with no name yet (Linux's `O_TMPFILE`), which is
//! given its name only once complete, or renamed over the target through a temporary name
//! ([`is_temporary`]); and appending a record in one write.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The end of every temporary name: `.<target>.<pid>.dappctl-tmp`, beside the target.
const TEMPORARY: &str = ".dappctl-tmp";

/// The temporary name this process gives a file on its way to `name`.
fn temporary(name: &str) -> String {
    format!(".{name}.{}{TEMPORARY}", std::process::id())
}

/// Whether `name` is one [`temporary`] gave, by this process or any other: the dot, a
/// name, a process id, the fixed end. Nothing else matches, so a user's file never does.
pub fn is_temporary(name: &str) -> bool {
    name.strip_suffix(TEMPORARY)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.rsplit_once('.'))
        .is_some_and(|(target, pid)| {
            !target.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Replaces one file, flushed to disk before the rename.
pub fn atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, true)
}

/// The directory and the file name of `path`.
fn place(path: &Path) -> io::Result<(&Path, String)> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "output path has no file name")
    })?;
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// Replaces one file by rename; with `durable`, the data reaches the disk first (one file
/// written by hand), without it only the rename's atomicity holds (thousands of generated
/// files, where a sync per file would dominate). The temporary name exists only from the
/// link to the rename when the file could be written nameless, so a killed process leaves
/// one only if killed between those two calls; else for the whole write.
pub fn replace(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let (dir, name) = place(path)?;
    fs::create_dir_all(dir)?;
    let temp = dir.join(temporary(&name));
    let result = match nameless::write(dir, contents, durable)? {
        Some(file) => nameless::link(&file, &temp)
            .or_else(|e| {
                // A stray of an earlier process that had this id: nobody else's.
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
                fs::remove_file(&temp)?;
                nameless::link(&file, &temp)
            })
            .and_then(|()| fs::rename(&temp, path)),
        None => named(&temp, contents, durable).and_then(|_| fs::rename(&temp, path)),
    };
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes a file that is not there yet: it appears with its whole content or not at all, and
/// a render into an empty directory makes one directory entry per file (a temporary name
/// and a rename would make two, a third of a cold render's time). Returns the new file's
/// metadata; fails with `AlreadyExists` when the file is there after all. Its directory
/// must exist (a stat per file less).
pub fn create(path: &Path, contents: &[u8]) -> io::Result<fs::Metadata> {
    let (dir, name) = place(path)?;
    if let Some(file) = nameless::write(dir, contents, false)? {
        nameless::link(&file, path)?;
        return file.metadata();
    }
    // Where files cannot be nameless: a temporary name, renamed once the target is known
    // absent. A file someone makes there in between is replaced, as one in the way would be.
    if fs::symlink_metadata(path).is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    let temp = dir.join(temporary(&name));
    let result = named(&temp, contents, false)
        .and_then(|file| fs::rename(&temp, path).and_then(|()| file.metadata()));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `contents` into the file `temp`, created or truncated.
fn named(temp: &Path, contents: &[u8], durable: bool) -> io::Result<fs::File> {
    let mut file = fs::File::create(temp)?;
    file.write_all(contents)?;
    if durable {
        file.sync_all()?;
    }
    Ok(file)
}

/// Files written before they have a name: a killed process leaves nothing of one behind.
#[cfg(target_os = "linux")]
mod nameless {
    use std::fs;
    use std::io::{self, Write};
    use std::os::fd::AsRawFd;
    use std::path::Path;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;

    /// Cleared at the first sign that the kernel or file system cannot make nameless files,
    /// so that the tens of thousands of files after it do not try again.
    static KERNEL: AtomicBool = AtomicBool::new(true);

    /// Whether /proc shows this process's open files, through which [`link`] names one.
    fn proc() -> bool {
        static PROC: OnceLock<bool> = OnceLock::new();
        *PROC.get_or_init(|| Path::new("/proc/self/fd").is_dir())
    }

    /// A file in `dir` holding `contents` and no name; None where that cannot be done.
    pub fn write(dir: &Path, contents: &[u8], durable: bool) -> io::Result<Option<fs::File>> {
        if !KERNEL.load(Ordering::Relaxed) || !proc() {
            return Ok(None);
        }
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let mut file = match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fs::File::from(fd),
            // A kernel before 3.11 answers EISDIR, a file system without it EOPNOTSUPP.
            Err(Errno::ISDIR | Errno::OPNOTSUPP) => {
                KERNEL.store(false, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
        Ok(Some(file))
    }

    /// Gives `file` its name, `path`; fails with `AlreadyExists` when the name is taken. The
    /// file is reached through /proc, as linking an open file by its descriptor alone needs
    /// a privilege.
    pub fn link(file: &fs::File, path: &Path) -> io::Result<()> {
        let fd = format!("/proc/self/fd/{}", file.as_raw_fd());
        rustix::fs::linkat(CWD, fd.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)?;
        Ok(())
    }
}

/// Elsewhere every file is written under a temporary name.
#[cfg(not(target_os = "linux"))]
mod nameless {
    use std::fs;
    use std::io;
    use std::path::Path;

    pub fn write(_: &Path, _: &[u8], _: bool) -> io::Result<Option<fs::File>> {
        Ok(None)
    }

    pub fn link(_: &fs::File, _: &Path) -> io::Result<()> {
        unreachable!("no nameless file is ever written here")
    }
}

/// Appends `text` to the file at `path` in one write: a concurrent run's lines never
/// interleave with these, and a torn last line is unreadable, never wrong.
pub fn append(path: &Path, text: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
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
}
