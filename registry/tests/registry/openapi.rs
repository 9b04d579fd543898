//! The served OpenAPI document against the running server: every documented operation is
//! routed (no `no_route`, no 405), and the rules the document states are the ones the
//! server applies. The reverse direction, every route documented, is a unit test beside
//! the router (`openapi::tests`); tests/schemathesis.sh generates requests from the
//! document by the thousand.

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

/// Issue 17, point 9: each way the document and the server disagreed, against the served
/// document and the running server together. The document states the rule (a pattern, a
/// bound, `oneOf`), and the server answers the request the rule describes accordingly.
#[tokio::test]
async fn the_document_states_the_rules_the_server_applies() {
    let dir = TempDir::new("openapi-rules");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let doc = get(&c, &format!("{}/openapi.json", server.url)).await.json;
    let schema = |name: &str| doc["components"]["schemas"][name].clone();

    // Optional fields took `null`, stored it and served it back; now the document says
    // absent fields are left out and the server refuses `null`, naming the field.
    for (field, body) in [
        ("label", json!({"label": null})),
        ("tags", json!({"tags": null})),
        ("ttlSeconds", json!({"ttlSeconds": null})),
        ("webComponent", json!({"webComponent": null})),
        (
            "webComponent.cssUrl",
            json!({"webComponent": {"jsUrl": "http://w.ns/b.js", "cssUrl": null, "componentId": "<w-x></w-x>"}}),
        ),
    ] {
        let r = register(&c, &server.url, "nulls", &body.to_string()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = r.json["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    assert!(
        schema("Service")["description"]
            .as_str()
            .unwrap()
            .contains("`null` is refused")
    );
    let product = json!({"domain": "d", "owner": "o", "version": "1.0.0", "status": "draft"});
    for field in ["name", "description"] {
        let mut body = product.clone();
        body[field] = Value::Null;
        let r = call(
            &c,
            Method::PUT,
            &format!("{}/api/v1/products/nulls", server.url),
            Some(ADMIN),
            Some(&body.to_string()),
        )
        .await
        .unwrap();
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
}

/// The rest of point 9: the patterns and bounds the document lacked, each with the server
/// answering the request the rule describes.
#[tokio::test]
async fn the_document_states_the_bounds_and_patterns_the_server_applies() {
    let dir = TempDir::new("openapi-patterns");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let doc = get(&c, &format!("{}/openapi.json", server.url)).await.json;
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let param = |path: &str, name: &str| parameter(&doc, path, name);
    let product = json!({"domain": "d", "owner": "o", "version": "1.0.0", "status": "draft"});

    // The id pattern: the document had only a length, so `a/b`-like ids looked valid.
    let id = param("/api/v1/registry/{id}", "id");
    assert_eq!(id["pattern"], "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    let bad_id = get(&c, &format!("{}/api/v1/registry/-x", server.url)).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert!(
        param("/api/v1/products/{id}", "id")["pattern"]
            .as_str()
            .unwrap()
            .contains(":")
    );

    // The bounds of `wait`, `index` and `ttlSeconds`.
    let wait = param("/api/v1/registry", "wait");
    assert!(wait["pattern"].as_str().unwrap().starts_with("^(?:[0-9]"));
    let index = param("/api/v1/registry", "index");
    assert_eq!(index["minimum"], 0);
    assert_eq!(index["maximum"], u64::MAX);
    let too_big = get(
        &c,
        &format!("{}/api/v1/registry?index=18446744073709551616", server.url),
    )
    .await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST);
    let ttl = &schema("Service")["properties"]["ttlSeconds"];
    assert_eq!(
        (ttl["minimum"].as_u64(), ttl["maximum"].as_u64()),
        (Some(1), Some(86400))
    );
    for (ttl, status) in [
        ("86400", StatusCode::OK),
        ("30.0", StatusCode::OK),
        ("86401", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = register(
            &c,
            &server.url,
            "ttl",
            &format!(r#"{{"ttlSeconds":{ttl}}}"#),
        )
        .await;
        assert_eq!(r.status, status, "ttlSeconds {ttl}");
    }

    // The product fields' patterns.
    let props = &schema("Product")["properties"];
    for field in ["name", "domain", "owner", "version"] {
        assert!(props[field]["pattern"].is_string(), "{field}");
    }
    let mut upper = product.clone();
    upper["domain"] = "Sales".into();
    let r = call(
        &c,
        Method::PUT,
        &format!("{}/api/v1/products/p", server.url),
        Some(ADMIN),
        Some(&upper.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Exactly one of `componentId` and `element`.
    assert_eq!(
        schema("WebComponent")["oneOf"],
        json!([{"required": ["componentId"]}, {"required": ["element"]}])
    );
    let neither = register(
        &c,
        &server.url,
        "w",
        r#"{"webComponent":{"jsUrl":"http://w.ns/b.js"}}"#,
    )
    .await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY);

    // `Element.tag` needs a hyphen: the document's pattern did not say so.
    let tag = schema("Element")["properties"]["tag"]["pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tag.contains("]*-["), "{tag}");
    for (tag, status) in [
        ("w-x", StatusCode::OK),
        ("wx", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let body = json!({"webComponent": {"jsUrl": "http://w.ns/b.js", "element": {"tag": tag}}});
        let r = register(&c, &server.url, "tag", &body.to_string()).await;
        assert_eq!(r.status, status, "{tag}");
    }
}

/// The schema of the parameter `name` of `path` (on the path item or its GET).
fn parameter(doc: &Value, path: &str, name: &str) -> Value {
    let item = &doc["paths"][path];
    let params = item["parameters"]
        .as_array()
        .or_else(|| item["get"]["parameters"].as_array())
        .unwrap();
    params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
}
