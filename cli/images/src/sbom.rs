//! The CycloneDX 1.5 SBOM of one image: the packages its binary links (from
//! [`crate::workspace::Workspace::linked`]) with their licences, crates.io purls and Cargo.lock checksums,
//! and the dependency edges between them. The same workspace gives the same bytes: the time
//! is the build's fixed one and the serial number is derived from the content.

use serde_json::{Value, json};

use crate::component::Component;
use crate::json::canonical;
use crate::layer::sha256;
use crate::workspace::{Linked, Package};

pub const MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

fn bom_ref(p: &Package) -> String {
    format!("{}@{}", p.name, p.version)
}

fn entry(p: &Package, kind: &str) -> Value {
    let mut c = json!({
        "type": kind,
        "bom-ref": bom_ref(p),
        "name": p.name,
        "version": p.version,
    });
    if p.source.as_deref() == Some(CRATES_IO) {
        c["purl"] = json!(format!("pkg:cargo/{}@{}", p.name, p.version));
    }
    if let Some(license) = &p.license {
        c["licenses"] = json!([{ "expression": license }]);
    }
    if let Some(sum) = &p.checksum {
        c["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
    }
    if let Some(repo) = &p.repository {
        c["externalReferences"] = json!([{ "type": "vcs", "url": repo }]);
    }
    c
}

/// The SBOM as canonical JSON. `linked[0]` is the component's own package; `created` is the
/// build's RFC 3339 time.
pub fn render(
    component: &Component,
    linked: &[Linked],
    created: &str,
) -> serde_json::Result<Vec<u8>> {
    let (own, rest) = linked
        .split_first()
        .expect("linked() always lists the root package");
    let components: Vec<Value> = rest.iter().map(|l| entry(l.package, "library")).collect();
    let dependencies: Vec<Value> = linked
        .iter()
        .map(|l| {
            json!({
                "ref": bom_ref(l.package),
                "dependsOn": l.depends_on.iter().map(|p| bom_ref(p)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut root = entry(own.package, "application");
    root["description"] = json!(component.description);
    let body = json!({
        "metadata": {
            "timestamp": created,
            "tools": { "components": [{
                "type": "application",
                "name": env!("CARGO_PKG_NAME"),
                "version": env!("CARGO_PKG_VERSION"),
            }] },
            "component": root,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial_number(&canonical(&body)?),
        "version": 1,
    });
    for (k, v) in body.as_object().into_iter().flatten() {
        bom[k] = v.clone();
    }
    canonical(&bom)
}

/// A UUID (version 8: custom) from the SBOM's content, so rebuilding the same image gives
/// the same serial number while a different one gives another.
fn serial_number(content: &[u8]) -> String {
    let hex = &sha256(content)["sha256:".len()..];
    let mut chars: Vec<char> = hex[..32].chars().collect();
    chars[12] = '8';
    // The variant bits 10xx: the first hex digit of the fourth group is 8, 9, a or b.
    chars[16] = ['8', '9', 'a', 'b'][chars[16].to_digit(16).unwrap_or(0) as usize % 4];
    let s: String = chars.into_iter().collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &s[..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, source: Option<&str>) -> Package {
        Package {
            id: name.into(),
            name: name.into(),
            version: "1.0.0".into(),
            license: Some("MIT OR Apache-2.0".into()),
            repository: None,
            source: source.map(Into::into),
            checksum: source.map(|_| "ab".repeat(32)),
        }
    }

    #[test]
    fn lists_the_linked_packages_and_their_edges() {
        let (own, dep) = (package("registry", None), package("serde", Some(CRATES_IO)));
        let linked = [
            Linked {
                package: &own,
                depends_on: vec![&dep],
            },
            Linked {
                package: &dep,
                depends_on: vec![],
            },
        ];
        let component = Component::by_name("registry").unwrap();
        let bytes = render(component, &linked, "1970-01-01T00:00:00Z").unwrap();
        assert_eq!(
            bytes,
            render(component, &linked, "1970-01-01T00:00:00Z").unwrap()
        );
        let bom: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["components"][0]["purl"], "pkg:cargo/serde@1.0.0");
        assert_eq!(bom["metadata"]["component"].get("purl"), None);
        assert_eq!(bom["dependencies"][0]["dependsOn"][0], "serde@1.0.0");
        let serial = bom["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "8");
    }
}
