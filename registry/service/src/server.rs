//! Serving HTTP/1 connections so that hostile clients cannot crowd out the others: a limit
//! on open connections (kept below the process's file limit), a time limit on reading a
//! request's headers, eviction of idle connections when the limit is reached, and an
//! accept loop that waits, instead of spinning, when the process is out of descriptors.
//!
//! `axum::serve` has none of these: a slowloris client holds a connection for as long as
//! it likes, and at the file limit every accept fails. Here every connection that is not
//! inside a request (waiting for its first headers, or idle between keep-alive requests)
//! may be closed to admit a new one, the one idle longest first; a connection serving a
//! request or streaming a response body (an event stream, a long-poll) is never evicted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::shutdown::stopped;

/// Descriptors kept back from connections for everything else a service opens (its
/// listeners, database files, the files it re-reads, the runtime's own).
pub const RESERVED_FDS: u64 = 32;
/// Largest read buffer of a connection, and so the largest request head; hyper's default
/// (~400 KiB) would let each slow client pin that much memory.
const MAX_BUF: usize = 64 * 1024;
/// How long the accept loop waits for a connection to close when it cannot take another.
const BACKOFF: Duration = Duration::from_millis(100);
/// How long a connection is safe from eviction after it was accepted or finished a
/// request.
const GRACE: Duration = Duration::from_millis(250);

/// How connections are admitted and bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once (see [`connection_budget`]).
    pub max_connections: usize,
    /// Most connections open at once from one client (see [`client_of`]); a client at the
    /// limit has its new connections closed at once, so it cannot churn the others out.
    pub max_connections_per_client: usize,
    /// Longest a client may take to send a request's headers, counted from when the
    /// connection is ready for them (so also the longest a keep-alive connection idles).
    pub header_read_timeout: Duration,
}

/// The connection limit the process can afford: `wanted`, lowered to the soft
/// `RLIMIT_NOFILE` minus [`RESERVED_FDS`] (at least 1), so that the limit is reached before
/// accept fails. Returns the limit and whether it was lowered.
pub fn connection_budget(wanted: usize) -> (usize, bool) {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let Some(soft) = soft else {
        return (wanted.max(1), false);
    };
    let afford = usize::try_from(soft.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
    if afford < wanted {
        (afford, true)
    } else {
        (wanted.max(1), false)
    }
}

/// Whom a peer address counts as: an IPv4 address, or the /64 network of an IPv6 one
/// (the smallest block a site is given, so one holder cannot pose as 2^64 clients).
pub fn client_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// One open connection.
struct Conn {
    /// Requests in progress, counting a response until its body is finished or dropped.
    busy: AtomicU32,
    /// When it last became idle, in milliseconds since the pool started.
    idle_since: AtomicU64,
    evict: Notify,
}

/// The open connections.
struct Pool {
    /// The connections that may still be evicted.
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// Connections whose task has not ended, evicted ones included: their descriptors are
    /// still open.
    open: AtomicUsize,
    /// Open connections by client (see [`client_of`]).
    per_client: Mutex<HashMap<IpAddr, usize>>,
    /// Woken whenever a connection closes.
    closed: Notify,
    started: Instant,
}

impl Pool {
    fn new() -> Pool {
        Pool {
            conns: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            closed: Notify::new(),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // The map is consistent between statements; a panic elsewhere is no reason to stop.
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a connection from `client` unless that client already has `max` open.
    fn admit(&self, client: IpAddr, max: usize) -> bool {
        let mut clients = self.clients();
        let n = clients.entry(client).or_default();
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn add(&self, id: u64, conn: Arc<Conn>) {
        self.open.fetch_add(1, Ordering::AcqRel);
        self.lock().insert(id, conn);
    }

    fn remove(&self, id: u64, client: IpAddr) {
        self.lock().remove(&id);
        {
            let mut clients = self.clients();
            if let Some(n) = clients.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    clients.remove(&client);
                }
            }
        }
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.closed.notify_waiters();
    }

    /// Closes the connection idle longest, if one has been idle for [`GRACE`]: a new
    /// connection gets that long to send its headers before a newer one can push it out.
    fn evict_idle(&self) -> bool {
        let now = self.now();
        let grace = u64::try_from(GRACE.as_millis()).unwrap_or(u64::MAX);
        let mut conns = self.lock();
        let oldest = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .map(|(id, c)| (*id, c.idle_since.load(Ordering::Relaxed)))
            .filter(|&(_, since)| now.saturating_sub(since) >= grace)
            .min_by_key(|&(_, since)| since)
            .map(|(id, _)| id);
        let Some(id) = oldest else {
            return false;
        };
        if let Some(conn) = conns.remove(&id) {
            conn.evict.notify_one();
        }
        true
    }

    /// Makes room for one more connection: evicts one if it can, then waits until a
    /// connection closed, at most [`BACKOFF`].
    async fn make_room(&self) {
        let closed = self.closed.notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        self.evict_idle();
        let _ = tokio::time::timeout(BACKOFF, closed).await;
    }
}

/// Serves `router` on `listener` within `limits` until `stop` turns true, then stops
/// accepting, lets requests in progress finish and returns once every connection closed.
/// Handlers see the peer's address as axum's `ConnectInfo<SocketAddr>` extension.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let pool = Arc::new(Pool::new());
    let mut next_id = 0u64;
    let mut starved = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if out_of_resources(&e) => {
                // Logged once per episode: at the file limit this repeats for every client.
                if !starved {
                    tracing::warn!(error = %e, "cannot accept connections: out of descriptors or memory; closing idle ones");
                    starved = true;
                }
                pool.make_room().await;
                continue;
            }
            Err(e) => {
                // A connection that failed before it was accepted (reset, aborted).
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        if starved {
            tracing::info!("accepting connections again");
            starved = false;
        }
        let client = client_of(peer.ip());
        if !pool.admit(client, limits.max_connections_per_client) {
            tracing::debug!(%peer, "closing a connection beyond the per-client limit");
            drop(stream);
            continue;
        }
        while pool.open() >= limits.max_connections {
            // Hold this connection until another one is evicted or finishes.
            tokio::select! {
                () = pool.make_room() => {}
                () = stopped(&mut stop) => break,
            }
        }
        next_id += 1;
        let conn = Arc::new(Conn {
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(pool.now()),
            evict: Notify::new(),
        });
        pool.add(next_id, Arc::clone(&conn));
        tokio::spawn(connection(
            ConnTask {
                id: next_id,
                client,
                conn,
                pool: Arc::clone(&pool),
                router: router.clone(),
                peer,
                stop: stop.clone(),
            },
            stream,
            limits,
        ));
    }
    // Every connection now finishes its requests and closes (event streams end on the same
    // flag); wait for the last.
    while pool.open() > 0 {
        let _ = tokio::time::timeout(BACKOFF, pool.closed.notified()).await;
    }
}

fn out_of_resources(e: &std::io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOMEM: i32 = 12;
    const ENOBUFS: i32 = 105;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOMEM | ENOBUFS))
}

struct ConnTask {
    id: u64,
    client: IpAddr,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
    router: Router,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
}

async fn connection(task: ConnTask, stream: TcpStream, limits: Limits) {
    let ConnTask {
        id,
        client,
        conn,
        pool,
        router,
        peer,
        mut stop,
    } = task;
    let service = {
        let (conn, pool) = (Arc::clone(&conn), Arc::clone(&pool));
        hyper::service::service_fn(move |req| {
            request(
                router.clone(),
                Arc::clone(&conn),
                Arc::clone(&pool),
                peer,
                req,
            )
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_BUF);
    let serving = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        result = serving.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        }
        // Dropping the connection closes it.
        () = conn.evict.notified() => {}
        () = stopped(&mut stop) => {
            serving.as_mut().graceful_shutdown();
            let _ = serving.await;
        }
    }
    pool.remove(id, client);
}

async fn request(
    router: Router,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
    peer: SocketAddr,
    mut req: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    conn.busy.fetch_add(1, Ordering::AcqRel);
    let busy = Busy { conn, pool };
    req.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(req.map(Body::new)).await?;
    Ok(response.map(|body| Body::new(Tracked { body, _busy: busy })))
}

/// Marks a connection busy while a request is in progress, its response body included.
struct Busy {
    conn: Arc<Conn>,
    pool: Arc<Pool>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(self.pool.now(), Ordering::Relaxed);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it is finished or dropped.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stays_below_the_file_limit() {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .expect("a finite file limit");
        let (n, lowered) = connection_budget(usize::MAX);
        assert!(lowered);
        assert_eq!(n as u64, soft.saturating_sub(RESERVED_FDS).max(1));
        assert_eq!(connection_budget(3), (3, false));
        assert_eq!(connection_budget(0), (1, false));
    }

    #[test]
    fn only_idle_connections_are_evicted_oldest_first() {
        let pool = Pool::new();
        std::thread::sleep(GRACE * 2);
        let now = pool.now();
        for (id, busy, since) in [(1, 1, 0), (2, 0, 50), (3, 0, 10), (4, 0, now)] {
            let conn = Arc::new(Conn {
                busy: AtomicU32::new(busy),
                idle_since: AtomicU64::new(since),
                evict: Notify::new(),
            });
            pool.add(id, conn);
        }
        assert!(pool.evict_idle());
        assert!(
            !pool.lock().contains_key(&3),
            "the one idle longest goes first"
        );
        assert!(pool.evict_idle());
        assert!(
            !pool.evict_idle(),
            "neither a busy nor a new connection is evicted"
        );
        assert_eq!(pool.lock().len(), 2);
        assert_eq!(pool.open(), 4, "evicted connections count until they close");
    }

    #[test]
    fn each_client_has_its_own_cap() {
        let pool = Pool::new();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(pool.admit(a, 2) && pool.admit(a, 2));
        assert!(!pool.admit(a, 2));
        assert!(pool.admit(b, 2));
        pool.remove(0, a);
        assert!(pool.admit(a, 2));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let one = client_of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let other = client_of("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(one, other);
        assert_eq!(one, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_eq!(
            client_of("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
