//! Encrypted storage: SQLCipher file, keyed r2d2 pool, migrations, and the per-table queries.
//!
//! All queries run on the blocking thread pool through [`Db::run`], which also records
//! `db_operation_duration_seconds{operation,table}` and `db_errors_total{error_type}`.

pub mod addresses;
pub mod escrows;
pub mod key;
pub mod lease;
pub mod listings;
pub mod migrations;
pub mod orders;
pub mod pool;
pub mod sessions;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlResult, ValueRef};
use rusqlite::{Connection, ErrorCode, Row};

use self::key::DbKey;
use self::pool::KeyedConnectionManager;
use crate::metrics as m;

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<KeyedConnectionManager>;

/// Handle on the encrypted database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<DbInner>,
}

/// The pool and the thread that opens its connections. Fields drop in declaration order: the
/// pool first, then [`QuiesceWorkers`] waits for that thread to finish its current job.
#[derive(Debug)]
struct DbInner {
    pool: r2d2::Pool<KeyedConnectionManager>,
    _workers: QuiesceWorkers,
}

/// r2d2 opens connections on its worker threads, and a worker briefly holds the pool after
/// handing a new connection over. When the last `Db` is dropped in that moment, the worker
/// closes every connection itself, possibly while the process is already running its exit
/// handlers, and SQLCipher's own exit handler then frees memory those closes still use
/// (a SIGSEGV at exit). Dropping the last `Db` therefore waits until the worker has finished
/// its current job, so connections are closed before `Db`'s drop returns.
struct QuiesceWorkers(Arc<scheduled_thread_pool::ScheduledThreadPool>);

impl std::fmt::Debug for QuiesceWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuiesceWorkers")
    }
}

impl Drop for QuiesceWorkers {
    fn drop(&mut self) {
        let (done, finished) = std::sync::mpsc::channel();
        self.0.execute(move || {
            let _ = done.send(());
        });
        // Jobs run in order on the one worker; a closed channel means the pool is gone anyway.
        let _ = finished.recv_timeout(Duration::from_secs(30));
    }
}

/// Storage failures. Messages name the file and what to do; never the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The key does not decrypt the file (or the file is not a SQLCipher database).
    #[error(
        "database {path} cannot be decrypted with the key from MMKT_DB_KEY_FILE (wrong key, or not a SQLCipher 4 file)"
    )]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },
    /// The file could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Creating the database directory or file failed.
    #[error("cannot create database {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's schema is newer than this binary.
    #[error(
        "database schema version {found} is newer than this binary supports ({supported}); run a newer mmkt-server"
    )]
    NewerSchema {
        /// `PRAGMA user_version` found.
        found: u32,
        /// [`migrations::SCHEMA_VERSION`].
        supported: u32,
    },
    /// A migration script failed and was rolled back.
    #[error("migration to schema version {version} failed (rolled back): {source}")]
    Migration {
        /// Target version.
        version: u32,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// No pooled connection became free in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error("database query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the query panicked or was cancelled.
    #[error("database task did not complete: {0}")]
    Task(String),
}

impl DbError {
    /// The `error_type` label of `db_errors_total`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::WrongKey { .. } => "wrong_key",
            Self::Open { .. } | Self::Io { .. } => "open",
            Self::NewerSchema { .. } | Self::Migration { .. } => "migration",
            Self::Pool(_) => "pool_timeout",
            Self::Task(_) => "task",
            Self::Sqlite(e) => match e.sqlite_error_code() {
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => "busy",
                Some(ErrorCode::ConstraintViolation) => "constraint",
                Some(ErrorCode::NotADatabase) => "not_a_database",
                Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
                    "io"
                }
                _ => "query",
            },
        }
    }
}

impl Db {
    /// Opens (or creates) the database at `path` with `key`, switches it to WAL, applies migrations and
    /// builds a pool of `pool_size` connections.
    ///
    /// # Errors
    /// [`DbError::WrongKey`], [`DbError::Open`], [`DbError::NewerSchema`], [`DbError::Migration`],
    /// [`DbError::Pool`].
    pub fn open(path: &Path, key: &DbKey, pool_size: u32) -> Result<Self, DbError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| DbError::Io {
                path: path.to_owned(),
                source,
            })?;
        }
        create_private_file(path).map_err(|source| DbError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut first =
            pool::open_keyed(path, key).map_err(|source| match source.sqlite_error_code() {
                Some(ErrorCode::NotADatabase) => DbError::WrongKey {
                    path: path.to_owned(),
                },
                _ => DbError::Open {
                    path: path.to_owned(),
                    source,
                },
            })?;
        let mode: String = first.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode stayed {mode}, WAL required"
                )),
            });
        }
        let outcome = migrations::migrate(&mut first)?;
        if outcome.from != outcome.to {
            tracing::info!(
                from = outcome.from,
                to = outcome.to,
                "database schema migrated"
            );
        }
        drop(first);
        let manager = KeyedConnectionManager::new(path.to_owned(), key.clone());
        let workers = Arc::new(
            scheduled_thread_pool::ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("mmkt-db-open")
                .build(),
        );
        let pool = r2d2::Pool::builder()
            .thread_pool(Arc::clone(&workers))
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        Ok(Self {
            inner: Arc::new(DbInner {
                pool,
                _workers: QuiesceWorkers(workers),
            }),
        })
    }

    /// Runs `f` on a pooled connection on the blocking thread pool and records its duration as
    /// `db_operation_duration_seconds{operation,table}` (failures also bump `db_errors_total{error_type}`).
    ///
    /// # Errors
    /// [`DbError::Pool`] when no connection is free within 10 s, [`DbError::Sqlite`] from `f`,
    /// [`DbError::Task`] if the blocking task panicked.
    pub async fn run<T, F>(
        &self,
        operation: &'static str,
        table: &'static str,
        f: F,
    ) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        // The closure holds `DbInner`, not a bare pool clone, so whichever thread drops the last
        // handle also waits for the connection worker (see `QuiesceWorkers`).
        let inner = Arc::clone(&self.inner);
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = inner.pool.get()?;
            f(&mut conn).map_err(DbError::Sqlite)
        })
        .await
        .unwrap_or_else(|e| Err(DbError::Task(e.to_string())));
        m::record_db_operation(operation, table, started.elapsed());
        if let Err(e) = &result {
            m::record_db_error(e.error_type());
        }
        result
    }

    /// A pooled connection for synchronous callers (CLI subcommands, tests).
    ///
    /// # Errors
    /// [`DbError::Pool`].
    pub fn connection(&self) -> Result<PooledConnection, DbError> {
        Ok(self.inner.pool.get()?)
    }
}

/// Creates an empty database file with mode 0600 if none exists (SQLite gives the -wal and -shm files
/// the same mode). An existing file is left as it is.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Current time as Unix seconds.
pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A stored time (Unix seconds in SQL) as the API shows it: RFC 3339 in UTC, e.g.
/// `2025-11-21T10:00:00Z`. Out-of-range stored values read as the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiTime(pub time::OffsetDateTime);

impl ApiTime {
    /// The time `secs` Unix seconds (out-of-range values clamp to the epoch).
    pub fn from_unix(secs: i64) -> Self {
        ApiTime(
            time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        )
    }
}

impl serde::Serialize for ApiTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

impl FromSql for ApiTime {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_i64().map(ApiTime::from_unix)
    }
}

/// Reads a row's columns left to right, in the order of the SELECT list, so that a struct
/// literal lists its fields in that order without counting column indexes (Rust evaluates
/// struct fields in the order they are written).
pub(crate) struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl<'a, 'r> Columns<'a, 'r> {
    /// Starts at column `start`.
    pub(crate) fn from(row: &'a Row<'r>, start: usize) -> Self {
        Columns { row, next: start }
    }

    /// The next column.
    pub(crate) fn read<T: FromSql>(&mut self) -> rusqlite::Result<T> {
        let value = self.row.get(self.next)?;
        self.next += 1;
        Ok(value)
    }

    /// The next column, a label (role, order status) parsed by its `FromStr`.
    pub(crate) fn label<T>(&mut self) -> rusqlite::Result<T>
    where
        T: FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        let value = label(self.row, self.next)?;
        self.next += 1;
        Ok(value)
    }
}

/// Converts a u64 (atomic units, counts, seconds) to SQLite's i64.
///
/// # Errors
/// [`rusqlite::Error::ToSqlConversionFailure`] above `i64::MAX`.
pub(crate) fn sql_u64(v: u64) -> rusqlite::Result<i64> {
    i64::try_from(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Reads text column `index` as a label type (role, actor, order status) through its `FromStr`.
///
/// # Errors
/// [`rusqlite::Error::FromSqlConversionFailure`] for a label the type does not know.
fn label<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// One page of rows; `has_more` says whether a next page exists.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Rows of this page.
    pub items: Vec<T>,
    /// Whether at least one more row follows.
    pub has_more: bool,
}

/// Collects a page from rows queried with `LIMIT limit + 1` (the extra row only says more follow).
///
/// # Errors
/// The first row error.
pub(crate) fn page<T>(
    rows: impl Iterator<Item = rusqlite::Result<T>>,
    limit: u32,
) -> rusqlite::Result<Page<T>> {
    let mut items = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok(Page { items, has_more })
}
