//! Change notification: long-poll blocking queries (`?index=&wait=`, as Consul's) and
//! Server-Sent Events, both driven by each collection's change index, and the watcher
//! slots they take ([`Watchers`]).
//!
//! Slots are shared out so that no one client can take them all: an anonymous client
//! (by address, IPv6 by /64) has at most `per_client`, a token at most `per_token`, and
//! `reserve` slots are for callers with a valid token only, so an admin still gets in
//! when anonymous clients hold every other slot.
//!
//! An event stream checks its token again whenever a reload puts a new key ring in force,
//! and ends when the token may no longer read.
//!
//! Memory: an event is the collection's cached JSON (one `Bytes` shared by every watcher
//! of that index) between a few bytes of framing, so 1,000 watchers of a 300 KB list cost
//! 1,000 small frames and not 1,000 copies (axum's `Sse` copied the body twice per
//! watcher and event).
//!
//! The index moves when what a watcher would see changes: an entry created, changed or
//! removed, or a registration turning stale or fresh again. A heartbeat that only moves
//! `lastUpdated` does not wake anyone (with a 3 s heartbeat per widget, it would wake every
//! watcher continuously). Staleness is noticed by the sweeper, so a watcher learns of it
//! within one sweep interval.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use dappmesh_service::error::ErrorResponse;

use super::AppState;
use super::error::busy;
use crate::auth::{Need, ReadAccess, TokenId};
use crate::keyring::Keyring;
use crate::store::Collection;
use dappmesh_service::shutdown::stopped;

/// A comment line every this often keeps proxies from closing an idle event stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How the watcher slots are shared out.
#[derive(Debug, Clone, Copy)]
pub struct WatcherLimits {
    /// Slots in all.
    pub max: usize,
    /// Slots only callers with a valid token may take.
    pub reserve: usize,
    /// Slots one anonymous client (address; IPv6: /64) may hold.
    pub per_client: usize,
    /// Slots one token may hold.
    pub per_token: usize,
}

/// Who asks for a slot: a valid token, or else the client's address (unknown without a
/// socket, as in the router's oneshot tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Token(TokenId),
    Anonymous(Option<IpAddr>),
}

#[derive(Default)]
struct Held {
    total: usize,
    anonymous: usize,
    by_client: HashMap<IpAddr, usize>,
    by_token: HashMap<TokenId, usize>,
}

/// The open long-polls and event streams.
pub struct Watchers {
    limits: WatcherLimits,
    held: Mutex<Held>,
}

/// One watcher slot, given back when dropped.
pub struct Slot {
    watchers: Arc<Watchers>,
    caller: Caller,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every slot is taken (or every one an anonymous caller may take).
    Server,
    /// This client or token holds its share.
    Caller,
}

impl Watchers {
    pub fn new(limits: WatcherLimits) -> Watchers {
        Watchers {
            limits,
            held: Mutex::new(Held::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // The counts are consistent between statements; a panic elsewhere is no reason
        // to stop serving.
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot for `caller` if the limits allow.
    pub fn acquire(self: &Arc<Self>, caller: Caller) -> Result<Slot, Full> {
        let l = self.limits;
        let mut held = self.lock();
        if held.total >= l.max {
            return Err(Full::Server);
        }
        match caller {
            Caller::Token(t) => {
                let n = held.by_token.entry(t).or_default();
                if *n >= l.per_token {
                    return Err(Full::Caller);
                }
                *n += 1;
            }
            Caller::Anonymous(client) => {
                if held.anonymous >= l.max.saturating_sub(l.reserve) {
                    return Err(Full::Server);
                }
                if let Some(c) = client {
                    let n = held.by_client.entry(c).or_default();
                    if *n >= l.per_client {
                        return Err(Full::Caller);
                    }
                    *n += 1;
                }
                held.anonymous += 1;
            }
        }
        held.total += 1;
        Ok(Slot {
            watchers: Arc::clone(self),
            caller,
        })
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        self.lock().total
    }
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            // Emptied entries go, so the maps shrink back after a crowd left.
            map.remove(key);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.watchers.lock();
        held.total -= 1;
        match self.caller {
            Caller::Token(t) => release(&mut held.by_token, &t),
            Caller::Anonymous(client) => {
                held.anonymous -= 1;
                if let Some(c) = client {
                    release(&mut held.by_client, &c);
                }
            }
        }
        if held.total == 0 {
            held.by_client.shrink_to_fit();
            held.by_token.shrink_to_fit();
        }
    }
}

/// Longest a long-poll may wait, and how long it waits when `wait` is not given.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// `?index=N&wait=30s`: answer once the collection's index differs from N (it moved on,
/// or the client holds an index from before a reset), or after `wait`.
#[derive(Debug, Deserialize)]
pub struct WatchParams {
    index: Option<u64>,
    wait: Option<String>,
}

pub struct Watch(pub WatchParams);

impl<S: Send + Sync> FromRequestParts<S> for Watch {
    type Rejection = ErrorResponse;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ErrorResponse> {
        Query::<WatchParams>::from_request_parts(parts, &())
            .await
            .map(|Query(p)| Watch(p))
            .map_err(|r| {
                ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
            })
    }
}

fn parse_wait(wait: Option<&str>) -> Result<Duration, ErrorResponse> {
    let Some(text) = wait else {
        return Ok(DEFAULT_WAIT);
    };
    let parsed = match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text),
    };
    parsed.map(|d| d.min(MAX_WAIT)).map_err(|_| {
        ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "wait must be a duration such as 30s or 5m (at most 5m)",
        )
    })
}

/// Blocks a long-poll until the index moves away from `after`, `wait` passes, or the
/// server shuts down.
pub(super) async fn wait_for_change(
    state: &AppState,
    c: Collection,
    params: &WatchParams,
    caller: Caller,
) -> Result<(), ErrorResponse> {
    // A bad `wait` is refused even without `index`: the parameter is checked where it is
    // given, not only where it is used.
    let wait = parse_wait(params.wait.as_deref())?;
    let Some(after) = params.index else {
        return Ok(());
    };
    let _slot = state.watchers.acquire(caller).map_err(busy)?;
    let mut index = state.registry.subscribe(c);
    let mut shutdown = state.shutdown.clone();
    tokio::select! {
        _ = tokio::time::timeout(wait, async { let _ = index.wait_for(|&i| i != after).await; }) => {}
        () = stopped(&mut shutdown) => {}
    }
    Ok(())
}

/// Server-Sent Events: the whole collection (as its list endpoint returns it) at once,
/// then again after every change, with the change index as the event id. A slow reader
/// skips intermediate states instead of buffering them.
/// An event stream's right to read, checked again whenever a new key ring is put in force:
/// a stream outlives the request that opened it, and a token removed by a reload (or left
/// without its `read` grant) must not keep it.
struct ReadRight {
    keyring: Arc<Keyring>,
    changes: tokio::sync::watch::Receiver<u64>,
    token: Option<String>,
    reads: ReadAccess,
}

impl ReadRight {
    /// Resolves once the token may no longer read.
    async fn revoked(&mut self) {
        loop {
            if self.changes.changed().await.is_err() {
                // The keyring is gone only when the server is: nothing to revoke.
                std::future::pending::<()>().await;
            }
            let tokens = self.keyring.current();
            if tokens
                .check(self.token.as_deref(), Need::Read, self.reads)
                .is_err()
            {
                return;
            }
        }
    }
}

pub(super) fn events(
    state: AppState,
    c: Collection,
    caller: Caller,
    token: Option<String>,
) -> Result<Response, ErrorResponse> {
    let slot = state.watchers.acquire(caller).map_err(busy)?;
    let index = state.registry.subscribe(c);
    let shutdown = state.shutdown.clone();
    let registry = state.registry.clone();
    let reader = ReadRight {
        changes: state.keyring.changes(),
        keyring: state.keyring,
        token,
        reads: state.reads,
    };
    let stream = futures_util::stream::unfold(
        (index, shutdown, slot, reader, Vec::<Bytes>::new(), true),
        move |(mut index, mut shutdown, slot, mut reader, mut pending, first)| {
            let registry = registry.clone();
            async move {
                if let Some(chunk) = pending.pop() {
                    return Some((
                        Ok::<_, Infallible>(chunk),
                        (index, shutdown, slot, reader, pending, false),
                    ));
                }
                if !first {
                    tokio::select! {
                        changed = index.changed() => changed.ok()?,
                        () = stopped(&mut shutdown) => return None,
                        () = reader.revoked() => return None,
                        () = tokio::time::sleep(KEEP_ALIVE) => {
                            let ping = Bytes::from_static(b":\n\n");
                            return Some((Ok(ping), (index, shutdown, slot, reader, pending, false)));
                        }
                    }
                }
                index.borrow_and_update();
                let (id, body) = match c {
                    Collection::Registry => registry.list_json(),
                    Collection::Products => registry.products_json(),
                };
                // Compact JSON has no newline, so the body is one `data:` line. Chunks are
                // sent in order: head, the shared body, the blank line.
                pending = vec![Bytes::from_static(b"\n\n"), body];
                let head = format!("event: {}\nid: {id}\ndata: ", c.as_str());
                Some((
                    Ok(Bytes::from(head)),
                    (index, shutdown, slot, reader, pending, false),
                ))
            }
        },
    );
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchers() -> Arc<Watchers> {
        Arc::new(Watchers::new(WatcherLimits {
            max: 4,
            reserve: 1,
            per_client: 2,
            per_token: 2,
        }))
    }

    #[test]
    fn anonymous_clients_cannot_take_the_reserve_or_more_than_their_share() {
        let w = watchers();
        let a = Caller::Anonymous(Some("10.0.0.1".parse().unwrap()));
        let b = Caller::Anonymous(Some("10.0.0.2".parse().unwrap()));
        let admin = Caller::Token(TokenId::of("admin-token-0123456789"));
        let held: Vec<Slot> = vec![w.acquire(a).unwrap(), w.acquire(a).unwrap()];
        assert_eq!(w.acquire(a).err(), Some(Full::Caller));
        let b1 = w.acquire(b).unwrap();
        assert_eq!(
            w.acquire(b).err(),
            Some(Full::Server),
            "the last slot is reserved"
        );
        let admin1 = w.acquire(admin).unwrap();
        assert_eq!(w.acquire(admin).err(), Some(Full::Server));
        assert_eq!(w.held(), 4);
        drop(admin1);
        drop(b1);
        drop(held);
        assert_eq!(w.held(), 0);
        assert!(w.lock().by_client.is_empty(), "counts are forgotten");
        let t1 = w.acquire(admin).unwrap();
        let t2 = w.acquire(admin).unwrap();
        assert_eq!(w.acquire(admin).err(), Some(Full::Caller), "per token");
        drop((t1, t2));
    }
}
