//! r2d2 connection manager for keyed SQLCipher connections (r2d2_sqlite lags rusqlite 0.41).

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::key::DbKey;

/// Opens SQLCipher connections on one file with one raw key.
///
/// Every connection runs, in order: `PRAGMA key = "x'..'"` (first statement, raw key),
/// `PRAGMA cipher_log_level = NONE`, a read of `sqlite_master` (fails with `SQLITE_NOTADB`
/// when the key is wrong), `busy_timeout` 5 s, `foreign_keys = ON`, `synchronous = FULL`
/// (every commit is fsynced to the WAL before it returns: an order or an escrow step that the API
/// acknowledged survives a power loss, not only a process crash; writes are rare, reads are unaffected).
#[derive(Debug)]
pub struct KeyedConnectionManager {
    path: PathBuf,
    key: DbKey,
}

impl KeyedConnectionManager {
    /// A manager for `path` keyed with `key`. Nothing is opened until [`r2d2::ManageConnection::connect`].
    pub fn new(path: PathBuf, key: DbKey) -> Self {
        Self { path, key }
    }
}

/// Opens and keys one connection (see [`KeyedConnectionManager`]).
///
/// # Errors
/// The SQLite error; `ErrorCode::NotADatabase` means a wrong key or a file that is not SQLCipher.
pub fn open_keyed(path: &std::path::Path, key: &DbKey) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(&key.pragma_statement())?;
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

impl r2d2::ManageConnection for KeyedConnectionManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        open_keyed(&self.path, &self.key)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("SELECT 1;")
    }

    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}
