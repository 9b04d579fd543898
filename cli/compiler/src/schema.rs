//! The JSON Schemas of the Data Application Model, embedded in the binary.
//!
//! The files in `schemas/` share definitions through `defs.schema.json`. Each kind is bundled
//! into one self-contained document (shared definitions copied into its `$defs`), which is
//! what the validator compiles and what `dappctl schema` hands to editors.

use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

pub const API_VERSION: &str = "dappmesh.io/v1alpha1";
pub const API_GROUP: &str = "dappmesh.io";

const DEFS: &str = include_str!("../../../schemas/defs.schema.json");
const DEFS_FILE: &str = "defs.schema.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Mesh,
    Domain,
    DataProduct,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Mesh, Kind::Domain, Kind::DataProduct];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mesh => "Mesh",
            Kind::Domain => "Domain",
            Kind::DataProduct => "DataProduct",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The file name the schema is published under.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Mesh => "mesh.schema.json",
            Kind::Domain => "domain.schema.json",
            Kind::DataProduct => "dataproduct.schema.json",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Kind::Mesh => include_str!("../../../schemas/mesh.schema.json"),
            Kind::Domain => include_str!("../../../schemas/domain.schema.json"),
            Kind::DataProduct => include_str!("../../../schemas/dataproduct.schema.json"),
        }
    }
}

/// A kind's bundled schema and its compiled validator.
pub struct KindSchema {
    pub document: Value,
    pub validator: Validator,
}

impl KindSchema {
    /// The schema node at a JSON Pointer into the bundled document.
    pub fn node(&self, pointer: &str) -> Option<&Value> {
        self.document.pointer(pointer)
    }

    /// Follows a `$ref` (local to the bundle) as many times as needed.
    pub fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        for _ in 0..8 {
            match node.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.document.pointer(p)) {
                    Some(target) => node = target,
                    None => break,
                },
                None => break,
            }
        }
        node
    }
}

pub fn schema(kind: Kind) -> &'static KindSchema {
    static SCHEMAS: OnceLock<Vec<KindSchema>> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| {
        Kind::ALL
            .into_iter()
            .map(|kind| {
                let document = bundle(kind);
                let validator = compile(&document);
                KindSchema {
                    document,
                    validator,
                }
            })
            .collect()
    });
    &all[kind as usize]
}

fn compile(document: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        // Our patterns need no look-around or back-references: the linear-time engine is
        // faster and cannot backtrack catastrophically.
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .should_validate_formats(true)
        .with_format("semver", format::semver)
        .with_format("semver-range", format::semver_range)
        .with_format("cron", format::cron)
        .with_format("timespan", format::timespan)
        .with_format("schema-ref", format::schema_ref)
        .with_format("node-ref", format::node_ref)
        .with_format("git-url", format::git_url)
        .build(document)
        .expect("the embedded schemas compile (checked by tests)")
}

/// The kind's schema with the shared definitions copied in and every reference made local.
pub fn bundle(kind: Kind) -> Value {
    let mut document: Value =
        serde_json::from_str(kind.source()).expect("embedded schema is JSON (checked by tests)");
    let defs: Value =
        serde_json::from_str(DEFS).expect("embedded schema is JSON (checked by tests)");
    let object = document.as_object_mut().expect("a schema is an object");
    let local = object
        .entry("$defs")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("$defs is an object");
    if let Some(shared) = defs.get("$defs").and_then(Value::as_object) {
        for (name, def) in shared {
            local.entry(name.clone()).or_insert_with(|| def.clone());
        }
    }
    localize_refs(&mut document);
    document
}

fn localize_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some(rest) = r.strip_prefix(DEFS_FILE) {
                            *r = rest.to_owned();
                        }
                    }
                    _ => localize_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(localize_refs),
        _ => {}
    }
}

/// The model's own string formats, beyond those JSON Schema defines.
pub mod format {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use croner::parser::{CronParser, Seconds, Year};

    pub fn semver(s: &str) -> bool {
        semver::Version::parse(s).is_ok()
    }

    pub fn semver_range(s: &str) -> bool {
        semver::VersionReq::parse(s).is_ok()
    }

    /// Five fields, as Kubernetes CronJobs take them (no seconds, no years), or a macro.
    pub fn cron(s: &str) -> bool {
        // A mesh repeats a handful of schedules across its products, and parsing one costs
        // microseconds: remember the answers, per thread, up to a bound.
        thread_local! {
            static SEEN: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
        }
        const REMEMBERED: usize = 256;
        const LONGEST: usize = 64;
        if s.len() > LONGEST {
            return parse_cron(s);
        }
        if let Some(valid) = SEEN.with(|seen| seen.borrow().get(s).copied()) {
            return valid;
        }
        let valid = parse_cron(s);
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            if seen.len() < REMEMBERED {
                seen.insert(s.to_owned(), valid);
            }
        });
        valid
    }

    /// Quartz extensions croner accepts but Kubernetes' parser does not: `L` (last), `W`
    /// (weekday) and `#` (nth weekday). Month and day names (`JUL`, `WED`) are fine.
    fn quartz_only(s: &str) -> bool {
        s.contains('#')
            || s.split_whitespace()
                .flat_map(|field| field.split([',', '-', '/']))
                .any(|atom| {
                    let named = atom.len() == 3 && atom.chars().all(|c| c.is_ascii_alphabetic());
                    !named && atom.chars().any(|c| matches!(c, 'L' | 'W' | 'l' | 'w'))
                })
    }

    fn parse_cron(s: &str) -> bool {
        let fields = s.split_whitespace().count();
        let macro_ = fields == 1 && s.trim_start().starts_with('@');
        (fields == 5 && !quartz_only(s) || macro_)
            && CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .build()
                .parse(s)
                .is_ok()
    }

    /// `orders@2.0.0`: a schema name and a semantic version, as the model reads them.
    pub fn schema_ref(s: &str) -> bool {
        s.split_once('@').is_some_and(|(name, version)| {
            identifier(name) && semver::Version::parse(version).is_ok()
        })
    }

    /// A schema reference, or `port:<input port>`.
    pub fn node_ref(s: &str) -> bool {
        match s.strip_prefix("port:") {
            Some(port) => dns_label(port),
            None => schema_ref(s),
        }
    }

    fn identifier(s: &str) -> bool {
        s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    fn dns_label(s: &str) -> bool {
        s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    /// A repository URL as Argo CD takes it: `https://`, `http://`, `ssh://` or `git://` with a
    /// host, or scp-style `user@host:path`.
    pub fn git_url(s: &str) -> bool {
        let clean = |t: &str| !t.is_empty() && !t.contains(char::is_whitespace);
        match s.split_once("://") {
            Some((scheme, rest)) => {
                matches!(scheme, "https" | "http" | "ssh" | "git")
                    && rest
                        .split('/')
                        .next()
                        .is_some_and(|host| clean(host) && !host.ends_with('@'))
                    && clean(rest)
            }
            None => s.split_once('@').is_some_and(|(user, rest)| {
                rest.split_once(':').is_some_and(|(host, path)| {
                    clean(user) && clean(host) && clean(path) && !host.contains('/')
                })
            }),
        }
    }

    /// `1h30m`, `30s`, `250ms`: one or more numbers, each followed by a unit.
    pub fn timespan(s: &str) -> bool {
        let mut rest = s;
        if rest.is_empty() {
            return false;
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[digits..];
            let unit = ["ms", "s", "m", "h"]
                .into_iter()
                .find(|u| rest.starts_with(u));
            match unit {
                Some(u) => rest = &rest[u.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Human help for a string that failed a named format.
pub fn format_help(format: &str) -> Option<&'static str> {
    Some(match format {
        "semver" => "write a semantic version such as 1.4.0 (https://semver.org)",
        "semver-range" => "write a version requirement such as ^3, ~2.1 or >=1.2, <2",
        "cron" => {
            "write five fields: minute hour day-of-month month day-of-week (e.g. \"0 2 * * *\"), or a macro such as @daily"
        }
        "timespan" => "write a number with a unit ms, s, m or h, e.g. 30s or 1h30m",
        "schema-ref" => "write a schema of this product as name@version, e.g. orders@2.0.0",
        "node-ref" => {
            "write a schema as name@version (orders@2.0.0) or an input port as port:<name>"
        }
        "duration" => "write an ISO 8601 duration such as P90D, P3M or PT12H",
        "uri" => "write an absolute URL such as https://kubernetes.default.svc",
        "git-url" => {
            "write https://git.example.com/acme/mesh.git or git@git.example.com:acme/mesh.git"
        }
        _ => return None,
    })
}

/// A kind's bundled schema as pretty JSON with a final newline.
pub fn pretty(kind: Kind) -> String {
    let mut text =
        serde_json::to_string_pretty(&schema(kind).document).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_bundles_and_compiles() {
        for kind in Kind::ALL {
            let s = schema(kind);
            let text = serde_json::to_string(&s.document).unwrap();
            assert!(!text.contains(DEFS_FILE), "{kind:?} keeps a non-local $ref");
        }
    }

    #[test]
    fn shared_definitions_do_not_clash_with_local_ones() {
        let defs: Value = serde_json::from_str(DEFS).unwrap();
        for kind in Kind::ALL {
            let own: Value = serde_json::from_str(kind.source()).unwrap();
            if let Some(own) = own.get("$defs").and_then(Value::as_object) {
                for name in own.keys() {
                    assert!(
                        defs["$defs"].get(name).is_none(),
                        "{kind:?} redefines {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn formats_accept_and_refuse() {
        assert!(format::cron("0 2 * * *"));
        assert!(format::cron("@daily"));
        assert!(!format::cron("0 0 2 * * *"));
        assert!(!format::cron("61 * * * *"));
        assert!(format::cron("0 0 * JUL WED"));
        assert!(format::cron("@weekly"));
        assert!(!format::cron("0 0 L * *"));
        assert!(!format::cron("0 0 15W * *"));
        assert!(!format::cron("0 0 * * 5#2"));
        assert!(format::schema_ref("orders@1.0.0-rc.1"));
        assert!(!format::schema_ref("orders@01.0.0"));
        assert!(!format::schema_ref("Orders@1.0.0"));
        assert!(format::node_ref("port:web-shop"));
        assert!(format::git_url("https://git.example.com/acme/mesh.git"));
        assert!(format::git_url("git@github.com:acme/mesh.git"));
        assert!(format::git_url("ssh://git@github.com/acme/mesh.git"));
        assert!(!format::git_url("github.com/acme/mesh"));
        assert!(!format::git_url("ftp://example.com/x"));
        assert!(!format::git_url("https:///x"));
        assert!(!format::node_ref("port:Web"));
        assert!(format::timespan("1h30m"));
        assert!(format::timespan("250ms"));
        assert!(!format::timespan("1 h"));
        assert!(!format::timespan("h"));
        assert!(format::semver_range("^3"));
        assert!(!format::semver("2.1"));
    }
}
