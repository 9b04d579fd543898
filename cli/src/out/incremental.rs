//! The incremental render: the one place that decides what of an earlier render is reused and
//! what is written again. The compiler asks, through its [`Earlier`] hook, whether the files
//! made from unchanged inputs are intact in the output; the fingerprint cache answers; then
//! [`sync`](super::sync::sync) writes only the files whose bytes differ.

use std::fmt;
use std::path::Path;

use dappmesh_compiler::render::{self, Earlier, Options, RenderError};
use dappmesh_compiler::validate::Validated;

use super::sync::{self, Cache, OWNED};

/// What the last render into an output directory left there, as the fingerprint cache knows
/// it, for this build of dappctl only.
struct Recorded<'a> {
    cache: &'a Cache,
    out: &'a Path,
}

impl Earlier for Recorded<'_> {
    fn build(&self) -> u64 {
        super::cache::build().unwrap_or_default()
    }

    fn directory(&self, dir: &str, key: u64) -> Option<Vec<String>> {
        self.cache.intact(self.out, dir, key)
    }

    fn run(&self, run: &str, key: u64) -> Option<Vec<String>> {
        self.cache.run_intact(self.out, run, key)
    }
}

/// Whether `out` has never been rendered into by dappctl (it holds no ownership record).
pub fn is_first(out: &Path) -> bool {
    !out.join(OWNED).exists()
}

/// A render from scratch holds every file at once and touches its memory only once, where
/// transparent huge pages map 2 MiB for each page it writes to: without them its peak RSS drops
/// by a sixth (300 to 250 MiB for 1,000 products). A re-render keeps them, as they make its
/// many small lookups faster.
pub fn lean_pages() {
    #[cfg(target_os = "linux")]
    // Only the memory use changes when the kernel refuses, so its answer does not matter.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// What a render into a directory did, as the command reports it.
pub struct Summary {
    out: String,
    files: usize,
    written: usize,
    unchanged: usize,
    removed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rendered {} files into {}: {} written, {} unchanged, {} removed",
            self.files, self.out, self.written, self.unchanged, self.removed
        )
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum IncrementalError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(#[from] RenderError),
    // The error is in the message, not a source: miette would print it twice.
    #[error("cannot write into `{out}`: {error}")]
    #[diagnostic(code = "io::write")]
    Write { out: String, error: std::io::Error },
}

/// Renders `validated` into `out`, reusing what an earlier render left intact there.
pub fn render_into(
    out: &Path,
    validated: &Validated,
    options: &Options,
) -> Result<Summary, IncrementalError> {
    let mut cache = Cache::load(out);
    let earlier = Recorded { cache: &cache, out };
    let rendered = render::render(validated, options, &earlier)?;
    let synced =
        sync::sync(out, &rendered.output, |p| rendered.covers(p), &mut cache).map_err(|error| {
            IncrementalError::Write {
                out: out.display().to_string(),
                error,
            }
        })?;
    let summary = Summary {
        out: out.display().to_string(),
        files: rendered.output.files.len() + rendered.output.intact.len(),
        written: synced.written.len(),
        unchanged: synced.unchanged,
        removed: synced.removed.len(),
    };
    // Tens of thousands of files' text: the exit frees them at once.
    std::mem::forget((rendered, cache));
    Ok(summary)
}
