//! Encrypted storage: SQLCipher file, keyed r2d2 pool, migrations, and the per-table queries.
//!
//! All queries run on the blocking thread pool through [`Db::run`], which also records
//! `db_operation_duration_seconds{operation,table}` and `db_errors_total{error_type}`.

pub mod key;
pub mod listings;
pub mod migrations;
pub mod orders;
pub mod pool;
pub mod sessions;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};

use self::key::DbKey;
use self::pool::KeyedConnectionManager;
use crate::metrics as m;

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<KeyedConnectionManager>;

/// Handle on the encrypted database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: r2d2::Pool<KeyedConnectionManager>,
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
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        Ok(Self { pool })
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
        let pool = self.pool.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
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
        Ok(self.pool.get()?)
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

/// Converts stored Unix seconds to a timestamp (out-of-range values clamp to the epoch).
pub(crate) fn from_unix(secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
