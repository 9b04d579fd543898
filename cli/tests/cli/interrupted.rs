//! `dappctl render --out` killed mid-write, through the real binary: what a reader finds
//! meanwhile (every file whole, old or new), and that the next render converges to what a
//! clean render writes, leaving no temporary behind and no file of the user's touched.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{TempDir, assert_exit, dappctl, repo_root};

/// Environments in the mesh: each adds the files of every product, some hundred ms in all.
const ENVIRONMENTS: usize = 30;

/// Kill points per case, spread over one clean render's time.
const KILLS: u32 = 10;

/// Files of the user's in the output, which no render may touch.
const USERS: [(&str, &str); 3] = [
    ("README.md", "the user's"),
    ("platform/NOTES.md", "beside generated files"),
    (".draft.yaml.tmp", "a temporary of the user's own"),
];

/// The example mesh with `ENVIRONMENTS` environments named `e<first>`…, and the image
/// registry `registry`: another registry rewrites most files, other environments add and
/// remove whole directories.
fn mesh(into: &Path, first: usize, registry: &str) {
    let examples = repo_root().join("examples");
    let mut environments = String::new();
    for env in first..first + ENVIRONMENTS {
        environments.push_str(&format!(
            "    - name: e{env:02}\n      destination: {{ name: cluster-{env:02} }}\n"
        ));
    }
    let text = std::fs::read_to_string(examples.join("mesh.yaml")).unwrap();
    let start = text.find("  environments:\n").unwrap() + "  environments:\n".len();
    let end = text.find("  defaults:\n").unwrap();
    let text = format!("{}{environments}{}", &text[..start], &text[end..]).replace(
        "imageRegistry: ghcr.io/acme",
        &format!("imageRegistry: {registry}"),
    );
    std::fs::create_dir_all(into.join("products")).unwrap();
    std::fs::write(into.join("mesh.yaml"), text).unwrap();
    std::fs::copy(examples.join("domains.yaml"), into.join("domains.yaml")).unwrap();
    for entry in std::fs::read_dir(examples.join("products")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, into.join("products").join(path.file_name().unwrap())).unwrap();
    }
}

fn render(mesh: &Path, out: &Path, cache: &Path) -> Command {
    let mut command = dappctl();
    command
        .args([
            "render",
            mesh.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("NO_COLOR", "1")
        .env("DAPPCTL_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn render_ok(mesh: &Path, out: &Path, cache: &Path) {
    assert_exit(&render(mesh, out, cache).output().unwrap(), 0);
}

/// Everything below `dir` by relative path: a file's bytes, None for a directory.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                pending.push(path);
                found.insert(relative, None);
            } else {
                found.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

fn with_users_files(out: &Path) {
    for (path, text) in USERS {
        std::fs::create_dir_all(out.join(path).parent().unwrap()).unwrap();
        std::fs::write(out.join(path), text).unwrap();
    }
}

/// Renders `new` into `out` (holding the render of `old`, or nothing), kills it after
/// `delay`, and checks what the kill left against the complete renders `old_tree` and
/// `new_tree`. Returns whether the render was still running when killed.
fn kill_and_check(
    new: &Path,
    out: &Path,
    cache: &Path,
    delay: Duration,
    trees: [&BTreeMap<String, Option<Vec<u8>>>; 2],
) -> bool {
    let mut child = render(new, out, cache).spawn().unwrap();
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    for (path, bytes) in tree(out) {
        let Some(bytes) = bytes else { continue };
        assert!(
            !bytes.is_empty(),
            "{path} is empty after a kill at {delay:?}"
        );
        if path.ends_with(".yaml") && !USERS.iter().any(|(user, _)| *user == path) {
            assert!(
                trees
                    .iter()
                    .any(|t| t.get(&path) == Some(&Some(bytes.clone()))),
                "{path} is neither its old nor its new version after a kill at {delay:?}"
            );
        }
    }
    running
}

/// One case: the clean render of `new` into a fresh directory, then per kill point a
/// directory prepared by `prepare`, the render of `new` killed there, and a render of `new`
/// that must give exactly the clean tree.
fn case(
    name: &str,
    new: &Path,
    old_tree: &BTreeMap<String, Option<Vec<u8>>>,
    prepare: impl Fn(&Path, &Path),
) {
    let work = TempDir::new(&format!("interrupted-{name}"));
    let cache = work.path().join("cache");
    let clean = work.path().join("clean");
    with_users_files(&clean);
    let started = Instant::now();
    render_ok(new, &clean, &cache);
    let took = started.elapsed();
    let new_tree = tree(&clean);
    let mut interrupted = 0;
    for kill in 1..=KILLS {
        let out = work.path().join(format!("out-{kill}"));
        prepare(&out, &cache);
        let delay = took * kill / KILLS;
        if kill_and_check(new, &out, &cache, delay, [old_tree, &new_tree]) {
            interrupted += 1;
        }
        render_ok(new, &out, &cache);
        let after = tree(&out);
        let strays: Vec<&String> = after
            .keys()
            .filter(|p| !new_tree.contains_key(*p))
            .collect();
        assert!(
            strays.is_empty(),
            "left after a kill at {delay:?}: {strays:?}"
        );
        let differ = new_tree
            .iter()
            .find(|(p, bytes)| after.get(*p) != Some(bytes));
        assert!(
            differ.is_none(),
            "after a kill at {delay:?} the next render differs from a clean one at {:?}",
            differ.map(|(p, _)| p)
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
    // Not asserted (it depends on the machine's speed): how many kills hit a running render.
    eprintln!("{name}: {interrupted} of {KILLS} kills stopped a running render");
}

#[test]
fn a_render_killed_mid_write_leaves_whole_files_and_the_next_converges() {
    let meshes = TempDir::new("interrupted-meshes");
    let old = meshes.path().join("old");
    let new = meshes.path().join("new");
    mesh(&old, 0, "ghcr.io/acme");
    mesh(&new, ENVIRONMENTS / 2, "ghcr.io/elsewhere");
    let cache = meshes.path().join("cache");
    let old_out = meshes.path().join("old-out");
    with_users_files(&old_out);
    render_ok(&old, &old_out, &cache);
    let old_tree = tree(&old_out);

    // Into an empty directory (but for the user's files).
    case("fresh", &new, &BTreeMap::new(), |out, _| {
        with_users_files(out)
    });
    // Over the render of another mesh: files rewritten, created and pruned.
    case("update", &new, &old_tree, |out, cache| {
        with_users_files(out);
        render_ok(&old, out, cache);
    });
}
