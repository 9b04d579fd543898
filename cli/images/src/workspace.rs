//! What the Cargo workspace says about a component: its version, licence and repository,
//! and the packages its binary links, from `cargo metadata`'s resolve graph (normal
//! dependencies only, for the image's target) with each one's checksum from Cargo.lock.
//! Also the release facts that are not Cargo's: the commit and the fixed build time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use crate::{Error, Result, io};

#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub repository: Option<String>,
    /// `None` for the workspace's own crates (path dependencies).
    pub source: Option<String>,
    #[serde(skip)]
    pub checksum: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<ResolveNode>,
}

#[derive(Deserialize)]
struct ResolveNode {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    /// `null` for a normal dependency, else "dev" or "build".
    kind: Option<String>,
}

pub struct Workspace {
    packages: HashMap<String, Package>,
    /// Package id → the ids of its normal dependencies.
    normal: HashMap<String, BTreeSet<String>>,
}

/// One package of a binary's closure and the ones it depends on directly.
pub struct Linked<'a> {
    pub package: &'a Package,
    pub depends_on: Vec<&'a Package>,
}

impl Workspace {
    /// Runs `cargo metadata` in `root` for `target`, and reads `root/Cargo.lock`.
    pub fn load(root: &Path, target: &str) -> Result<Workspace> {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .current_dir(root)
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", target]);
        let output = command.output().map_err(|source| Error::Spawn {
            command: "cargo metadata".into(),
            source,
        })?;
        if !output.status.success() {
            return Err(Error::Command {
                command: format!(
                    "cargo metadata: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                status: output.status.to_string(),
            });
        }
        let metadata: Metadata =
            serde_json::from_slice(&output.stdout).map_err(|e| Error::Metadata(e.to_string()))?;
        let lock = std::fs::read_to_string(root.join("Cargo.lock"))
            .map_err(io(root.join("Cargo.lock")))?;
        let checksums = checksums(&lock);
        let packages = metadata
            .packages
            .into_iter()
            .map(|mut p| {
                p.checksum = checksums.get(&(p.name.clone(), p.version.clone())).cloned();
                (p.id.clone(), p)
            })
            .collect();
        let normal = metadata
            .resolve
            .nodes
            .into_iter()
            .map(|node| {
                let deps = node
                    .deps
                    .into_iter()
                    .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                    .map(|d| d.pkg)
                    .collect();
                (node.id, deps)
            })
            .collect();
        Ok(Workspace { packages, normal })
    }

    /// The workspace member named `name`.
    pub fn member(&self, name: &str) -> Result<&Package> {
        self.packages
            .values()
            .find(|p| p.name == name && p.source.is_none())
            .ok_or_else(|| Error::Metadata(format!("no workspace package named `{name}`")))
    }

    /// Every package `root` links, itself first, the others sorted by name and version.
    /// The resolve graph unifies features across the workspace, so an optional dependency
    /// another member turns on is listed too: the list may hold a package the binary does
    /// not link, never miss one it does.
    pub fn linked<'a>(&'a self, root: &'a Package) -> Vec<Linked<'a>> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.id.clone()];
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone()) {
                stack.extend(self.normal.get(&id).into_iter().flatten().cloned());
            }
        }
        let mut rest: Vec<&'a Package> = seen
            .iter()
            .filter(|id| **id != root.id)
            .filter_map(|id| self.packages.get(id))
            .collect();
        rest.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        std::iter::once(root)
            .chain(rest)
            .map(|package| {
                let mut depends_on: Vec<&Package> = self
                    .normal
                    .get(&package.id)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.packages.get(id))
                    .collect();
                depends_on.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
                Linked {
                    package,
                    depends_on,
                }
            })
            .collect()
    }
}

/// `(name, version)` → the sha256 Cargo.lock records for a registry package. The lock's
/// format is plain enough (`[[package]]` tables of `key = "value"` lines) to read without
/// a TOML parser.
fn checksums(lock: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for table in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            table.lines().find_map(|line| {
                let value = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })
        };
        if let (Some(name), Some(version), Some(sum)) =
            (field("name"), field("version"), field("checksum"))
        {
            out.insert((name, version), sum);
        }
    }
    out
}

/// The commit `root` is checked out at (`git rev-parse HEAD`).
pub fn revision(root: &Path) -> Result<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .map_err(|source| Error::Spawn {
            command: "git rev-parse HEAD".into(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: "git rev-parse HEAD (give --revision outside a git checkout)".into(),
            status: output.status.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The time every file and the image claim: SOURCE_DATE_EPOCH when set (the release
/// workflow sets it to the commit's time), else 0, so a build never depends on the clock.
pub fn epoch(source_date_epoch: Option<&str>) -> Result<u64> {
    match source_date_epoch {
        None | Some("") => Ok(0),
        Some(s) => s.trim().parse().map_err(|_| Error::Epoch(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_read_from_registry_packages_only() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\nchecksum = \"abc\"\n\n[[package]]\nname = \"local\"\nversion = \"0.1.0\"\n";
        let sums = checksums(lock);
        assert_eq!(sums.len(), 1);
        assert_eq!(sums[&("a".into(), "1.0.0".into())], "abc");
    }

    #[test]
    fn the_epoch_is_zero_unless_given() {
        assert_eq!(epoch(None).unwrap(), 0);
        assert_eq!(epoch(Some("1700000000")).unwrap(), 1_700_000_000);
        assert!(matches!(epoch(Some("yesterday")), Err(Error::Epoch(_))));
    }
}
