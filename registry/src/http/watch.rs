//! Change notification: long-poll blocking queries (`?index=&wait=`, as Consul's) and
//! Server-Sent Events, both driven by each collection's change index.
//!
//! The index moves when what a watcher would see changes: an entry created, changed or
//! removed, or a registration turning stale or fresh again. A heartbeat that only moves
//! `lastUpdated` does not wake anyone (with a 3 s heartbeat per widget, it would wake every
//! watcher continuously). Staleness is noticed by the sweeper, so a watcher learns of it
//! within one sweep interval.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use dappmesh_service::error::ErrorResponse;

use super::AppState;
use super::error::busy;
use crate::store::Collection;
use dappmesh_service::shutdown::stopped;

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
) -> Result<(), ErrorResponse> {
    let Some(after) = params.index else {
        return Ok(());
    };
    let wait = parse_wait(params.wait.as_deref())?;
    let _permit = Arc::clone(&state.watchers)
        .try_acquire_owned()
        .map_err(|_| busy())?;
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
pub(super) fn events(state: AppState, c: Collection) -> Result<Response, ErrorResponse> {
    let permit = Arc::clone(&state.watchers)
        .try_acquire_owned()
        .map_err(|_| busy())?;
    let index = state.registry.subscribe(c);
    let shutdown = state.shutdown.clone();
    let registry = state.registry.clone();
    let stream = futures_util::stream::unfold(
        (index, shutdown, permit, true),
        move |(mut index, mut shutdown, permit, first)| {
            let registry = registry.clone();
            async move {
                if !first {
                    tokio::select! {
                        changed = index.changed() => changed.ok()?,
                        () = stopped(&mut shutdown) => return None,
                    }
                }
                index.borrow_and_update();
                let (id, body) = match c {
                    Collection::Registry => registry.list_json(),
                    Collection::Products => registry.products_json(),
                };
                let event = Event::default()
                    .event(c.as_str())
                    .id(id.to_string())
                    .data(String::from_utf8_lossy(&body));
                Some((Ok::<_, Infallible>(event), (index, shutdown, permit, false)))
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
