//! Diagnostics: what is wrong, where, and how to fix it. Every step of the compiler reports
//! through this one type, and every output format renders it.

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in a loaded file, by index into [`crate::validate::Report::files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub file: usize,
    pub span: Span,
}

/// A secondary place that explains the primary one (the first duplicate, the rest of a cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub location: Location,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable identifier, listed in docs/diagnostics.md; tools match on it.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    /// Short text under the underlined span.
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            location: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, file: usize, span: Span) -> Self {
        self.location = Some(Location { file, span });
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn related(mut self, file: usize, span: Span, label: impl Into<String>) -> Self {
        self.related.push(Related {
            location: Location { file, span },
            label: label.into(),
        });
        self
    }
}

/// The closest candidate to a misspelt name, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&wrong_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// Every diagnostic code with a one-line description: the rule list of SARIF output and of
/// docs/diagnostics.md. A test keeps it in step with the codes the source emits.
pub const CATALOG: &[(&str, &str)] = &[
    ("yaml::syntax", "The file is not well-formed YAML."),
    ("yaml::duplicate-key", "A mapping repeats a key."),
    (
        "yaml::too-deep",
        "Nesting is deeper than the loader accepts.",
    ),
    (
        "yaml::too-many-documents",
        "A file holds more than 10,000 documents; the file is not checked further.",
    ),
    (
        "yaml::too-many-nodes",
        "A file holds more than 1,000,000 values (keys, scalars and collections); the file is not checked further.",
    ),
    (
        "yaml::alias-expansion",
        "Aliases expand to more nodes than the loader accepts (alias bomb).",
    ),
    (
        "yaml::complex-key",
        "A mapping key is a sequence or a mapping.",
    ),
    (
        "yaml::tag",
        "A tag other than the YAML core tags, or a value that does not fit its tag.",
    ),
    ("yaml::non-finite", "An infinite or NaN number."),
    ("yaml::not-utf8", "The file is not UTF-8 text."),
    ("yaml::binary", "The file contains NUL bytes."),
    (
        "yaml::too-large",
        "The file is larger than the size limit for a spec file.",
    ),
    (
        "load::foreign-document",
        "A document of another API group was skipped.",
    ),
    ("schema::document", "A document is not a mapping."),
    (
        "schema::api-version",
        "`apiVersion` is missing or not supported.",
    ),
    ("schema::kind", "`kind` is missing or unknown."),
    ("schema::unknown-key", "A key the model does not define."),
    ("schema::missing-key", "A required key is missing."),
    ("schema::type", "A value has the wrong type."),
    ("schema::enum", "A value is not one of the allowed values."),
    (
        "schema::not-allowed",
        "A key that does not apply given its siblings (a bucket on postgres).",
    ),
    (
        "schema::format",
        "A string is not a valid semantic version, range, cron schedule, duration or URL.",
    ),
    (
        "schema::pattern",
        "A string is not well-formed (name, image, quantity, reference...).",
    ),
    ("schema::count", "A list has too few or too many items."),
    ("schema::range", "A number is out of range."),
    ("schema::one-of", "Exactly one of several keys must be set."),
    ("schema::invalid", "Another schema violation."),
    (
        "schema::too-many",
        "More schema errors in a document than are shown (100).",
    ),
    (
        "internal::model",
        "The schema accepted a document the model could not read: a dappctl bug.",
    ),
    ("mesh::missing", "No Mesh document."),
    ("mesh::duplicate", "More than one Mesh document."),
    (
        "mesh::shared-destination",
        "Two environments deploy to the same cluster (their namespaces would collide).",
    ),
    ("name::duplicate", "A name repeats in its scope."),
    (
        "name::shared",
        "A product's workflow, output port, pipeline, storage or widget takes another's name.",
    ),
    (
        "name::reserved",
        "A domain takes a name that belongs to Kubernetes, Argo CD or the platform.",
    ),
    (
        "name::duplicate-schema-version",
        "A product defines the same schema@version twice.",
    ),
    ("ref::domain", "A product's domain is not declared."),
    (
        "ref::schema",
        "A reference to a schema@version the product does not define.",
    ),
    (
        "ref::input-port",
        "A flow or lineage node names an input port the product does not define.",
    ),
    (
        "ref::supersedes",
        "`supersedes` does not name an earlier version of the same schema.",
    ),
    ("ref::pipeline", "A flow edge names an undefined pipeline."),
    ("ref::step", "A workflow step names an undefined flow edge."),
    (
        "ref::storage",
        "A port or snapshot names undefined storage.",
    ),
    ("ref::secret", "A connector names an undefined secret."),
    ("ref::role", "A contract names an undefined role."),
    ("flow::cycle", "The flow between schemas has a cycle."),
    (
        "flow::repeated-step",
        "A workflow lists the same step twice.",
    ),
    (
        "port::unresolved",
        "An input port names a product or output port that does not exist.",
    ),
    (
        "port::version",
        "An input port's version range excludes the output port's version.",
    ),
    ("port::self", "A product consumes its own output port."),
    ("port::cycle", "Products consume each other in a cycle."),
    ("port::retired", "An input port consumes a retired product."),
    (
        "port::deprecated",
        "An input port consumes a deprecated product.",
    ),
    (
        "port::not-a-consumer",
        "A contract's consumer list does not include the consuming product.",
    ),
    (
        "port::unknown-consumer",
        "A contract lists a consumer that is not in the mesh.",
    ),
    ("port::no-output", "A product has no output port."),
    (
        "contract::element",
        "A contract names a schema or property the port does not serve.",
    ),
    (
        "contract::quality",
        "A quality rule measures the wrong kind of element.",
    ),
    (
        "evolution::breaking",
        "A breaking schema change without a major version bump.",
    ),
    (
        "widget::tag",
        "A widget tag is not a custom-element name the registry accepts.",
    ),
    (
        "widget::attribute",
        "A widget prop is not an attribute the registry accepts.",
    ),
    (
        "network::no-destination",
        "A connector, or a store outside the cluster (s3), names neither `host` nor `cidr`: its egress would be open to every address on its port.",
    ),
    (
        "network::outside-host",
        "A connector or outside store names a `host` outside the cluster without a `cidr`: a NetworkPolicy matches addresses and namespaces, not DNS names.",
    ),
    (
        "network::cidr",
        "A `cidr` is not an address range a NetworkPolicy can use (no prefix, bits set past it, or `/0`).",
    ),
    ("unused::storage", "Storage that no port or snapshot uses."),
    ("unused::secret", "A secret no connector uses."),
    (
        "report::truncated",
        "More than 1,000 diagnostics were found; the first 1,000 are shown and this says how many more there are.",
    ),
];

pub fn describe(code: &str) -> Option<&'static str> {
    CATALOG.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["inputPorts", "outputPorts"];
        assert_eq!(did_you_mean("outputPort", keys), Some("outputPorts"));
        assert_eq!(did_you_mean("outputports", keys), Some("outputPorts"));
        assert_eq!(did_you_mean("widgets", keys), None);
    }
}
