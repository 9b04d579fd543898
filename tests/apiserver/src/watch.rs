//! Watches: newline-delimited JSON events for one resource, replayed from the store's history
//! after the client's resourceVersion and then followed live until the timeout.

use std::{
    collections::HashMap, collections::VecDeque, convert::Infallible, sync::Arc, time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::{sync::watch, time::Instant};

use crate::{Shared, discovery::Resource, routes::Target, selector::Filter, status::Status};

struct Watch {
    shared: Arc<Shared>,
    resource: Resource,
    filter: Filter,
    /// The resourceVersion the client has seen everything up to.
    seen: u64,
    pending: VecDeque<Bytes>,
    changes: watch::Receiver<u64>,
    deadline: Instant,
    bookmarks: bool,
    done: bool,
}

pub(crate) fn serve(
    shared: Arc<Shared>,
    t: Target,
    query: &HashMap<String, String>,
) -> Result<Response, Status> {
    let filter = Filter::parse(t.namespace.as_deref(), query)?;
    let number = |key: &str| {
        let value = query.get(key).map(|v| v.parse::<u64>());
        value
            .transpose()
            .map_err(|_| Status::bad_request(format!("{key} must be a number")))
    };
    let timeout = Duration::from_secs(number("timeoutSeconds")?.unwrap_or(1800));
    let r = t.resource;
    let mut pending = VecDeque::new();
    let mut done = false;
    let (seen, changes) = {
        let store = shared.store();
        let seen = match query.get("resourceVersion").map(String::as_str) {
            // No resourceVersion: the current objects as ADDED events first, as the real server does.
            None | Some("" | "0") => {
                let current = store
                    .list(&r.group, &r.plural, t.namespace.as_deref())
                    .filter(|o| filter.matches(o));
                pending.extend(current.map(|o| line("ADDED", r.serve(o))));
                if query.get("sendInitialEvents").is_some_and(|v| v == "true") {
                    pending.push_back(bookmark(&r, store.revision(), true));
                }
                store.revision()
            }
            Some(_) => number("resourceVersion")?.unwrap_or_default(),
        };
        if let Err(expired) = store.since(seen) {
            pending.push_back(line("ERROR", expired.body()));
            done = true;
        }
        (seen, store.subscribe())
    };
    let watch = Watch {
        shared,
        resource: r,
        filter,
        seen,
        pending,
        changes,
        deadline: Instant::now() + timeout,
        bookmarks: query
            .get("allowWatchBookmarks")
            .is_some_and(|v| v == "true"),
        done,
    };
    let body = Body::from_stream(futures_util::stream::unfold(watch, Watch::next));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some((Ok(line), self));
            }
            if self.done {
                return None;
            }
            // Marking the current change seen before reading the store means a change made
            // after the read still wakes us.
            self.changes.mark_unchanged();
            self.catch_up();
            if !self.pending.is_empty() || self.done {
                continue;
            }
            let woken = tokio::time::timeout_at(self.deadline, self.changes.changed()).await;
            if !matches!(woken, Ok(Ok(()))) {
                self.done = true;
                if self.bookmarks {
                    self.pending
                        .push_back(bookmark(&self.resource, self.seen, false));
                }
            }
        }
    }

    fn catch_up(&mut self) {
        let store = self.shared.store();
        let r = &self.resource;
        match store.since(self.seen) {
            Err(expired) => {
                self.pending.push_back(line("ERROR", expired.body()));
                self.done = true;
            }
            Ok(events) => {
                let ours = events.filter(|e| {
                    e.group == r.group && e.plural == r.plural && self.filter.matches(&e.object)
                });
                self.pending
                    .extend(ours.map(|e| line(e.kind, r.serve(&e.object))));
                self.seen = store.revision();
            }
        }
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// A BOOKMARK lets a client resume from `revision` without replaying changes it filtered out.
fn bookmark(r: &Resource, revision: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": metadata}),
    )
}
