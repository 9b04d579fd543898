//! The database's disk and file going bad under a real server: a full file system (a small
//! tmpfs, filled up), and corrupt, truncated and empty database files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::harness::*;

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one, or says why not (not root, no mount(8), a sandbox refusing it).
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let at = dir.join("tmpfs");
        std::fs::create_dir_all(&at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0xa5u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

fn big_body(i: usize) -> String {
    let tags: Vec<String> = (0..32)
        .map(|t| format!(r#""t{t}":"{}""#, format!("{i}-").repeat(60)))
        .collect();
    format!(r#"{{"label":"w{i}","tags":{{{}}}}}"#, tags.join(","))
}

#[tokio::test]
async fn a_full_disk_answers_507_turns_ready_red_and_logs_once() {
    let dir = TempDir::new("disk-full");
    let tmpfs = match Tmpfs::mount(dir.path(), "2m") {
        Ok(t) => t,
        Err(why) => {
            println!("skipped: cannot mount a tmpfs ({why})");
            return;
        }
    };
    let server = Server::start(&tmpfs.0, &[]);
    let c = client();
    assert_eq!(
        register(&c, &server.url, "before", IDEA_LAB_BODY)
            .await
            .status,
        StatusCode::OK
    );
    let filler = tmpfs.0.join("filler");
    fill(&filler);

    // Writes of new entries need new pages; within a few dozen one finds no room.
    let mut statuses = Vec::new();
    for i in 0..60 {
        let r = register(&c, &server.url, &format!("w{i}"), &big_body(i)).await;
        statuses.push(r.status);
        if r.status == StatusCode::INSUFFICIENT_STORAGE {
            assert_eq!(r.json["error"], "disk_full", "{}", r.json);
        }
    }
    let full = statuses
        .iter()
        .filter(|s| **s == StatusCode::INSUFFICIENT_STORAGE)
        .count();
    assert!(full >= 10, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::INSUFFICIENT_STORAGE),
        "{statuses:?}"
    );
    let ready = get(&c, &format!("{}/ready", server.url)).await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.json
    );
    assert_eq!(ready.json["message"], "the disk is full: writes fail");
    // Reads still work.
    assert_eq!(
        get(&c, &format!("{}/api/v1/registry/before", server.url))
            .await
            .status,
        StatusCode::OK
    );

    // Room again: /ready turns green by itself (its probe writes), and writes succeed.
    std::fs::remove_file(&filler).unwrap();
    eventually(
        Duration::from_secs(5),
        "ready after the disk has room",
        || async { get(&c, &format!("{}/ready", server.url)).await.status == StatusCode::OK },
    )
    .await;
    assert_eq!(
        register(&c, &server.url, "after", &big_body(99))
            .await
            .status,
        StatusCode::OK
    );

    let log = server.log();
    assert_eq!(
        log.matches("the disk is full").count(),
        1,
        "one line per episode:\n{log}"
    );
    assert_eq!(log.matches("writes succeed again").count(), 1, "{log}");
    assert!(!log.contains("write failed"), "no line per request:\n{log}");
    drop(server);
}

/// Runs `registry serve` on `data`, which must fail at start; returns its log.
fn refused_start(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(data)
        .args(["--tokens", &tokens()])
        .output()
        .expect("registry runs");
    assert!(!out.status.success(), "it started on {}", data.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn bad_database_files_stop_the_server_with_a_message_naming_them() {
    let dir = TempDir::new("bad-files");
    let data = dir.path().join("data");
    let file = data.join("registry.sqlite3");
    let shown = file.display().to_string();

    // A database with some content, stopped cleanly (its WAL checkpointed into the file).
    let mut server = Server::start(dir.path(), &[]);
    let c = client();
    for i in 0..200 {
        register(&c, &server.url, &format!("w{i}"), &big_body(i)).await;
    }
    assert!(server.terminate().success());
    let len = std::fs::metadata(&file).unwrap().len();
    assert!(len > 200_000, "{len}");

    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let log = refused_start(&data);
    assert!(
        log.contains(&format!("{shown} is truncated or damaged (")),
        "{log}"
    );
    assert!(!log.contains("in use by another"), "{log}");

    std::fs::write(&file, b"PK\x03\x04 a zip file, say".repeat(300)).unwrap();
    let log = refused_start(&data);
    assert!(
        log.contains(&format!(
            "{shown} is not a SQLite database (file is not a database)"
        )),
        "{log}"
    );

    std::fs::write(&file, b"").unwrap();
    let log = refused_start(&data);
    assert!(
        log.contains(&format!("{shown} is empty (0 bytes)")),
        "{log}"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "left as it was");
    for line in log.lines().filter(|l| l.contains("ERROR")) {
        println!("{line}");
    }
}
