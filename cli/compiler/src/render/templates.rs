//! The minijinja templates render uses: those in templates/, built into the binary, and a
//! user's directory whose files replace the built-in ones of the same path or add new ones.
//! A template's first directory says how often it renders and where its output goes (see
//! [`Scope`]); a file whose name starts with `_` is a partial, rendered only by `include`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, StringInput};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::RenderError;

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/", $name)))),*]
    };
}

/// Every file of templates/, by its path there (a test keeps this list equal to the directory).
pub const EMBEDDED: &[(&str, &str)] = embed![
    "_macros.j2",
    "platform/crds.yaml.j2",
    "platform/mesh.yaml.j2",
    "platform/namespace.yaml.j2",
    "platform/operator.yaml.j2",
    "platform/registry.yaml.j2",
    "platform/dashboard.yaml.j2",
    "platform/_service.yaml.j2",
    "platform/argocd/health.yaml.j2",
    "mesh/root.yaml.j2",
    "mesh/apps/projects.yaml.j2",
    "mesh/apps/_product_kinds.yaml.j2",
    "environment/applications.yaml.j2",
    "domain/namespace.yaml.j2",
    "product/serviceaccount.yaml.j2",
    "product/storage.yaml.j2",
    "product/storage/_postgres.yaml.j2",
    "product/storage/_clickhouse.yaml.j2",
    "product/storage/_pinot.yaml.j2",
    "product/storage/_s3.yaml.j2",
    "product/pipelines.yaml.j2",
    "product/workflows.yaml.j2",
    "product/ports.yaml.j2",
    "product/networkpolicies.yaml.j2",
    "product/dataproduct.yaml.j2",
    "product/widgets.yaml.j2",
];

/// How often a template renders, and under which directory of the output its files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// `platform/`: once, into `platform/`.
    Platform,
    /// `mesh/`: once, into `argocd/`.
    Mesh,
    /// `environment/`: per environment, into `argocd/apps/<env>/`.
    Environment,
    /// `domain/`: per environment and domain, into `envs/<env>/<domain>/`.
    Domain,
    /// `product/`: per environment and product, into `envs/<env>/<domain>/<product>/`.
    Product,
}

impl Scope {
    fn from_dir(dir: &str) -> Option<Scope> {
        Some(match dir {
            "platform" => Scope::Platform,
            "mesh" => Scope::Mesh,
            "environment" => Scope::Environment,
            "domain" => Scope::Domain,
            "product" => Scope::Product,
            _ => return None,
        })
    }
}

/// A template that renders files (not a partial).
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub scope: Scope,
    /// Directories between the scope's directory and the file, kept in the output.
    pub subdir: PathBuf,
    /// From the user's directory: its output is parsed as YAML before it is written.
    pub custom: bool,
}

pub struct Templates {
    pub env: Environment<'static>,
    pub entries: Vec<Entry>,
    /// A user's templates are loaded: each render runs on [`FUEL`] and may write at most
    /// [`MAX_OUTPUT_BYTES`]. The built-in ones are ours and measured; theirs may loop.
    pub guarded: bool,
    /// A hash of every template's path and text: a change to any changes what renders.
    pub fingerprint: u64,
}

/// Template files larger than this are refused: a template is text a person wrote.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// Instructions one render of one template may run when a user's templates are loaded. The
/// built-in product templates run about a thousandth of it on the example mesh; a nested
/// loop over `range(100000)` runs out within a second instead of until it is killed.
pub const FUEL: u64 = 50_000_000;

/// Bytes one render of one template may write when a user's templates are loaded: as much
/// as a spec file may hold, far more than any Kubernetes object can.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

impl Templates {
    pub fn load(overrides: Option<&Path>) -> Result<Templates, RenderError> {
        let mut sources: BTreeMap<String, (String, bool)> = EMBEDDED
            .iter()
            .map(|(name, text)| ((*name).to_owned(), ((*text).to_owned(), false)))
            .collect();
        if let Some(dir) = overrides {
            for (name, text) in read_dir(dir)? {
                sources.insert(name, (text, true));
            }
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (name, (text, _)) in &sources {
            for piece in [name.as_bytes(), text.as_bytes()] {
                hasher.update(&(piece.len() as u64).to_le_bytes());
                hasher.update(piece);
            }
        }
        let fingerprint = hasher.digest();
        let mut env = Environment::new();
        let guarded = overrides.is_some();
        if guarded {
            env.set_fuel(Some(FUEL));
        }
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // YAML has no escaping minijinja knows; templates quote free text with `tojson`.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter(
            "toyaml",
            |value: minijinja::Value| -> Result<String, minijinja::Error> {
                let json = serde_json::to_value(&value).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })?;
                Ok(super::emit::to_yaml(&json))
            },
        );
        env.add_filter("indent", indent);
        env.add_global("dappctl", super::macros::functions());
        env.add_function("k8s_name", |parts: minijinja::value::Rest<String>| {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            super::resource_name(&parts)
        });
        let mut entries = Vec::new();
        for (name, (text, custom)) in sources {
            match entry(&name, custom) {
                Some(entry) => entries.push(entry),
                // A user's file that would render but has no scope: a misplaced template.
                None if custom && renders(&name) => {
                    return Err(RenderError::Scope { name });
                }
                None => {}
            }
            env.add_template_owned(name.clone(), text)
                .map_err(|e| RenderError::template(&name, &e))?;
        }
        entries.sort_by(|a, b| (a.scope, &a.name).cmp(&(b.scope, &b.name)));
        Ok(Templates {
            env,
            entries,
            guarded,
            fingerprint,
        })
    }
}

/// minijinja's `indent` (same arguments, same output) in one pass into a string sized up
/// front: the built-in formats line by line, and every label block, probe and custom resource
/// goes through it (a tenth of a render's time).
fn indent(
    value: StringInput<'_>,
    width: Option<usize>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, minijinja::Error> {
    let width = match width {
        Some(width) => width,
        None => kwargs.get::<Option<usize>>("width")?.unwrap_or(4),
    };
    let first = match first {
        Some(first) => first,
        None => kwargs.get::<Option<bool>>("first")?.unwrap_or(false),
    };
    let blank = match blank {
        Some(blank) => blank,
        None => kwargs.get::<Option<bool>>("blank")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let input = strip_newline(value.as_str());
    // Newlines found with SIMD: `split('\n')` and counting byte by byte were most of it.
    let breaks = || memchr::memchr_iter(b'\n', input.as_bytes());
    let mut out = String::with_capacity(input.len() + (breaks().count() + 1) * (width + 1));
    let mut start = 0;
    for end in breaks().chain([input.len()]) {
        let line = &input[start..end];
        // The first line stays where the tag is, unless `first` says otherwise.
        if (start > 0 || first) && (!line.is_empty() || blank) {
            out.extend(std::iter::repeat_n(' ', width));
        }
        out.push_str(line);
        out.push('\n');
        start = end + 1;
    }
    let kept = strip_newline(&out).len();
    out.truncate(kept);
    Ok(out)
}

/// One trailing `\n`, then one trailing `\r`, as minijinja's `indent` strips them.
fn strip_newline(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Whether a template renders files of its own (a partial's name starts with `_`).
fn renders(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    !file.starts_with('_') && file.ends_with(".yaml.j2")
}

fn entry(name: &str, custom: bool) -> Option<Entry> {
    if !renders(name) {
        return None;
    }
    let path = Path::new(name);
    let mut parts = path.parent()?.components();
    let scope = Scope::from_dir(parts.next()?.as_os_str().to_str()?)?;
    Some(Entry {
        name: name.to_owned(),
        scope,
        subdir: parts.as_path().to_path_buf(),
        custom,
    })
}

/// Every `.j2` file below `dir`, by its path relative to `dir` with '/' separators.
fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let io = |path: &Path, source: std::io::Error| RenderError::Templates {
        path: path.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for item in fs::read_dir(&current).map_err(|e| io(&current, e))? {
            let item = item.map_err(|e| io(&current, e))?;
            let path = item.path();
            let kind = item.file_type().map_err(|e| io(&path, e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "j2") {
                let size = item.metadata().map_err(|e| io(&path, e))?.len();
                if size > MAX_TEMPLATE_BYTES {
                    return Err(io(
                        &path,
                        std::io::Error::other(format!(
                            "{size} bytes; templates may have at most {MAX_TEMPLATE_BYTES}"
                        )),
                    ));
                }
                let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                let relative = path
                    .strip_prefix(dir)
                    .expect("walked below dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((relative, text));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_templates_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut on_disk: Vec<String> = read_dir(&dir)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn indent_matches_minijinjas_own() {
        let builtin = Environment::new();
        let mut ours = Environment::new();
        ours.add_filter("indent", indent);
        let calls = [
            "indent",
            "indent(2)",
            "indent(3, true)",
            "indent(2, false, true)",
            "indent(width=1, first=true, blank=true)",
            "indent(blank=true)",
        ];
        let inputs = [
            "",
            "\n",
            "a",
            "7",
            "a\n",
            "a\r\n",
            "a\nb",
            "a\n\nb\n",
            "\n\na\n\n",
            " x\r\ny\r",
        ];
        for call in calls {
            let number = format!("{{{{ 42 | {call} }}}}");
            assert_eq!(
                ours.render_str(&number, ()).unwrap(),
                builtin.render_str(&number, ()).unwrap()
            );
            let source = format!("{{{{ text | {call} }}}}");
            for text in inputs {
                let render = |env: &Environment| {
                    env.render_str(&source, minijinja::context! { text })
                        .unwrap()
                };
                assert_eq!(render(&ours), render(&builtin), "{call} on {text:?}");
            }
        }
        let wrong = ours.render_str("{{ 'a' | indent(nope=1) }}", ());
        assert!(wrong.is_err());
    }

    #[test]
    fn scopes_come_from_the_first_directory() {
        let e = entry("platform/argocd/health.yaml.j2", false).unwrap();
        assert_eq!(
            (e.scope, e.subdir.as_path()),
            (Scope::Platform, Path::new("argocd"))
        );
        assert!(entry("product/storage/_postgres.yaml.j2", false).is_none());
        assert!(entry("_macros.j2", false).is_none());
        assert!(entry("elsewhere/x.yaml.j2", true).is_none());
    }
}
