//! Response compression: whether a client's `Accept-Encoding` takes gzip, and gzipping a
//! body once so that it can be served many times.
//!
//! The negotiation follows RFC 9110 §12.5.3 for the one coding the services produce: an
//! explicit `gzip` (or its alias `x-gzip`) decides by its own weight, otherwise `*` does,
//! otherwise the answer is no; a weight of 0 means "not acceptable". Names and parameter
//! names are case-insensitive and whitespace around them is ignored.

#[cfg(feature = "gzip")]
use std::io::Write as _;

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;

/// Whether the client takes a gzipped answer.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut explicit = None;
    let mut any = None;
    let codings = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for coding in codings {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let acceptable = weight(parts) > 0.0;
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            // A refusal anywhere wins over an acceptance elsewhere in the header.
            explicit = Some(explicit.unwrap_or(true) && acceptable);
        } else if name == "*" {
            any = Some(any.unwrap_or(true) && acceptable);
        }
    }
    explicit.or(any).unwrap_or(false)
}

/// The `q` parameter of one coding; 1 when absent. A weight that does not parse counts
/// as 1 too, as the services did before: a malformed header should not cost compression.
fn weight<'a>(mut params: impl Iterator<Item = &'a str>) -> f32 {
    params
        .find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("q")
                .then(|| value.trim().parse::<f32>().ok())
                .flatten()
        })
        .unwrap_or(1.0)
}

/// How hard to compress (feature `gzip`): each service compresses a body once and serves it many times,
/// but not equally often.
#[cfg(feature = "gzip")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// For bodies rebuilt on every change (the registry's list): about 1 ms for a
    /// thousand entries, still a small fraction of the size.
    Fastest,
    /// For bodies built once per process (the dashboard's embedded page).
    Smallest,
}

/// The gzip stream of `body` (feature `gzip`: the operator negotiates nothing it would
/// compress, so it links no compressor).
#[cfg(feature = "gzip")]
pub fn gzip(body: &[u8], effort: Effort) -> Vec<u8> {
    let level = match effort {
        Effort::Fastest => flate2::Compression::fast(),
        Effort::Smallest => flate2::Compression::best(),
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 8), level);
    // Writing into a Vec cannot fail, and neither can finishing the stream there.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(values: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&h)
    }

    #[test]
    fn gzip_listed_with_weight_is_taken() {
        assert!(with(&["gzip"]));
        assert!(with(&["br, GZIP;q=0.5"]));
        assert!(with(&["deflate, GZIP"]));
        assert!(with(&[" br ,  gzip ; q=0.1 "]));
        assert!(with(&["x-gzip"]));
        assert!(with(&["gzip;Q=1"]));
        assert!(with(&["gzip;q=bad"]));
        assert!(with(&["br", "gzip"]), "codings over two header lines");
    }

    #[test]
    fn a_weight_of_zero_refuses() {
        assert!(!with(&["gzip;q=0"]));
        assert!(!with(&["gzip; q=0.000"]));
        assert!(!with(&["br, gzip;q=0"]));
        assert!(!with(&["gzip, gzip;q=0"]));
        assert!(!with(&["gzip;q=0", "*"]), "an explicit refusal beats *");
        assert!(!with(&["*;q=0"]));
    }

    #[test]
    fn star_stands_for_gzip_when_gzip_is_not_named() {
        assert!(with(&["*"]));
        assert!(with(&["br, *;q=0.2"]));
        assert!(
            with(&["gzip;q=0.5, *;q=0"]),
            "gzip named, so * does not matter"
        );
    }

    #[test]
    fn anything_else_is_identity() {
        assert!(!accepts_gzip(&HeaderMap::new()));
        assert!(!with(&["identity"]));
        assert!(!with(&["br, deflate"]));
        assert!(!with(&["gzipx"]));
        assert!(!with(&[""]));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = b"[{\"id\":\"w\"}]".repeat(100);
        for effort in [Effort::Fastest, Effort::Smallest] {
            let packed = gzip(&body, effort);
            assert!(packed.len() < body.len() / 4, "{effort:?}");
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(&packed[..])
                .read_to_end(&mut unpacked)
                .unwrap();
            assert_eq!(unpacked, body);
        }
    }
}
