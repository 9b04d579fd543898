//! The backend's API against a real registry: the cached list, registry-down behaviour,
//! the bundle proxy's refusals, limits, cache, pins and coalescing, and bad requests. The
//! widget host is on 127.0.0.1 in a network namespace of the test's own, named
//! `widgets.test` (the registry refuses a literal loopback URL) and reached with
//! `--bundle-allow 127.0.0.1/32`; the address policy itself is tested in `egress`.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::harness::{
    client, eventually, get_json, in_namespace, namespace_ready, register, start_dashboard,
    start_registry, start_widget_host,
};

fn widget(host: &str, js: &str, css: Option<&str>) -> serde_json::Value {
    let mut wc = json!({"jsUrl": format!("{host}{js}"), "componentId": "<w-x greeting=\"hi &amp; bye\"></w-x>"});
    if let Some(css) = css {
        wc["cssUrl"] = json!(format!("{host}{css}"));
    }
    json!({"webComponent": wc, "label": "<img src=x onerror=alert(1)>", "tags": {"owner": "team-a"}})
}

#[tokio::test]
async fn the_list_is_the_registrys_structured_form_and_survives_the_registry() {
    let mut registry = start_registry("15s");
    let dashboard = start_dashboard(&registry.url, &[]);
    let host = "http://w.example";
    assert_eq!(
        register(&registry.url, "w1", widget(host, "/b.js", Some("/b.css"))).await,
        200
    );
    let url = format!("{}/api/widgets", dashboard.url);
    eventually("the widget to be listed", || async {
        get_json(&url).await.1["widgets"][0]["id"] == "w1"
    })
    .await;
    let (status, live) = get_json(&url).await;
    assert_eq!(status, 200);
    assert_eq!(live["source"], "live");
    let w = &live["widgets"][0];
    assert_eq!(
        w["label"], "<img src=x onerror=alert(1)>",
        "labels are data, passed as is"
    );
    assert_eq!(w["owner"], "team-a");
    assert_eq!(w["stale"], false);
    assert_eq!(
        w["element"],
        json!({"tag": "w-x", "attributes": {"greeting": "hi & bye"}})
    );
    assert_eq!(
        w["script"],
        "/api/bundles/w1?url=http%3A%2F%2Fw.example%2Fb.js"
    );
    assert!(w.get("componentId").is_none() && !live.to_string().contains("<w-x"));

    registry.kill();
    eventually("the list to turn cached", || async {
        get_json(&url).await.1["source"] == "cached"
    })
    .await;
    let (status, cached) = get_json(&url).await;
    assert_eq!(status, 200);
    assert!(cached["error"].as_str().unwrap().contains("unreachable"));
    assert_eq!(cached["widgets"][0]["id"], "w1");
    assert_eq!(cached["fetchedAt"], live["fetchedAt"]);
    let (status, products) = get_json(&format!("{}/api/products", dashboard.url)).await;
    assert_eq!((status, &products["source"]), (200, &json!("cached")));
    let (status, ready) = get_json(&format!("{}/ready", dashboard.url)).await;
    assert_eq!((status, &ready["status"]), (200, &json!("ready")));
}

#[tokio::test]
async fn stale_widgets_are_marked() {
    let registry = start_registry("1s");
    let dashboard = start_dashboard(&registry.url, &[]);
    assert_eq!(
        register(&registry.url, "old", widget("http://w", "/b.js", None)).await,
        200
    );
    let url = format!("{}/api/widgets", dashboard.url);
    eventually("the widget to turn stale", || async {
        get_json(&url).await.1["widgets"][0]["stale"] == true
    })
    .await;
}

#[tokio::test]
async fn without_a_registry_the_lists_are_unavailable_and_not_ready() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dashboard = start_dashboard(&format!("http://127.0.0.1:{port}"), &[]);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, body) = get_json(&format!("{}/api/widgets", dashboard.url)).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "registry_unavailable");
    let unavailable = client()
        .get(format!("{}/api/widgets", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unavailable.headers()["retry-after"],
        "1",
        "a 503 says when to come back"
    );
    let (status, body) = get_json(&format!("{}/ready", dashboard.url)).await;
    assert_eq!((status, &body["error"]), (503, &json!("not_ready")));
    let (status, _) = get_json(&format!("{}/health", dashboard.url)).await;
    assert_eq!(status, 200);
}

#[test]
fn the_proxy_fetches_only_registered_bundles_within_limits() {
    in_namespace("dashboard::api::the_proxy_fetches_only_registered_bundles_within_limits_inside");
}

#[tokio::test]
#[ignore = "run inside a network namespace by the_proxy_fetches_only_registered_bundles_within_limits"]
#[allow(clippy::too_many_lines)]
async fn the_proxy_fetches_only_registered_bundles_within_limits_inside() {
    if !namespace_ready() {
        return;
    }
    let registry = start_registry("15s");
    let host = start_widget_host().await;
    let dashboard = start_dashboard(
        &registry.url,
        &[
            "--max-bundle-bytes",
            "1048576",
            "--bundle-allow",
            "127.0.0.1/32",
        ],
    );
    let h = &host.url.replace("127.0.0.1", "widgets.test");
    assert_eq!(
        register(&registry.url, "good", widget(h, "/w.js", Some("/w.css"))).await,
        200
    );
    assert_eq!(
        register(&registry.url, "html", widget(h, "/w.js", Some("/html.css"))).await,
        200
    );
    assert_eq!(
        register(&registry.url, "big", widget(h, "/big.js", None)).await,
        200
    );
    assert_eq!(
        register(&registry.url, "slow", widget(h, "/slow.js", None)).await,
        200
    );
    assert_eq!(
        register(&registry.url, "moved", widget(h, "/redirect.js", None)).await,
        200
    );
    assert_eq!(
        register(&registry.url, "paused", widget(h, "/pause.js", None)).await,
        200
    );
    let list = format!("{}/api/widgets", dashboard.url);
    eventually("all six widgets", || async {
        get_json(&list).await.1["widgets"]
            .as_array()
            .is_some_and(|w| w.len() == 6)
    })
    .await;
    let proxy = |id: &str, url: &str| {
        format!(
            "{}/api/bundles/{id}?url={}",
            dashboard.url,
            url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
        )
    };
    let c = client();

    let r = c
        .get(proxy("good", &format!("{h}/w.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let etag = r.headers()["etag"].clone();
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert_eq!(r.text().await.unwrap(), "window.loaded = 1;");
    let (status, pin) =
        get_json(&proxy("good", &format!("{h}/w.js")).replace('?', "/integrity?")).await;
    assert_eq!(
        (status, pin),
        (
            200,
            json!({"integrity": "sha256-C1EUGk0d73XGdAZdC7d5AxuWpjgC6skg08HDBnyGaFc="})
        ),
        "the SHA-256 of `window.loaded = 1;`"
    );
    let r = c
        .get(proxy("good", &format!("{h}/w.css")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");

    // Cached: the second fetch and a revalidation do not reach the widget host.
    let again = c
        .get(proxy("good", &format!("{h}/w.js")))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(host.script_hits.load(Ordering::SeqCst), 1);

    let refused = [
        (
            proxy("good", "http://169.254.169.254/latest/meta-data"),
            403,
            "not_registered",
        ),
        (
            proxy("good", &format!("{h}/html.css")),
            403,
            "not_registered",
        ),
        (proxy("good", &format!("{h}/big.js")), 403, "not_registered"),
        (proxy("nobody", &format!("{h}/w.js")), 404, "unknown_widget"),
        (
            format!("{}/api/bundles/good", dashboard.url),
            400,
            "missing_url",
        ),
    ];
    for (url, status, code) in refused {
        let (got, body) = get_json(&url).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{url}: {body}"
        );
        assert!(body["message"].is_string());
    }

    // Every upstream failure is one answer, so that the proxy tells nobody what failed.
    let mut answers = std::collections::BTreeSet::new();
    for (id, path) in [
        ("html", "/html.css"),
        ("big", "/big.js"),
        ("slow", "/slow.js"),
        ("moved", "/redirect.js"),
    ] {
        let r = c
            .get(proxy(id, &format!("{h}{path}")))
            .send()
            .await
            .unwrap();
        answers.insert((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert_eq!(
        answers.into_iter().collect::<Vec<_>>(),
        [(
            502,
            json!({"error": "bundle_unavailable", "message": "the widget's bundle cannot be served"})
                .to_string()
        )]
    );

    // Concurrent first requests for one bundle make one upstream request.
    let paused = proxy("paused", &format!("{h}/pause.js"));
    let all = futures_util::future::join_all((0..10).map(|_| c.get(&paused).send())).await;
    for r in all {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(host.pause_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let registry = start_registry("15s");
    let dashboard = start_dashboard(&registry.url, &[]);
    let c = client();
    let r = c
        .post(format!("{}/api/widgets", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET,HEAD");
    let body: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    let (status, body) = get_json(&format!("{}/nope", dashboard.url)).await;
    assert_eq!((status, &body["error"]), (404, &json!("no_route")));
    let (status, body) = get_json(&format!("{}/api/bundles/%FF?url=x", dashboard.url)).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_path")));
}

#[tokio::test]
async fn the_registry_refuses_markup_the_dashboard_would_never_mount() {
    let registry = start_registry("15s");
    for markup in [
        "<img src=x onerror=alert(1)>",
        "<w-x></w-x><script>alert(1)</script>",
        "<w-x onclick=\"alert(1)\"></w-x>",
    ] {
        let body = json!({"webComponent": {"jsUrl": "http://w/b.js", "componentId": markup}});
        assert_eq!(register(&registry.url, "bad", body).await, 422, "{markup}");
    }
}
