//! TTLs with a real clock and short settings: fresh, stale, evicted; a heartbeat revives;
//! and the stored timestamps carry staleness across a restart. (The rules themselves are
//! unit-tested with a manual clock in `ttl` and `state`.)

use std::time::Duration;

use super::harness::*;

const SHORT: [&str; 8] = [
    "--ttl",
    "1s",
    "--min-ttl",
    "1s",
    "--grace",
    "2s",
    "--sweep-interval",
    "50ms",
];

async fn stale(c: &reqwest::Client, base: &str, id: &str) -> Option<bool> {
    let r = get(c, &format!("{base}/api/v1/registry/{id}")).await;
    (r.status == StatusCode::OK).then(|| r.json["stale"].as_bool().unwrap())
}

#[tokio::test]
async fn registrations_go_stale_then_away_and_come_back_with_a_heartbeat() {
    let dir = TempDir::new("ttl");
    let mut server = Server::start(dir.path(), &SHORT);
    let c = client();
    register(&c, &server.url, "w", "{}").await;
    register(&c, &server.url, "long", r#"{"ttlSeconds":60}"#).await;
    assert_eq!(stale(&c, &server.url, "w").await, Some(false));
    let item = get(&c, &format!("{}/api/v1/registry/w", server.url)).await;
    assert_eq!(item.json["ttlSeconds"], 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(stale(&c, &server.url, "w").await, Some(true));
    assert_eq!(
        stale(&c, &server.url, "long").await,
        Some(false),
        "its own TTL applies"
    );

    // Stale is derived from the stored lastUpdated, so a restart does not refresh it.
    server.kill();
    server.restart();
    assert_eq!(stale(&c, &server.url, "w").await, Some(true));

    // A heartbeat makes it fresh again.
    register(&c, &server.url, "w", "{}").await;
    assert_eq!(stale(&c, &server.url, "w").await, Some(false));

    // After TTL + grace without a heartbeat it is evicted.
    let base = server.url.clone();
    eventually(Duration::from_secs(6), "eviction", || {
        let (c, base) = (c.clone(), base.clone());
        async move { stale(&c, &base, "w").await.is_none() }
    })
    .await;
    assert_eq!(stale(&c, &server.url, "long").await, Some(false));
    let metrics = c
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("registry_evictions_total 1"), "{metrics}");
}

#[tokio::test]
async fn ttl_bounds_are_enforced() {
    let dir = TempDir::new("ttl-bounds");
    let server = Server::start(dir.path(), &["--max-ttl", "1m"]);
    let c = client();
    for (body, status) in [
        (r#"{"ttlSeconds":0}"#, 422),
        (r#"{"ttlSeconds":61}"#, 422),
        (r#"{"ttlSeconds":60}"#, 200),
    ] {
        let r = register(&c, &server.url, "w", body).await;
        assert_eq!(r.status.as_u16(), status, "{body}");
    }
}
