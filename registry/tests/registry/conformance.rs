//! idea-lab compatibility over real HTTP: an old client's requests (plus a bearer token)
//! get the shapes it knows, and the catalog works end to end.

use super::harness::*;

fn is_micros_utc(s: &str) -> bool {
    // 2023-10-21T20:53:53.893639Z
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test]
async fn an_idea_lab_client_gets_the_shapes_it_knows() {
    let dir = TempDir::new("conformance");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let base = &server.url;

    let posted = register(&c, base, "w", IDEA_LAB_BODY).await;
    assert_eq!(posted.status, StatusCode::OK);
    assert_eq!(
        posted.json,
        serde_json::from_str::<Value>(IDEA_LAB_BODY).unwrap(),
        "the body is echoed"
    );

    let list = get(&c, &format!("{base}/api/v1/registry")).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.json.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["id"], "w");
    assert_eq!(
        item["service"], posted.json,
        "service is the body as registered"
    );
    let last = item["lastUpdated"].as_str().unwrap();
    assert!(is_micros_utc(last), "{last}");
    // The additions old clients ignore.
    assert_eq!(item["stale"], false);
    assert_eq!(item["ttlSeconds"], 15);
    assert_eq!(
        item["widget"],
        json!({"tag": "w-tag", "attributes": {"param_one": "x"}})
    );

    // The same list, gzipped, for clients that ask for it.
    let gz = c
        .get(format!("{base}/api/v1/registry"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let compressed = gz.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(compressed.as_ref()),
        &mut plain,
    )
    .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&plain).unwrap(), list.json);

    let one = get(&c, &format!("{base}/api/v1/registry/w")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["service"], posted.json);
    assert_eq!(one.json["lastUpdated"], item["lastUpdated"]);

    let missing = get(&c, &format!("{base}/api/v1/registry/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["message"], "Not Found");
    assert_eq!(missing.json["error"], "not_found");

    assert_eq!(
        get(&c, &format!("{base}/health")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&c, &format!("{base}/ready")).await.status,
        StatusCode::OK
    );

    // A heartbeat (the same body again) moves lastUpdated forward.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    register(&c, base, "w", IDEA_LAB_BODY).await;
    let again = get(&c, &format!("{base}/api/v1/registry/w")).await;
    assert!(again.json["lastUpdated"].as_str().unwrap() > last);
}

#[tokio::test]
async fn registrations_and_products_survive_a_clean_restart_and_deletes_stick() {
    let dir = TempDir::new("catalog");
    let mut server = Server::start(dir.path(), &[]);
    let c = client();
    let urn = "urn:dpds:acme:dataproducts:sales-orders:2";
    let product = json!({
        "name": "sales-orders", "domain": "sales", "owner": "team-sales-data",
        "version": "2.1.0", "status": "active",
        "outputPorts": [{"name": "orders-sql", "type": "sql", "endpoint": "https://sales.example/orders",
                         "contract": {"id": "sales-orders-orders", "version": "2.0.0"}}],
        "widgets": [{"name": "revenue-chart", "tag": "sales-revenue-chart", "attributes": {"currency": "EUR"}}]
    })
    .to_string();
    let url = format!("{}/api/v1/products/{urn}", server.url);
    let put = call(&c, Method::PUT, &url, Some(ADMIN), Some(&product))
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED);
    assert_eq!(put.json["product"]["outputPorts"][0]["name"], "orders-sql");
    register(&c, &server.url, "keep", "{}").await;
    register(&c, &server.url, "drop", "{}").await;
    let del = call(
        &c,
        Method::DELETE,
        &format!("{}/api/v1/registry/drop", server.url),
        Some(ADMIN),
        None,
    )
    .await
    .unwrap();
    assert_eq!(del.status, StatusCode::NO_CONTENT);

    assert!(
        server.terminate().success(),
        "SIGTERM is a clean exit:\n{}",
        server.log()
    );
    server.restart();

    let got = get(&c, &url).await;
    assert_eq!(got.json["id"], urn);
    assert_eq!(
        got.json["product"],
        serde_json::from_str::<Value>(&product).unwrap()
    );
    let list = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["keep"]);
    let del = call(&c, Method::DELETE, &url, Some(ADMIN), None)
        .await
        .unwrap();
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&c, &url).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_are_scoped_per_id_prefix() {
    let dir = TempDir::new("auth");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let post = |id: &str, token: Option<&'static str>| {
        let url = format!("{}/api/v1/registry/{id}", server.url);
        let c = c.clone();
        async move {
            call(&c, Method::POST, &url, token, Some("{}"))
                .await
                .unwrap()
        }
    };
    assert_eq!(post("team-a.w", Some(TEAM_A)).await.status, StatusCode::OK);
    let other = post("team-b.w", Some(TEAM_A)).await;
    assert_eq!(
        (other.status, other.json["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let none = post("team-a.w", None).await;
    assert_eq!(
        (none.status, none.json["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    let wrong = post("team-a.w", Some("not-a-token-0123456789abcdef")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Nothing refused was written.
    let list = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
}
