//! Acknowledged writes survive SIGKILL, and concurrent writers lose no update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_sigkill_mid_load() {
    let dir = TempDir::new("sigkill");
    let mut server = Server::start(dir.path(), &[]);
    let c = client();
    const WRITERS: usize = 32;
    // For each writer: the highest counter acknowledged for its own id, and every
    // distinct id acknowledged.
    let acked_counter = Arc::new(Mutex::new(HashMap::<usize, u64>::new()));
    let acked_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (c, base) = (c.clone(), server.url.clone());
        let (acked_counter, acked_ids) = (Arc::clone(&acked_counter), Arc::clone(&acked_ids));
        tasks.push(tokio::spawn(async move {
            for n in 0u64.. {
                let counter = format!(r#"{{"label":"{n}"}}"#);
                let url = format!("{base}/api/v1/registry/w{w}");
                match call(&c, Method::POST, &url, Some(ADMIN), Some(&counter)).await {
                    Ok(r) if r.status == StatusCode::OK => {
                        acked_counter.lock().unwrap().insert(w, n);
                    }
                    _ => return,
                }
                let id = format!("w{w}-{n}");
                let url = format!("{base}/api/v1/registry/{id}");
                match call(&c, Method::POST, &url, Some(ADMIN), Some("{}")).await {
                    Ok(r) if r.status == StatusCode::OK => acked_ids.lock().unwrap().push(id),
                    _ => return,
                }
            }
        }));
    }
    // Let the load build up (however slow the machine is), then kill the server in the
    // middle of it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked_ids.lock().unwrap().len() < 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = acked_ids.lock().unwrap().len();
    server.kill();
    for t in tasks {
        t.await.unwrap();
    }
    let acked_counter = acked_counter.lock().unwrap().clone();
    let acked_ids = acked_ids.lock().unwrap().clone();
    assert!(
        before_kill > 100,
        "the load was too light to mean anything: {before_kill} acks"
    );

    server.restart();
    let list = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    let stored: HashMap<String, Value> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i["service"].clone()))
        .collect();
    for id in &acked_ids {
        assert!(
            stored.contains_key(id),
            "acknowledged {id} is gone after SIGKILL"
        );
    }
    for (w, n) in &acked_counter {
        let label: u64 = stored[&format!("w{w}")]["label"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // Equal, or one later write that committed but whose answer the kill swallowed.
        assert!(
            label == *n || label == n + 1,
            "w{w}: acknowledged {n}, stored {label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_update() {
    let dir = TempDir::new("concurrent");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    const WRITERS: usize = 16;
    const EACH: usize = 40;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (c, base) = (c.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                let r = register(
                    &c,
                    &base,
                    &format!("c{w}-{n}"),
                    &format!(r#"{{"label":"{w}/{n}"}}"#),
                )
                .await;
                assert_eq!(r.status, StatusCode::OK);
                // Everyone also rewrites one shared id: its final value must be one of the
                // bodies written, whole.
                let r = register(
                    &c,
                    &base,
                    "shared",
                    &format!(r#"{{"label":"{w}/{n}","tags":{{"w":"{w}"}}}}"#),
                )
                .await;
                assert_eq!(r.status, StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let list = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    let items = list.json.as_array().unwrap();
    assert_eq!(items.len(), WRITERS * EACH + 1);
    for item in items {
        let id = item["id"].as_str().unwrap();
        let label = item["service"]["label"].as_str().unwrap();
        if id == "shared" {
            let (w, _) = label.split_once('/').unwrap();
            assert_eq!(item["service"]["tags"]["w"], w, "a torn write: {item}");
        } else {
            assert_eq!(id, format!("c{label}").replace('/', "-"));
        }
    }
}
