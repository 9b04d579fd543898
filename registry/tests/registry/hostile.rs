//! A table of bad inputs over real HTTP: each gets the right status and a JSON error, none
//! is stored, and the server keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::harness::*;

struct Case {
    what: &'static str,
    id: String,
    content_type: &'static str,
    body: String,
    status: StatusCode,
    error: &'static str,
}

fn case(
    what: &'static str,
    body: impl Into<String>,
    status: StatusCode,
    error: &'static str,
) -> Case {
    Case {
        what,
        id: "w".into(),
        content_type: "application/json",
        body: body.into(),
        status,
        error,
    }
}

fn widget(markup: &str) -> String {
    json!({"webComponent": {"jsUrl": "http://w.ns/b.js", "componentId": markup}}).to_string()
}

fn with_js(url: &str) -> String {
    json!({"webComponent": {"jsUrl": url, "componentId": "<w-x></w-x>"}}).to_string()
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn bad_inputs_are_refused_with_json_errors() {
    let dir = TempDir::new("hostile");
    let server = Server::start(dir.path(), &[]);
    let c = client();
    let bad = StatusCode::BAD_REQUEST;
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let mut cases = vec![
        case("malformed JSON", "{\"label\":", bad, "invalid_json"),
        case("not JSON", "hello", bad, "invalid_json"),
        case("empty body", "", bad, "invalid_json"),
        case("deep nesting", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)), bad, "invalid_json"),
        case("an array", "[]", invalid, "invalid_body"),
        case("unknown field", r#"{"lable":"x"}"#, invalid, "invalid_body"),
        case("duplicate key", r#"{"label":"a","label":"b"}"#, invalid, "invalid_body"),
        case("wrong type", r#"{"label":["x"]}"#, invalid, "invalid_body"),
        case("img onerror", widget("<img src=x onerror=alert(1)>"), invalid, "invalid_body"),
        case("script element", widget("<script>alert(1)</script>"), invalid, "invalid_body"),
        case("script inside", widget("<w-x><script>alert(1)</script></w-x>"), invalid, "invalid_body"),
        case("script after", widget("<w-x></w-x><script>alert(1)</script>"), invalid, "invalid_body"),
        case("event attribute", widget("<w-x onclick=\"alert(1)\"></w-x>"), invalid, "invalid_body"),
        case("javascript: attribute", widget("<w-x href=\"javascript:alert(1)\"></w-x>"), invalid, "invalid_body"),
        case("encoded javascript:", widget("<w-x href=\"&#106;avascript:alert(1)\"></w-x>"), invalid, "invalid_body"),
        case("reserved name", widget("<font-face></font-face>"), invalid, "invalid_body"),
        case("javascript: jsUrl", with_js("javascript:alert(1)"), invalid, "invalid_body"),
        case("data: jsUrl", with_js("data:text/javascript,alert(1)"), invalid, "invalid_body"),
        case("credentials in jsUrl", with_js("https://user:pw@cdn.example/b.js"), invalid, "invalid_body"),
        case("bidi override", json!({"label": "abc\u{202E}fdp.exe"}).to_string(), invalid, "invalid_body"),
        case("NUL in label", json!({"label": "a\u{0}b"}).to_string(), invalid, "invalid_body"),
        case("zero-width in tag", json!({"tags": {"k": "a\u{200B}"}}).to_string(), invalid, "invalid_body"),
        case("overlong label", json!({"label": "x".repeat(257)}).to_string(), invalid, "invalid_body"),
        case("too many tags", json!({"tags": (0..33).map(|i| (format!("k{i}"), Value::from("v"))).collect::<serde_json::Map<_, _>>()}).to_string(), invalid, "invalid_body"),
        case("huge body", format!(r#"{{"label":"{}"}}"#, "x".repeat(1 << 20)), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ];
    cases.push(Case {
        content_type: "text/plain",
        ..case(
            "wrong content type",
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
    });
    for id in [
        "-leading-dash",
        ".hidden",
        "a%20b",
        "%E2%80%AEx",
        "x%00",
        "a:b",
        &"a".repeat(129),
    ] {
        cases.push(Case {
            id: id.to_owned(),
            ..case("bad id", "{}", bad, "invalid_id")
        });
    }
    for case in cases {
        let resp = c
            .post(format!("{}/api/v1/registry/{}", server.url, case.id))
            .bearer_auth(ADMIN)
            .header("content-type", case.content_type)
            .body(case.body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: not JSON: {text}", case.what));
        assert_eq!(
            (status, body["error"].as_str()),
            (case.status, Some(case.error)),
            "{}: {text}",
            case.what
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty() && m.len() < 1000),
            "{}: {text}",
            case.what
        );
    }
    let list = get(&c, &format!("{}/api/v1/registry", server.url)).await;
    assert_eq!(list.json, json!([]), "nothing refused was stored");
    let r = get(&c, &format!("{}/nowhere", server.url)).await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_route"))
    );
    let r = call(
        &c,
        Method::PATCH,
        &format!("{}/api/v1/registry", server.url),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    assert_eq!(
        get(&c, &format!("{}/health", server.url)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn garbage_on_the_socket_does_not_take_the_server_down() {
    let dir = TempDir::new("garbage");
    let server = Server::start(dir.path(), &[]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let payloads: [&[u8]; 5] = [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /api/v1/registry/w HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{",
        b"POST /api/v1/registry/w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZZ\r\n",
        b"GET /api/v1/registry/\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for p in payloads {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(p).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
    }
    let c = client();
    assert_eq!(
        get(&c, &format!("{}/health", server.url)).await.status,
        StatusCode::OK
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
