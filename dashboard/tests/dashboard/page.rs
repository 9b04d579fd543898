//! The page: its security headers, and the page source's rule that nothing is parsed as
//! HTML.

use super::harness::{client, start_dashboard, start_registry};

#[tokio::test]
async fn the_page_is_served_with_a_strict_policy() {
    let registry = start_registry("15s");
    let dashboard = start_dashboard(
        &registry.url,
        &["--connect-src", "http://data.example:9000/path"],
    );
    let r = client().get(&dashboard.url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("unsafe"), "{csp}");
    for directive in [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self' http://data.example:9000;",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("<script src=\"/assets/app.js\" defer></script>"));
    let js = client()
        .get(format!("{}/assets/app.js", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

/// Page and widget code never hands a string to the HTML parser.
#[test]
fn no_page_or_widget_source_parses_html() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["web/src", "widgets/hello", "widgets/histogram"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "js") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "createContextualFragment",
            "DOMParser",
            "eval(",
            "new Function",
            ".style.cssText",
            "setAttribute('style'",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", path.display());
        }
    }
}
