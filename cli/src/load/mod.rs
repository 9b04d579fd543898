//! Finding the spec files below the paths a user names, reading them, and parsing each into
//! spanned YAML documents. Problems with a file's content become diagnostics; only a path that
//! cannot be read at all is an I/O error.

pub mod node;
pub mod yaml;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use node::{Entry, Node, Value};
pub use yaml::Limits;
use yaml::{YamlError, YamlErrorKind};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, Span};

/// Files larger than this are refused before they are read: no spec is this big, and reading
/// one would cost time and memory for nothing.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(code(io::read))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One YAML document, by file and position in that file.
#[derive(Debug)]
pub struct LoadedDocument {
    pub file: usize,
    pub root: Node,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub files: Vec<SourceFile>,
    pub documents: Vec<LoadedDocument>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Every `.yaml`/`.yml` file below `paths`, in a stable order. Hidden files and directories
/// are skipped, as are symlinked directories (they could loop). A file named explicitly is
/// taken whatever its extension.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
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
            walk(&path, found)?;
        } else if is_yaml(&path) && (kind.is_file() || path.is_file()) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Reads and parses the files, in parallel, keeping their order.
pub fn load(paths: &[PathBuf], limits: Limits) -> Result<Loaded, LoadError> {
    let parsed: Vec<(SourceFile, Result<Vec<Node>, Diagnostic>)> = paths
        .par_iter()
        .enumerate()
        .map(|(index, path)| read_and_parse(index, path, limits))
        .collect::<Result<_, _>>()?;
    let mut loaded = Loaded::default();
    for (index, (file, outcome)) in parsed.into_iter().enumerate() {
        loaded.files.push(file);
        match outcome {
            Ok(roots) => loaded.documents.extend(
                roots
                    .into_iter()
                    .map(|root| LoadedDocument { file: index, root }),
            ),
            Err(diagnostic) => loaded.diagnostics.push(diagnostic),
        }
    }
    Ok(loaded)
}

fn read_and_parse(
    index: usize,
    path: &Path,
    limits: Limits,
) -> Result<(SourceFile, Result<Vec<Node>, Diagnostic>), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
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
        return Ok((source, Err(diagnostic)));
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
            return Ok((source, Err(diagnostic)));
        }
    };
    let source = SourceFile::new(path.to_path_buf(), text);
    if let Some(nul) = source.text().find('\0') {
        let diagnostic =
            Diagnostic::error("yaml::binary", "file contains NUL bytes: it looks binary")
                .at(index, Span::new(nul, nul + 1))
                .label("NUL byte")
                .help("spec files must be UTF-8 YAML text");
        return Ok((source, Err(diagnostic)));
    }
    let outcome = yaml::parse(&source, limits)
        .map(|docs| docs.into_iter().map(|d| d.root).collect())
        .map_err(|e| yaml_diagnostic(index, e, limits));
    Ok((source, outcome))
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
        YamlErrorKind::AliasExpansion(limit) => Diagnostic::error(
            "yaml::alias-expansion",
            format!("aliases expand to more than {limit} nodes"),
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
