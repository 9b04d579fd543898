//! `--metrics-port`: `/metrics` on a listener of its own (as the rendered Deployment runs
//! it), a JSON 404 for it on the API's port, and a stop on SIGTERM that ends both.

use super::harness::*;

#[tokio::test]
async fn metrics_are_served_only_on_their_own_port() {
    let dir = TempDir::new("metrics-port");
    let mut server = Server::start(dir.path(), &["--metrics-port", "0"]);
    let metrics = server.metrics_url.clone().expect("the metrics address");
    assert_ne!(metrics, server.url);
    let c = client();
    assert_eq!(
        register(&c, &server.url, "w", "{}").await.status,
        StatusCode::OK
    );

    let scrape = c.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = scrape.text().await.unwrap();
    assert!(text.contains("registry_registrations 1"), "{text}");
    assert!(
        text.contains(r#"route="/api/v1/registry/{id}""#),
        "requests on the API's port are counted: {text}"
    );

    for url in [
        format!("{}/metrics", server.url),
        format!("{metrics}/api/v1/registry"),
        format!("{metrics}/health"),
    ] {
        let r = get(&c, &url).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("no_route")),
            "{url}: {}",
            r.json
        );
    }
    assert_eq!(
        get(&c, &format!("{}/api/v1/registry", server.url))
            .await
            .status,
        StatusCode::OK
    );

    // The process exits only once both listeners have stopped and drained.
    assert!(server.terminate().success(), "{}", server.log());
    for url in [
        format!("{metrics}/metrics"),
        format!("{}/health", server.url),
    ] {
        assert!(c.get(&url).send().await.is_err(), "{url} still answers");
    }
}
