//! r2d2 connection manager for keyed SQLCipher connections (r2d2_sqlite lags rusqlite 0.41).

use std::path::PathBuf;
use std::time::Duration;

use mmkt_sqlcipher::{Access, OpenError, OpenOptions};
use rusqlite::Connection;

use super::key::DbKey;

/// How the server opens its database: created when missing, 5 s busy timeout.
const SERVER_OPEN: OpenOptions = OpenOptions {
    access: Access::Create,
    busy_timeout: Duration::from_secs(5),
    page_size: None,
};

/// Opens SQLCipher connections on one file with one raw key.
///
/// Every connection runs the shared pragmas of [`mmkt_sqlcipher::open`] (raw key first,
/// `cipher_log_level = NONE`, a read of `sqlite_master` that fails with `SQLITE_NOTADB` when the
/// key is wrong, `busy_timeout` 5 s, `synchronous = FULL`: every commit is fsynced to the WAL
/// before it returns, so an order or an escrow step that the API acknowledged survives a power
/// loss, not only a process crash; writes are rare, reads are unaffected), then the server's own
/// `foreign_keys = ON`.
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
    let conn = mmkt_sqlcipher::open(path, key, &SERVER_OPEN).map_err(OpenError::into_sqlite)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
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
