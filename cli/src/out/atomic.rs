//! Writing a file so a reader never sees half of it: a temporary file beside the target,
//! renamed over it; and appending a record in one write.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Replaces one file, flushed to disk before the rename.
pub fn atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, true)
}

/// Replaces one file by rename; with `durable`, the data reaches the disk first (one file
/// written by hand), without it only the rename's atomicity holds (thousands of generated
/// files, where a sync per file would dominate).
pub fn replace(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
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
