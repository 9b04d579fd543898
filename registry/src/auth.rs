//! Who may do what: bearer tokens, each granted reads, and writes on ids by whole segments.
//!
//! Tokens come from files (`--tokens-file`, typically a mounted Kubernetes Secret; see
//! [`crate::keyring`]) and/or the `REGISTRY_TOKENS` variable, in one format: one token per
//! line (or per `;` in the variable), then its grants, separated by whitespace; `#` starts
//! a comment.
//!
//! ```text
//! # token                          grants
//! 3f9c…a1 (at least 16 characters)  registry:team-a.*
//! 77d0…9e                           registry:* products:* read
//! ```
//!
//! A grant is `read`, or `registry:PATTERN` / `products:PATTERN` for writes (POST, PUT,
//! DELETE) on ids matching PATTERN. Matching is by segment (ids are `.`-separated, product
//! ids also `:`-separated): PATTERN is `*` (any id), an exact id, or `PREFIX.*` (product
//! ids also `PREFIX:*`), which matches the ids that start with `PREFIX.`, so
//! `registry:sales.orders.*` covers `sales.orders.chart` but not `sales.orders-eu.chart`.
//! A `*` anywhere else is refused when the tokens are loaded: as a plain string prefix,
//! `registry:sales-*` also covered the domain `sales-eu`.
//!
//! This module parses and decides; which tokens are in force, and when they change, is
//! [`crate::keyring`]'s.

use std::fmt;

use crate::store::Collection;
use registry_api::text::{IdKind, check_id};

/// Shortest token accepted: 16 characters is 96 bits of base64, beyond guessing.
pub const MIN_TOKEN_LEN: usize = 16;
pub const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    /// Ends with its separator (`sales.orders.`), so it matches whole segments only.
    Prefix(String),
    Exact(String),
}

impl Pattern {
    fn matches(&self, id: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Prefix(p) => id.starts_with(p.as_str()),
            Pattern::Exact(e) => id == e,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    Read,
    Write(Collection, Pattern),
}

struct Entry {
    token: Vec<u8>,
    grants: Vec<Grant>,
}

/// The configured tokens. Its `Debug` never shows a token.
#[derive(Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} configured)", self.entries.len())
    }
}

/// A token source that cannot be used; names the line, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {reason}")]
pub struct TokensError {
    pub source_name: String,
    pub line: usize,
    pub reason: String,
}

/// Names a token without holding it: a keyed hash (random per process), for counting what
/// one token holds (its watchers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(u64);

impl TokenId {
    pub fn of(token: &str) -> TokenId {
        use std::hash::BuildHasher;
        static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        TokenId(KEY.get_or_init(Default::default).hash_one(token.as_bytes()))
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    Read,
    Write(Collection, &'a str),
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No usable bearer token (401).
    Unauthenticated,
    /// A valid token without the grant (403).
    Forbidden,
}

/// Whether reads need a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAccess {
    #[default]
    Open,
    Token,
}

fn parse_grant(word: &str) -> Result<Grant, String> {
    if word == "read" {
        return Ok(Grant::Read);
    }
    let (collection, pattern) = word.split_once(':').ok_or_else(|| {
        format!(
            "unknown grant '{}' (read, registry:PATTERN or products:PATTERN)",
            word.escape_default()
        )
    })?;
    let (collection, kind) = match collection {
        "registry" => (Collection::Registry, IdKind::Registration),
        "products" => (Collection::Products, IdKind::Product),
        other => {
            return Err(format!(
                "unknown collection '{}' (registry or products)",
                other.escape_default()
            ));
        }
    };
    let pattern = if pattern == "*" {
        Pattern::Any
    } else if let Some(prefix) = segment_prefix(collection, pattern) {
        check_id(kind, &prefix[..prefix.len() - 1])
            .map_err(|e| format!("bad prefix in '{}': {}", word.escape_default(), e.reason))?;
        Pattern::Prefix(prefix.to_owned())
    } else if pattern.contains('*') {
        return Err(format!(
            "'{}': '*' stands for whole segments only: write '*', an exact id, or PREFIX.* for the ids that start with 'PREFIX.' (e.g. 'registry:sales.orders.*'{})",
            word.escape_default(),
            if collection == Collection::Products {
                "; product ids may also use PREFIX:*"
            } else {
                ""
            }
        ));
    } else {
        check_id(kind, pattern)
            .map_err(|e| format!("bad id in '{}': {}", word.escape_default(), e.reason))?;
        Pattern::Exact(pattern.to_owned())
    };
    Ok(Grant::Write(collection, pattern))
}

/// `PREFIX.` of a pattern `PREFIX.*` (products: also `PREFIX:` of `PREFIX:*`).
fn segment_prefix(collection: Collection, pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('*')?;
    let separated =
        prefix.ends_with('.') || (collection == Collection::Products && prefix.ends_with(':'));
    (separated && prefix.len() > 1).then_some(prefix)
}

impl Tokens {
    /// Adds the tokens in `text` (lines, or `;`-separated entries), naming `source_name`
    /// in errors.
    pub fn add(&mut self, source_name: &str, text: &str) -> Result<(), TokensError> {
        for (i, line) in text.split(['\n', ';']).enumerate() {
            let err = |reason: String| TokensError {
                source_name: source_name.to_owned(),
                line: i + 1,
                reason,
            };
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let token = words.next().unwrap_or_default();
            if token.len() < MIN_TOKEN_LEN || token.len() > MAX_TOKEN_LEN {
                return Err(err(format!(
                    "a token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters"
                )));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(err("a token must be printable ASCII".into()));
            }
            if self.entries.iter().any(|e| e.token == token.as_bytes()) {
                return Err(err("the same token is listed twice".into()));
            }
            let grants = words
                .map(parse_grant)
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            if grants.is_empty() {
                return Err(err("a token needs at least one grant".into()));
            }
            self.entries.push(Entry {
                token: token.as_bytes().to_vec(),
                grants,
            });
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many tokens are configured (for the log; never which).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Decides a request from the bearer token it presented, if any (the HTTP layer takes
    /// it from the `Authorization` header).
    pub fn check(
        &self,
        presented: Option<&str>,
        need: Need<'_>,
        reads: ReadAccess,
    ) -> Result<(), Denied> {
        if matches!(need, Need::Read) && reads == ReadAccess::Open {
            return Ok(());
        }
        let presented = presented.ok_or(Denied::Unauthenticated)?;
        let entry = self
            .find(presented.as_bytes())
            .ok_or(Denied::Unauthenticated)?;
        let allowed = entry.grants.iter().any(|g| match (g, need) {
            (Grant::Read, Need::Read) => true,
            (Grant::Write(c, pattern), Need::Write(want, id)) => *c == want && pattern.matches(id),
            _ => false,
        });
        if allowed {
            Ok(())
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// The id of the presented token if it is a configured one.
    pub fn identify(&self, presented: Option<&str>) -> Option<TokenId> {
        let presented = presented?;
        self.find(presented.as_bytes())
            .map(|_| TokenId::of(presented))
    }

    /// Compares the presented token with every configured one in time that depends only on
    /// the lengths, so response timing does not reveal how much of a token was right.
    fn find(&self, presented: &[u8]) -> Option<&Entry> {
        let mut found = None;
        for e in &self.entries {
            if constant_time_eq(&e.token, presented) && found.is_none() {
                found = Some(e);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimizer from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "team-a-token-0123456789";
    const ADMIN: &str = "admin-token-0123456789";
    const READER: &str = "reader-token-0123456789";

    fn tokens() -> Tokens {
        let mut t = Tokens::default();
        t.add(
            "file",
            &format!("# comment\n{A} registry:team-a.*  # trailing\n\n{ADMIN} registry:* products:* read\n"),
        )
        .unwrap();
        t.add("REGISTRY_TOKENS", &format!("{READER} read; "))
            .unwrap();
        t
    }

    #[test]
    fn writes_are_scoped_by_prefix() {
        let t = tokens();
        let w = |id| Need::Write(Collection::Registry, id);
        let bearer = Some;
        assert_eq!(
            t.check(bearer(A), w("team-a.widget"), ReadAccess::Open),
            Ok(())
        );
        assert_eq!(
            t.check(bearer(A), w("team-b.widget"), ReadAccess::Open),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            t.check(
                bearer(A),
                Need::Write(Collection::Products, "team-a.p"),
                ReadAccess::Open
            ),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            t.check(bearer(ADMIN), w("anything"), ReadAccess::Open),
            Ok(())
        );
        assert_eq!(
            t.check(bearer(READER), w("x"), ReadAccess::Open),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn patterns_match_whole_segments() {
        const SALES: &str = "sales-token-0123456789";
        let mut t = Tokens::default();
        t.add(
            "f",
            &format!("{SALES} registry:sales.* products:urn:dpds:acme:* products:sales.*"),
        )
        .unwrap();
        let can = |c, id| t.check(Some(SALES), Need::Write(c, id), ReadAccess::Open) == Ok(());
        for id in ["sales.orders.chart", "sales.x"] {
            assert!(can(Collection::Registry, id), "{id}");
        }
        for id in ["sales-eu.x", "sales", "salesx.y", "sales-.x"] {
            assert!(!can(Collection::Registry, id), "{id}");
        }
        assert!(can(
            Collection::Products,
            "urn:dpds:acme:dataproducts:orders:1"
        ));
        assert!(can(Collection::Products, "sales.orders"));
        assert!(!can(
            Collection::Products,
            "urn:dpds:acme-eu:dataproducts:x:1"
        ));
        // A star inside a segment would be a plain string prefix: `sales-*` covered the
        // domain `sales-eu` too. Refused, naming the file, the line and the grant.
        for grant in [
            "registry:sales-*",
            "registry:sales*",
            "registry:*.orders",
            "registry:sales.*.chart",
            "registry:sales.**",
            "registry:.*",
            "registry:sales:*",
            "products:urn:dpds:acme*",
        ] {
            let err = Tokens::default()
                .add("tokens", &format!("# first\n{SALES} read {grant}"))
                .unwrap_err();
            assert_eq!(err.line, 2, "{grant}");
            let text = err.to_string();
            assert!(text.starts_with("tokens line 2: "), "{text}");
            assert!(text.contains(&format!("'{grant}'")), "{text}");
            assert!(text.contains("whole segments"), "{text}");
        }
    }

    #[test]
    fn missing_or_wrong_tokens_are_unauthenticated() {
        let t = tokens();
        let w = Need::Write(Collection::Registry, "team-a.x");
        assert_eq!(
            t.check(None, w, ReadAccess::Open),
            Err(Denied::Unauthenticated)
        );
        for bad in [
            "nope-nope-nope-nope",
            &format!("{A}x"),
            &A[..A.len() - 1],
            "",
        ] {
            assert_eq!(
                t.check(Some(bad), w, ReadAccess::Open),
                Err(Denied::Unauthenticated),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_are_open_unless_protected() {
        let t = tokens();
        assert_eq!(t.check(None, Need::Read, ReadAccess::Open), Ok(()));
        assert_eq!(
            t.check(None, Need::Read, ReadAccess::Token),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(t.check(Some(READER), Need::Read, ReadAccess::Token), Ok(()));
        assert_eq!(
            t.check(Some(A), Need::Read, ReadAccess::Token),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn bad_token_sources_name_the_line_not_the_token() {
        let cases = [
            ("short registry:*", 1),
            ("\n\nlong-enough-token-123 ", 3),
            ("long-enough-token-123 write:*", 1),
            ("long-enough-token-123 registry:a/b*", 1),
            ("long-enough-token-123 registry:-x", 1),
            ("long-enough-token-123 read\nlong-enough-token-123 read", 2),
        ];
        for (text, line) in cases {
            let err = Tokens::default().add("f", text).unwrap_err();
            assert_eq!(err.line, line, "{text}");
            assert!(!err.to_string().contains("long-enough-token-123"), "{err}");
        }
        assert!(format!("{:?}", tokens()).contains("3 configured"));
        assert!(Tokens::default().is_empty());
    }
}
