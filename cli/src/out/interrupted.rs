//! What a sync killed mid-write leaves in an output directory, and how the next one clears it:
//! a marker at the top says a sync is writing there, and a sync that finds it removes the
//! temporary files ([`is_temporary`]) in the directories a sync may write.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::OnceLock;

use super::atomic::is_temporary;

/// The marker, at the top of the output directory, of a sync that is writing or was stopped
/// while it wrote.
pub const WRITING: &str = ".dappctl-writing";

/// What the marker says to whoever finds it.
const NOTE: &str = "dappctl is rendering into this directory, or was stopped while it did: \
                    the next render removes its temporary files and this one\n";

/// One sync's hold on the marker.
#[derive(Debug)]
pub struct Writing<'a> {
    dir: &'a Path,
    /// Whether an earlier sync's marker was there.
    interrupted: bool,
    /// Whether this sync made the marker (and how that went), see [`Writing::mark`].
    marked: OnceLock<Result<(), io::ErrorKind>>,
}

impl<'a> Writing<'a> {
    /// The start of a sync of `dir`, which finds the marker of an earlier one that was
    /// stopped before it ended, if any: one stat when none was.
    pub fn begin(dir: &'a Path) -> Self {
        let interrupted = fs::symlink_metadata(dir.join(WRITING)).is_ok();
        let marked = OnceLock::new();
        if interrupted {
            // Its marker serves for this sync too.
            let _ = marked.set(Ok(()));
        }
        Writing {
            dir,
            interrupted,
            marked,
        }
    }

    /// Whether an earlier sync was stopped before it ended.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Removes the temporary files a stopped sync may have left in `dirs` and at the top:
    /// `dirs` are the directories of the files the record lists and of this sync's files, as
    /// a stopped sync wrote only files the record it wrote first lists. Each must be a real
    /// directory below `dir` (no symbolic link on the way).
    pub fn sweep<'d>(&self, dirs: impl Iterator<Item = &'d str>) -> io::Result<()> {
        for relative in std::iter::once("").chain(dirs) {
            sweep(&self.dir.join(relative))?;
        }
        Ok(())
    }

    /// Makes the marker, once, before this sync's first temporary file can exist.
    pub fn mark(&self) -> io::Result<()> {
        let made = self
            .marked
            .get_or_init(|| fs::write(self.dir.join(WRITING), NOTE).map_err(|e| e.kind()));
        made.map_err(io::Error::from)
    }

    /// The sync ended: every temporary file was renamed or removed, so the marker goes.
    pub fn end(self) -> io::Result<()> {
        if self.marked.get().is_some_and(Result::is_ok) {
            fs::remove_file(self.dir.join(WRITING))?;
        }
        Ok(())
    }
}

/// Removes the temporary files directly in `dir`. A directory that is not there holds none;
/// a symbolic link, a directory or anything else by such a name is not dappctl's.
fn sweep(dir: &Path) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let ours = entry.file_name().to_str().is_some_and(is_temporary)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if ours {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}
