//! The page: the front-end build (`web/dist/`, committed, rebuilt and compared by the
//! tests) embedded in the binary, served with validators and gzip, and the security
//! headers every answer carries.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dappmesh_service::encoding::{Effort, accepts_gzip, gzip};

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

pub const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../web/dist/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/dist/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/dist/app.css"),
    },
];

/// The policy of every answer. Scripts and styles come only from this origin: widget
/// bundles are same-origin too, through the proxy. Inline script and style, `eval`,
/// plugins, `<base>`, framing and form posts are off. Styles set through the CSSOM
/// (`element.style.width = …`, which the window manager uses) and constructed
/// stylesheets (which widgets use) are not inline styles, so they need no exception;
/// images may be data: URLs (the window manager's icons are bundled as such).
pub fn content_security_policy(connect_src: &[String]) -> String {
    let mut connect = String::from("'self'");
    for origin in connect_src {
        connect.push(' ');
        connect.push_str(origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src {connect}; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'none'"
    )
}

/// Adds the security headers (computed once at start) to a response.
pub fn secure(headers: &mut HeaderMap, csp: &HeaderValue) {
    headers.insert(CONTENT_SECURITY_POLICY, csp.clone());
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

struct Prepared {
    gzip: Bytes,
    etag: HeaderValue,
}

fn prepared(index: usize) -> &'static Prepared {
    static PREPARED: OnceLock<Vec<Prepared>> = OnceLock::new();
    &PREPARED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(a.body));
                Prepared {
                    gzip: Bytes::from(gzip(a.body, Effort::Smallest)),
                    etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
                }
            })
            .collect()
    })[index]
}

/// Whether `If-None-Match` names this validator.
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

/// Serves the embedded file at `path`, if there is one.
pub fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    let index = ASSETS.iter().position(|a| a.path == path)?;
    let asset = &ASSETS[index];
    let prepared = prepared(index);
    let common = [
        (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
        (ETAG, prepared.etag.clone()),
        // Revalidate every time: the page and its bundle change with the binary, and a
        // 304 costs one round trip.
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if not_modified(headers, prepared.etag.to_str().unwrap_or("")) {
        return Some((StatusCode::NOT_MODIFIED, common).into_response());
    }
    if accepts_gzip(headers) {
        return Some(
            (
                common,
                [(CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
                prepared.gzip.clone(),
            )
                .into_response(),
        );
    }
    Some((common, Bytes::from_static(asset.body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_has_no_unsafe_sources() {
        let csp = content_security_policy(&["http://data.example:8080".into()]);
        assert!(!csp.contains("unsafe"));
        for directive in [
            "script-src 'self';",
            "object-src 'none';",
            "base-uri 'none';",
            "frame-ancestors 'none';",
            "connect-src 'self' http://data.example:8080;",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
    }

    #[test]
    fn gzip_and_validators_are_negotiated() {
        use axum::http::header::ACCEPT_ENCODING;
        let mut h = HeaderMap::new();
        // `*` takes gzip here as it does at the registry (it did not before the shared
        // negotiation).
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("*"));
        assert_eq!(serve("/", &h).unwrap().headers()[CONTENT_ENCODING], "gzip");
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0"));
        assert!(!accepts_gzip(&h));
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("deflate, GZIP"));
        assert!(accepts_gzip(&h));
        let r = serve("/assets/app.js", &h).unwrap();
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        let etag = r.headers()[ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, etag);
        assert_eq!(
            serve("/assets/app.js", &h).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        assert!(serve("/nope", &h).is_none());
    }
}
