//! The SQLite file: schema migrations, loading everything at start, and the statements the
//! writer runs inside its transactions.
//!
//! Durability: WAL with `synchronous=FULL`, so a transaction is on disk (the WAL fsynced)
//! before `COMMIT` returns, and the server acknowledges a write only after its commit. That
//! survives SIGKILL and power loss. `NORMAL` would survive a killed process but could lose
//! the last commits on power loss; the writer batches many requests into one commit
//! (group commit), which makes the extra fsync cheap enough to keep FULL.
//! The connection holds SQLite's exclusive lock for its lifetime, so a second server on
//! the same data directory fails at start instead of diverging from the first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::value::RawValue;

use crate::clock::Micros;
use registry_api::widget::Element;

/// The database file inside the data directory.
pub const FILE_NAME: &str = "registry.sqlite3";

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: registrations, products, and the change index of each collection.
    "CREATE TABLE registrations (
        id TEXT PRIMARY KEY NOT NULL,
        service TEXT NOT NULL,
        widget TEXT,
        ttl_ms INTEGER NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE products (
        id TEXT PRIMARY KEY NOT NULL,
        spec TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE change_index (
        collection TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO change_index (collection, value) VALUES ('registry', 1), ('products', 1);",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is in use by another registry process (or its lock is held): {source}")]
    Locked {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is not a SQLite database ({detail}); restore it from a backup, or move it away to start with an empty registry"
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "{path} is truncated or damaged ({detail}); restore it from a backup, or move it away to start with an empty registry"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "{path} is empty (0 bytes), which is never a registry database (the registry creates its file complete); restore it from a backup, or delete it to start with an empty registry"
    )]
    Empty { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the database has schema version {found}, newer than this binary's {known}")]
    NewerSchema { found: i64, known: usize },
    #[error("SQLite refused WAL journaling (journal_mode is {0})")]
    NotWal(String),
    #[error("row {id} in {table} is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        reason: String,
    },
    #[error("cannot start the writer thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Which fault an SQLite error at open time is, for the file at `path`.
fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, source }
        }
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path,
            detail: source.to_string(),
        },
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            path,
            detail: source.to_string(),
        },
        _ => StoreError::Open { path, source },
    }
}

impl StoreError {
    /// Names the file in a fault found while opening it.
    fn naming(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sqlite(source) => classify(path, source),
            StoreError::Locked { source, .. } => classify(path, source),
            StoreError::Damaged { detail, .. } => StoreError::Damaged {
                path: path.to_path_buf(),
                detail,
            },
            other => other,
        }
    }

    /// Whether SQLite could not write for lack of space (`SQLITE_FULL`: the disk or the
    /// file system's quota is full).
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// Which change index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Registry,
    Products,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Registry => "registry",
            Collection::Products => "products",
        }
    }
}

/// A registration row.
#[derive(Debug, Clone)]
pub struct RegistrationRow {
    pub id: String,
    pub service: Box<RawValue>,
    pub widget: Option<Element>,
    pub ttl: Duration,
    pub created: Micros,
    pub updated: Micros,
}

/// A product row.
#[derive(Debug, Clone)]
pub struct ProductRow {
    pub id: String,
    pub spec: Box<RawValue>,
    pub created: Micros,
    pub updated: Micros,
}

/// Everything in the file, read once at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub registrations: Vec<RegistrationRow>,
    pub products: Vec<ProductRow>,
    pub registry_index: u64,
    pub products_index: u64,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    ///
    /// A missing file is created complete (schema included) under a temporary name and
    /// renamed into place, so a file of the real name is never one the registry left half
    /// made: an empty one is refused rather than taken for a new database (it would start
    /// the registry empty over a botched restore), and a damaged one is named with its
    /// fault (a quick check runs at every start).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == 0 => return Err(StoreError::Empty { path }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(dir, &path)?,
            Err(source) => return Err(StoreError::Create { path, source }),
        }
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = Self::configure(conn, Some(path.clone())).map_err(|e| e.naming(&path))?;
        store.check().map_err(|e| e.naming(&path))?;
        Ok(store)
    }

    /// Makes a new database at `path`: built under a temporary name, synced, renamed.
    fn create(dir: &Path, path: &Path) -> Result<(), StoreError> {
        let tmp = dir.join(format!("{FILE_NAME}.new"));
        let io = |source| StoreError::Create {
            path: path.to_path_buf(),
            source,
        };
        // A leftover of a start killed before its rename: never the real database.
        for stray in [tmp.clone(), dir.join(format!("{FILE_NAME}.new-journal"))] {
            match std::fs::remove_file(&stray) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        {
            let conn = Connection::open(&tmp).map_err(|source| StoreError::Open {
                path: tmp.clone(),
                source,
            })?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            let mut fresh = Store { conn };
            fresh.migrate()?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }

    /// SQLite's quick check: page structure, so a truncated or damaged file fails at
    /// start, naming the fault, instead of at the first read of a missing page.
    fn check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(1)")?;
        let verdict: String = stmt.query_row([], |r| r.get(0))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::Damaged {
                path: PathBuf::new(),
                detail: verdict,
            })
        }
    }

    /// An in-memory database with the same schema, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::configure(Connection::open_in_memory()?, None)
    }

    fn configure(conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        // A short busy timeout: the only other holder of the lock can be another process,
        // and waiting for it does not help.
        conn.busy_timeout(Duration::from_millis(500))?;
        // Exclusive locking before the first WAL access also keeps the WAL index in heap
        // memory instead of a shared-memory file.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        if let Some(path) = &path {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(|source| StoreError::Locked {
                    path: path.clone(),
                    source,
                })?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NotWal(mode));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Reads are served from memory; the page cache only helps the writer.
        conn.pragma_update(None, "cache_size", -1024)?;
        let mut store = Store { conn };
        if let Some(path) = path {
            // Take the write lock now, so a second server fails at start, not on its
            // first write.
            store
                .conn
                .execute_batch("BEGIN EXCLUSIVE; COMMIT;")
                .map_err(|source| StoreError::Locked { path, source })?;
        }
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > MIGRATIONS.len() as i64 {
            return Err(StoreError::NewerSchema {
                found,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Reads every row and both change indexes.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot::default();
        let mut stmt = self.conn.prepare(
            "SELECT id, service, widget, ttl_ms, created_us, updated_us FROM registrations ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let corrupt = |reason: String| StoreError::Corrupt {
                table: "registrations",
                id: id.clone(),
                reason,
            };
            let service = RawValue::from_string(row.get(1)?).map_err(|e| corrupt(e.to_string()))?;
            let widget = row
                .get::<_, Option<String>>(2)?
                .map(|w| serde_json::from_str::<Element>(&w))
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?;
            let ttl_ms: i64 = row.get(3)?;
            let ttl = u64::try_from(ttl_ms)
                .map(Duration::from_millis)
                .map_err(|_| corrupt("negative TTL".into()))?;
            snap.registrations.push(RegistrationRow {
                service,
                widget,
                ttl,
                created: row.get(4)?,
                updated: row.get(5)?,
                id,
            });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, spec, created_us, updated_us FROM products ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let spec = RawValue::from_string(row.get(1)?).map_err(|e| StoreError::Corrupt {
                table: "products",
                id: id.clone(),
                reason: e.to_string(),
            })?;
            snap.products.push(ProductRow {
                id,
                spec,
                created: row.get(2)?,
                updated: row.get(3)?,
            });
        }
        snap.registry_index = self.index(Collection::Registry)?;
        snap.products_index = self.index(Collection::Products)?;
        Ok(snap)
    }

    fn index(&self, c: Collection) -> Result<u64, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT value FROM change_index WHERE collection = ?1",
                [c.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.map_or(1, |v| u64::try_from(v).unwrap_or(1)).max(1))
    }

    /// Proves the file is readable (for `/ready`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM change_index", [], |_| Ok(()))?;
        Ok(())
    }

    /// Proves the file has room for a write of the largest request: adds and removes a
    /// row of that size in one transaction (the id has a space, which no real id has).
    /// A smaller probe is not proof: a write that failed for lack of space leaves its
    /// partly written WAL pages allocated, and a one-page probe fits in those.
    pub fn probe_write(&mut self, bytes: usize) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO products (id, spec, created_us, updated_us) VALUES (' probe', zeroblob(?1), 0, 0)",
            [i64::try_from(bytes).unwrap_or(i64::MAX)],
        )?;
        tx.execute("DELETE FROM products WHERE id = ' probe'", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Starts a write transaction.
    pub fn begin(&mut self) -> Result<Tx<'_>, StoreError> {
        Ok(Tx(self.conn.transaction()?))
    }
}

/// One write transaction; nothing is visible or durable until [`Tx::commit`].
pub struct Tx<'a>(rusqlite::Transaction<'a>);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Tx<'_> {
    pub fn put_registration(&self, row: &RegistrationRow) -> Result<(), StoreError> {
        let widget = row
            .widget
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                table: "registrations",
                id: row.id.clone(),
                reason: e.to_string(),
            })?;
        self.0
            .prepare_cached(
                "INSERT INTO registrations (id, service, widget, ttl_ms, created_us, updated_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET service = excluded.service,
                     widget = excluded.widget, ttl_ms = excluded.ttl_ms,
                     updated_us = excluded.updated_us",
            )?
            .execute(params![
                row.id,
                row.service.get(),
                widget,
                ms(row.ttl),
                row.created,
                row.updated
            ])?;
        Ok(())
    }

    /// A heartbeat that changes nothing but the time.
    pub fn touch_registration(&self, id: &str, updated: Micros) -> Result<(), StoreError> {
        self.0
            .prepare_cached("UPDATE registrations SET updated_us = ?2 WHERE id = ?1")?
            .execute(params![id, updated])?;
        Ok(())
    }

    pub fn delete_registration(&self, id: &str) -> Result<(), StoreError> {
        self.0
            .prepare_cached("DELETE FROM registrations WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    pub fn put_product(&self, row: &ProductRow) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO products (id, spec, created_us, updated_us) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_us = excluded.updated_us",
            )?
            .execute(params![row.id, row.spec.get(), row.created, row.updated])?;
        Ok(())
    }

    pub fn delete_product(&self, id: &str) -> Result<(), StoreError> {
        self.0
            .prepare_cached("DELETE FROM products WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    pub fn set_index(&self, c: Collection, value: u64) -> Result<(), StoreError> {
        self.0
            .prepare_cached("UPDATE change_index SET value = ?2 WHERE collection = ?1")?
            .execute(params![
                c.as_str(),
                i64::try_from(value).unwrap_or(i64::MAX)
            ])?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, label: &str, updated: Micros) -> RegistrationRow {
        RegistrationRow {
            id: id.into(),
            service: RawValue::from_string(format!(r#"{{"label":"{label}"}}"#)).unwrap(),
            widget: Some(Element {
                tag: "w-x".into(),
                attributes: registry_api::widget::Attributes::from_pairs(&[("a", "1")]),
            }),
            ttl: Duration::from_millis(1500),
            created: 1,
            updated,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("registry-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn committed_rows_and_indexes_come_back_after_reopening() {
        let dir = temp_dir("reopen");
        {
            let mut store = Store::open(&dir).unwrap();
            let tx = store.begin().unwrap();
            tx.put_registration(&row("a", "one", 10)).unwrap();
            tx.put_registration(&row("b", "two", 10)).unwrap();
            tx.set_index(Collection::Registry, 7).unwrap();
            tx.put_product(&ProductRow {
                id: "p".into(),
                spec: RawValue::from_string("{}".into()).unwrap(),
                created: 3,
                updated: 4,
            })
            .unwrap();
            tx.commit().unwrap();
            let tx = store.begin().unwrap();
            tx.touch_registration("a", 99).unwrap();
            tx.put_registration(&row("b", "changed", 50)).unwrap();
            tx.commit().unwrap();
            // Not committed: must not survive.
            let tx = store.begin().unwrap();
            tx.delete_registration("a").unwrap();
            drop(tx);
        }
        let store = Store::open(&dir).unwrap();
        let snap = store.load().unwrap();
        assert_eq!(snap.registrations.len(), 2);
        assert_eq!(snap.registrations[0].updated, 99);
        assert_eq!(snap.registrations[0].ttl, Duration::from_millis(1500));
        assert_eq!(
            snap.registrations[1].service.get(),
            r#"{"label":"changed"}"#
        );
        assert_eq!(
            snap.registrations[1].created, 1,
            "an update keeps the creation time"
        );
        assert_eq!(snap.registrations[0].widget, row("a", "", 0).widget);
        assert_eq!(snap.registry_index, 7);
        assert_eq!(snap.products_index, 1);
        assert_eq!(snap.products[0].updated, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_process_cannot_open_the_same_directory() {
        let dir = temp_dir("locked");
        let _first = Store::open(&dir).unwrap();
        assert!(matches!(Store::open(&dir), Err(StoreError::Locked { .. })));
        drop(_first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_is_in_wal_mode_with_full_sync() {
        let dir = temp_dir("pragmas");
        let store = Store::open(&dir).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = temp_dir("newer");
        {
            let store = Store::open(&dir).unwrap();
            store.conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(
            Store::open(&dir),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_named_with_their_fault() {
        let dir = temp_dir("faults");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, "not a database at all\n".repeat(500)).unwrap();
        let e = Store::open(&dir).err().expect("garbage is refused");
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "{} is not a SQLite database (file is not a database)",
                path.display()
            )),
            "{text}"
        );

        std::fs::write(&path, "").unwrap();
        let e = Store::open(&dir).err().expect("an empty file is refused");
        assert!(matches!(e, StoreError::Empty { .. }), "{e}");
        assert!(e.to_string().contains("is empty (0 bytes)"), "{e}");

        std::fs::remove_file(&path).unwrap();
        {
            let mut store = Store::open(&dir).unwrap();
            let tx = store.begin().unwrap();
            for i in 0..300 {
                tx.put_registration(&row(&format!("w{i:03}"), &"x".repeat(500), 1))
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 100_000, "{len}");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let e = Store::open(&dir)
            .err()
            .expect("a truncated file is refused");
        assert!(matches!(e, StoreError::Damaged { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("{} is truncated or damaged (", path.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_database_appears_complete_and_a_stray_one_is_removed() {
        let dir = temp_dir("create");
        std::fs::create_dir_all(&dir).unwrap();
        // What a start killed before its rename leaves.
        std::fs::write(dir.join(format!("{FILE_NAME}.new")), "half").unwrap();
        Store::open(&dir).unwrap();
        assert!(!dir.join(format!("{FILE_NAME}.new")).exists());
        assert!(std::fs::metadata(dir.join(FILE_NAME)).unwrap().len() > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn in_memory_stores_have_the_schema() {
        let store = Store::open_in_memory().unwrap();
        store.ping().unwrap();
        let snap = store.load().unwrap();
        assert_eq!((snap.registry_index, snap.products_index), (1, 1));
    }
}
