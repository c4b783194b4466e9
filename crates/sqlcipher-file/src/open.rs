//! Opening a SQLCipher file with its raw key and the pragmas every mmkt connection runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::key::DbKey;

/// How [`open`] opens the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Existing file, no writes (backup, verify). WAL readers still use the `-shm` file.
    ReadOnly,
    /// Existing file, read and write.
    ReadWrite,
    /// Read and write, creating the file when it does not exist.
    Create,
}

/// What [`open`] configures on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Read-only, read-write or create.
    pub access: Access,
    /// How long a statement waits for another connection's lock (`busy_timeout`).
    pub busy_timeout: Duration,
    /// `cipher_page_size` in bytes, for a new file that must match a page stream; `None`
    /// keeps SQLCipher 4's default of 4096.
    pub page_size: Option<u32>,
}

/// Why [`open`] failed. Messages name the file, never the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// [`Access::ReadOnly`] or [`Access::ReadWrite`] on a file that does not exist.
    #[error("database {path} does not exist")]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The key does not decrypt the file, or the file is not a SQLCipher database
    /// (`SQLITE_NOTADB` on the first read of `sqlite_master`).
    #[error("cannot read {path} with the given key: {source}")]
    WrongKey {
        /// The database file.
        path: PathBuf,
        /// SQLite's error ("file is not a database").
        #[source]
        source: rusqlite::Error,
    },
    /// Opening the file or one of the pragmas failed.
    #[error("cannot {step} {path}: {source}")]
    Sqlite {
        /// `open`, `set the key on` or `configure`.
        step: &'static str,
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

impl OpenError {
    /// The SQLite error behind this failure, for callers that classify by
    /// [`rusqlite::Error::sqlite_error_code`] (`NotADatabase` for a wrong key, `CannotOpen`
    /// for a missing file).
    pub fn into_sqlite(self) -> rusqlite::Error {
        match self {
            OpenError::Missing { path } => rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("database {} does not exist", path.display())),
            ),
            OpenError::WrongKey { source, .. } | OpenError::Sqlite { source, .. } => source,
        }
    }
}

/// Opens `path` and keys the connection. In order: `PRAGMA key = "x'..'"` (first statement,
/// raw key, no KDF), `PRAGMA cipher_log_level = NONE`, `PRAGMA cipher_page_size` when
/// [`OpenOptions::page_size`] is set, `SELECT count(*) FROM sqlite_master` (proves the key),
/// `busy_timeout`, and `PRAGMA synchronous = FULL` (a commit is fsynced before it returns).
///
/// # Errors
/// [`OpenError::Missing`] (read-only/read-write on a missing file), [`OpenError::WrongKey`],
/// [`OpenError::Sqlite`].
pub fn open(path: &Path, key: &DbKey, options: &OpenOptions) -> Result<Connection, OpenError> {
    let access = match options.access {
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    };
    if options.access != Access::Create && !path.exists() {
        return Err(OpenError::Missing {
            path: path.to_owned(),
        });
    }
    let failed = |step: &'static str| {
        move |source| OpenError::Sqlite {
            step,
            path: path.to_owned(),
            source,
        }
    };
    let conn = Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(failed("open"))?;
    conn.execute_batch(&key.pragma_statement())
        .map_err(failed("set the key on"))?;
    let mut pragmas = String::from("PRAGMA cipher_log_level = NONE;");
    if let Some(size) = options.page_size {
        pragmas.push_str(&format!(" PRAGMA cipher_page_size = {size};"));
    }
    conn.execute_batch(&pragmas).map_err(failed("configure"))?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|source| OpenError::WrongKey {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(failed("configure"))?;
    conn.execute_batch("PRAGMA synchronous = FULL;")
        .map_err(failed("configure"))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(access: Access) -> OpenOptions {
        OpenOptions {
            access,
            busy_timeout: Duration::from_secs(1),
            page_size: None,
        }
    }

    #[test]
    fn a_file_opens_with_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key = DbKey::generate();
        assert!(matches!(
            open(&path, &key, &options(Access::ReadOnly)),
            Err(OpenError::Missing { .. })
        ));
        let conn = open(&path, &key, &options(Access::Create)).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous = FULL");
        drop(conn);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.starts_with(b"SQLite format 3"), "encrypted header");
        open(&path, &key, &options(Access::ReadOnly)).unwrap();
        let wrong = open(&path, &DbKey::generate(), &options(Access::ReadWrite)).unwrap_err();
        assert!(matches!(wrong, OpenError::WrongKey { .. }), "{wrong}");
        assert!(!wrong.to_string().contains(&key.to_hex()));
        assert_eq!(
            wrong.into_sqlite().sqlite_error_code(),
            Some(rusqlite::ErrorCode::NotADatabase)
        );
    }
}
