//! The served OpenAPI document against the running server: every documented operation is
//! routed (no `no_route`, no 405). The reverse direction, every route documented, is a unit
//! test beside the router (`openapi::tests`).

use super::harness::*;

#[tokio::test]
async fn every_documented_operation_is_served() {
    let dir = TempDir::new("openapi");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let doc = get(&c, &format!("{}/openapi.json", server.url)).await;
    assert_eq!(doc.json["openapi"], "3.1.0");
    let paths = doc.json["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);
    for (path, item) in paths {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            if path.starts_with("/api/v1/watch/") {
                // Event streams never end; their routing is checked by their own test.
                continue;
            }
            let url = format!("{}{}", server.url, path.replace("{id}", "probe-id"));
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = matches!(method.as_str(), "post" | "put").then_some("{}");
            let resp = c
                .request(m, &url)
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(body.unwrap_or("").to_owned())
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let text = resp.text().await.unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!text.contains("\"no_route\""), "{method} {path}: {text}");
        }
    }
}
