//! All SQL lives here: one function per query, named by intent, each written once and
//! run on both backends.
//!
//! [`Db`] holds a concrete pool per backend; the [`on_db!`] and [`on_tx!`] macros expand a
//! query body once per backend, so the SQL text and the binds are written once. Parameters
//! are written `$1, $2…`, which SQLite and PostgreSQL both accept.

pub mod access;
pub mod audit;
pub mod callbacks;
pub mod calls;
pub mod catalog;
pub mod holds;
pub mod instances;
pub mod jobs;
pub mod members;
pub mod orders;
pub mod pos;
pub mod retention;
pub mod schedules;
pub mod stock;
pub mod supplier_orders;
pub mod sync_runs;
pub mod systems;
pub mod webhooks;
pub mod webhooks_in;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// Expands `$body` once per backend with `$pool` bound to the concrete pool
/// (`&SqlitePool` or `&PgPool`).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Expands `$body` once per backend with `$conn` bound to the transaction's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`); reborrow it as `&mut *$conn`.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

pub(crate) use {on_db, on_tx};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is neither `sqlite:` nor `postgres:`/`postgresql:`. Maps to a
    /// configuration error at start.
    #[error("unsupported database URL scheme (use sqlite://… or postgres://…)")]
    UnsupportedUrl,
    /// A unique constraint was violated (maps to HTTP 409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Applying the migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error (maps to HTTP 500, logged with its cause).
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        StoreError::Database(e)
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A connection pool on one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    /// Embedded SQLite (the default, `sqlite://supplyhub.db`).
    Sqlite(SqlitePool),
    /// PostgreSQL, shared by several instances.
    Postgres(PgPool),
}

/// A write transaction. On SQLite it was opened with `BEGIN IMMEDIATE`, so a transaction
/// that reads before it writes cannot fail to upgrade its lock.
pub enum Tx {
    /// SQLite transaction (derefs to the connection).
    Sqlite(SqliteTx),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.tx.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// A SQLite write transaction and its turn at the file's writer gate.
///
/// SQLite has one writer at a time. Transactions that start together on several
/// connections would otherwise meet at `BEGIN IMMEDIATE`, and each but one would sleep
/// in SQLite's busy handler (1, 2, 5, 10… ms at a time). Instead the write transactions
/// of this process take turns, in order, at an async gate per database file; other
/// processes on the same file are still met by the busy timeout. A transaction waits at
/// the gate at most [`SQLITE_BUSY_TIMEOUT`], then goes on without it (SQLite's own
/// waiting then applies), so a transaction opened while the same task holds another
/// fails as it did before rather than waiting for ever.
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for SqliteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// How long SQLite waits for a lock another connection holds, and a transaction for its
/// turn at the writer gate.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer gate of the SQLite database of `pool` (one per file in this process).
fn writer_gate(pool: &SqlitePool) -> std::sync::Arc<tokio::sync::Semaphore> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    static GATES: OnceLock<Mutex<HashMap<std::path::PathBuf, Weak<tokio::sync::Semaphore>>>> =
        OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut gates = GATES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(gate) = gates.get(&file).and_then(Weak::upgrade) {
        return gate;
    }
    gates.retain(|_, g| g.strong_count() > 0);
    let gate = Arc::new(tokio::sync::Semaphore::new(1));
    gates.insert(file, Arc::downgrade(&gate));
    gate
}

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Db {
    /// Connects to `url` (`sqlite://path[?mode=…]`, `sqlite::memory:`, or
    /// `postgres://…`). A SQLite file is created if missing and opened in WAL mode with
    /// foreign keys on and a 5 s busy timeout.
    pub async fn connect(url: &str) -> StoreResult<Db> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            // An in-process connection does not go stale, so a connection is not
            // pinged each time it is taken from the pool (a round trip to its thread).
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this backend (`migrations/sqlite` or `migrations/postgres`).
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Migrations this binary carries that the database has not applied (0 when the
    /// schema is current).
    ///
    /// # Errors
    /// A store error when the database does not answer or has no migration table.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        let (embedded, applied): (Vec<i64>, Vec<i64>) = match self {
            Db::Sqlite(p) => (
                sqlx::migrate!("./migrations/sqlite")
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await?,
            ),
            Db::Postgres(p) => (
                sqlx::migrate!("./migrations/postgres")
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await?,
            ),
        };
        Ok(embedded.iter().filter(|v| !applied.contains(v)).count())
    }

    /// Opens a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(p) => {
                let turn =
                    tokio::time::timeout(SQLITE_BUSY_TIMEOUT, writer_gate(p).acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok);
                Tx::Sqlite(SqliteTx {
                    tx: p.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: turn,
                })
            }
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        on_db!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

/// A new text id: `prefix` + `_` + a UUID v7 in simple form (time-ordered, so ids sort
/// by creation).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
