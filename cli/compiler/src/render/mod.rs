//! Render: a validated mesh becomes the files of a GitOps repository, one Kubernetes or
//! Argo CD object per file. Templates (see [`templates`]) decide what objects exist; this
//! module decides which template runs for what, and where each object's file goes:
//!
//! ```text
//! platform/<kind>-<name>.yaml                      CRDs, operator, registry, dashboard
//! argocd/application-dappmesh.yaml                 the root app-of-apps
//! argocd/apps/appproject-<domain>.yaml             one project per domain
//! argocd/apps/<env>/application-<…>.yaml           platform, domain and product apps
//! envs/<env>/<domain>/namespace-<domain>.yaml      the domain's namespace
//! envs/<env>/<domain>/<product>/<kind>-<name>.yaml everything a product runs
//! ```

mod context;
mod contract;
mod crd;
#[cfg(test)]
mod documented;
mod emit;
mod macros;
mod memory;
mod product;
pub mod resource;
mod runs;
mod templates;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;
use serde_json::Value;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::model::{DataProduct, Environment};
use crate::source::SourceFile;
use crate::validate::{Doc, Validated};
pub use context::resource_name;
pub use emit::to_yaml;
pub use memory::Metered;
use templates::Entry;
pub use templates::Templates;
pub use templates::{EMBEDDED, Scope};

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Render only this environment (all when None).
    pub env: Option<String>,
    /// A directory of templates that replace or add to the built-in ones.
    pub templates: Option<PathBuf>,
}

/// What to write: files by relative path with their content, the files the [`Earlier`] hook found
/// intact (kept as they are, still owned), the keys of the inputs behind each product
/// directory, and for each other template run its key and files.
#[derive(Debug, Default)]
pub struct Output {
    pub files: BTreeMap<String, Vec<u8>>,
    pub intact: Vec<String>,
    pub keys: BTreeMap<String, u64>,
    pub runs: BTreeMap<String, (u64, Vec<String>)>,
}

/// The files of the repository, by path relative to its root.
#[derive(Debug)]
pub struct Rendered {
    pub output: Output,
    /// Environments left out by `--env`: files of theirs rendered before are not this
    /// render's to remove.
    pub skipped_envs: Vec<String>,
}

impl Rendered {
    /// Whether a file of an earlier render is covered by this one (and so removed when this
    /// one no longer produces it).
    pub fn covers(&self, path: &str) -> bool {
        !self.skipped_envs.iter().any(|env| {
            path.starts_with(&format!("envs/{env}/"))
                || path.starts_with(&format!("argocd/apps/{env}/"))
        })
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RenderError {
    #[error("the mesh has no environment `{name}`")]
    #[diagnostic(code = "render::unknown-env", help("{help}"))]
    UnknownEnv { name: String, help: String },

    #[error("the mesh has no data product `{name}`")]
    #[diagnostic(code = "render::unknown-product")]
    UnknownProduct { name: String },

    #[error("cannot read templates at {}", crate::source::shown(path))]
    #[diagnostic(code = "render::templates")]
    Templates {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("template {name}: {message}")]
    #[diagnostic(code = "render::template", help("{help}"))]
    Template {
        name: String,
        message: String,
        help: String,
    },

    #[error("template {name} is not under platform/, mesh/, environment/, domain/ or product/")]
    #[diagnostic(
        code = "render::template-scope",
        help("the first directory says how often a template renders; start partials with `_`")
    )]
    Scope { name: String },

    #[error("template {template} rendered {what}")]
    #[diagnostic(code = "render::output", help("{help}"))]
    Output {
        template: String,
        what: String,
        help: String,
    },

    #[error("{first} and {second} are one object: the same kind and name in one namespace")]
    #[diagnostic(
        code = "render::collision",
        help(
            "names joined with '-' can meet (domain `a` + product `b-c`, domain `a-b` + product `c`); rename one of them"
        )
    )]
    Collision { first: String, second: String },

    #[error("{path} is rendered twice: by {first} and by {second}")]
    #[diagnostic(
        code = "render::duplicate",
        help("two objects of one kind share a name in one directory; rename one of them")
    )]
    Duplicate {
        path: String,
        first: String,
        second: String,
    },
}

impl RenderError {
    fn template(name: &str, error: &minijinja::Error) -> RenderError {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            message.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        let at = match (error.name(), error.line()) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            _ => name.to_owned(),
        };
        let help = match error.kind() {
            minijinja::ErrorKind::OutOfFuel | minijinja::ErrorKind::WriteFailure => format!(
                "a user's template may run {} million instructions and write {} MiB per render; \
                 look for a loop without bound",
                templates::FUEL / 1_000_000,
                templates::MAX_OUTPUT_BYTES >> 20
            ),
            _ => "templates run with strict undefined: every name they use must be in the context (see cli/docs/render.md)".into(),
        };
        RenderError::Template {
            name: at,
            message,
            help,
        }
    }
}

/// One rendered object: the text of its file and where it goes.
struct Object {
    /// Relative, '/'-separated: compared and sorted as text, far cheaper than as a Path.
    path: String,
    text: String,
    template: String,
}

/// What an earlier render left in the output, for the parts of this one whose inputs (the
/// key) are unchanged: their files' paths, when every one is still as written.
pub trait Earlier: Sync {
    /// The program the earlier files came from (its version and build): part of every key, so
    /// that a rebuilt program with other templates or rules never takes them for its own.
    fn build(&self) -> u64;
    /// The files below a product's directory.
    fn directory(&self, dir: &str, key: u64) -> Option<Vec<String>>;
    /// The files of one template run (a platform, mesh, environment or domain template).
    fn run(&self, run: &str, key: u64) -> Option<Vec<String>>;
}

/// No earlier render: everything is rendered.
pub struct Afresh;

impl Earlier for Afresh {
    fn build(&self) -> u64 {
        0
    }

    fn directory(&self, _: &str, _: u64) -> Option<Vec<String>> {
        None
    }

    fn run(&self, _: &str, _: u64) -> Option<Vec<String>> {
        None
    }
}

/// Renders one product in one environment: the files `render` writes under
/// `envs/<env>/<domain>/<product>/`, byte for byte. The rest of the mesh is read (a
/// product's NetworkPolicies depend on who consumes its ports) but not rendered, and no
/// other product's key is computed: the operator calls this once per reconcile.
pub fn product(
    validated: &Validated,
    env: &str,
    name: &str,
    templates: &Templates,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, RenderError> {
    let mesh = &validated.mesh.spec;
    let env = environment(mesh, env)?;
    let doc = validated
        .products
        .iter()
        .find(|p| p.spec.metadata.name == name)
        .ok_or_else(|| RenderError::UnknownProduct {
            name: name.to_owned(),
        })?;
    let product_entries: Vec<&Entry> = templates
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Product)
        .collect();
    let mut objects = product_objects(
        templates,
        &product_entries,
        Product {
            validated,
            doc,
            custom_resource: &resource::spec(doc),
            consumers: &context::consumers(validated),
            by_name: &context::products(validated),
        },
        env,
        &minijinja::Value::from_serialize(context::mesh(mesh)),
        &minijinja::Value::from_serialize(context::environment(env)),
    )?;
    objects.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    duplicates(&objects)?;
    Ok(objects
        .into_iter()
        .map(|o| (o.path, o.text.into_bytes()))
        .collect())
}

fn environment<'a>(
    mesh: &'a crate::model::Mesh,
    name: &str,
) -> Result<&'a Environment, RenderError> {
    mesh.spec
        .environments
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = mesh
                .spec
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            RenderError::UnknownEnv {
                name: name.to_owned(),
                help: format!("the mesh's environments are {}", known.join(", ")),
            }
        })
}

/// A product and what its objects depend on besides the environment.
struct Product<'a> {
    validated: &'a Validated,
    doc: &'a Doc<DataProduct>,
    /// Its [`resource::spec`], the same in every environment.
    custom_resource: &'a str,
    consumers: &'a context::Consumers<'a>,
    by_name: &'a context::Products<'a>,
}

/// The objects of one product in one environment, from the product-scoped templates.
fn product_objects(
    templates: &Templates,
    entries: &[&Entry],
    of: Product<'_>,
    env: &Environment,
    mesh_context: &minijinja::Value,
    env_context: &minijinja::Value,
) -> Result<Vec<Object>, RenderError> {
    let meta = &of.doc.spec.metadata;
    let dir = Path::new("envs")
        .join(&env.name)
        .join(&meta.domain)
        .join(&meta.name);
    let product = product::context(
        of.validated,
        of.doc,
        env,
        of.consumers,
        of.by_name,
        of.custom_resource,
    );
    // Converted once: templates would otherwise each convert the whole context again. The
    // mesh's and environment's parts were converted once for all products.
    let ctx = minijinja::Value::from_iter([
        ("mesh", mesh_context.clone()),
        ("env", env_context.clone()),
        ("product", minijinja::Value::from_serialize(&product)),
    ]);
    let mut objects = Vec::new();
    for entry in entries {
        objects.extend(render_entry(
            templates,
            entry,
            &dir.join(&entry.subdir),
            &ctx,
        )?);
    }
    Ok(objects)
}

fn render_entry(
    templates: &Templates,
    entry: &Entry,
    dir: &Path,
    ctx: &minijinja::Value,
) -> Result<Vec<Object>, RenderError> {
    let template = templates
        .env
        .get_template(&entry.name)
        .map_err(|e| RenderError::template(&entry.name, &e))?;
    let text = if templates.guarded {
        let verdict = format!(
            "render::template\n\n  \u{d7} template {name}: held more than {mib} MiB of memory \
             while rendering {dir}\n  help: a user's template may hold {mib} MiB while it renders; \
             a string joined to itself (`s ~ s`) doubles with every join\n",
            name = entry.name,
            mib = memory::MAX_HELD_BYTES >> 20,
            dir = dir.display(),
        );
        memory::metered(verdict, || render_capped(&template, ctx))
            .map_err(|e| RenderError::template(&entry.name, &e))?
    } else {
        template
            .render(ctx)
            .map_err(|e| RenderError::template(&entry.name, &e))?
    };
    split(&entry.name, entry.custom, dir, &text)
}

/// Renders into a buffer that refuses to grow past [`templates::MAX_OUTPUT_BYTES`]: the
/// render stops with an error where the template wrote too much, instead of filling memory.
fn render_capped(
    template: &minijinja::Template<'_, '_>,
    ctx: &minijinja::Value,
) -> Result<String, minijinja::Error> {
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + bytes.len() > templates::MAX_OUTPUT_BYTES {
                return Err(std::io::Error::other(format!(
                    "the output passed {} MiB",
                    templates::MAX_OUTPUT_BYTES >> 20
                )));
            }
            self.0.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new());
    template.render_captured_to(ctx, &mut out)?;
    // minijinja writes only whole strings, so the bytes are UTF-8.
    String::from_utf8(out.0)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
}

/// Objects sorted by path may not share one.
fn duplicates(objects: &[Object]) -> Result<(), RenderError> {
    match objects.windows(2).find(|w| w[0].path == w[1].path) {
        Some(pair) => Err(RenderError::Duplicate {
            path: pair[0].path.clone(),
            first: pair[0].template.clone(),
            second: pair[1].template.clone(),
        }),
        None => Ok(()),
    }
}

/// Renders the mesh. `earlier` is asked, for each product in each environment and each other
/// template run, whether the files an earlier render made from the same inputs are still
/// intact in the output; when it answers with their paths, that part is not rendered again.
pub fn render(
    validated: &Validated,
    options: &Options,
    earlier: &dyn Earlier,
) -> Result<Rendered, RenderError> {
    let templates = Templates::load(options.templates.as_deref())?;
    let mesh = &validated.mesh.spec;
    let envs: Vec<&Environment> = match &options.env {
        None => mesh.spec.environments.iter().collect(),
        Some(name) => vec![environment(mesh, name)?],
    };
    let skipped_envs = mesh
        .spec
        .environments
        .iter()
        .filter(|e| !envs.iter().any(|chosen| chosen.name == e.name))
        .map(|e| e.name.clone())
        .collect();
    let scopes = runs::Scopes::new(validated, &envs);
    let runs = runs::runs(&templates, &scopes);
    // Every run is independent of the others; products are most of them.
    let (runs, products) = rayon::join(
        || render_runs(&templates, &runs, earlier),
        || render_products(validated, &templates, &envs, &scopes, earlier),
    );
    let mut objects: Vec<Object> = Vec::new();
    let mut output = Output::default();
    take_products(products?, &mut output, &mut objects);
    take_runs(runs?, &mut output, &mut objects);
    objects.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    duplicates(&objects)?;
    output.files = objects
        .into_iter()
        .map(|o| (o.path, o.text.into_bytes()))
        .collect();
    collisions(output.files.keys().chain(&output.intact))?;
    Ok(Rendered {
        output,
        skipped_envs,
    })
}

/// The non-product runs, each rendered or found intact.
fn render_runs(
    templates: &Templates,
    runs: &[runs::Run<'_>],
    earlier: &dyn Earlier,
) -> Result<Vec<Part>, RenderError> {
    runs.par_iter()
        .map(|run| {
            let unit = format!("{}:{}", run.entry.name, run.dir.to_string_lossy());
            let key = run_key(earlier.build(), templates, &unit, &run.context);
            if let Some(files) = earlier.run(&unit, key) {
                return Ok(Part::Intact { unit, key, files });
            }
            let ctx = minijinja::Value::from_serialize(&run.context);
            let objects = render_entry(templates, run.entry, &run.dir, &ctx)?;
            Ok(Part::Rendered { unit, key, objects })
        })
        .collect()
}

/// Every product in every environment rendered, each rendered or found intact. Product by
/// product, its environments side by side: they share its custom resource, made once (when
/// some environment of it is rendered at all).
fn render_products(
    validated: &Validated,
    templates: &Templates,
    envs: &[&Environment],
    scopes: &runs::Scopes<'_>,
    earlier: &dyn Earlier,
) -> Result<Vec<Part>, RenderError> {
    let entries: Vec<&Entry> = templates
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Product)
        .collect();
    let consumers = context::consumers(validated);
    let by_name = context::products(validated);
    let custom_resources: Vec<OnceLock<String>> =
        validated.products.iter().map(|_| OnceLock::new()).collect();
    // Converted once: each product's templates would otherwise convert them again.
    let mesh_value = minijinja::Value::from_serialize(&scopes.mesh);
    let env_values: Vec<minijinja::Value> = scopes
        .envs
        .iter()
        .map(|(_, env)| minijinja::Value::from_serialize(env))
        .collect();
    let work: Vec<(usize, &Environment, &minijinja::Value)> = (0..validated.products.len())
        .flat_map(|index| {
            envs.iter()
                .zip(&env_values)
                .map(move |(env, ctx)| (index, *env, ctx))
        })
        .collect();
    work.par_iter()
        .map(|&(index, env, env_context)| {
            let doc = &validated.products[index];
            let meta = &doc.spec.metadata;
            let unit = format!("envs/{}/{}/{}", env.name, meta.domain, meta.name);
            let key = product_key(
                earlier.build(),
                templates,
                validated,
                doc,
                env,
                &consumers,
                &by_name,
            );
            if let Some(files) = earlier.directory(&unit, key) {
                return Ok(Part::Intact { unit, key, files });
            }
            let of = Product {
                validated,
                doc,
                custom_resource: custom_resources[index].get_or_init(|| resource::spec(doc)),
                consumers: &consumers,
                by_name: &by_name,
            };
            let objects = product_objects(templates, &entries, of, env, &mesh_value, env_context)?;
            Ok(Part::Rendered { unit, key, objects })
        })
        .collect()
}

/// Takes the products' parts into the output: keys by directory, objects or intact files.
fn take_products(mut products: Vec<Part>, output: &mut Output, objects: &mut Vec<Object>) {
    // In path order (every path of a product starts with its directory and a '/'), so the
    // intact files come out sorted: the products', then the other runs'.
    products.sort_by(|a, b| under(a.unit()).cmp(under(b.unit())));
    for product in products {
        match product {
            Part::Rendered {
                unit,
                key,
                objects: o,
            } => {
                output.keys.insert(unit, key);
                objects.extend(o);
            }
            Part::Intact { unit, key, files } => {
                output.keys.insert(unit, key);
                output.intact.extend(files);
            }
        }
    }
}

/// Takes the other runs' parts into the output: each run's key and files, objects or
/// intact files (after the products', sorted).
fn take_runs(runs: Vec<Part>, output: &mut Output, objects: &mut Vec<Object>) {
    let mut runs_intact = Vec::new();
    for run in runs {
        match run {
            Part::Rendered {
                unit,
                key,
                objects: o,
            } => {
                let mut files: Vec<String> = o.iter().map(|o| o.path.clone()).collect();
                files.sort_unstable();
                output.runs.insert(unit, (key, files));
                objects.extend(o);
            }
            Part::Intact { unit, key, files } => {
                runs_intact.extend(files.iter().cloned());
                output.runs.insert(unit, (key, files));
            }
        }
    }
    runs_intact.sort_unstable();
    output.intact.extend(runs_intact);
}

/// Files in different directories can still be one object in the cluster: every product of
/// a domain shares its namespace, and every Argo CD object lives in `argocd`. The file name
/// is the kind and the name, so two equal file names in one namespace are a collision.
fn collisions<'a>(paths: impl Iterator<Item = &'a String>) -> Result<(), RenderError> {
    // Tens of thousands of paths, one by one: a fast hash, no allocation per path, and a
    // table sized once (growing it rehashes every path seen so far, again and again).
    let mut seen: std::collections::HashMap<(&str, &str), &str, Xxh3DefaultBuilder> =
        std::collections::HashMap::with_capacity_and_hasher(
            paths.size_hint().0,
            Xxh3DefaultBuilder,
        );
    for path in paths {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        // The namespace a file's object lands in, as far as names go: the environment and
        // domain for envs/, one shared space each for argocd/ and platform/.
        let first = dir.split('/').next().unwrap_or_default();
        let space = match first {
            "envs" => dir
                .match_indices('/')
                .nth(2)
                .map_or(dir, |(end, _)| &dir[..end]),
            _ => first,
        };
        if let Some(first) = seen.insert((space, file), path) {
            return Err(RenderError::Collision {
                first: first.to_owned(),
                second: path.clone(),
            });
        }
    }
    Ok(())
}

/// One product in one environment, or one other template run: rendered now, or found intact
/// from an earlier render. `unit` is the product's directory, or the run's template and
/// directory.
enum Part {
    Rendered {
        unit: String,
        key: u64,
        objects: Vec<Object>,
    },
    Intact {
        unit: String,
        key: u64,
        files: Vec<String>,
    },
}

/// The bytes of the paths below `dir`, up to where they differ from each other.
fn under(dir: &str) -> impl Iterator<Item = u8> + '_ {
    dir.bytes().chain(std::iter::once(b'/'))
}

impl Part {
    fn unit(&self) -> &str {
        match self {
            Part::Rendered { unit, .. } | Part::Intact { unit, .. } => unit,
        }
    }
}

/// A hash of everything one template run's files are made from: the program's build, the
/// templates, which run it is, and what it sees.
fn run_key(build: u64, templates: &Templates, run: &str, context: &Value) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&build.to_le_bytes());
    hasher.update(&templates.fingerprint.to_le_bytes());
    hasher.update(&(run.len() as u64).to_le_bytes());
    hasher.update(run.as_bytes());
    // Serialising a JSON value cannot fail; an empty context would only cost a render.
    hasher.update(&serde_json::to_vec(context).unwrap_or_default());
    hasher.digest()
}

/// A hash of everything a product's files are made from in one environment: the program's build,
/// the templates, the mesh, the environment, the product, the products that consume its ports
/// and the documents of those whose ports it consumes. Equal keys, equal files.
fn product_key(
    build: u64,
    templates: &Templates,
    validated: &Validated,
    doc: &Doc<DataProduct>,
    env: &Environment,
    consumers: &context::Consumers<'_>,
    by_name: &context::Products<'_>,
) -> u64 {
    let meta = &doc.spec.metadata;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut part = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    part(&build.to_le_bytes());
    part(&templates.fingerprint.to_le_bytes());
    part(validated.mesh.json.as_bytes());
    part(env.name.as_bytes());
    part(doc.json.as_bytes());
    let own = (meta.domain.as_str(), meta.name.as_str());
    for ((domain, name, port), users) in consumers.range((own.0, own.1, "")..) {
        if (*domain, *name) != own {
            break;
        }
        part(port.as_bytes());
        for (d, p) in users {
            part(d.as_bytes());
            part(p.as_bytes());
        }
    }
    for input in &doc.spec.spec.data_in_use.input_ports {
        if let Some(r) = &input.product
            && let Some(provider) = by_name.get(&(r.domain.as_str(), r.name.as_str()))
        {
            part(provider.json.as_bytes());
        }
    }
    hasher.digest()
}

/// Cuts a template's output into its YAML documents and names each one's file after its
/// kind and name. Built-in templates are known to write `kind:` and `metadata.name` in block
/// style, so a line scan finds them; a user's template is parsed as YAML, which also catches
/// output that is not YAML at all.
fn split(template: &str, custom: bool, dir: &Path, text: &str) -> Result<Vec<Object>, RenderError> {
    let dir = dir.to_string_lossy();
    // A template with no subdirectory was joined with "", which leaves a trailing '/'.
    let dir = dir.trim_end_matches('/');
    let mut objects = Vec::new();
    for (index, document) in documents(text).into_iter().enumerate() {
        let (kind, name) = if custom {
            identify_parsed(template, index, document)?
        } else {
            identify(document).ok_or_else(|| RenderError::Output {
                template: template.to_owned(),
                what: format!(
                    "document {} without a top-level `kind:` and `metadata.name:`",
                    index + 1
                ),
                help: "every rendered document is one Kubernetes object".into(),
            })?
        };
        let document = document.trim_end();
        // Sized for the newline: tens of thousands of these are held until written.
        let mut text = String::with_capacity(document.len() + 1);
        text.push_str(document);
        text.push('\n');
        objects.push(Object {
            path: format!("{dir}/{}-{name}.yaml", kind.to_ascii_lowercase()),
            text,
            template: template.to_owned(),
        });
    }
    Ok(objects)
}

/// The documents of a YAML stream that hold more than blank lines and comments.
fn documents(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut start = 0;
    // A separator is a line of `---` and trailing blanks: looked for as a substring (with
    // SIMD: megabytes of template output go through here), which skips the lines between
    // separators far faster than reading them one by one.
    let bytes = text.as_bytes();
    let separator = memchr::memmem::Finder::new(b"---");
    let mut from = 0;
    while let Some(at) = separator.find(&bytes[from..]).map(|i| from + i) {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |i| at + i + 1);
        if (at == 0 || bytes[at - 1] == b'\n') && text[at..end].trim_end() == "---" {
            found.push(&text[start..at]);
            start = end;
            from = end;
        } else {
            from = at + 3;
        }
    }
    found.push(&text[start..]);
    found
        .into_iter()
        .map(|d| d.trim_start_matches('\n'))
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

fn identify(document: &str) -> Option<(String, String)> {
    let mut kind = None;
    let mut name = None;
    let mut in_metadata = false;
    for line in document.lines() {
        if let Some(value) = line.strip_prefix("kind:") {
            kind = Some(scalar(value));
            in_metadata = false;
        } else if line.starts_with("metadata:") {
            in_metadata = true;
        } else if !line.starts_with(' ') && !line.trim().is_empty() {
            in_metadata = false;
        } else if in_metadata
            && name.is_none()
            && let Some(value) = line.strip_prefix("  name:")
        {
            name = Some(scalar(value));
        }
        if kind.is_some() && name.is_some() {
            break;
        }
    }
    Some((kind?, name?)).filter(|(k, n)| safe(k) && safe(n))
}

fn scalar(text: &str) -> String {
    let text = text.split(" #").next().unwrap_or_default().trim();
    text.trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// Names that can be part of a file name as they are.
fn safe(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !text.starts_with('.')
}

fn identify_parsed(
    template: &str,
    index: usize,
    document: &str,
) -> Result<(String, String), RenderError> {
    let file = SourceFile::new(PathBuf::from(template), document);
    let fail = |what: String| RenderError::Output {
        template: template.to_owned(),
        what,
        help:
            "render the template alone and check its YAML (every document is one Kubernetes object)"
                .into(),
    };
    let parsed: Vec<Value> = crate::load::yaml::parse(&file, crate::load::Limits::default())
        .map_err(|e| {
            let at = file.line_col(e.span.start);
            fail(format!(
                "document {} that is not valid YAML (line {}, column {} of that document): {:?}",
                index + 1,
                at.line,
                at.column,
                e.kind
            ))
        })?;
    let object = parsed
        .first()
        .ok_or_else(|| fail(format!("an empty document {}", index + 1)))?;
    let kind = object.get("kind").and_then(Value::as_str);
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    match (kind, name) {
        (Some(kind), Some(name)) if safe(kind) && safe(name) => {
            Ok((kind.to_owned(), name.to_owned()))
        }
        _ => Err(fail(format!(
            "document {} without a string `kind` and `metadata.name` (DNS names only)",
            index + 1
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_product_renders_as_it_does_in_the_whole_mesh() {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let validated = crate::validate::validate_paths(&[examples])
            .unwrap()
            .validated
            .expect("the examples are valid");
        let whole = render(&validated, &Options::default(), &Afresh).unwrap();
        let templates = Templates::load(None).unwrap();
        let alone = product(&validated, "prod", "sales-orders", &templates).unwrap();
        let dir = "envs/prod/sales/sales-orders/";
        let expected: std::collections::BTreeMap<String, Vec<u8>> = whole
            .output
            .files
            .into_iter()
            .filter(|(path, _)| path.starts_with(dir))
            .collect();
        assert!(expected.len() > 10);
        assert_eq!(alone, expected);
        assert!(matches!(
            product(&validated, "prod", "no-such-product", &templates),
            Err(RenderError::UnknownProduct { .. })
        ));
        assert!(matches!(
            product(&validated, "staging", "sales-orders", &templates),
            Err(RenderError::UnknownEnv { .. })
        ));
    }

    #[test]
    fn objects_of_one_namespace_must_differ_across_directories() {
        let paths = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let fine = paths(&[
            "envs/dev/crm/a/service-x.yaml",
            "envs/prod/crm/a/service-x.yaml",
            "envs/dev/sales/a/service-x.yaml",
            "argocd/apps/dev/application-x.yaml",
            "argocd/apps/appproject-x.yaml",
        ]);
        assert!(collisions(fine.iter()).is_ok());
        let clash = paths(&[
            "envs/dev/crm/a/service-b-c.yaml",
            "envs/dev/crm/a-b/service-b-c.yaml",
        ]);
        assert!(collisions(clash.iter()).is_err());
        let apps = paths(&[
            "argocd/apps/dev/application-dev-eu-sales.yaml",
            "argocd/apps/dev-eu/application-dev-eu-sales.yaml",
        ]);
        assert!(collisions(apps.iter()).is_err());
    }

    #[test]
    fn documents_are_cut_at_separators_and_blank_ones_dropped() {
        let text = "---\n# a comment\n---\nkind: A\nmetadata:\n  name: a\n---\n\nkind: B\nmetadata:\n  labels:\n    name: no\n  name: b\n";
        let docs = documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(identify(docs[0]), Some(("A".into(), "a".into())));
        assert_eq!(identify(docs[1]), Some(("B".into(), "b".into())));

        let text = "kind: A\nmetadata:\n  name: a---b\nx: |\n  ----\n---- \n--- \r\nkind: B\n---";
        let docs = documents(text);
        assert_eq!(docs.len(), 2);
        assert!(docs[0].ends_with("---- \n"));
        assert_eq!(docs[1], "kind: B\n");
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        assert_eq!(identify("kind: A\nmetadata:\n  name: ../x\n"), None);
        assert!(identify_parsed("t", 0, "kind: A\nmetadata: {name: ../x}\n").is_err());
        assert_eq!(
            identify_parsed("t", 0, "{kind: A, metadata: {name: x}}").unwrap(),
            ("A".into(), "x".into())
        );
    }
}
