//! The address policy end to end: a real registry and a real dashboard in a network
//! namespace with a fake metadata service on 169.254.169.254:80 and a loopback service,
//! both serving a secret, reached by names a registry writer controls (`metadata.test`,
//! `evil.test`, a name with a private and a loopback address) and by literal addresses in
//! every spelling. The secret never reaches the dashboard's client, neither service is
//! ever connected to, and every refusal and failure is the same answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use serde_json::json;

use super::harness::{
    client, eventually, get_json, in_namespace, namespace_ready, register, start_dashboard,
    start_registry, start_widget_host_on,
};

const SECRET: &str = "SECRET-CREDENTIALS-0123";

/// A service on `addr` that answers every path with the secret, as JavaScript (so that no
/// content-type check would stop it), counting requests.
async fn secret_service(addr: &str) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { ([(CONTENT_TYPE, "text/javascript")], format!("'{SECRET}'")) }
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("binding {addr}: {e}"));
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, hits)
}

fn widget(js: &str) -> serde_json::Value {
    json!({"webComponent": {"jsUrl": js, "element": {"tag": "w-x"}}})
}

#[test]
fn internal_addresses_are_never_fetched_and_every_failure_looks_the_same() {
    in_namespace(
        "dashboard::egress::internal_addresses_are_never_fetched_and_every_failure_looks_the_same_inside",
    );
}

#[tokio::test]
#[ignore = "run inside a network namespace by internal_addresses_are_never_fetched_and_every_failure_looks_the_same"]
#[allow(clippy::too_many_lines)]
async fn internal_addresses_are_never_fetched_and_every_failure_looks_the_same_inside() {
    if !namespace_ready() {
        return;
    }
    let (_, metadata_hits) = secret_service("169.254.169.254:80").await;
    let (evil, evil_hits) = secret_service("127.0.0.1:0").await;
    // The widget host is on the private address; the same port on loopback serves the
    // secret, for `mixed.test`, which resolves to both.
    let host = start_widget_host_on("10.0.0.2:0").await;
    let port = host.url.rsplit(':').next().expect("a port").to_owned();
    let (_, mixed_hits) = secret_service(&format!("127.0.0.1:{port}")).await;
    let closed = std::net::TcpListener::bind("10.0.0.2:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();

    let registry = start_registry("15s");
    // A host pattern, as the rendered dashboard has for the cluster's services: the
    // names may resolve to private addresses, never to loopback or link-local ones.
    let dashboard = start_dashboard(&registry.url, &["--bundle-allow", "*.test,"]);

    let served = [
        ("good", format!("http://private.test:{port}/w.js")),
        ("mixed", format!("http://mixed.test:{port}/w.js")),
    ];
    let refused_by_name = [
        (
            "metadata",
            "http://metadata.test/latest/meta-data/iam".to_owned(),
        ),
        ("evil", format!("http://evil.test:{evil}/w.js")),
        ("evil-dot", format!("http://EVIL.test.:{evil}/w.js")),
    ];
    // The registry refuses these itself (since issue 17); whichever it still accepts
    // must be refused by the dashboard.
    let literal = [
        ("lit-localhost", format!("http://localhost:{evil}/w.js")),
        ("lit-v4", format!("http://127.0.0.1:{evil}/w.js")),
        ("lit-v6", format!("http://[::1]:{evil}/w.js")),
        ("lit-any", format!("http://0.0.0.0:{evil}/w.js")),
        ("lit-decimal", format!("http://2130706433:{evil}/w.js")),
        ("lit-octal", format!("http://0177.0.0.1:{evil}/w.js")),
        ("lit-short", format!("http://127.1:{evil}/w.js")),
        (
            "lit-mapped",
            format!("http://[::ffff:127.0.0.1]:{evil}/w.js"),
        ),
        (
            "lit-metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        (
            "lit-metadata-hex",
            "http://0xa9fea9fe/latest/meta-data/".to_owned(),
        ),
        (
            "lit-metadata-v6",
            "http://[::ffff:169.254.169.254]/".to_owned(),
        ),
    ];
    let failing = [
        ("closed", format!("http://private.test:{closed}/w.js")),
        ("missing", format!("http://private.test:{port}/missing.js")),
        ("broken", format!("http://private.test:{port}/broken.js")),
        ("html", format!("http://private.test:{port}/html.css")),
        ("big", format!("http://private.test:{port}/big.js")),
        ("slow", format!("http://private.test:{port}/slow.js")),
        ("nxdomain", "http://nowhere.test/w.js".to_owned()),
    ];
    let mut registered = BTreeMap::new();
    for (id, url) in served
        .iter()
        .chain(&refused_by_name)
        .chain(&literal)
        .chain(&failing)
    {
        let status = register(&registry.url, id, widget(url)).await;
        if status == 200 {
            registered.insert(*id, url.clone());
        } else {
            assert!(
                literal.iter().any(|(l, _)| l == id),
                "{id}: the registry answered {status}"
            );
        }
    }
    let list = format!("{}/api/widgets", dashboard.url);
    let count = registered.len();
    eventually("every registered widget to be listed", || async {
        get_json(&list).await.1["widgets"]
            .as_array()
            .is_some_and(|w| w.len() == count)
    })
    .await;

    let c = client();
    let get = |id: &str, url: &str, integrity: bool| {
        let path = if integrity { "/integrity" } else { "" };
        let q: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
        c.get(format!("{}/api/bundles/{id}{path}?url={q}", dashboard.url))
            .send()
    };
    for (id, url) in &served {
        let r = get(id, url, false).await.expect("GET");
        assert_eq!(r.status(), 200, "{id}");
        assert_eq!(r.text().await.unwrap(), "window.loaded = 1;", "{id}");
    }
    let mut answers = BTreeMap::new();
    for (id, url) in &registered {
        if served.iter().any(|(s, _)| s == id) {
            continue;
        }
        for integrity in [false, true] {
            let r = get(id, url, integrity).await.expect("GET");
            let status = r.status().as_u16();
            let body = r.text().await.expect("a body");
            assert!(!body.contains(SECRET), "{id}: {body}");
            answers
                .entry((status, body))
                .or_insert_with(Vec::new)
                .push(*id);
        }
    }
    let generic =
        json!({"error": "bundle_unavailable", "message": "the widget's bundle cannot be served"});
    assert_eq!(
        answers.keys().collect::<Vec<_>>(),
        [&(502, generic.to_string())],
        "one answer for every refusal and failure: {answers:?}"
    );
    assert_eq!(metadata_hits.load(Ordering::SeqCst), 0, "metadata reached");
    assert_eq!(evil_hits.load(Ordering::SeqCst), 0, "loopback reached");
    assert_eq!(
        mixed_hits.load(Ordering::SeqCst),
        0,
        "mixed.test's loopback address reached"
    );
}
