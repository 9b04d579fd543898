//! Schema evolution: a version that breaks its predecessor must bump the major version (the
//! minor one below 1.0.0, as semver allows), so consumers pinned to a range keep working.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::Diagnostic;
use crate::model::{DataProduct, Property, Schema};
use crate::validate::Doc;

pub(super) fn check(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    let mut by_name: BTreeMap<&str, Vec<(usize, &Schema)>> = BTreeMap::new();
    for (i, schema) in doc.spec.spec.data_at_rest.schemas.iter().enumerate() {
        by_name.entry(&schema.name).or_default().push((i, schema));
    }
    for versions in by_name.values_mut() {
        versions.sort_by(|a, b| a.1.version.cmp(&b.1.version));
        for pair in versions.windows(2) {
            let [(old_index, old), (new_index, new)] = pair else {
                continue;
            };
            // From a prerelease anything may change (semver item 9); an equal version is a
            // duplicate, reported as such by the name rules.
            if !old.version.pre.is_empty() || old.version == new.version {
                continue;
            }
            let changes = breaking_changes(old, new);
            if changes.is_empty() || compatible_bump(&old.version, &new.version) {
                continue;
            }
            let next = next_breaking(&old.version);
            out.push(
                doc.error(
                    "evolution::breaking",
                    format!(
                        "`{}` breaks `{}` but keeps its {} version",
                        new.id(),
                        old.id(),
                        if old.version.major == 0 { "minor" } else { "major" }
                    ),
                    &format!("/spec/dataAtRest/schemas/{new_index}/version"),
                )
                .label(changes.join("; "))
                .related(
                    doc.file,
                    doc.span(&format!("/spec/dataAtRest/schemas/{old_index}/version")),
                    "previous version",
                )
                .help(format!(
                    "a breaking change needs a new {} version: make it {next}, or keep the change compatible",
                    if old.version.major == 0 { "minor" } else { "major" }
                )),
            );
        }
    }
}

/// What in `new` breaks consumers of `old`: a property they read is gone, one they may
/// omit is now required, or one they parse has another type (even a wider one: a reader of
/// integers fails on 1.5).
fn breaking_changes(old: &Schema, new: &Schema) -> Vec<String> {
    let before: HashMap<&str, &Property> = old
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let after: HashMap<&str, &Property> = new
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut changes = Vec::new();
    for was in &old.properties {
        match after.get(was.name.as_str()) {
            None => changes.push(format!("property `{}` removed", was.name)),
            Some(now) => {
                if now.required && !was.required {
                    changes.push(format!("property `{}` made required", now.name));
                }
                if now.logical_type != was.logical_type {
                    changes.push(format!(
                        "property `{}` type changed from {} to {}",
                        now.name,
                        was.logical_type.as_str(),
                        now.logical_type.as_str()
                    ));
                }
            }
        }
    }
    for now in &new.properties {
        if now.required && !before.contains_key(now.name.as_str()) {
            changes.push(format!("required property `{}` added", now.name));
        }
    }
    changes
}

fn compatible_bump(old: &semver::Version, new: &semver::Version) -> bool {
    if old.major == 0 {
        new.major > 0 || new.minor > old.minor
    } else {
        new.major > old.major
    }
}

fn next_breaking(v: &semver::Version) -> semver::Version {
    if v.major == 0 {
        semver::Version::new(0, v.minor + 1, 0)
    } else {
        semver::Version::new(v.major + 1, 0, 0)
    }
}
