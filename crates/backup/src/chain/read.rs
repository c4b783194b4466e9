//! A chained backup's read transaction: the snapshot's pages through `sqlite_dbpage` (all of
//! them for a full backup; for a delta only the candidates [`super::scan`] finds from the
//! ciphertext, so unchanged pages are never decrypted) and the cipher tags the next page index
//! records, all inside one read transaction.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::rows;
use super::scan::{self, CipherTag};
use super::tap::PageTap;
use crate::error::BackupError;
use crate::page_pipe::PagePipe;
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

/// The page stream of one link.
pub(crate) enum LinkStream<'a, W> {
    /// A full backup: every page into `pipe`, whose writer thread runs the page tap and
    /// reports the census the row counts come from (from the pages' b-trees,
    /// [`super::rows`]).
    Full(&'a mut PagePipe),
    /// A delta: only the candidate pages against the head's tags `previous`, through `tap`
    /// (which drops candidates whose digest is unchanged).
    Delta {
        /// The cipher tags the index recorded for the head.
        previous: &'a [CipherTag],
        /// The delta's tap.
        tap: &'a mut PageTap<W>,
    },
}

/// Reads one link in one read transaction of `conn` into `stream`.
///
/// # Errors
/// [`BackupError::Sqlite`] on read errors, [`BackupError::Io`] reading the file or the WAL or
/// writing to the stream, [`BackupError::Mismatch`] for pages out of order.
pub(crate) fn read_chained<W: Write>(
    conn: &Connection,
    raw: &RawDb,
    stream: LinkStream<'_, W>,
    progress: &dyn Fn(u64),
) -> Result<ChainedRead, BackupError> {
    conn.execute_batch("BEGIN DEFERRED")
        .map_err(BackupError::sqlite("begin read transaction"))?;
    let result = match stream {
        LinkStream::Full(pipe) => read_full(conn, raw, pipe, progress),
        LinkStream::Delta { previous, tap } => read_delta(conn, raw, previous, tap, progress),
    };
    // A read transaction has nothing to commit; ending it releases the WAL snapshot.
    let _ = conn.execute_batch("COMMIT");
    result
}

fn read_full(
    conn: &Connection,
    raw: &RawDb,
    pipe: &mut PagePipe,
    progress: &dyn Fn(u64),
) -> Result<ChainedRead, BackupError> {
    // The first read pins the WAL snapshot. The file's cipher tags are read on a second
    // thread while the pages stream: the read transaction keeps any checkpoint from copying
    // past the snapshot, and whatever a checkpoint copies is in the WAL, whose pages are
    // marked unknown, so when the file is read does not matter.
    let page_size = u32::try_from(pages::pragma_int(conn, "page_size")?).unwrap_or(0);
    let page_count = u64::try_from(pages::pragma_int(conn, "page_count")?).unwrap_or(0);
    let reserve = page_reserve(conn)?;
    let checks = (IntegrityCheck::ByCaller, RowCounts::ByCaller);
    let (streamed, tags) = std::thread::scope(|scope| {
        let tags = scope.spawn(|| tags_now(raw, page_size, page_count, reserve));
        let streamed = pages::stream_in_transaction(conn, pipe, checks, progress);
        let tags = tags.join().unwrap_or_else(|_| {
            Err(BackupError::Io {
                context: "read the cipher tags".into(),
                source: std::io::Error::other("the cipher tag thread panicked"),
            })
        });
        (streamed, tags)
    });
    let mut snapshot = streamed?;
    let tags = tags?;
    let Some(end) = pipe.end_stream()? else {
        return Err(BackupError::Mismatch {
            id: "snapshot".into(),
            detail: "the full backup's page stream has no tap to count its rows".into(),
        });
    };
    if (snapshot.page_size, snapshot.page_count, end.reserve) != (page_size, page_count, reserve) {
        return Err(BackupError::Mismatch {
            id: "snapshot".into(),
            detail: format!(
                "the snapshot changed while it was read ({page_count} pages of {page_size} bytes, \
                 {reserve} reserved, then {} of {}, {} reserved); run it again",
                snapshot.page_count, snapshot.page_size, end.reserve
            ),
        });
    }
    snapshot.row_counts = rows::row_counts(conn, &end.census)?;
    Ok(ChainedRead { snapshot, tags })
}

/// Bytes reserved at the end of every page: byte 20 of page 1, as SQLCipher decrypts it (0 in
/// an empty database).
fn page_reserve(conn: &Connection) -> Result<usize, BackupError> {
    let first: Option<Vec<u8>> = conn
        .query_row("SELECT data FROM sqlite_dbpage WHERE pgno = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(BackupError::sqlite(
            "read page 1 (is mmctl built with SQLITE_ENABLE_DBPAGE_VTAB?)",
        ))?;
    Ok(first
        .and_then(|page| page.get(20).copied())
        .map_or(0, usize::from))
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
    let tags = tags_now(raw, page_size, page_count, tap.reserve())?;
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

/// The snapshot's cipher tags (pages 1..=`page_count` of `page_size` bytes, `reserve` of them
/// reserved): read from the file, [`scan::UNKNOWN`] for pages in the WAL.
fn tags_now(
    raw: &RawDb,
    page_size: u32,
    page_count: u64,
    reserve: usize,
) -> Result<Vec<CipherTag>, BackupError> {
    let wal = scan::wal_pages(&raw.wal, page_size)?;
    let tags = scan::cipher_tags(&raw.file, page_size, reserve, page_count)?;
    Ok(scan::snapshot_tags(tags, &wal))
}
