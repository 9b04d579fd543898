//! The heartbeat sidecar against the real server: it keeps a registration fresh, rides out
//! a registry that is killed and restarted, and deregisters on SIGTERM.

use std::time::Duration;

use super::harness::*;

#[tokio::test]
async fn the_sidecar_survives_a_registry_restart_and_deregisters_on_sigterm() {
    let dir = TempDir::new("sidecar");
    let mut server = Server::start(dir.path(), &["--ttl", "1s", "--sweep-interval", "50ms"]);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TEAM_A}\n")).unwrap();
    let hostport = server.url.trim_start_matches("http://").to_owned();
    // idea-lab's variable names, plus the token.
    let mut sidecar = Sidecar::start(
        dir.path(),
        &[
            ("ID", "team-a.widget"),
            ("BODY", IDEA_LAB_BODY),
            ("HOSTPORT", &hostport),
            ("INTERVAL", "200ms"),
            ("MAX_BACKOFF", "300ms"),
            ("REGISTRY_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
    );
    let c = client();
    let url = format!("{}/api/v1/registry/team-a.widget", server.url);
    let fresh = |c: reqwest::Client, url: String| async move {
        let r = get(&c, &url).await;
        r.status == StatusCode::OK && r.json["stale"] == false
    };
    eventually(Duration::from_secs(10), "the first registration", || {
        fresh(c.clone(), url.clone())
    })
    .await;
    let before = get(&c, &url).await.json["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();

    // The registry goes away without warning; the sidecar must keep trying, not exit.
    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        sidecar.child.try_wait().unwrap().is_none(),
        "the sidecar exited:\n{}",
        sidecar.log()
    );
    server.restart();
    let after_restart = |c: reqwest::Client, url: String, before: String| async move {
        let r = get(&c, &url).await;
        r.status == StatusCode::OK
            && r.json["stale"] == false
            && r.json["lastUpdated"].as_str().unwrap() > before.as_str()
    };
    eventually(
        Duration::from_secs(10),
        "a fresh registration after the restart",
        || after_restart(c.clone(), url.clone(), before.clone()),
    )
    .await;
    assert!(
        sidecar.log().contains("heartbeat failed"),
        "{}",
        sidecar.log()
    );
    assert!(
        sidecar.log().contains("registered again"),
        "{}",
        sidecar.log()
    );

    signal(&sidecar.child, libc::SIGTERM);
    let status = wait_exit(&mut sidecar.child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", sidecar.log());
    assert_eq!(
        get(&c, &url).await.status,
        StatusCode::NOT_FOUND,
        "deregistered on SIGTERM"
    );
}

#[tokio::test]
async fn the_sidecar_refuses_a_config_that_cannot_work() {
    let dir = TempDir::new("sidecar-config");
    let mut sidecar = Sidecar::start(
        dir.path(),
        &[
            ("ID", "w"),
            ("BODY", "{not json"),
            ("REGISTRY_URL", "http://127.0.0.1:9"),
            ("REGISTRY_TOKEN", "t"),
        ],
    );
    let status = wait_exit(&mut sidecar.child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(sidecar.log().contains("BODY"), "{}", sidecar.log());
}

#[test]
fn the_probe_check_passes_only_with_a_readable_token() {
    let dir = TempDir::new("sidecar-check");
    let token = dir.path().join("token");
    let check = |env: &[(&str, &str)]| {
        let mut sidecar = Sidecar::start_with(dir.path(), &["--check"], env);
        wait_exit(&mut sidecar.child, Duration::from_secs(10)).code()
    };
    let token_path = token.to_str().unwrap();
    let base = [
        ("ID", "w"),
        ("BODY", "{}"),
        ("REGISTRY_URL", "http://127.0.0.1:9"),
        ("REGISTRY_TOKEN_FILE", token_path),
    ];
    // Nothing listens on the registry URL: the check must not depend on it.
    assert_eq!(check(&base), Some(1), "no token file yet");
    std::fs::write(&token, "\n").unwrap();
    assert_eq!(check(&base), Some(1), "an empty token");
    std::fs::write(&token, "0123456789abcdef\n").unwrap();
    assert_eq!(check(&base), Some(0));
}
