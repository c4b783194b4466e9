//! Page-level access to the SQLCipher file without the server: keyed open (the shared
//! contract of `mmkt_sqlcipher`), consistent snapshot read through the `sqlite_dbpage` virtual
//! table, page-level rebuild into a new keyed file, and integrity checks.
//!
//! Source: <https://sqlite.org/dbpage.html> (needs `SQLITE_ENABLE_DBPAGE_VTAB`, set in
//! `.cargo/config.toml`), SQLCipher's `PRAGMA cipher_integrity_check`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use mmkt_sqlcipher::{Access, DbKey, OpenOptions};
use rusqlite::Connection;

use super::error::BackupError;

/// `PENDING_BYTE` of SQLite: the page holding file offset 2^30 is never used by SQLite
/// (`sqlite_dbpage` returns zeros for it and it must not be written back).
pub(crate) const PENDING_BYTE: u64 = 0x4000_0000;

/// How long a backup connection waits for the server's write lock (`busy_timeout`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `path` with the raw key and the shared pragmas (`mmkt_sqlcipher::open`), waiting up
/// to 30 s for locks, and checks the key by reading `sqlite_master`.
///
/// # Errors
/// [`BackupError::Io`] when the file does not exist (read-only/read-write),
/// [`BackupError::WrongDbKey`] when the key does not decrypt it, [`BackupError::Sqlite`].
pub fn open_keyed(path: &Path, key: &DbKey, access: Access) -> Result<Connection, BackupError> {
    let options = OpenOptions {
        access,
        busy_timeout: BUSY_TIMEOUT,
        page_size: None,
    };
    Ok(mmkt_sqlcipher::open(path, key, &options)?)
}

/// What a page-level snapshot contained, all read inside the same read transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotInfo {
    /// `PRAGMA user_version`: the server's schema (migration) version.
    pub schema_version: i64,
    /// Page size in bytes (`PRAGMA page_size`, 4096 by SQLCipher 4 default).
    pub page_size: u32,
    /// Number of pages streamed (`PRAGMA page_count`).
    pub page_count: u64,
    /// Result of `PRAGMA integrity_check` on the snapshot: "ok" or the first problems.
    pub integrity_check: String,
    /// Row count of every user table in the snapshot.
    pub row_counts: BTreeMap<String, u64>,
}

/// Where the `integrity_check` recorded with a snapshot is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityCheck {
    /// Inside the snapshot's read transaction, before the pages are streamed.
    InSnapshot,
    /// By the caller (e.g. concurrently on a second connection); the field is left empty.
    ByCaller,
}

/// Streams the decrypted pages of a consistent snapshot of `conn`'s database into `out`,
/// in page order (the concatenation is a plain SQLite database file), calling `progress`
/// with the bytes written so far. Memory use is one page plus SQLite's page cache.
///
/// Holds one read transaction for the whole read, so writers of a WAL database keep going
/// and the snapshot is consistent.
///
/// # Errors
/// [`BackupError::Sqlite`] on read errors (including a build without `SQLITE_ENABLE_DBPAGE_VTAB`),
/// [`BackupError::Io`] when `out` fails, [`BackupError::Mismatch`] if pages come out of order.
pub fn stream_snapshot(
    conn: &Connection,
    out: &mut dyn Write,
    integrity: IntegrityCheck,
    progress: &dyn Fn(u64),
) -> Result<SnapshotInfo, BackupError> {
    conn.execute_batch("BEGIN DEFERRED")
        .map_err(BackupError::sqlite("begin read transaction"))?;
    let result = stream_in_transaction(conn, out, (integrity, RowCounts::Count), progress);
    // A read transaction has nothing to commit; ending it releases the WAL snapshot.
    let _ = conn.execute_batch("COMMIT");
    result
}

/// Whether [`stream_in_transaction`] counts every table's rows (`count(*)`) before streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowCounts {
    /// Counted: [`SnapshotInfo::row_counts`] is filled.
    Count,
    /// Left to the caller (still inside the transaction): the map is left empty.
    ByCaller,
}

/// [`stream_snapshot`] inside the caller's read transaction.
pub(crate) fn stream_in_transaction(
    conn: &Connection,
    out: &mut dyn Write,
    (integrity, rows): (IntegrityCheck, RowCounts),
    progress: &dyn Fn(u64),
) -> Result<SnapshotInfo, BackupError> {
    // The first read pins the WAL snapshot; everything below sees the same state.
    let schema_version = pragma_int(conn, "user_version")?;
    let page_size = u32::try_from(pragma_int(conn, "page_size")?).unwrap_or(0);
    let page_count = u64::try_from(pragma_int(conn, "page_count")?).unwrap_or(0);
    let integrity_check = match integrity {
        IntegrityCheck::InSnapshot => integrity_report(conn, "integrity_check")?,
        IntegrityCheck::ByCaller => String::new(),
    };
    let row_counts = match rows {
        RowCounts::Count => row_counts(conn)?,
        RowCounts::ByCaller => BTreeMap::new(),
    };

    let mut stmt = conn
        .prepare("SELECT pgno, data FROM sqlite_dbpage ORDER BY pgno")
        .map_err(BackupError::sqlite(
            "query sqlite_dbpage (is mmctl built with SQLITE_ENABLE_DBPAGE_VTAB?)",
        ))?;
    let mut rows = stmt
        .query([])
        .map_err(BackupError::sqlite("read sqlite_dbpage"))?;
    let mut expected: u64 = 1;
    let mut written: u64 = 0;
    while let Some(row) = rows
        .next()
        .map_err(BackupError::sqlite("read sqlite_dbpage"))?
    {
        let pgno: u64 = row
            .get::<_, i64>(0)
            .map(|n| n as u64)
            .map_err(BackupError::sqlite("read page number"))?;
        if pgno != expected {
            return Err(BackupError::Mismatch {
                id: "snapshot".into(),
                detail: format!("page {pgno} came where {expected} was expected"),
            });
        }
        let data = row.get_ref(1).map_err(BackupError::sqlite("read page"))?;
        let bytes = match data {
            rusqlite::types::ValueRef::Blob(b) => b,
            _ => &[][..],
        };
        if bytes.len() != page_size as usize {
            return Err(BackupError::Mismatch {
                id: "snapshot".into(),
                detail: format!(
                    "page {pgno} has {} bytes, page size is {page_size}",
                    bytes.len()
                ),
            });
        }
        out.write_all(bytes)
            .map_err(BackupError::io("write page stream"))?;
        written += bytes.len() as u64;
        expected += 1;
        if pgno.is_multiple_of(256) {
            progress(written);
        }
    }
    progress(written);
    if expected - 1 != page_count {
        return Err(BackupError::Mismatch {
            id: "snapshot".into(),
            detail: format!(
                "read {} pages, PRAGMA page_count said {page_count}",
                expected - 1
            ),
        });
    }
    Ok(SnapshotInfo {
        schema_version,
        page_size,
        page_count,
        integrity_check,
        row_counts,
    })
}

/// Reads an integer pragma. SQLCipher answers some (page_size) as text, so both are accepted.
///
/// # Errors
/// [`BackupError::Sqlite`] when the pragma fails or is not a number.
pub fn pragma_int(conn: &Connection, pragma: &str) -> Result<i64, BackupError> {
    let value: rusqlite::types::Value = conn
        .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
        .map_err(BackupError::sqlite(format!("read PRAGMA {pragma}")))?;
    match value {
        rusqlite::types::Value::Integer(n) => Ok(n),
        rusqlite::types::Value::Text(t) => t.trim().parse().map_err(|_| BackupError::Sqlite {
            context: format!("read PRAGMA {pragma}"),
            source: rusqlite::Error::InvalidColumnType(
                0,
                pragma.to_owned(),
                rusqlite::types::Type::Text,
            ),
        }),
        other => Err(BackupError::Sqlite {
            context: format!("read PRAGMA {pragma}"),
            source: rusqlite::Error::InvalidColumnType(0, pragma.to_owned(), other.data_type()),
        }),
    }
}

/// Counts the rows of every user table (`sqlite_master` type 'table', not `sqlite_*`).
///
/// # Errors
/// [`BackupError::Sqlite`] when a count fails.
pub fn row_counts(conn: &Connection) -> Result<BTreeMap<String, u64>, BackupError> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(BackupError::sqlite("list tables"))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(BackupError::sqlite("list tables"))?
        .collect::<Result<_, _>>()
        .map_err(BackupError::sqlite("list tables"))?;
    let mut counts = BTreeMap::new();
    for name in names {
        let n = count_rows(conn, &name)?;
        counts.insert(name, n);
    }
    Ok(counts)
}

/// `SELECT count(*)` of table `name`.
///
/// # Errors
/// [`BackupError::Sqlite`] when the count fails.
pub(crate) fn count_rows(conn: &Connection, name: &str) -> Result<u64, BackupError> {
    let quoted = name.replace('"', "\"\"");
    conn.query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
        r.get::<_, i64>(0).map(|n| n as u64)
    })
    .map_err(BackupError::sqlite(format!("count rows of {name}")))
}

/// Runs `PRAGMA <pragma>` (integrity_check, quick_check, cipher_integrity_check) and returns
/// "ok" or the first 20 lines it reported. `cipher_integrity_check` reports nothing when fine.
///
/// # Errors
/// [`BackupError::Sqlite`] when the pragma itself cannot run.
pub fn integrity_report(conn: &Connection, pragma: &str) -> Result<String, BackupError> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA {pragma}"))
        .map_err(BackupError::sqlite(format!("run PRAGMA {pragma}")))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(BackupError::sqlite(format!("run PRAGMA {pragma}")))?
        .take(20)
        .collect::<Result<_, _>>()
        .map_err(BackupError::sqlite(format!("run PRAGMA {pragma}")))?;
    if lines.is_empty() || (lines.len() == 1 && lines[0] == "ok") {
        return Ok("ok".into());
    }
    Ok(lines.join("; "))
}

/// Rebuilds a database from a page stream: creates `dest` (must not exist) keyed with `key`,
/// inserts every page through `sqlite_dbpage` in one transaction, and returns the page count.
/// Reads `page_size` bytes at a time, so memory stays bounded.
///
/// # Errors
/// [`BackupError::Io`] on a short final page or read error, [`BackupError::Sqlite`] on insert.
pub fn write_pages(
    dest: &Path,
    key: &DbKey,
    page_size: u32,
    input: &mut dyn Read,
) -> Result<u64, BackupError> {
    if dest.exists() {
        return Err(BackupError::Io {
            context: format!("create {}", dest.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "restore target already exists",
            ),
        });
    }
    let options = OpenOptions {
        access: Access::Create,
        busy_timeout: BUSY_TIMEOUT,
        page_size: Some(page_size),
    };
    let conn = mmkt_sqlcipher::open(dest, key, &options)?;
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(BackupError::sqlite(format!(
            "begin writing {}",
            dest.display()
        )))?;
    let mut stmt = conn
        .prepare("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")
        .map_err(BackupError::sqlite(
            "prepare INSERT INTO sqlite_dbpage (is mmctl built with SQLITE_ENABLE_DBPAGE_VTAB?)",
        ))?;
    let pending_page = PENDING_BYTE / u64::from(page_size) + 1;
    let mut page = vec![0u8; page_size as usize];
    let mut pgno: u64 = 0;
    loop {
        let filled = read_full(input, &mut page).map_err(BackupError::io("read page stream"))?;
        if filled == 0 {
            break;
        }
        if filled != page.len() {
            return Err(BackupError::Io {
                context: "read page stream".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "stream ends inside page {} ({filled} of {page_size} bytes)",
                        pgno + 1
                    ),
                ),
            });
        }
        pgno += 1;
        if pgno == pending_page {
            continue;
        }
        stmt.execute(rusqlite::params![pgno as i64, &page[..]])
            .map_err(BackupError::sqlite(format!(
                "write page {pgno} into {}",
                dest.display()
            )))?;
    }
    drop(stmt);
    conn.execute_batch("COMMIT")
        .map_err(BackupError::sqlite(format!("commit {}", dest.display())))?;
    Ok(pgno)
}

/// Checks a restored or existing database: `cipher_integrity_check` (HMAC of every page) then
/// `integrity_check`; returns its row counts.
///
/// # Errors
/// [`BackupError::Integrity`] with the report when either check finds a problem.
pub fn check_database(
    conn: &Connection,
    path: &Path,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let cipher = integrity_report(conn, "cipher_integrity_check")?;
    if cipher != "ok" {
        return Err(BackupError::Integrity {
            path: path.to_owned(),
            detail: format!("cipher_integrity_check: {cipher}"),
        });
    }
    let plain = integrity_report(conn, "integrity_check")?;
    if plain != "ok" {
        return Err(BackupError::Integrity {
            path: path.to_owned(),
            detail: format!("integrity_check: {plain}"),
        });
    }
    row_counts(conn)
}

/// Reads until `buf` is full or EOF; returns the bytes read.
pub(crate) fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
