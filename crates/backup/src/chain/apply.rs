//! Rebuilding any point of a chain into a new SQLCipher file: the base's pages written through
//! `sqlite_dbpage`, then each delta's pages (one transaction per delta, the file truncated when
//! the database shrank), then the page stream's SHA-256 compared with the target's manifest,
//! `cipher_integrity_check`, `integrity_check` and row counts. A link that fails is named: the
//! first one (from the base) whose file, decryption or records do not check out, or, when
//! only the final page stream differs, the first whose page stream after applying differs
//! (found by a second, link-by-link rebuild).

use std::path::Path;

use super::LinkProblem;
use super::resolve::{AuthenticChain, newest_good_point};
use super::tap::{Emit, PageTap, StreamHash};
use crate::crypto::Identities;
use crate::db::{
    RestoredDb, check_checksum, check_restored, db_details, payload_error, remove_db_files,
    write_full_pages,
};
use crate::error::BackupError;
use crate::pages::{self, IntegrityCheck, PENDING_BYTE, read_full};
use crate::sealed;
use crate::signing::{AuthenticBackup, TrustedKeys};
use crate::store::{BackupDir, Leftover, Partial};
use mmkt_sqlcipher::{Access, DbKey};
use rusqlite::Connection;

/// Where the page stream is compared with the manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamCheck {
    /// After the last link only (one read of the rebuilt file).
    Final,
    /// After every link (to find which one is wrong).
    EachLink,
}

/// Rebuilds the chain's target into the new file `dest`, keyed with `key`, and checks it (see
/// the module docs). `dir` and `trusted` are used to name the newest good point on failure.
/// On any error `dest` is removed.
///
/// # Errors
/// For a delta, [`BackupError::ChainBroken`] naming the first bad link; for a full backup on
/// its own, the failing check's error itself (as [`crate::db::restore_db_file`]); the
/// integrity and row-count errors of the final checks.
pub fn rebuild(
    chain: &AuthenticChain,
    identities: &Identities,
    dest: &Path,
    key: &DbKey,
    (dir, trusted): (&BackupDir, &TrustedKeys),
    progress: &dyn Fn(u64),
) -> Result<RestoredDb, BackupError> {
    let partial = Partial::new(dest, Leftover::DbFiles);
    let broken = |index: usize, e: BackupError| {
        // A full backup on its own fails as it always did: there is no chain to name.
        if chain.links.len() == 1 {
            return e;
        }
        let bad = &chain.links[index];
        BackupError::ChainBroken {
            target: chain.target().manifest.id.to_string(),
            first_bad: bad.manifest.id.to_string(),
            problem: LinkProblem::Corrupt(crate::error::error_chain(&e)),
            newest_good: newest_good_point(dir, trusted, bad).map(|b| b.to_string()),
        }
    };
    let pages = match apply_links(chain, identities, dest, key, StreamCheck::Final, progress) {
        Ok(pages) => pages,
        Err((index, e)) if index + 1 == chain.links.len() && chain.links.len() > 1 => {
            // Only the final stream was compared: find the first link that is wrong.
            remove_db_files(dest);
            let (index, e) = apply_links(
                chain,
                identities,
                dest,
                key,
                StreamCheck::EachLink,
                progress,
            )
            .err()
            .unwrap_or((index, e));
            return Err(broken(index, e));
        }
        Err((index, e)) => return Err(broken(index, e)),
    };
    let restored = check_restored(chain.target(), dest, key, pages)?;
    partial.keep();
    Ok(restored)
}

/// Writes every link into `dest`; on failure, the index of the failing link and why.
fn apply_links(
    chain: &AuthenticChain,
    identities: &Identities,
    dest: &Path,
    key: &DbKey,
    check: StreamCheck,
    progress: &dyn Fn(u64),
) -> Result<u64, (usize, BackupError)> {
    let base = &chain.links[0];
    let mut pages = write_full_pages(base, identities, dest, key, progress).map_err(|e| (0, e))?;
    let conn = pages::open_keyed(dest, key, Access::ReadWrite).map_err(|e| (0, e))?;
    let last = chain.links.len() - 1;
    for (index, link) in chain.links.iter().enumerate() {
        if index > 0 {
            pages = apply_delta(&conn, link, identities, pages).map_err(|e| (index, e))?;
        }
        if check == StreamCheck::EachLink || index == last {
            check_stream(&conn, link).map_err(|e| (index, e))?;
        }
    }
    Ok(pages)
}

/// Applies one delta's records in one transaction; returns the database's new page count.
fn apply_delta(
    conn: &Connection,
    delta: &AuthenticBackup,
    identities: &Identities,
    pages_before: u64,
) -> Result<u64, BackupError> {
    let details = db_details(delta)?;
    let id = delta.manifest.id.to_string();
    let expected = details.chain.as_ref().map(|c| c.changed_pages).unwrap_or(0);
    let (page_size, page_count) = (details.snapshot.page_size, details.snapshot.page_count);
    check_checksum(delta)?;
    let (mut payload, tally) = sealed::open_payload(delta, identities)?;
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(BackupError::sqlite(format!("begin applying {id}")))?;
    let applied = write_records(conn, &mut payload, page_size, page_count, pages_before)
        .map_err(|e| payload_error(&delta.data_path, e));
    let records = match applied {
        Ok(records) => records,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    conn.execute_batch("COMMIT")
        .map_err(BackupError::sqlite(format!("commit {id}")))?;
    sealed::drain_and_check(&mut payload, &tally, delta)?;
    if records != expected {
        return Err(BackupError::Mismatch {
            id,
            detail: format!("it holds {records} pages, its manifest says {expected}"),
        });
    }
    Ok(page_count)
}

/// Writes `pgno || page` records through `sqlite_dbpage` (inside the caller's transaction),
/// truncating to `page_count` pages when the database shrank; returns the records read.
fn write_records(
    conn: &Connection,
    input: &mut dyn std::io::Read,
    page_size: u32,
    page_count: u64,
    pages_before: u64,
) -> Result<u64, BackupError> {
    let mut stmt = conn
        .prepare("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")
        .map_err(BackupError::sqlite("prepare INSERT INTO sqlite_dbpage"))?;
    let pending_page = PENDING_BYTE / u64::from(page_size) + 1;
    let mut number = [0u8; 4];
    let mut page = vec![0u8; page_size as usize];
    let (mut previous, mut records) = (0u64, 0u64);
    let corrupt = |detail: String| BackupError::Io {
        context: "read page stream".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, detail),
    };
    loop {
        let filled = read_full(input, &mut number).map_err(BackupError::io("read page stream"))?;
        if filled == 0 {
            break;
        }
        let pgno = u64::from(u32::from_be_bytes(number));
        let full = filled == 4
            && read_full(input, &mut page).map_err(BackupError::io("read page stream"))?
                == page.len();
        if !full {
            return Err(corrupt(format!("the record of page {pgno} is cut short")));
        }
        if pgno <= previous || pgno > page_count {
            return Err(corrupt(format!(
                "page {pgno} comes after page {previous} (of {page_count})"
            )));
        }
        previous = pgno;
        records += 1;
        if pgno == pending_page {
            continue;
        }
        stmt.execute(rusqlite::params![pgno as i64, &page[..]])
            .map_err(BackupError::sqlite(format!("write page {pgno}")))?;
    }
    if page_count < pages_before {
        // sqlite_dbpage: inserting NULL as page N+1 truncates the file to N pages at commit.
        stmt.execute(rusqlite::params![
            (page_count + 1) as i64,
            rusqlite::types::Null
        ])
        .map_err(BackupError::sqlite(format!(
            "truncate to {page_count} pages"
        )))?;
    }
    Ok(records)
}

/// Compares the rebuilt file's pages with `link`'s manifest: its page-list SHA-256 (see
/// [`super::tap`]), or in manifests older than the page list the canonical page stream's
/// SHA-256, and its page count.
fn check_stream(conn: &Connection, link: &AuthenticBackup) -> Result<(), BackupError> {
    let details = db_details(link)?;
    let (expected, stream) = match (&details.page_list_sha256, &details.page_stream_sha256) {
        (Some(list), _) => (list.as_str(), StreamHash::Skip),
        (None, Some(stream)) => (stream.as_str(), StreamHash::Compute),
        (None, None) => return Ok(()),
    };
    let mut tap = PageTap::new(
        std::io::sink(),
        details.snapshot.page_size,
        Emit::AllPages,
        stream,
    );
    let snapshot = pages::stream_snapshot(conn, &mut tap, IntegrityCheck::ByCaller, &|_| {})?;
    let (_, report) = tap
        .finish(snapshot.page_count)
        .map_err(BackupError::io("hash page stream"))?;
    let actual = match stream {
        StreamHash::Skip => report.list_sha256,
        StreamHash::Compute => report.stream_sha256.unwrap_or_default(),
    };
    if actual != expected || snapshot.page_count != details.snapshot.page_count {
        return Err(BackupError::Mismatch {
            id: link.manifest.id.to_string(),
            detail: format!(
                "the pages after applying it are {} with hash {actual}, the manifest says {} pages and {expected}",
                snapshot.page_count, details.snapshot.page_count
            ),
        });
    }
    Ok(())
}
