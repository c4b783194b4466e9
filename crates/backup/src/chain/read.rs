//! A chained backup's read transaction: the snapshot's pages through `sqlite_dbpage` (all of
//! them for a full backup; for a delta only the candidates [`super::scan`] finds from the
//! ciphertext, so unchanged pages are never decrypted) and the cipher tags the next page index
//! records, all inside one read transaction.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::rows;
use super::scan::{self, CipherTag};
use super::tap::PageTap;
use crate::error::BackupError;
use crate::pages::{self, IntegrityCheck, RowCounts, SnapshotInfo};

/// The live database file, opened to read its ciphertext (never written).
///
/// Drop it only after every SQLite connection of this process to the database is closed:
/// closing any descriptor of a file drops all of the process's POSIX locks on that file,
/// SQLite's included (SQLite tracks only its own descriptors).
#[derive(Debug)]
pub(crate) struct RawDb {
    file: File,
    wal: PathBuf,
}

impl RawDb {
    /// Opens `db` read-only.
    ///
    /// # Errors
    /// [`BackupError::Io`] when it cannot be opened.
    pub(crate) fn open(db: &Path) -> Result<RawDb, BackupError> {
        let file = File::open(db).map_err(BackupError::io(format!("open {}", db.display())))?;
        Ok(RawDb {
            file,
            wal: scan::wal_path(db),
        })
    }
}

/// What a chained read found.
#[derive(Debug)]
pub(crate) struct ChainedRead {
    /// The snapshot's facts (no row counts for a delta, no `integrity_check`: see
    /// docs/BACKUP.md).
    pub(crate) snapshot: SnapshotInfo,
    /// The cipher tags for the next page index.
    pub(crate) tags: Vec<CipherTag>,
}

/// Reads one link in one read transaction of `conn` into `tap`: every page and the row
/// counts (from the pages' b-trees, [`super::rows`]) when `previous` is `None` (a full backup), else only the candidate pages against
/// the head's tags `previous` (a delta; the tap drops candidates whose digest is unchanged).
///
/// # Errors
/// [`BackupError::Sqlite`] on read errors, [`BackupError::Io`] reading the file or the WAL or
/// writing to the tap, [`BackupError::Mismatch`] for pages out of order.
pub(crate) fn read_chained<W: Write>(
    conn: &Connection,
    raw: &RawDb,
    previous: Option<&[CipherTag]>,
    tap: &mut PageTap<W>,
    progress: &dyn Fn(u64),
) -> Result<ChainedRead, BackupError> {
    conn.execute_batch("BEGIN DEFERRED")
        .map_err(BackupError::sqlite("begin read transaction"))?;
    let result = match previous {
        None => read_full(conn, raw, tap, progress),
        Some(previous) => read_delta(conn, raw, previous, tap, progress),
    };
    // A read transaction has nothing to commit; ending it releases the WAL snapshot.
    let _ = conn.execute_batch("COMMIT");
    result
}

fn read_full<W: Write>(
    conn: &Connection,
    raw: &RawDb,
    tap: &mut PageTap<W>,
    progress: &dyn Fn(u64),
) -> Result<ChainedRead, BackupError> {
    tap.count_rows();
    let checks = (IntegrityCheck::ByCaller, RowCounts::ByCaller);
    let mut snapshot = pages::stream_in_transaction(conn, tap, checks, progress)?;
    let census = tap.take_census().unwrap_or_default();
    snapshot.row_counts = rows::row_counts(conn, &census)?;
    let tags = tags_now(raw, &snapshot, tap.reserve())?;
    Ok(ChainedRead { snapshot, tags })
}

fn read_delta<W: Write>(
    conn: &Connection,
    raw: &RawDb,
    previous: &[CipherTag],
    tap: &mut PageTap<W>,
    progress: &dyn Fn(u64),
) -> Result<ChainedRead, BackupError> {
    // The first read pins the WAL snapshot; everything below sees the same state.
    let schema_version = pages::pragma_int(conn, "user_version")?;
    let page_size = u32::try_from(pages::pragma_int(conn, "page_size")?).unwrap_or(0);
    let page_count = u64::try_from(pages::pragma_int(conn, "page_count")?).unwrap_or(0);
    let snapshot = SnapshotInfo {
        schema_version,
        page_size,
        page_count,
        integrity_check: String::new(),
        row_counts: BTreeMap::new(),
    };
    let mut stmt = conn
        .prepare("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")
        .map_err(BackupError::sqlite(
            "query sqlite_dbpage (is mmctl built with SQLITE_ENABLE_DBPAGE_VTAB?)",
        ))?;
    let mut read_page = |pgno: u64, tap: &mut PageTap<W>| -> Result<(), BackupError> {
        let page: Vec<u8> = stmt
            .query_row([pgno as i64], |r| r.get(0))
            .map_err(BackupError::sqlite(format!("read page {pgno}")))?;
        tap.page(pgno, &page)
            .map_err(BackupError::io("write page stream"))
    };
    if page_count > 0 {
        read_page(1, tap)?;
    }
    let tags = tags_now(raw, &snapshot, tap.reserve())?;
    let mut read = 0u64;
    for pgno in scan::candidates(previous, &tags) {
        if pgno > 1 {
            read_page(pgno, tap)?;
        }
        read += 1;
        if read.is_multiple_of(256) {
            progress(read * u64::from(page_size));
        }
    }
    progress(read * u64::from(page_size));
    Ok(ChainedRead { snapshot, tags })
}

/// The snapshot's cipher tags: read from the file, [`scan::UNKNOWN`] for pages in the WAL.
fn tags_now(
    raw: &RawDb,
    snapshot: &SnapshotInfo,
    reserve: usize,
) -> Result<Vec<CipherTag>, BackupError> {
    let wal = scan::wal_pages(&raw.wal, snapshot.page_size)?;
    let tags = scan::cipher_tags(&raw.file, snapshot.page_size, reserve, snapshot.page_count)?;
    Ok(scan::snapshot_tags(tags, &wal))
}
