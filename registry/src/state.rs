//! The registry's state: an in-memory view that every read is served from, and the one
//! writer thread that changes it.
//!
//! Writes are queued to the writer, which takes everything waiting (up to a batch limit),
//! applies it in one SQLite transaction, commits (one fsync for the whole batch: group
//! commit), and only then updates the view, bumps the change indexes and acknowledges each
//! request. One writer means no two writes race, so no update is lost; updating the view
//! after the commit means no reader sees a write that could still be lost. If a batch
//! fails, its writes are retried one by one so that only the faulty one reports an error.
//!
//! Reads never touch SQLite. The registry list, the hottest read, is cached as serialized
//! JSON and rebuilt only when a write changed the view or a registration turned stale.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use dappmesh_service::encoding::{self, Effort};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

use crate::catalog::NewProduct;
use crate::clock::{Clock, Micros, rfc3339};
use crate::service::NewRegistration;
use crate::store::{Collection, ProductRow, RegistrationRow, Store, StoreError};
use crate::ttl::{Liveness, SweepAction, TtlPolicy, sweep_action};
use registry_api::widget::Element;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;
/// The write `/ready` tries while the disk is full: as large as the largest request body.
const PROBE_BYTES: usize = 64 * 1024;
/// Writes waiting for the writer before callers wait for room.
const QUEUE: usize = 8192;
/// How long a caller waits for its write to be committed before it gives up (the write
/// may still land; every write is idempotent, so the client can retry).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A registration as held in memory.
#[derive(Debug, Clone)]
pub struct Registration {
    pub service: Box<RawValue>,
    pub widget: Option<Element>,
    pub ttl: Duration,
    pub created: Micros,
    pub updated: Micros,
    /// Whether watchers were told it is stale (not stored: recomputed after a restart).
    announced_stale: bool,
}

/// A product as held in memory.
#[derive(Debug, Clone)]
pub struct Product {
    pub spec: Box<RawValue>,
    pub created: Micros,
    pub updated: Micros,
}

/// The answer to a product PUT.
#[derive(Debug, Clone)]
pub struct PutProduct {
    /// Whether the product is new.
    pub created: bool,
    /// The catalog's change index once the write committed.
    pub index: u64,
    /// The product as committed, as [`Registry::product_json`] shows it.
    pub body: Bytes,
}

/// Capacity limits: writes beyond them are refused rather than growing memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_registrations: usize,
    pub max_products: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the {0} holds its maximum of {1} entries")]
    Capacity(&'static str, usize),
    #[error("the writer did not commit within {WRITE_TIMEOUT:?}")]
    Timeout,
    #[error("the writer has stopped")]
    Stopped,
    #[error("the disk is full")]
    DiskFull,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counters kept by the writer, for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub writes: AtomicU64,
    pub commit_micros: AtomicU64,
    pub failed_batches: AtomicU64,
    pub evictions: AtomicU64,
}

/// Sizes of the view, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub registrations: usize,
    pub stale: usize,
    pub products: usize,
}

#[derive(Debug, Default)]
struct View {
    registrations: BTreeMap<String, Registration>,
    products: BTreeMap<String, Product>,
    registry_index: u64,
    products_index: u64,
    /// Changes on every registry write, heartbeats included (the list shows lastUpdated).
    generation: u64,
}

struct ListCache {
    generation: u64,
    /// When the first fresh registration turns stale, which changes the list.
    valid_until: Micros,
    index: u64,
    body: Bytes,
    /// The same body gzipped, made on the first request that accepts it: the list of
    /// 1,000 registrations is ~320 KB of very repetitive JSON that gzip shrinks ~35x, and
    /// its size, not the server's work, is what limits list throughput.
    gzip: Option<Bytes>,
}

struct Shared {
    clock: Arc<dyn Clock>,
    policy: TtlPolicy,
    limits: Limits,
    view: RwLock<View>,
    list_cache: Mutex<Option<ListCache>>,
    registry_index: watch::Sender<u64>,
    products_index: watch::Sender<u64>,
    stats: WriterStats,
    /// Set when a write failed for lack of space, cleared when one succeeds again.
    disk_full: AtomicBool,
}

enum Op {
    Register { id: String, reg: NewRegistration },
    Deregister { id: String },
    PutProduct { id: String, product: NewProduct },
    DeleteProduct { id: String },
    Sweep,
}

#[derive(Debug)]
enum Done {
    /// Whether the entry is new.
    Put(bool),
    /// A product as this write left it, whether it is new, and the catalog's index once
    /// its batch committed.
    Product {
        id: String,
        product: Product,
        created: bool,
        index: u64,
    },
    /// Whether there was an entry to remove.
    Removed(bool),
    Swept,
}

type Reply = oneshot::Sender<Result<Done, WriteError>>;

enum Message {
    Write(Op, Reply),
    Ping(oneshot::Sender<Result<(), StoreError>>),
    /// Tests only: the writer says it stopped and waits until `resume` is dropped, so that
    /// the writes sent meanwhile queue up and form the next batch, whatever the timing.
    #[cfg(test)]
    Pause {
        paused: oneshot::Sender<()>,
        resume: std::sync::mpsc::Receiver<()>,
    },
}

/// A handle on the registry; cheap to clone. The writer stops when the last handle is gone.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Message>,
}

/// The writer thread; join it after the last [`Registry`] is dropped to be sure every
/// queued write was committed or answered.
pub struct Writer(JoinHandle<()>);

impl Writer {
    pub fn join(self) {
        // A panic in the writer has already been reported by the panic hook.
        let _ = self.0.join();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks is consistent between statements, so a panic elsewhere
    // (already reported) is no reason to stop serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read(v: &RwLock<View>) -> std::sync::RwLockReadGuard<'_, View> {
    v.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(v: &RwLock<View>) -> std::sync::RwLockWriteGuard<'_, View> {
    v.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `ttlSeconds`: an integer when the TTL is whole seconds (always, unless configured in
/// milliseconds), so idea-lab-era clients see a plain number.
struct TtlSeconds(Duration);

impl Serialize for TtlSeconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.subsec_nanos() == 0 {
            s.serialize_u64(self.0.as_secs())
        } else {
            s.serialize_f64(self.0.as_secs_f64())
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    service: &'a RawValue,
    last_updated: String,
    ttl_seconds: TtlSeconds,
    stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    widget: Option<&'a Element>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductOut<'a> {
    id: &'a str,
    product: &'a RawValue,
    last_updated: String,
}

fn registration_out<'a>(
    id: Option<&'a str>,
    r: &'a Registration,
    policy: &TtlPolicy,
    now: Micros,
) -> RegistrationOut<'a> {
    RegistrationOut {
        id,
        service: &r.service,
        last_updated: rfc3339(r.updated),
        ttl_seconds: TtlSeconds(r.ttl),
        stale: policy.liveness(r.updated, r.ttl, now) != Liveness::Fresh,
        widget: r.widget.as_ref(),
    }
}

fn to_bytes<T: Serialize>(value: &T) -> Bytes {
    // Serializing these types cannot fail: keys are strings and RawValue is valid JSON.
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()))
}

impl Registry {
    /// Loads the store into memory and starts the writer thread.
    pub fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        policy: TtlPolicy,
        limits: Limits,
    ) -> Result<(Registry, Writer), StoreError> {
        let snap = store.load()?;
        let now = clock.now();
        let registrations = snap
            .registrations
            .into_iter()
            .map(|row| {
                let announced_stale = policy.liveness(row.updated, row.ttl, now) != Liveness::Fresh;
                (
                    row.id,
                    Registration {
                        service: row.service,
                        widget: row.widget,
                        ttl: row.ttl,
                        created: row.created,
                        updated: row.updated,
                        announced_stale,
                    },
                )
            })
            .collect();
        let products = snap
            .products
            .into_iter()
            .map(|row| {
                (
                    row.id,
                    Product {
                        spec: row.spec,
                        created: row.created,
                        updated: row.updated,
                    },
                )
            })
            .collect();
        let shared = Arc::new(Shared {
            clock,
            policy,
            limits,
            view: RwLock::new(View {
                registrations,
                products,
                registry_index: snap.registry_index,
                products_index: snap.products_index,
                generation: 0,
            }),
            list_cache: Mutex::new(None),
            registry_index: watch::Sender::new(snap.registry_index),
            products_index: watch::Sender::new(snap.products_index),
            stats: WriterStats::default(),
            disk_full: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = WriterLoop {
            store,
            shared: Arc::clone(&shared),
            rx,
        };
        let thread = std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || writer.run())
            .map_err(StoreError::Thread)?;
        Ok((Registry { shared, jobs: tx }, Writer(thread)))
    }

    async fn submit(&self, op: Op) -> Result<Done, WriteError> {
        let (reply, answer) = oneshot::channel();
        let wait = async {
            self.jobs
                .send(Message::Write(op, reply))
                .await
                .map_err(|_| WriteError::Stopped)?;
            answer.await.map_err(|_| WriteError::Stopped)?
        };
        tokio::time::timeout(WRITE_TIMEOUT, wait)
            .await
            .map_err(|_| WriteError::Timeout)?
    }

    /// Registers or heartbeats; returns whether the registration is new.
    pub async fn register(&self, id: String, reg: NewRegistration) -> Result<bool, WriteError> {
        match self.submit(Op::Register { id, reg }).await? {
            Done::Put(created) => Ok(created),
            other => unreachable_done(other),
        }
    }

    /// Tests only: stops the writer between batches until the returned sender is dropped
    /// (see [`Message::Pause`]).
    #[cfg(test)]
    pub(crate) async fn pause_writer(&self) -> std::sync::mpsc::Sender<()> {
        let (paused, stopped) = oneshot::channel();
        let (resume_tx, resume) = std::sync::mpsc::channel();
        let sent = self.jobs.send(Message::Pause { paused, resume }).await;
        assert!(sent.is_ok(), "the writer is running");
        stopped.await.expect("the writer pauses");
        resume_tx
    }

    /// Tests only: messages waiting for the writer.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Removes a registration; returns whether there was one.
    pub async fn deregister(&self, id: String) -> Result<bool, WriteError> {
        match self.submit(Op::Deregister { id }).await? {
            Done::Removed(found) => Ok(found),
            other => unreachable_done(other),
        }
    }

    /// Creates or replaces a product; answers with the product as this write committed
    /// it. (Read back from the view instead, the answer could show a later write.)
    pub async fn put_product(
        &self,
        id: String,
        product: NewProduct,
    ) -> Result<PutProduct, WriteError> {
        match self.submit(Op::PutProduct { id, product }).await? {
            Done::Product {
                id,
                product,
                created,
                index,
            } => Ok(PutProduct {
                created,
                index,
                body: to_bytes(&ProductOut {
                    id: &id,
                    product: &product.spec,
                    last_updated: rfc3339(product.updated),
                }),
            }),
            other => unreachable_done(other),
        }
    }

    pub async fn delete_product(&self, id: String) -> Result<bool, WriteError> {
        match self.submit(Op::DeleteProduct { id }).await? {
            Done::Removed(found) => Ok(found),
            other => unreachable_done(other),
        }
    }

    /// Evicts expired registrations and tells watchers about newly stale ones, if any.
    pub async fn sweep(&self) -> Result<(), WriteError> {
        let now = self.shared.clock.now();
        let due = read(&self.shared.view).registrations.values().any(|r| {
            sweep_action(
                &self.shared.policy,
                r.updated,
                r.ttl,
                r.announced_stale,
                now,
            ) != SweepAction::Nothing
        });
        if due {
            self.submit(Op::Sweep).await?;
        }
        Ok(())
    }

    /// Sweeps every `interval` until `stop` turns true.
    pub async fn sweep_every(&self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match self.sweep().await {
                        // Logged once when the disk filled up.
                        Ok(()) | Err(WriteError::DiskFull) => {}
                        Err(e) => tracing::error!(error = %e, "sweep failed"),
                    }
                }
                () = dappmesh_service::shutdown::stopped(&mut stop) => return,
            }
        }
    }

    /// Whether the last write failed for lack of space (until one succeeds again).
    pub fn disk_full(&self) -> bool {
        self.shared.disk_full.load(Ordering::Acquire)
    }

    /// Checks that the writer is alive and the database answers; while the disk is full,
    /// that a write succeeds again.
    pub async fn ping(&self) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        let wait = async {
            self.jobs
                .send(Message::Ping(reply))
                .await
                .map_err(|_| WriteError::Stopped)?;
            Ok(answer.await.map_err(|_| WriteError::Stopped)??)
        };
        tokio::time::timeout(WRITE_TIMEOUT, wait)
            .await
            .map_err(|_| WriteError::Timeout)?
    }

    /// The registry list as JSON (`[{"id","service","lastUpdated",…}]`) and its index.
    pub fn list_json(&self) -> (u64, Bytes) {
        self.list(false)
    }

    /// The same list, gzipped.
    pub fn list_gzip(&self) -> (u64, Bytes) {
        self.list(true)
    }

    fn list(&self, gzip: bool) -> (u64, Bytes) {
        let now = self.shared.clock.now();
        let mut cache = lock(&self.shared.list_cache);
        let view = read(&self.shared.view);
        if let Some(c) = cache.as_mut()
            && c.generation == view.generation
            && now < c.valid_until
        {
            if !gzip {
                return (c.index, c.body.clone());
            }
            let compressed = c
                .gzip
                .get_or_insert_with(|| Bytes::from(encoding::gzip(&c.body, Effort::Fastest)));
            return (c.index, compressed.clone());
        }
        let policy = &self.shared.policy;
        let items: Vec<RegistrationOut<'_>> = view
            .registrations
            .iter()
            .map(|(id, r)| registration_out(Some(id), r, policy, now))
            .collect();
        let valid_until = view
            .registrations
            .values()
            .map(|r| TtlPolicy::stale_at(r.updated, r.ttl))
            .filter(|&at| at > now)
            .min()
            .unwrap_or(Micros::MAX);
        let body = to_bytes(&items);
        let compressed = gzip.then(|| Bytes::from(encoding::gzip(&body, Effort::Fastest)));
        *cache = Some(ListCache {
            generation: view.generation,
            valid_until,
            index: view.registry_index,
            body: body.clone(),
            gzip: compressed.clone(),
        });
        (view.registry_index, compressed.unwrap_or(body))
    }

    /// One registration as JSON (`{"service","lastUpdated",…}`), if it exists.
    pub fn registration_json(&self, id: &str) -> Option<Bytes> {
        let now = self.shared.clock.now();
        let view = read(&self.shared.view);
        let r = view.registrations.get(id)?;
        Some(to_bytes(&registration_out(
            None,
            r,
            &self.shared.policy,
            now,
        )))
    }

    /// The catalog as JSON (`[{"id","product","lastUpdated"}]`) and its index.
    pub fn products_json(&self) -> (u64, Bytes) {
        let view = read(&self.shared.view);
        let items: Vec<ProductOut<'_>> = view
            .products
            .iter()
            .map(|(id, p)| ProductOut {
                id,
                product: &p.spec,
                last_updated: rfc3339(p.updated),
            })
            .collect();
        (view.products_index, to_bytes(&items))
    }

    pub fn product_json(&self, id: &str) -> Option<Bytes> {
        let view = read(&self.shared.view);
        let (id, p) = view.products.get_key_value(id)?;
        Some(to_bytes(&ProductOut {
            id,
            product: &p.spec,
            last_updated: rfc3339(p.updated),
        }))
    }

    /// The current change index of a collection.
    pub fn index(&self, c: Collection) -> u64 {
        *self.sender(c).borrow()
    }

    /// A receiver that sees every change of a collection's index.
    pub fn subscribe(&self, c: Collection) -> watch::Receiver<u64> {
        self.sender(c).subscribe()
    }

    fn sender(&self, c: Collection) -> &watch::Sender<u64> {
        match c {
            Collection::Registry => &self.shared.registry_index,
            Collection::Products => &self.shared.products_index,
        }
    }

    pub fn counts(&self) -> Counts {
        let now = self.shared.clock.now();
        let view = read(&self.shared.view);
        Counts {
            registrations: view.registrations.len(),
            stale: view
                .registrations
                .values()
                .filter(|r| self.shared.policy.liveness(r.updated, r.ttl, now) != Liveness::Fresh)
                .count(),
            products: view.products.len(),
        }
    }

    pub fn policy(&self) -> &TtlPolicy {
        &self.shared.policy
    }

    pub fn stats(&self) -> &WriterStats {
        &self.shared.stats
    }
}

fn unreachable_done<T>(done: Done) -> Result<T, WriteError> {
    // The writer answers each operation with its own kind of result; anything else is a
    // bug, reported as a failed write rather than a panic.
    Err(WriteError::Store(StoreError::Corrupt {
        table: "writer",
        id: String::new(),
        reason: format!("unexpected result {done:?}"),
    }))
}

/// What a batch changes, applied to the view only after it committed.
#[derive(Default)]
struct Change {
    /// The final state of every registration the batch touched (`None`: removed).
    registrations: BTreeMap<String, Option<Registration>>,
    products: BTreeMap<String, Option<Product>>,
    registry_changed: bool,
    registry_bumped: bool,
    products_bumped: bool,
    evictions: u64,
}

impl Change {
    fn registration<'a>(&'a self, view: &'a View, id: &str) -> Option<&'a Registration> {
        match self.registrations.get(id) {
            Some(pending) => pending.as_ref(),
            None => view.registrations.get(id),
        }
    }

    fn product<'a>(&'a self, view: &'a View, id: &str) -> Option<&'a Product> {
        match self.products.get(id) {
            Some(pending) => pending.as_ref(),
            None => view.products.get(id),
        }
    }

    fn count<T, U>(view: &BTreeMap<String, T>, pending: &BTreeMap<String, Option<U>>) -> usize {
        let mut n = view.len();
        for (id, p) in pending {
            match (view.contains_key(id), p.is_some()) {
                (false, true) => n += 1,
                (true, false) => n -= 1,
                _ => {}
            }
        }
        n
    }
}

struct WriterLoop {
    store: Store,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Message>,
}

impl WriterLoop {
    fn run(mut self) {
        while let Some(first) = self.rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let mut writes = Vec::with_capacity(batch.len());
            for m in batch {
                match m {
                    Message::Write(op, reply) => writes.push((op, reply)),
                    Message::Ping(reply) => {
                        let _ = reply.send(self.ping());
                    }
                    #[cfg(test)]
                    Message::Pause { paused, resume } => {
                        let _ = paused.send(());
                        let _ = resume.recv();
                    }
                }
            }
            self.commit(writes);
        }
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        if !self.shared.disk_full.load(Ordering::Acquire) {
            return self.store.ping();
        }
        self.store.probe_write(PROBE_BYTES)?;
        self.disk_space_again();
        Ok(())
    }

    /// A write succeeded: if the disk was full, it is not any more (logged once).
    fn disk_space_again(&self) {
        if self.shared.disk_full.swap(false, Ordering::AcqRel) {
            tracing::info!("writes succeed again: the disk has room");
        }
    }

    /// A write failed for lack of space: logged once per episode, not once per request.
    fn out_of_disk(&self, e: &StoreError) {
        if !self.shared.disk_full.swap(true, Ordering::AcqRel) {
            tracing::error!(error = %e, "the disk is full: writes fail with 507 and /ready is red until one succeeds");
        }
    }

    fn commit(&mut self, writes: Vec<(Op, Reply)>) {
        if writes.is_empty() {
            return;
        }
        let started = Instant::now();
        let (ops, replies): (Vec<Op>, Vec<Reply>) = writes.into_iter().unzip();
        match self.apply(&ops) {
            Ok(results) => {
                let stats = &self.shared.stats;
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.writes.fetch_add(ops.len() as u64, Ordering::Relaxed);
                stats.commit_micros.fetch_add(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                self.disk_space_again();
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) if e.is_disk_full() => {
                // Not one write's fault: retrying them one by one would only fail again.
                self.shared
                    .stats
                    .failed_batches
                    .fetch_add(1, Ordering::Relaxed);
                self.out_of_disk(&e);
                for reply in replies {
                    let _ = reply.send(Err(WriteError::DiskFull));
                }
            }
            Err(e) => {
                self.shared
                    .stats
                    .failed_batches
                    .fetch_add(1, Ordering::Relaxed);
                if ops.len() == 1 {
                    tracing::error!(error = %e, "write failed");
                    if let Some(reply) = replies.into_iter().next() {
                        let _ = reply.send(Err(e.into()));
                    }
                } else {
                    tracing::warn!(error = %e, writes = ops.len(), "batch failed; retrying its writes one by one");
                    for (op, reply) in ops.into_iter().zip(replies) {
                        self.commit(vec![(op, reply)]);
                    }
                }
            }
        }
    }

    /// Runs the batch in one transaction and, once it committed, applies it to the view.
    /// Per-write refusals (capacity) are results; an `Err` means nothing was committed.
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<Result<Done, WriteError>>, StoreError> {
        let shared = Arc::clone(&self.shared);
        let now = shared.clock.now();
        let policy = &shared.policy;
        let limits = shared.limits;
        let mut change = Change::default();
        let mut results = Vec::with_capacity(ops.len());
        let (registry_index, products_index) = {
            // Only this thread writes the view, so it cannot change under this read lock.
            let view = read(&shared.view);
            let tx = self.store.begin()?;
            for op in ops {
                let result = match op {
                    Op::Register { id, reg } => {
                        Self::register(&tx, &view, &mut change, policy, limits, now, id, reg)?
                    }
                    Op::Deregister { id } => {
                        let found = change.registration(&view, id).is_some();
                        if found {
                            tx.delete_registration(id)?;
                            change.registrations.insert(id.clone(), None);
                            change.registry_changed = true;
                            change.registry_bumped = true;
                        }
                        Ok(Done::Removed(found))
                    }
                    Op::PutProduct { id, product } => {
                        Self::put_product(&tx, &view, &mut change, limits, now, id, product)?
                    }
                    Op::DeleteProduct { id } => {
                        let found = change.product(&view, id).is_some();
                        if found {
                            tx.delete_product(id)?;
                            change.products.insert(id.clone(), None);
                            change.products_bumped = true;
                        }
                        Ok(Done::Removed(found))
                    }
                    Op::Sweep => {
                        Self::sweep(&tx, &view, &mut change, policy, now)?;
                        Ok(Done::Swept)
                    }
                };
                results.push(result);
            }
            let registry_index = view.registry_index + u64::from(change.registry_bumped);
            let products_index = view.products_index + u64::from(change.products_bumped);
            for result in &mut results {
                if let Ok(Done::Product { index, .. }) = result {
                    *index = products_index;
                }
            }
            if change.registry_bumped {
                tx.set_index(Collection::Registry, registry_index)?;
            }
            if change.products_bumped {
                tx.set_index(Collection::Products, products_index)?;
            }
            tx.commit()?;
            (registry_index, products_index)
        };
        {
            let mut view = write(&shared.view);
            for (id, r) in std::mem::take(&mut change.registrations) {
                match r {
                    Some(r) => view.registrations.insert(id, r),
                    None => view.registrations.remove(&id),
                };
            }
            for (id, p) in std::mem::take(&mut change.products) {
                match p {
                    Some(p) => view.products.insert(id, p),
                    None => view.products.remove(&id),
                };
            }
            view.registry_index = registry_index;
            view.products_index = products_index;
            if change.registry_changed {
                view.generation += 1;
            }
        }
        if change.registry_bumped {
            shared.registry_index.send_replace(registry_index);
        }
        if change.products_bumped {
            shared.products_index.send_replace(products_index);
        }
        shared
            .stats
            .evictions
            .fetch_add(change.evictions, Ordering::Relaxed);
        Ok(results)
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        tx: &crate::store::Tx<'_>,
        view: &View,
        change: &mut Change,
        policy: &TtlPolicy,
        limits: Limits,
        now: Micros,
        id: &str,
        reg: &NewRegistration,
    ) -> Result<Result<Done, WriteError>, StoreError> {
        let prev = change.registration(view, id);
        let same = prev.is_some_and(|p| {
            p.service.get() == reg.service.get() && p.widget == reg.widget && p.ttl == reg.ttl
        });
        let created = prev.is_none();
        if created
            && Change::count(&view.registrations, &change.registrations) >= limits.max_registrations
        {
            return Ok(Err(WriteError::Capacity(
                "registry",
                limits.max_registrations,
            )));
        }
        let next = Registration {
            service: reg.service.clone(),
            widget: reg.widget.clone(),
            ttl: reg.ttl,
            created: prev.map_or(now, |p| p.created),
            updated: now,
            announced_stale: false,
        };
        if let (true, Some(p)) = (same, prev) {
            // A plain heartbeat: only the time changes, and watchers hear of it only if
            // the registration was stale and is now fresh again.
            let was_stale =
                p.announced_stale || policy.liveness(p.updated, p.ttl, now) != Liveness::Fresh;
            tx.touch_registration(id, now)?;
            change.registry_bumped |= was_stale;
        } else {
            tx.put_registration(&RegistrationRow {
                id: id.to_owned(),
                service: next.service.clone(),
                widget: next.widget.clone(),
                ttl: next.ttl,
                created: next.created,
                updated: next.updated,
            })?;
            change.registry_bumped = true;
        }
        change.registry_changed = true;
        change.registrations.insert(id.to_owned(), Some(next));
        Ok(Ok(Done::Put(created)))
    }

    fn put_product(
        tx: &crate::store::Tx<'_>,
        view: &View,
        change: &mut Change,
        limits: Limits,
        now: Micros,
        id: &str,
        product: &NewProduct,
    ) -> Result<Result<Done, WriteError>, StoreError> {
        let prev = change.product(view, id);
        // The index is the batch's, filled in once every write in it is known.
        let done = |product: &Product, created| Done::Product {
            id: id.to_owned(),
            product: product.clone(),
            created,
            index: 0,
        };
        if let Some(p) = prev.filter(|p| p.spec.get() == product.spec.get()) {
            // The operator re-applies the same document on every reconcile: no write, no
            // wake-up for watchers.
            return Ok(Ok(done(p, false)));
        }
        let created = prev.is_none();
        if created && Change::count(&view.products, &change.products) >= limits.max_products {
            return Ok(Err(WriteError::Capacity("catalog", limits.max_products)));
        }
        let next = Product {
            spec: product.spec.clone(),
            created: prev.map_or(now, |p| p.created),
            updated: now,
        };
        tx.put_product(&ProductRow {
            id: id.to_owned(),
            spec: next.spec.clone(),
            created: next.created,
            updated: next.updated,
        })?;
        change.products_bumped = true;
        let answer = done(&next, created);
        change.products.insert(id.to_owned(), Some(next));
        Ok(Ok(answer))
    }

    fn sweep(
        tx: &crate::store::Tx<'_>,
        view: &View,
        change: &mut Change,
        policy: &TtlPolicy,
        now: Micros,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = view
            .registrations
            .keys()
            .chain(change.registrations.keys())
            .cloned()
            .collect();
        for id in ids {
            let Some(r) = change.registration(view, &id) else {
                continue;
            };
            match sweep_action(policy, r.updated, r.ttl, r.announced_stale, now) {
                SweepAction::Nothing => {}
                SweepAction::MarkStale => {
                    let mut stale = r.clone();
                    stale.announced_stale = true;
                    change.registrations.insert(id, Some(stale));
                    change.registry_bumped = true;
                }
                SweepAction::Evict => {
                    tx.delete_registration(&id)?;
                    change.registrations.insert(id, None);
                    change.registry_changed = true;
                    change.registry_bumped = true;
                    change.evictions += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::service::parse_registration;

    fn policy() -> TtlPolicy {
        TtlPolicy {
            default: Duration::from_secs(10),
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            grace: Duration::from_secs(20),
        }
    }

    fn start(clock: Arc<ManualClock>, max: usize) -> (Registry, Writer) {
        Registry::start(
            Store::open_in_memory().unwrap(),
            clock,
            policy(),
            Limits {
                max_registrations: max,
                max_products: max,
            },
        )
        .unwrap()
    }

    fn reg(label: &str) -> NewRegistration {
        parse_registration(format!(r#"{{"label":"{label}"}}"#).as_bytes(), &policy()).unwrap()
    }

    fn list(r: &Registry) -> serde_json::Value {
        serde_json::from_slice(&r.list_json().1).unwrap()
    }

    #[tokio::test]
    async fn heartbeats_move_time_but_not_the_index_while_fresh() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let (r, _w) = start(Arc::clone(&clock), 10);
        assert!(r.register("a".into(), reg("x")).await.unwrap());
        let after_create = r.index(Collection::Registry);
        clock.advance(Duration::from_secs(5));
        assert!(!r.register("a".into(), reg("x")).await.unwrap());
        assert_eq!(r.index(Collection::Registry), after_create);
        assert_eq!(list(&r)[0]["lastUpdated"], "1970-01-01T00:00:06.000000Z");
        r.register("a".into(), reg("changed")).await.unwrap();
        assert_eq!(r.index(Collection::Registry), after_create + 1);
    }

    #[tokio::test]
    async fn staleness_and_eviction_follow_the_clock_and_wake_watchers_once() {
        let clock = Arc::new(ManualClock::at(0));
        let (r, _w) = start(Arc::clone(&clock), 10);
        r.register("a".into(), reg("x")).await.unwrap();
        let mut watch = r.subscribe(Collection::Registry);
        watch.borrow_and_update();
        assert_eq!(list(&r)[0]["stale"], false);
        clock.advance(Duration::from_secs(10));
        // The cached list must not outlive the registration's freshness.
        assert_eq!(list(&r)[0]["stale"], true);
        assert!(!watch.has_changed().unwrap());
        r.sweep().await.unwrap();
        assert!(watch.has_changed().unwrap());
        watch.borrow_and_update();
        r.sweep().await.unwrap();
        assert!(!watch.has_changed().unwrap(), "stale is announced once");
        // A heartbeat makes it fresh again, and that is news.
        r.register("a".into(), reg("x")).await.unwrap();
        assert!(watch.has_changed().unwrap());
        watch.borrow_and_update();
        assert_eq!(list(&r)[0]["stale"], false);
        clock.advance(Duration::from_secs(29));
        r.sweep().await.unwrap();
        assert_eq!(list(&r).as_array().unwrap().len(), 1);
        clock.advance(Duration::from_secs(1));
        r.sweep().await.unwrap();
        assert_eq!(list(&r), serde_json::json!([]));
        assert_eq!(r.stats().evictions.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_gzipped_list_is_the_same_list() {
        use std::io::Read as _;
        let clock = Arc::new(ManualClock::at(0));
        let (r, _w) = start(Arc::clone(&clock), 10);
        r.register("a".into(), reg("x")).await.unwrap();
        for _ in 0..2 {
            let (index, gz) = r.list_gzip();
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(gz.as_ref())
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, r.list_json().1.as_ref());
            assert_eq!(index, r.list_json().0);
        }
        r.register("b".into(), reg("y")).await.unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(r.list_gzip().1.as_ref())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(list(&r).as_array().unwrap().len(), 2);
        assert_eq!(
            plain,
            r.list_json().1.as_ref(),
            "a write invalidates the gzipped copy too"
        );
    }

    #[tokio::test]
    async fn capacity_is_enforced_per_write_without_failing_the_batch() {
        let clock = Arc::new(ManualClock::at(0));
        let (r, _w) = start(clock, 2);
        let results =
            futures_util::future::join_all((0..5).map(|i| r.register(format!("id{i}"), reg("x"))))
                .await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 2);
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(WriteError::Capacity(..))))
        );
        // Replacing an existing entry is not growth.
        let existing = list(&r)[0]["id"].as_str().unwrap().to_owned();
        assert!(r.register(existing.clone(), reg("y")).await.is_ok());
        assert!(r.deregister(existing).await.unwrap());
        assert!(r.register("new".into(), reg("x")).await.unwrap());
    }

    #[tokio::test]
    async fn concurrent_writes_in_one_batch_see_each_other() {
        let clock = Arc::new(ManualClock::at(0));
        let (r, _w) = start(clock, 100);
        let (a, b, c) = tokio::join!(
            r.register("a".into(), reg("1")),
            r.deregister("a".into()),
            r.register("a".into(), reg("2")),
        );
        assert!(a.unwrap());
        assert!(b.unwrap());
        assert!(c.unwrap(), "re-created after the delete in the same batch");
        assert_eq!(list(&r)[0]["service"]["label"], "2");
    }

    #[tokio::test]
    async fn identical_product_puts_write_nothing() {
        let clock = Arc::new(ManualClock::at(0));
        let (r, _w) = start(Arc::clone(&clock), 10);
        let doc = br#"{"domain":"d","owner":"o","version":"1.0.0","status":"active"}"#;
        let p = crate::catalog::parse_product("p", doc).unwrap();
        assert!(r.put_product("p".into(), p.clone()).await.unwrap().created);
        let index = r.index(Collection::Products);
        clock.advance(Duration::from_secs(1));
        let again = r.put_product("p".into(), p).await.unwrap();
        assert!(!again.created);
        assert_eq!((again.index, r.index(Collection::Products)), (index, index));
        let one: serde_json::Value = serde_json::from_slice(&r.product_json("p").unwrap()).unwrap();
        assert_eq!(one["lastUpdated"], "1970-01-01T00:00:00.000000Z");
        assert!(r.delete_product("p".into()).await.unwrap());
        assert!(!r.delete_product("p".into()).await.unwrap());
        assert_eq!(r.products_json().1.as_ref(), b"[]");
    }

    #[tokio::test]
    async fn the_writer_stops_when_the_last_handle_is_gone() {
        let clock = Arc::new(ManualClock::at(0));
        let (r, w) = start(clock, 10);
        r.ping().await.unwrap();
        drop(r);
        tokio::task::spawn_blocking(move || w.join()).await.unwrap();
    }
}
