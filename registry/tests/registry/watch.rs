//! Change notification over real HTTP: a blocking query returns when the index moves, and
//! an event stream delivers the collection now and after every change.

use std::time::{Duration, Instant};

use super::harness::*;

#[tokio::test]
async fn a_blocking_query_waits_for_the_next_change() {
    let dir = TempDir::new("longpoll");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let first = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    let index = first.index();

    // Nothing changes: it waits the whole `wait`.
    let started = Instant::now();
    let idle = get(
        &c,
        &format!("{}/api/v1/registry?index={index}&wait=300ms", server.url),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(idle.index(), index);

    // A change wakes it early.
    let waiting = tokio::spawn({
        let (c, url) = (
            c.clone(),
            format!("{}/api/v1/registry?index={index}&wait=20s", server.url),
        );
        async move { get(&c, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished());
    let started = Instant::now();
    register(&c, &server.url, "w", IDEA_LAB_BODY).await;
    let woke = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(woke.index() > index);
    assert_eq!(woke.json[0]["id"], "w");

    // A heartbeat that changes nothing but the time does not wake watchers.
    let index = woke.index();
    let waiting = tokio::spawn({
        let (c, url) = (
            c.clone(),
            format!("{}/api/v1/registry?index={index}&wait=700ms", server.url),
        );
        async move { get(&c, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    register(&c, &server.url, "w", IDEA_LAB_BODY).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a plain heartbeat woke a watcher");
    assert_eq!(waiting.await.unwrap().index(), index);
}

/// Reads server-sent events until `n` `data:` lines arrived.
async fn events(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, Value)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).ok();
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn server_sent_events_deliver_each_change() {
    let dir = TempDir::new("sse");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let mut stream = c
        .get(format!("{}/api/v1/watch/registry", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = events(&mut stream, 1).await;
    assert_eq!(first[0].1, json!([]));

    register(&c, &server.url, "w", IDEA_LAB_BODY).await;
    let second = events(&mut stream, 1).await;
    assert!(second[0].0 > first[0].0);
    assert_eq!(second[0].1[0]["id"], "w");
    assert_eq!(second[0].1[0]["widget"]["tag"], "w-tag");

    call(
        &c,
        Method::DELETE,
        &format!("{}/api/v1/registry/w", server.url),
        Some(ADMIN),
        None,
    )
    .await
    .unwrap();
    let third = events(&mut stream, 1).await;
    assert_eq!(third[0].1, json!([]));

    let mut products = c
        .get(format!("{}/api/v1/watch/products", server.url))
        .send()
        .await
        .unwrap();
    let p = events(&mut products, 1).await;
    assert_eq!(p[0].1, json!([]));
    let doc = r#"{"domain":"d","owner":"o","version":"1.0.0","status":"draft"}"#;
    call(
        &c,
        Method::PUT,
        &format!("{}/api/v1/products/p", server.url),
        Some(ADMIN),
        Some(doc),
    )
    .await
    .unwrap();
    let p = events(&mut products, 1).await;
    assert_eq!(p[0].1[0]["id"], "p");
}
