//! Hostile input: the real binary on files built to break a loader (truncated, binary, not
//! UTF-8, huge, deeply nested, alias bombs, enormous maps and scalars, empty streams).
//!
//! Every case puts one hostile file into a copy of the valid example mesh, so the only
//! diagnostics are the hostile file's own, and runs `dappctl validate` on it twice (human and
//! json output). Each run must end on its own with the right exit code, report cleanly and
//! name the file, and never panic.
//!
//! Time and memory are bounded without timed assertions: the binary runs under
//! `ulimit -v` (about 2 GB of address space, so a runaway allocation aborts instead of
//! swapping) and a watchdog kills it after 60 s, failing the test with a clear message.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{TempDir, dappctl, repo_root};

/// Address space the binary may map, in KiB (`ulimit -v`).
const ADDRESS_SPACE_KIB: u64 = 2_000_000;
/// After this the binary is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(60);
/// A report about one bad file has no reason to be larger than this: diagnostics quote an
/// excerpt of a bad value, not the whole of it.
const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Where each case writes its hostile file, relative to the test's directory.
const HOSTILE: &str = "mesh/products/hostile.yaml";

/// Runs `dappctl <args>` in `dir` under the address-space cap and the watchdog.
fn bounded(args: &[&str], dir: &Path) -> Output {
    bounded_in(args, dir, ADDRESS_SPACE_KIB)
}

/// [`bounded`] with an address-space cap of `kib`.
fn bounded_in(args: &[&str], dir: &Path, kib: u64) -> Output {
    let program = dappctl().get_program().to_owned();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(r#"ulimit -v {kib}; exec "$0" "$@""#))
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    // Drain both pipes while waiting, or a large report would block the child.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for dappctl") {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            // `exec` made the shell's process dappctl itself: this is SIGKILL to dappctl.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dappctl {} did not finish within {WATCHDOG:?} and was killed: \
                 hostile input must be refused quickly, not hang",
                args.join(" ")
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader").expect("stdout"),
        stderr: stderr.join().expect("stderr reader").expect("stderr"),
    }
}

/// A copy of the valid example mesh under `mesh/`.
fn example_mesh(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("hostile-{name}"));
    let examples = repo_root().join("examples");
    for sub in ["", "products"] {
        for entry in std::fs::read_dir(examples.join(sub)).expect("examples/ readable") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.file_name().expect("a file name").to_string_lossy();
                let to = Path::new("mesh").join(sub).join(&*name);
                dir.write(
                    &to.to_string_lossy(),
                    std::fs::read(&path).expect("readable"),
                );
            }
        }
    }
    dir
}

fn example_product() -> String {
    std::fs::read_to_string(repo_root().join("examples/products/sales-orders.yaml"))
        .expect("the example product")
}

/// The checks every run shares: it ended by itself, without a panic or an allocation
/// failure, with the expected exit code and a bounded report.
fn ran_cleanly(output: &Output, args: &str, exit: i32) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("memory allocation"),
        "dappctl {args} crashed:\n{}",
        head(&stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(exit),
        "dappctl {args} exited with {:?} (a signal if None; SIGABRT/SIGSEGV mean a crash)\n\
         stdout:\n{}\nstderr:\n{}",
        output.status,
        head(&stdout),
        head(&stderr)
    );
    assert!(
        stdout.len() <= MAX_REPORT_BYTES,
        "dappctl {args} printed a {} byte report; one bad file should not need more than \
         {MAX_REPORT_BYTES}:\n{}",
        stdout.len(),
        head(&stdout)
    );
    stdout
}

/// The start of a long text, for failure messages.
fn head(text: &str) -> String {
    const KEEP: usize = 2000;
    match text.char_indices().nth(KEEP) {
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
        None => text.to_owned(),
    }
}

fn show(value: &Value) -> String {
    head(&format!("{value:#}"))
}

/// The json report of `validate mesh`, after the shared checks.
fn json_report(dir: &TempDir, exit: i32) -> Value {
    let output = bounded(&["validate", "--format", "json", "mesh"], dir.path());
    let stdout = ran_cleanly(&output, "validate --format json", exit);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("json output: {e}\n{}", head(&stdout)))
}

fn diagnostics(report: &Value) -> &Vec<Value> {
    report["diagnostics"]
        .as_array()
        .expect("a diagnostics array")
}

/// The hostile file is refused: exit 1, every diagnostic is about the hostile file and has
/// one of `codes`, and the human report names the file and the code. Returns the json report.
fn refused(dir: &TempDir, codes: &[&str]) -> Value {
    let human = bounded(&["validate", "mesh"], dir.path());
    let stdout = ran_cleanly(&human, "validate", 1);
    assert!(
        stdout.contains(HOSTILE),
        "the human report does not name {HOSTILE}:\n{}",
        head(&stdout)
    );
    assert!(
        codes.iter().any(|c| stdout.contains(c)),
        "the human report has none of {codes:?}:\n{}",
        head(&stdout)
    );

    let report = json_report(dir, 1);
    let found = diagnostics(&report);
    assert!(!found.is_empty(), "no diagnostic: {}", show(&report));
    for d in found {
        assert_eq!(d["file"], HOSTILE, "a diagnostic elsewhere: {}", show(d));
        let code = d["code"].as_str().expect("a code");
        assert!(
            codes.contains(&code),
            "expected one of {codes:?}, got {}",
            show(d)
        );
        assert!(
            d["line"].as_u64().is_some_and(|l| l >= 1),
            "no position: {}",
            show(d)
        );
    }
    report
}

/// The mesh with the hostile file is valid: exit 0 and no diagnostic at all.
fn accepted(dir: &TempDir) -> Value {
    let human = bounded(&["validate", "mesh"], dir.path());
    let stdout = ran_cleanly(&human, "validate", 0);
    assert!(stdout.starts_with("valid:"), "{}", head(&stdout));
    let report = json_report(dir, 0);
    assert!(diagnostics(&report).is_empty(), "{}", show(&report));
    assert_eq!(report["valid"], true);
    assert!(
        report["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f == HOSTILE),
        "the hostile file was not loaded: {}",
        show(&report)
    );
    report
}

/// Deterministic noise (xorshift64), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn the_example_mesh_is_the_valid_baseline() {
    let dir = example_mesh("baseline");
    let human = bounded(&["validate", "mesh"], dir.path());
    ran_cleanly(&human, "validate", 0);
}

#[test]
fn truncated_product() {
    let product = example_product();
    // Cut inside a flow mapping: the stream ends with the mapping open.
    let line = product
        .find("{ name: total_cents")
        .expect("the example has total_cents");
    let cut = line + "{ name: total_cents, logical".len();
    let dir = example_mesh("truncated");
    dir.write(HOSTILE, &product[..cut]);
    let report = refused(&dir, &["yaml::syntax"]);
    let d = &diagnostics(&report)[0];
    let last_line = product[..cut].lines().count() as u64;
    assert!(d["line"].as_u64() >= Some(last_line - 1), "{}", show(d));
}

#[test]
fn products_truncated_mid_line_anywhere() {
    // The product cut in the middle of every 8th line: each cut is either bad YAML, or a
    // document missing what follows the cut, or (cut late) a second `sales/sales-orders`.
    // Each is reported, in its own file, and nowhere else.
    let product = example_product();
    let dir = example_mesh("truncated-many");
    let mut names = Vec::new();
    let mut offset = 0;
    for (n, line) in product.split_inclusive('\n').enumerate() {
        if n % 8 == 3 && line.trim().len() > 4 {
            let cut = offset + line.len() / 2;
            let name = format!("mesh/products/zz-cut-{n:03}.yaml");
            dir.write(&name, &product[..cut]);
            names.push(name);
        }
        offset += line.len();
    }
    assert!(names.len() >= 10, "{} cuts", names.len());
    let human = bounded(&["validate", "mesh"], dir.path());
    let stdout = String::from_utf8_lossy(&human.stdout).into_owned();
    assert!(!String::from_utf8_lossy(&human.stderr).contains("panicked"));
    assert_eq!(human.status.code(), Some(1), "{}", head(&stdout));
    let output = bounded(&["validate", "--format", "json", "mesh"], dir.path());
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    let found = diagnostics(&report);
    for name in &names {
        assert!(
            stdout.contains(name.as_str()),
            "{name} not named:\n{}",
            head(&stdout)
        );
        assert!(
            found.iter().any(|d| d["file"] == name.as_str()),
            "no diagnostic for {name}"
        );
    }
    for d in found {
        let file = d["file"].as_str().unwrap_or_default();
        assert!(
            file.contains("zz-cut-"),
            "a diagnostic elsewhere: {}",
            show(d)
        );
    }
}

#[test]
fn binary_file() {
    let dir = example_mesh("binary");
    let mut bytes = noise(64 * 1024, 0x9E37_79B9_7F4A_7C15);
    bytes[100] = 0;
    bytes[5000] = 0;
    dir.write(HOSTILE, &bytes);
    refused(&dir, &["yaml::not-utf8", "yaml::binary"]);
}

#[test]
fn text_with_nul_bytes() {
    let dir = example_mesh("nul");
    dir.write(
        HOSTILE,
        "apiVersion: dappmesh.io/v1alpha1\nkind: Domain\0\0\n",
    );
    let report = refused(&dir, &["yaml::binary"]);
    let d = &diagnostics(&report)[0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(13))
    );
}

#[test]
fn not_utf8() {
    // A Latin-1 `é` (one byte, 0xE9) in an otherwise fine product.
    let product = example_product().replacen(
        "purpose: Confirmed web-shop orders.",
        "purpose: Confirmed web-shop orders from the caf\u{0}.",
        1,
    );
    let at = product.find('\u{0}').expect("the marker");
    let mut bytes = product.into_bytes();
    bytes[at] = 0xE9;
    let dir = example_mesh("latin1");
    dir.write(HOSTILE, &bytes);
    let report = refused(&dir, &["yaml::not-utf8"]);
    let d = &diagnostics(&report)[0];
    let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let line_start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = at - line_start + 1;
    // The diagnostic underlines exactly the one bad character.
    assert_eq!(
        serde_json::json!([d["line"], d["column"], d["endLine"], d["endColumn"]]),
        serde_json::json!([line, column, line, column + 1]),
        "{}",
        show(d)
    );
}

#[test]
fn a_100_mb_file_is_refused_by_its_size() {
    let dir = example_mesh("huge");
    let path = dir.path().join(HOSTILE);
    // 100 MiB of well-formed YAML, written a MiB at a time: dappctl must refuse it by size
    // without parsing it (parsing would take seconds and far more memory).
    let line = "- a line of a very long list that no spec file would ever hold\n";
    let chunk = line.repeat((1 << 20) / line.len());
    let mut file = BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut written = 0;
    while written < 100 << 20 {
        file.write_all(chunk.as_bytes()).expect("write");
        written += chunk.len();
    }
    file.flush().expect("flush");
    drop(file);
    let report = refused(&dir, &["yaml::too-large"]);
    assert_eq!(diagnostics(&report).len(), 1, "{}", show(&report));
}

/// A file of 200,000 empty-ish documents took 31 s and 977 MB; 1.5 million grew past 3 GB.
#[test]
fn two_hundred_thousand_tiny_documents() {
    let dir = example_mesh("documents");
    dir.write(HOSTILE, "a: 1\n---\n".repeat(200_000));
    let report = refused(&dir, &["yaml::too-many-documents"]);
    assert_eq!(diagnostics(&report).len(), 1, "{}", show(&report));
    // The 10,001st document starts at the `---` on line 20,000.
    assert_eq!(diagnostics(&report)[0]["line"], 20_000, "{}", show(&report));
}

/// Memory follows nodes, not bytes: 16 MiB of `[1,1,…]` is eight million nodes, and took
/// more than a gigabyte. It is refused at the node limit, well inside 700 MB of address space
/// (the debug binary and its threads included).
#[test]
fn sixteen_mib_of_tiny_values_stay_within_bounded_memory() {
    let dir = example_mesh("nodes");
    let values = (16 << 20) / 2 - 64;
    dir.write(HOSTILE, format!("x: [{}1]\n", "1,".repeat(values)));
    let out = bounded_in(
        &["validate", "--format", "json", "mesh"],
        dir.path(),
        700_000,
    );
    let stdout = ran_cleanly(&out, "validate --format json (700 MB)", 1);
    assert!(stdout.contains("yaml::too-many-nodes"), "{}", head(&stdout));
    refused(&dir, &["yaml::too-many-nodes"]);
}

/// However many problems a tree has, the report shows the first thousand and counts the rest,
/// and still fails.
#[test]
fn diagnostics_past_a_thousand_are_counted_not_shown() {
    let dir = example_mesh("diagnostics");
    dir.write(HOSTILE, "a: 1\n---\n".repeat(1_500));
    let out = bounded(&["validate", "--format", "json", "mesh"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a json report");
    let found = diagnostics(&report);
    assert_eq!(found.len(), 1_001, "{}", head(&show(&report)));
    let last = &found[1_000];
    assert_eq!(last["code"], "report::truncated", "{}", show(last));
    assert_eq!(last["severity"], "error", "{}", show(last));
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("500 more diagnostics")),
        "{}",
        show(last)
    );
}

#[test]
fn flow_nesting_10000_deep() {
    let dir = example_mesh("deep-flow");
    dir.write(
        HOSTILE,
        format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    );
    // The loader's depth limit (64) is the error, as for block nesting; not a generic syntax
    // error from the parser's own recursion guard.
    refused(&dir, &["yaml::too-deep"]);
}

#[test]
fn flow_mapping_nesting_10000_deep() {
    let dir = example_mesh("deep-flow-map");
    dir.write(
        HOSTILE,
        format!("{}x{}\n", "{a: ".repeat(10_000), "}".repeat(10_000)),
    );
    refused(&dir, &["yaml::too-deep"]);
}

#[test]
fn block_nesting_10000_deep() {
    // Block sequences nest without indentation growing quadratically: `- - - … x`.
    let dir = example_mesh("deep-block-seq");
    dir.write(HOSTILE, format!("{}x\n", "- ".repeat(10_000)));
    refused(&dir, &["yaml::too-deep"]);
}

#[test]
fn block_mappings_nested_as_deep_as_the_size_limit_allows() {
    // Each block mapping level indents one more column, so 10,000 levels need 50 MB of
    // indentation and would only meet the 16 MiB size limit. 5,000 levels (12.5 MB) is the
    // deepest block mapping a file under the limit can hold; the depth limit must catch it.
    let mut text = String::with_capacity(13 << 20);
    for depth in 0..5_000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("a:\n");
    }
    text.push_str(&" ".repeat(5_000));
    text.push_str("b: 1\n");
    assert!(text.len() < 16 << 20);
    let dir = example_mesh("deep-block-map");
    dir.write(HOSTILE, &text);
    let report = refused(&dir, &["yaml::too-deep"]);
    assert_eq!(diagnostics(&report)[0]["line"], 65, "{}", show(&report));
}

#[test]
fn billion_laughs() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let dir = example_mesh("laughs");
    dir.write(HOSTILE, &text);
    refused(&dir, &["yaml::alias-expansion"]);
}

#[test]
fn a_map_with_200000_keys() {
    let keys: String = (0..200_000).map(|i| format!("key{i}: {i}\n")).collect();
    // Not a spec: refused for what it lacks, after loading all of it.
    let dir = example_mesh("keys");
    dir.write(HOSTILE, &keys);
    refused(&dir, &["schema::api-version"]);
    // The same map with its 8th key repeated at the very end: found, pointing at both.
    let dir = example_mesh("keys-duplicate");
    dir.write(HOSTILE, format!("{keys}key7: again\n"));
    let report = refused(&dir, &["yaml::duplicate-key"]);
    let d = &diagnostics(&report)[0];
    assert_eq!(d["line"], 200_001, "{}", show(d));
    assert_eq!(d["related"][0]["line"], 8, "{}", show(d));
}

#[test]
fn a_product_with_200000_labels() {
    // Valid, only large: every label is well-formed.
    let mut text = example_product().replacen(
        "metadata:\n  name: sales-orders\n",
        "metadata:\n  name: sales-orders-labelled\n  labels:\n",
        1,
    );
    let at = text.find("  labels:\n").expect("labels") + "  labels:\n".len();
    let labels: String = (0..200_000)
        .map(|i| format!("    team.example.com/l{i}: v{i}\n"))
        .collect();
    text.insert_str(at, &labels);
    // Its widget tag must stay unique in the mesh.
    let text = text.replace(
        "tag: sales-revenue-chart",
        "tag: sales-revenue-chart-labelled",
    );
    let dir = example_mesh("labels");
    dir.write(HOSTILE, &text);
    accepted(&dir);
}

#[test]
fn a_1_mb_single_line_scalar() {
    let big = "x".repeat(1 << 20);
    // Valid: a description may be long.
    let dir = example_mesh("scalar-valid");
    dir.write(
        HOSTILE,
        format!(
            "apiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata:\n  name: big\nspec:\n  owner: team-big\n  description: {big}\n"
        ),
    );
    accepted(&dir);
    // Invalid: a name must be a short DNS label. The report quotes the value, but must not
    // echo a megabyte of it (MAX_REPORT_BYTES).
    let dir = example_mesh("scalar-invalid");
    dir.write(
        HOSTILE,
        format!(
            "apiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata:\n  name: {big}\nspec:\n  owner: team-big\n"
        ),
    );
    let report = refused(&dir, &["schema::pattern"]);
    assert_eq!(diagnostics(&report)[0]["line"], 4, "{}", show(&report));
}

#[test]
fn an_empty_file() {
    // Exit 0: an empty file is an empty YAML stream, no document, so nothing to check (an
    // editor's new file, a placeholder kept in git); the rest of the mesh is still valid.
    let dir = example_mesh("empty");
    dir.write(HOSTILE, "");
    accepted(&dir);
}

#[test]
fn only_document_separators() {
    // Exit 0: `---` lines start empty (null) documents, which hold no spec and are skipped,
    // as kubectl skips them; they are not errors.
    let dir = example_mesh("separators");
    dir.write(HOSTILE, "---\n---\n--- \n...\n---\n");
    accepted(&dir);
}

#[test]
fn a_product_with_300000_unknown_keys_shows_the_first_hundred() {
    let product = example_product();
    let keys: String = (0..300_000).map(|i| format!("  k{i}: 0\n")).collect();
    let dir = example_mesh("unknown-keys");
    dir.write(
        HOSTILE,
        product.replacen("spec:\n", &format!("spec:\n{keys}"), 1),
    );
    let report = refused(&dir, &["schema::unknown-key", "schema::too-many"]);
    let found = diagnostics(&report);
    assert_eq!(found.len(), 101);
    let summary: Vec<&Value> = found
        .iter()
        .filter(|d| d["code"] == "schema::too-many")
        .collect();
    assert_eq!(summary.len(), 1, "{}", show(&report));
    assert_eq!(
        summary[0]["message"],
        "299900 more schema errors in this document are not shown"
    );
}

/// A pull request can add `env.yaml → /proc/self/environ` (or a token file): validate must
/// refuse the link by name and print nothing of what it points at, in every format. A link
/// that stays inside the tree is read as before.
#[test]
fn a_symlink_out_of_the_tree_is_refused_and_never_read() {
    let dir = example_mesh("symlink-out");
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, "token: hunter2-do-not-print\n").unwrap();
    let link = dir.path().join("mesh/products/env.yaml");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    for format in ["human", "json", "sarif", "github"] {
        let out = bounded(&["validate", "mesh", "--format", format], dir.path());
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{format}: {text}");
        assert!(
            !text.contains("hunter2"),
            "{format} printed the target: {text}"
        );
        assert!(
            text.contains("env.yaml") && text.contains("load::symlink"),
            "{format}: {text}"
        );
    }
    std::fs::remove_file(&link).unwrap();
    let inner = dir.path().join("mesh/products/sales-orders.yaml");
    std::fs::rename(&inner, dir.path().join("mesh/orders.real")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("mesh/orders.real"), &inner).unwrap();
    let out = bounded(&["validate", "mesh"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// File names come from the pull request too: a newline in one must not start a workflow
/// command in a CI log, an escape sequence must not reach the terminal, and each format
/// must still name the file unambiguously.
#[test]
fn file_names_are_escaped_in_every_format() {
    let dir = example_mesh("file-names");
    let broken = "kind: DataProduct\nbad: [\n";
    let injected = "mesh/products/x\n::warning file=a::pwned.yaml";
    let colored = "mesh/products/e\u{1b}[31mred.yaml";
    let reordered = "mesh/products/a\u{202e}lmay.yaml";
    for name in [injected, colored, reordered] {
        dir.write(name, broken);
    }
    for format in ["human", "github", "sarif", "json"] {
        let out = bounded(&["validate", "mesh", "--format", format], dir.path());
        let stdout = ran_cleanly(&out, &format!("validate --format {format}"), 1);
        let everything = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        // JSON carries names exactly (its escaping covers control characters, and its
        // readers are programs); every other format shows neither character raw.
        let raw: &[char] = if format == "json" {
            &['\u{1b}']
        } else {
            &['\u{1b}', '\u{202e}']
        };
        for &c in raw {
            assert!(
                !everything.contains(c),
                "{format} printed U+{:04X} raw:\n{everything}",
                c as u32
            );
        }
        // Every line that starts a workflow command is one dappctl meant to write.
        for line in everything.lines().filter(|l| l.starts_with("::")) {
            assert!(
                format == "github" && line.starts_with("::error file="),
                "{format} let a file name start a workflow command: {line}"
            );
        }
        match format {
            "human" | "github" => {
                assert!(
                    stdout.contains(r#"x\n"#) && stdout.contains(r"e\u{1b}[31mred.yaml"),
                    "{format} does not name the files with their escapes:\n{stdout}"
                );
            }
            "sarif" => {
                let uris: Vec<String> = serde_json::from_str::<Value>(&stdout).unwrap()["runs"][0]
                    ["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
                assert!(
                    uris.iter()
                        .any(|u| u.ends_with("x%0A::warning%20file=a::pwned.yaml"))
                        && uris.iter().any(|u| u.ends_with("e%1B%5B31mred.yaml")),
                    "SARIF URIs are not percent-encoded: {uris:?}"
                );
            }
            _ => {
                // JSON is for programs: its own escaping carries the exact name.
                let report: Value = serde_json::from_str(&stdout).unwrap();
                let files: Vec<&str> = report["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert!(files.contains(&injected), "{files:?}");
            }
        }
    }
}

/// A device named on the command line is refused before it is opened: a terminal would
/// block the read forever. A pipe is what process substitution gives, and is read.
#[test]
fn devices_named_on_the_command_line_are_refused_and_pipes_read() {
    let dir = example_mesh("special-files");
    for device in ["/dev/tty", "/dev/zero", "/dev/null"] {
        if !Path::new(device).exists() {
            continue;
        }
        let out = bounded(&["validate", "mesh", device], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{device}: {stderr}");
        assert!(
            stderr.contains("load::special-file") && stderr.contains("character device"),
            "{device}: {stderr}"
        );
    }
    std::fs::rename(
        dir.path().join("mesh/products/sales-orders.yaml"),
        dir.path().join("orders.txt"),
    )
    .unwrap();
    let program = dappctl().get_program().to_owned();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$0" validate mesh <(cat orders.txt)"#)
        .arg(program)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn user_templates_that_loop_flood_or_hoard_are_stopped_naming_the_template() {
    let cases = [
        (
            "product/spin.yaml.j2",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
            "fuel",
        ),
        (
            "product/flood.yaml.j2",
            "{% for i in range(100000) %}{% for j in range(1000) %}xxxxxxxxxxxxxxxx{% endfor %}{% endfor %}\n",
            "16 MiB",
        ),
        (
            // One instruction per doubling: fuel and the output cap never see it.
            "product/double.yaml.j2",
            &format!(
                "{{% set s = \"xxxxxxxxxxxxxxxx\" %}}{}{{{{ s | length }}}}\n",
                "{% set s = s ~ s %}".repeat(40)
            ),
            "256 MiB",
        ),
    ];
    for (name, text, why) in cases {
        let dir = example_mesh("templates");
        dir.write(&format!("templates/{name}"), text);
        let args = ["render", "mesh", "--templates", "templates", "--out", "out"];
        let output = bounded(&args, dir.path());
        ran_cleanly(&output, &args.join(" "), 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(name) && stderr.contains("render::template"),
            "{name}: the error names the template and its code:\n{}",
            head(&stderr)
        );
        assert!(
            stderr.contains(why),
            "{name}: says why ({why}):\n{}",
            head(&stderr)
        );
        assert!(
            !dir.path().join("out").exists(),
            "{name}: nothing is written after a failed render"
        );
    }
}
