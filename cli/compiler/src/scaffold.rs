//! The scaffold of `dappctl init`: a small mesh that validates, to start from.

use std::path::{Path, PathBuf};

const MESH: &str = include_str!("scaffold/mesh.yaml");
const PRODUCT: &str = include_str!("scaffold/orders.yaml");

/// The files of the scaffold for `dir`, by path: a Mesh named after the directory, and one
/// product. Writing them (and refusing to overwrite) is the caller's.
pub fn files(dir: &Path) -> [(PathBuf, String); 2] {
    let name = mesh_name(dir);
    [
        (dir.join("mesh.yaml"), MESH.replace("MESH_NAME", &name)),
        (dir.join("products").join("orders.yaml"), PRODUCT.to_owned()),
    ]
}

/// The directory's name made a DNS-1123 label, or `mesh` when nothing usable is left.
fn mesh_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(|c: char| !c.is_ascii_lowercase())
        .trim_end_matches('-');
    let label: String = trimmed
        .chars()
        .take(32)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned();
    if label.is_empty() {
        "mesh".to_owned()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::mesh_name;
    use std::path::Path;

    #[test]
    fn mesh_names_are_dns_labels() {
        assert_eq!(
            mesh_name(Path::new("/nonexistent/My Data_Mesh")),
            "my-data-mesh"
        );
        assert_eq!(mesh_name(Path::new("/nonexistent/2024")), "mesh");
    }
}
