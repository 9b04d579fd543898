//! Checks of one document on its own: its envelope (`apiVersion`, `kind`) and its kind's JSON
//! Schema. Each schema violation becomes a diagnostic on the exact node, worded for people.

use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::load::DocSpans;
use crate::schema::{self, API_GROUP, API_VERSION, Kind, KindSchema};
use crate::source::Span;

/// What the envelope says a document is.
pub enum Envelope {
    Kind(Kind),
    /// An empty document, such as the one after a trailing `---`.
    Empty,
    /// Another API group's document (a Kubernetes manifest, a CI file): not ours to judge.
    Foreign(Diagnostic),
    Invalid(Diagnostic),
}

/// The JSON Pointer segments of a document's root.
const ROOT: &[&str] = &[];

pub fn envelope(file: usize, root: &Json, spans: &DocSpans) -> Envelope {
    match root {
        Json::Null => return Envelope::Empty,
        Json::Object(_) => {}
        _ => {
            return Envelope::Invalid(
                Diagnostic::error(
                    "schema::document",
                    "a document must be a mapping with `apiVersion` and `kind`",
                )
                .at(file, spans.label(ROOT))
                .label("not a mapping"),
            );
        }
    };
    // For a mapping, the label span of the root is its first key.
    let first_line = || spans.label(ROOT);
    let Some(api_version) = root.get("apiVersion") else {
        return Envelope::Invalid(
            Diagnostic::error("schema::api-version", "document has no `apiVersion`")
                .at(file, first_line())
                .label("in this document")
                .help(format!("add `apiVersion: {API_VERSION}`")),
        );
    };
    let Some(version) = api_version.as_str() else {
        return Envelope::Invalid(
            Diagnostic::error("schema::api-version", "`apiVersion` must be a string")
                .at(file, spans.label(&["apiVersion"]))
                .help(format!("write `apiVersion: {API_VERSION}`")),
        );
    };
    let group = version.split('/').next().unwrap_or_default();
    let ours = root
        .get("kind")
        .and_then(Json::as_str)
        .is_some_and(|k| Kind::from_name(k).is_some());
    // A typo in the group must not turn one of our documents into someone else's.
    if group != API_GROUP && (ours || did_you_mean(group, [API_GROUP]).is_some()) {
        return Envelope::Invalid(
            Diagnostic::error(
                "schema::api-version",
                format!("unknown API group `{group}`"),
            )
            .at(file, spans.label(&["apiVersion"]))
            .label("not dappmesh.io")
            .help(format!("write `apiVersion: {API_VERSION}`")),
        );
    }
    if group != API_GROUP {
        return Envelope::Foreign(
            Diagnostic::warning(
                "load::foreign-document",
                format!("skipped a document of API version `{version}`: not a DappMesh document"),
            )
            .at(file, spans.label(&["apiVersion"]))
            .label("not dappmesh.io")
            .help("point dappctl at the directory of your specs, or move other YAML elsewhere"),
        );
    }
    if version != API_VERSION {
        return Envelope::Invalid(
            Diagnostic::error(
                "schema::api-version",
                format!("unsupported API version `{version}`"),
            )
            .at(file, spans.label(&["apiVersion"]))
            .label("unsupported version")
            .help(format!("this dappctl reads `{API_VERSION}`")),
        );
    }
    let kinds = Kind::ALL.map(Kind::name);
    match root.get("kind") {
        None => Envelope::Invalid(
            Diagnostic::error("schema::kind", "document has no `kind`")
                .at(file, first_line())
                .label("in this document")
                .help(format!("add `kind:` with one of {}", kinds.join(", "))),
        ),
        Some(kind) => match kind.as_str().and_then(Kind::from_name) {
            Some(k) => Envelope::Kind(k),
            None => {
                let text = value_text(kind);
                let help = match did_you_mean(&text, kinds) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("the kinds are {}", kinds.join(", ")),
                };
                Envelope::Invalid(
                    Diagnostic::error("schema::kind", format!("unknown kind `{text}`"))
                        .at(file, spans.label(&["kind"]))
                        .label("unknown kind")
                        .help(help),
                )
            }
        },
    }
}

/// Every schema violation of one document, as diagnostics.
pub fn check(file: usize, kind: Kind, json: &Json, spans: &DocSpans) -> Vec<Diagnostic> {
    let schema = schema::schema(kind);
    // Most documents are valid: the short-circuiting check is much cheaper than collecting.
    if schema.validator.is_valid(json) {
        return Vec::new();
    }
    let mut diagnostics = Vec::new();
    let mut unshown = 0;
    for error in schema.validator.iter_errors(json) {
        if diagnostics.len() >= MAX_SHOWN {
            unshown += 1;
            continue;
        }
        // One error can name many unknown keys; those past the limit are not shown either.
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected }
        | jsonschema::error::ValidationErrorKind::UnevaluatedProperties { unexpected } =
            error.kind()
        {
            unshown += unexpected
                .len()
                .saturating_sub(MAX_SHOWN - diagnostics.len());
        }
        let instance: Vec<String> = error
            .instance_path()
            .into_iter()
            .map(|segment| segment.to_string())
            .collect();
        let keyword_path = error.schema_path().as_str().to_owned();
        let ctx = ErrorContext {
            file,
            spans,
            schema,
            instance: &instance,
            keyword_path: &keyword_path,
        };
        ctx.describe(
            error.kind(),
            error.instance(),
            error.to_string(),
            &mut diagnostics,
        );
    }
    // A value can fail the same way twice (an enum, and the narrower enum of an if/then):
    // say it once, keeping the first, which carries the general hint.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| {
        let at = d.location.map(|l| (l.span.start, l.span.end));
        seen.insert((at, d.code, d.message.clone()))
    });
    unshown += diagnostics.len().saturating_sub(MAX_SHOWN);
    diagnostics.truncate(MAX_SHOWN);
    if unshown > 0 {
        diagnostics.push(
            Diagnostic::error(
                "schema::too-many",
                format!("{unshown} more schema errors in this document are not shown"),
            )
            .at(file, spans.label(ROOT))
            .help("fix the errors shown and run again"),
        );
    }
    diagnostics
}

/// Schema errors shown per document: past this, the document is likely not what it was
/// meant to be, and more messages (each located in the text) would only cost time.
const MAX_SHOWN: usize = 100;

struct ErrorContext<'a> {
    file: usize,
    spans: &'a DocSpans,
    schema: &'static KindSchema,
    instance: &'a [String],
    keyword_path: &'a str,
}

impl ErrorContext<'_> {
    fn span(&self) -> Span {
        self.spans.label(self.instance)
    }

    /// The span of a key of the failing mapping, or the mapping's own label if it is missing.
    fn key_span(&self, key: &str) -> Span {
        let mut path = self.instance.to_vec();
        path.push(key.to_owned());
        self.spans.key(&path).unwrap_or_else(|| self.span())
    }

    /// The schema object holding the failed keyword (`…/properties/x/enum` → `…/properties/x`).
    fn schema_node(&self) -> Option<&'static Json> {
        let parent = self.keyword_path.rsplit_once('/').map_or("", |(p, _)| p);
        self.schema.node(parent)
    }

    /// The failing value's name for messages: its key, or `list[i]` for a list item.
    fn field(&self) -> String {
        match self.instance {
            [] => "the document".to_owned(),
            [.., list, index] if index.parse::<usize>().is_ok() => format!("`{list}[{index}]`"),
            [.., key] => format!("`{key}`"),
        }
    }

    /// Help from the schema's own description of the failing node, when it has one.
    fn description(&self) -> Option<String> {
        let node = self.schema_node()?;
        let node = self.schema.resolve(node);
        node.get("description")
            .and_then(Json::as_str)
            .map(str::to_owned)
    }

    /// `because `kind` is `operational``, when the failing keyword sits in an if/then.
    fn condition(&self) -> Option<String> {
        let (before, _) = self.keyword_path.split_once("/then/")?;
        let condition = self.schema.node(&format!("{before}/if"))?;
        let (key, value) = condition.get("properties")?.as_object()?.iter().next()?;
        let value = value.get("const")?;
        Some(format!("`{key}` is {}", show(value)))
    }

    fn describe(
        &self,
        kind: &jsonschema::error::ValidationErrorKind,
        value: &Json,
        fallback: String,
        out: &mut Vec<Diagnostic>,
    ) {
        use jsonschema::error::ValidationErrorKind as K;
        let file = self.file;
        let field = self.field();
        let diagnostic = match kind {
            K::AdditionalProperties { unexpected } | K::UnevaluatedProperties { unexpected } => {
                return self.unknown_keys(unexpected, out);
            }
            K::PropertyNames { error } => self.malformed_key(error.instance(), &field),
            K::FalseSchema => self.not_allowed(&field),
            K::Required { property } => self.missing(property.as_str().unwrap_or_default(), value),
            K::Type { kind } => self.wrong_type(kind, value, &field),
            K::Enum { options } => self.not_an_option(options, value, &field),
            K::Format { format } => {
                let text = value_text(value);
                Diagnostic::error(
                    "schema::format",
                    format!("`{text}` is not a valid {}", format_name(format)),
                )
                .at(file, self.span())
                .label(format!("invalid {}", format_name(format)))
                .maybe_help(schema::format_help(format).map(str::to_owned))
            }
            K::MinLength { .. } if value.as_str() == Some("") => {
                Diagnostic::error("schema::pattern", format!("{field} is empty"))
                    .at(file, self.span())
                    .label("empty")
                    .maybe_help(self.description())
            }
            K::Pattern { .. } | K::MinLength { .. } | K::MaxLength { .. } => {
                let text = value_text(value);
                let limit = match kind {
                    K::MaxLength { limit } => format!(" (at most {limit} characters)"),
                    K::MinLength { limit } => format!(" (at least {limit} characters)"),
                    _ => String::new(),
                };
                Diagnostic::error(
                    "schema::pattern",
                    format!("`{text}` is not a valid {field}{limit}"),
                )
                .at(file, self.span())
                .label("malformed")
                .maybe_help(self.description())
            }
            K::Not { .. } => Diagnostic::error(
                "schema::pattern",
                format!("`{}` is not allowed as {field}", value_text(value)),
            )
            .at(file, self.span())
            .label("not allowed")
            .maybe_help(self.description()),
            K::MinItems { limit } | K::MaxItems { limit } => {
                let (message, label) = if matches!(kind, K::MinItems { .. }) {
                    (
                        format!("{field} needs at least {limit} item{}", plural(*limit)),
                        "too few items",
                    )
                } else {
                    (
                        format!("{field} takes at most {limit} item{}", plural(*limit)),
                        "too many items",
                    )
                };
                Diagnostic::error("schema::count", message)
                    .at(file, self.span())
                    .label(label)
            }
            K::Minimum { limit } => {
                Diagnostic::error("schema::range", format!("{field} must be at least {limit}"))
                    .at(file, self.span())
                    .label("too small")
            }
            K::Maximum { limit } => {
                Diagnostic::error("schema::range", format!("{field} must be at most {limit}"))
                    .at(file, self.span())
                    .label("too large")
            }
            K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } => {
                self.one_of(matches!(kind, K::OneOfMultipleValid { .. }), &field)
            }
            _ => Diagnostic::error("schema::invalid", format!("{field}: {fallback}"))
                .at(file, self.span())
                .label("invalid"),
        };
        out.push(diagnostic);
    }

    /// One diagnostic per unknown key (as many as are still shown), each with the key it
    /// probably meant or the keys allowed there.
    fn unknown_keys(&self, unexpected: &[String], out: &mut Vec<Diagnostic>) {
        let allowed = self.allowed_keys();
        for key in unexpected.iter().take(MAX_SHOWN.saturating_sub(out.len())) {
            let span = self.key_span(key);
            let help = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None if allowed.is_empty() => "remove it".to_owned(),
                None => format!("allowed keys here: {}", allowed.join(", ")),
            };
            out.push(
                Diagnostic::error(
                    "schema::unknown-key",
                    format!("unknown key `{}`", excerpt(key)),
                )
                .at(self.file, span)
                .label("unknown key")
                .help(help),
            );
        }
    }

    fn malformed_key(&self, key: &Json, field: &str) -> Diagnostic {
        let key = key.as_str().unwrap_or_default();
        let help = self
            .schema_node()
            .and_then(|n| n.get("propertyNames"))
            .and_then(|n| n.get("description"))
            .and_then(Json::as_str)
            .map(str::to_owned);
        Diagnostic::error(
            "schema::pattern",
            format!("`{}` is not a valid key in {field}", excerpt(key)),
        )
        .at(self.file, self.key_span(key))
        .label("malformed key")
        .maybe_help(help)
    }

    fn not_allowed(&self, field: &str) -> Diagnostic {
        let span = self.spans.key(self.instance).unwrap_or_else(|| self.span());
        let help = match self.condition() {
            Some(cond) => format!("because {cond}, {field} does not apply; remove it"),
            None => "remove it".to_owned(),
        };
        Diagnostic::error(
            "schema::not-allowed",
            format!("{field} is not allowed here"),
        )
        .at(self.file, span)
        .label("not allowed here")
        .help(help)
    }

    fn missing(&self, name: &str, value: &Json) -> Diagnostic {
        let message = match self.required_by(name, value) {
            Some(by) => format!("`{by}` needs `{name}` beside it"),
            None => format!("missing required key `{name}`"),
        };
        Diagnostic::error("schema::missing-key", message)
            .at(self.file, self.span())
            .label(format!("`{name}` is missing here"))
            .help(match self.property_description(name) {
                Some(d) => format!("add `{name}`: {d}"),
                None => format!("add `{name}`"),
            })
    }

    fn wrong_type(
        &self,
        kind: &jsonschema::error::TypeKind,
        value: &Json,
        field: &str,
    ) -> Diagnostic {
        let expected = type_name(kind);
        let found = json_type(value);
        let quoted = expected == "string" && matches!(value, Json::Number(_) | Json::Bool(_));
        let help = if quoted {
            // The source text, not the value YAML made of it: `1.10` stays `1.10`.
            let written = excerpt(self.spans.source(self.span()));
            Some(format!(
                "YAML reads this as a {found}; quote it to keep it a string: \"{written}\""
            ))
        } else {
            self.description()
        };
        Diagnostic::error(
            "schema::type",
            format!(
                "{field} must be {}, not {}",
                with_article(&expected),
                with_article(found)
            ),
        )
        .at(self.file, self.span())
        .label(format!("expected {expected}"))
        .maybe_help(help)
    }

    fn not_an_option(&self, options: &Json, value: &Json, field: &str) -> Diagnostic {
        let options: Vec<&str> = options
            .as_array()
            .map(|o| o.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        let list = options
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = match (
            self.condition(),
            did_you_mean(&text, options.iter().copied()),
        ) {
            (Some(cond), _) => format!("because {cond}, {field} must be one of {list}"),
            (None, Some(s)) if s != text => format!("did you mean `{s}`?"),
            (None, _) => format!("expected one of {list}"),
        };
        Diagnostic::error("schema::enum", format!("{field} cannot be `{text}`"))
            .at(self.file, self.span())
            .label("not allowed here")
            .help(help)
    }

    fn one_of(&self, several: bool, field: &str) -> Diagnostic {
        let list = self
            .one_of_required()
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (message, label) = if several {
            (
                format!("{field} sets more than one of {list}"),
                "keep only one",
            )
        } else {
            (
                format!("{field} needs exactly one of {list}"),
                "set one of them",
            )
        };
        Diagnostic::error("schema::one-of", message)
            .at(self.file, self.span())
            .label(label)
            .maybe_help(self.description())
    }

    fn allowed_keys(&self) -> Vec<String> {
        self.schema_node()
            .and_then(|n| n.get("properties"))
            .and_then(Json::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn property_description(&self, name: &str) -> Option<String> {
        let node = self.schema_node()?;
        let property = node.get("properties")?.get(name)?;
        let own = property.get("description").and_then(Json::as_str);
        own.or_else(|| {
            self.schema
                .resolve(property)
                .get("description")
                .and_then(Json::as_str)
        })
        .map(str::to_owned)
    }

    /// For a `dependentRequired` failure, the key present that requires the missing one.
    fn required_by(&self, missing: &str, value: &Json) -> Option<String> {
        if !self.keyword_path.ends_with("/dependentRequired") {
            return None;
        }
        let rules = self.schema.node(self.keyword_path)?.as_object()?;
        rules
            .iter()
            .find(|(key, needs)| {
                value.get(key.as_str()).is_some()
                    && needs
                        .as_array()
                        .is_some_and(|n| n.iter().any(|x| x == missing))
            })
            .map(|(key, _)| key.clone())
    }

    /// The keys a `oneOf` of `{ required: [x] }` branches chooses between.
    fn one_of_required(&self) -> Vec<String> {
        self.schema
            .node(self.keyword_path)
            .and_then(Json::as_array)
            .map(|branches| {
                branches
                    .iter()
                    .filter_map(|b| b.get("required")?.as_array()?.first()?.as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn show(value: &Json) -> String {
    format!("`{}`", value_text(value))
}

/// Longest value quoted in a message; a megabyte-long scalar is not echoed back whole.
const MAX_QUOTED: usize = 80;

/// A value as quoted in messages: strings bare, anything else as JSON, cut to [`MAX_QUOTED`].
fn value_text(value: &Json) -> String {
    match value {
        Json::String(s) => excerpt(s),
        other => excerpt(&other.to_string()),
    }
}

/// Text cut to [`MAX_QUOTED`] characters.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn with_article(noun: &str) -> String {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

fn type_name(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    match kind {
        TypeKind::Single(t) => yaml_type(&t.to_string()),
        TypeKind::Multiple(ts) => {
            let names: Vec<String> = ts.iter().map(|t| yaml_type(&t.to_string())).collect();
            match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            }
        }
    }
}

/// JSON Schema's type names, as a YAML author knows them.
fn yaml_type(json_type: &str) -> String {
    match json_type {
        "object" => "mapping".to_owned(),
        "array" => "list".to_owned(),
        other => other.to_owned(),
    }
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        // Not "integer": YAML's `1.0` reaches here as 1, and is still a number to its author.
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "mapping",
    }
}

fn format_name(format: &str) -> &str {
    match format {
        "semver" => "semantic version",
        "semver-range" => "version requirement",
        "cron" => "cron schedule",
        "timespan" => "duration",
        "schema-ref" => "schema reference",
        "node-ref" => "flow node",
        "duration" => "ISO 8601 duration",
        "uri" => "URL",
        "git-url" => "Git repository URL",
        other => other,
    }
}
