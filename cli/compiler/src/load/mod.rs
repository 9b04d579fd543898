//! Finding the spec files below the paths a user names, reading them, and parsing each into
//! YAML documents (JSON, with the way back to their text). Problems with a file's content
//! become diagnostics; only a path that cannot be read at all is an I/O error.

pub mod node;
pub mod yaml;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

pub use node::{Entry, Node, Value};
pub use yaml::Limits;
use yaml::{YamlError, YamlErrorKind};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, Span};

/// The record `dappctl render` keeps of the files it wrote into a directory (see dappctl's
/// `out::sync`): a directory holding it is rendered output, never read as specs.
pub const OWNED: &str = ".dappctl-owned";

/// Files larger than this are refused before they are read: no spec is this big, and reading
/// one would cost time and memory for nothing.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read `{}`", crate::source::shown(path))]
    #[diagnostic(code = "io::read")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Never read, never quoted: what a link points at can be anything the reader of the
    /// output must not see (a CI runner's `/proc/self/environ`, a token file).
    #[error(
        "`{}` is a symbolic link that leads out of the paths given; it is not read",
        crate::source::shown(link)
    )]
    #[diagnostic(
        code = "load::symlink",
        help(
            "keep spec files inside the tree, or name the file the link points at on the command line"
        )
    )]
    Escape { link: PathBuf },

    /// A device or socket named on the command line: reading one can block forever (a
    /// terminal) or never end (`/dev/zero` would only stop at the size limit).
    #[error("`{}` is a {kind}, not a spec file", crate::source::shown(path))]
    #[diagnostic(
        code = "load::special-file",
        help("name files or directories; a pipe works too, e.g. `dappctl validate <(generate)`")
    )]
    Special { path: PathBuf, kind: &'static str },
}

/// One YAML document as JSON, with the way back to its text.
#[derive(Debug)]
pub struct LoadedDocument {
    pub file: usize,
    pub json: serde_json::Value,
    pub spans: DocSpans,
}

/// The spanned trees of one file. Validation runs on plain JSON; the trees are built (by
/// parsing the file again) only when a diagnostic needs a position in it.
#[derive(Debug)]
pub struct Spans {
    source: Arc<SourceFile>,
    limits: Limits,
    trees: OnceLock<Vec<Node>>,
}

impl Spans {
    fn tree(&self, document: usize) -> Option<&Node> {
        self.trees
            // The file parsed once already, so it parses the same way again.
            .get_or_init(|| yaml::parse(&self.source, self.limits).unwrap_or_default())
            .get(document)
    }
}

/// The positions of one document of a file.
#[derive(Debug, Clone)]
pub struct DocSpans {
    spans: Arc<Spans>,
    document: usize,
}

impl DocSpans {
    /// The span to underline for the value at JSON Pointer segments (see [`Node::label_span`]).
    pub fn label<S: AsRef<str>>(&self, segments: &[S]) -> Span {
        self.spans
            .tree(self.document)
            .map_or_else(Span::default, |tree| {
                Node::label_span(tree.locate(segments))
            })
    }

    /// The text of a span of this document's file.
    pub fn source(&self, span: Span) -> &str {
        self.spans
            .source
            .text()
            .get(span.start..span.end)
            .unwrap_or_default()
    }

    /// The span of the mapping key at JSON Pointer segments, if the last one is a key.
    pub fn key<S: AsRef<str>>(&self, segments: &[S]) -> Option<Span> {
        self.spans.tree(self.document)?.locate(segments).key_span
    }
}

/// The files read, what became of each document (`D`), and the files that could not be parsed.
#[derive(Debug)]
pub struct Loaded<D = LoadedDocument> {
    pub files: Vec<Arc<SourceFile>>,
    pub documents: Vec<D>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Every `.yaml`/`.yml` file below `paths`, in a stable order. Hidden files and directories
/// are skipped, as are symlinked directories (they could loop). A file named explicitly is
/// taken whatever its extension.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut found = Vec::new();
    let mut linked = false;
    // Where a link below a directory may lead: into any of the paths given.
    let roots: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &roots, &mut found, &mut linked)?;
        } else if let Some(kind) = special(&meta.file_type()) {
            return Err(LoadError::Special {
                path: path.clone(),
                kind,
            });
        } else {
            found.push(path.clone());
        }
    }
    // `dappctl validate . ./products` names some files twice, and so can a symbolic link:
    // load each file once, first name wins. One directory without links cannot, and is
    // spared resolving every path (a thousand files, several system calls each).
    if paths.len() > 1 || linked {
        let mut seen = std::collections::HashSet::new();
        found.retain(|path| seen.insert(fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    }
    Ok(found)
}

/// Finds the spec files below `dir`; `linked` is set when one of them is a symbolic link.
/// A link must lead to a regular file inside one of the `roots` (the paths given,
/// resolved: a pull request can add a link to anything on the machine that validates it);
/// sockets, pipes and devices are skipped, so a read can neither hang nor leak.
fn walk(
    dir: &Path,
    roots: &[PathBuf],
    found: &mut Vec<PathBuf>,
    linked: &mut bool,
) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            // A directory `dappctl render` wrote holds manifests, not specs (its DataProduct
            // resources look like specs): `render . --out rendered` must not read it back.
            if path.join(OWNED).exists() {
                continue;
            }
            walk(&path, roots, found, linked)?;
        } else if is_yaml(&path) && kind.is_file() {
            found.push(path);
        } else if is_yaml(&path) && kind.is_symlink() {
            // A dangling link, or one to a directory or a special file, is skipped as before.
            let Ok(target) = fs::canonicalize(&path) else {
                continue;
            };
            if !roots.iter().any(|root| target.starts_with(root)) {
                return Err(LoadError::Escape { link: path });
            }
            if target.is_file() {
                *linked = true;
                found.push(path);
            }
        }
    }
    Ok(())
}

/// What a file that is neither regular, a directory nor a pipe is, for the error.
#[cfg(unix)]
fn special(kind: &fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_char_device() {
        Some("character device")
    } else if kind.is_block_device() {
        Some("block device")
    } else if kind.is_socket() {
        Some("socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special(_: &fs::FileType) -> Option<&'static str> {
    None
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// A file, and its documents or the reason it has none.
type FileOutcome<D> = (Arc<SourceFile>, Result<Vec<D>, Box<Diagnostic>>);

/// Reads and parses the files, in parallel, keeping their order.
pub fn load(paths: &[PathBuf], limits: Limits) -> Result<Loaded, LoadError> {
    load_with(paths, limits, SpecFile::parse)
}

/// One spec file, read whole and found to be text. What it holds is known only once it is
/// [parsed](SpecFile::parse), unless the caller remembers it from an earlier run.
pub struct SpecFile {
    pub index: usize,
    pub source: Arc<SourceFile>,
    spans: Arc<Spans>,
}

impl SpecFile {
    /// The file's YAML documents as JSON, or the diagnostic that stopped the parse.
    pub fn parse(&self) -> Result<Vec<LoadedDocument>, Box<Diagnostic>> {
        let documents = yaml::parse(&self.source, self.spans.limits)
            .map_err(|e| Box::new(yaml_diagnostic(self.index, e, self.spans.limits)))?;
        Ok(documents
            .into_iter()
            .enumerate()
            .map(|(document, json)| LoadedDocument {
                file: self.index,
                json,
                spans: self.spans(document),
            })
            .collect())
    }

    /// The positions of document `document` of this file, found by parsing the file only
    /// when a diagnostic asks for one.
    pub fn spans(&self, document: usize) -> DocSpans {
        DocSpans {
            spans: Arc::clone(&self.spans),
            document,
        }
    }
}

/// Reads the files in parallel and hands each one that is text to `each` on the same thread:
/// a caller that reduces a document to something smaller never holds every tree of the mesh
/// at once, and one that knows a file's content already can skip parsing it.
pub fn load_with<D: Send>(
    paths: &[PathBuf],
    limits: Limits,
    each: impl Fn(&SpecFile) -> Result<Vec<D>, Box<Diagnostic>> + Sync,
) -> Result<Loaded<D>, LoadError> {
    let parsed: Vec<FileOutcome<D>> = paths
        .par_iter()
        .enumerate()
        .map(|(index, path)| {
            let (file, unreadable) = read(index, path)?;
            let source = Arc::new(file);
            if let Some(diagnostic) = unreadable {
                return Ok((source, Err(Box::new(diagnostic))));
            }
            Ok(hand_over(index, source, limits, &each))
        })
        .collect::<Result<_, LoadError>>()?;
    Ok(gather(parsed))
}

/// [`load_with`] for texts that are already in memory (objects read from a cluster, say),
/// each named by the path its diagnostics show.
pub fn load_texts<D: Send>(
    texts: Vec<SourceFile>,
    limits: Limits,
    each: impl Fn(&SpecFile) -> Result<Vec<D>, Box<Diagnostic>> + Sync,
) -> Loaded<D> {
    let parsed: Vec<FileOutcome<D>> = texts
        .into_par_iter()
        .enumerate()
        .map(|(index, file)| hand_over(index, Arc::new(file), limits, &each))
        .collect();
    gather(parsed)
}

fn hand_over<D>(
    index: usize,
    source: Arc<SourceFile>,
    limits: Limits,
    each: &(impl Fn(&SpecFile) -> Result<Vec<D>, Box<Diagnostic>> + Sync),
) -> FileOutcome<D> {
    let read = SpecFile {
        index,
        spans: Arc::new(Spans {
            source: Arc::clone(&source),
            limits,
            trees: OnceLock::new(),
        }),
        source,
    };
    let outcome = each(&read);
    (read.source, outcome)
}

/// The files in order, their documents, and the diagnostics of those that had none.
fn gather<D>(parsed: Vec<FileOutcome<D>>) -> Loaded<D> {
    let mut loaded = Loaded {
        files: Vec::with_capacity(parsed.len()),
        documents: Vec::new(),
        diagnostics: Vec::new(),
    };
    for (file, outcome) in parsed {
        loaded.files.push(file);
        match outcome {
            Ok(documents) => loaded.documents.extend(documents),
            Err(diagnostic) => loaded.diagnostics.push(*diagnostic),
        }
    }
    loaded
}

/// The file's text, and the diagnostic that makes it unusable as YAML (too large, not UTF-8,
/// binary) if there is one.
fn read(index: usize, path: &Path) -> Result<(SourceFile, Option<Diagnostic>), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    // The size on disk sizes the buffer (one read, no regrowth) and refuses a huge file
    // before reading it; `take` still bounds what a growing or special file can feed us.
    let size = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::new();
    if size <= MAX_FILE_BYTES {
        bytes.reserve_exact(size as usize + 1);
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    if size > MAX_FILE_BYTES || bytes.len() as u64 > MAX_FILE_BYTES {
        let source = SourceFile::new(path.to_path_buf(), "");
        let diagnostic = Diagnostic::error(
            "yaml::too-large",
            format!(
                "file is larger than the {} MiB limit for a spec file",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .at(index, Span::default())
        .help("split the mesh into several files, one product per file");
        return Ok((source, Some(diagnostic)));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let source = SourceFile::new(path.to_path_buf(), text);
            let diagnostic = Diagnostic::error("yaml::not-utf8", "file is not UTF-8 text")
                // The stored text has U+FFFD where the bad byte was.
                .at(
                    index,
                    Span::new(valid, valid + char::REPLACEMENT_CHARACTER.len_utf8()),
                )
                .label("invalid UTF-8 here")
                .help("spec files must be UTF-8 YAML; is this a binary file?");
            return Ok((source, Some(diagnostic)));
        }
    };
    let source = SourceFile::new(path.to_path_buf(), text);
    if let Some(nul) = source.text().find('\0') {
        let diagnostic =
            Diagnostic::error("yaml::binary", "file contains NUL bytes: it looks binary")
                .at(index, Span::new(nul, nul + 1))
                .label("NUL byte")
                .help("spec files must be UTF-8 YAML text");
        return Ok((source, Some(diagnostic)));
    }
    Ok((source, None))
}

fn yaml_diagnostic(file: usize, error: YamlError, limits: Limits) -> Diagnostic {
    let YamlError {
        kind,
        span,
        previous,
    } = error;
    let diagnostic = match kind {
        YamlErrorKind::Syntax(info) => {
            Diagnostic::error("yaml::syntax", format!("invalid YAML: {info}")).label(info)
        }
        YamlErrorKind::DuplicateKey(key) => {
            let d = Diagnostic::error("yaml::duplicate-key", format!("duplicate key `{key}`"))
                .label("duplicate key")
                .help("YAML keys must be unique in a mapping; remove one or merge them");
            match previous {
                Some(first) => d.related(file, first, "first defined here"),
                None => d,
            }
        }
        YamlErrorKind::TooDeep(depth) => Diagnostic::error(
            "yaml::too-deep",
            format!("nesting is deeper than {depth} levels"),
        )
        .label("too deep")
        .help(format!(
            "no spec nests more than a few levels; at most {} are accepted",
            limits.max_depth
        )),
        YamlErrorKind::TooManyDocuments(most) => Diagnostic::error(
            "yaml::too-many-documents",
            format!("the file holds more than {most} documents"),
        )
        .label("this document is one too many")
        .help("split the specs over several files; a mesh has a file per product or domain"),
        YamlErrorKind::TooManyNodes(most) => Diagnostic::error(
            "yaml::too-many-nodes",
            format!("the file holds more than {most} values"),
        )
        .label("the limit is reached here")
        .help("no spec is this large; if the file is generated, split it over several files"),
        YamlErrorKind::AliasExpansion(limit) => Diagnostic::error(
            "yaml::alias-expansion",
            format!(
                "anchors and aliases copy more than {} MiB of content",
                limit / (1024 * 1024)
            ),
        )
        .label("expansion limit reached here")
        .help("this looks like an alias bomb; write the values out or use fewer aliases"),
        YamlErrorKind::UnknownAlias => {
            Diagnostic::error("yaml::syntax", "alias to an unknown anchor").label("unknown anchor")
        }
        YamlErrorKind::ComplexKey => Diagnostic::error(
            "yaml::complex-key",
            "mapping keys must be scalars",
        )
        .label("collection used as a key"),
        YamlErrorKind::UnsupportedTag(tag) => Diagnostic::error(
            "yaml::tag",
            format!("unsupported tag `{tag}`"),
        )
        .label("unsupported tag")
        .help("only the YAML core tags !!str, !!int, !!float, !!bool, !!null, !!seq and !!map are accepted"),
        YamlErrorKind::BadTaggedValue(tag) => Diagnostic::error(
            "yaml::tag",
            format!("value does not match its tag `{tag}`"),
        )
        .label("not a valid value for the tag"),
        YamlErrorKind::NonFiniteNumber => Diagnostic::error(
            "yaml::non-finite",
            "infinite and NaN numbers are not accepted",
        )
        .label("not a finite number")
        .help("quote it if you meant a string"),
    };
    diagnostic.at(file, span)
}
