//! What the live database says, read-only, for the deploy workflow: its schema version
//! (`PRAGMA user_version`) and the escrow audit-trail rows written after a backup, which a
//! restore of that backup would forget.
//!
//! The audit trail (`escrow_events`) is append-only (rows are never updated or deleted and
//! ids only grow), so a backup that held `n` rows held exactly the `n` lowest ids.

use std::path::Path;

use mmkt_sqlcipher::Access;

use crate::error::BackupError;
use crate::pages::{open_keyed, pragma_int};

/// The server's escrow audit-trail table (one row per applied escrow event).
pub const ESCROW_EVENTS_TABLE: &str = "escrow_events";

/// Escrow events of the live database beyond the first `kept` (those a backup holds).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventsAfterBackup {
    /// How many events there are beyond the backup's.
    pub total: u64,
    /// Per escrow id, how many of them (ascending by escrow id).
    pub by_escrow: Vec<(i64, u64)>,
}

/// `PRAGMA user_version` of the live database at `db` (the server's schema version).
///
/// # Errors
/// [`BackupError::KeyFile`], [`BackupError::WrongDbKey`], [`BackupError::Io`] (no such file),
/// [`BackupError::Sqlite`].
pub fn schema_version(db: &Path, key_file: &Path) -> Result<i64, BackupError> {
    let key = mmkt_sqlcipher::read_key_file(key_file)?;
    let conn = open_keyed(db, &key, Access::ReadOnly)?;
    pragma_int(&conn, "user_version")
}

/// The escrow events of the live database at `db` after its first `kept` rows (the row count
/// of [`ESCROW_EVENTS_TABLE`] in a backup's manifest). A database without the table has none.
///
/// # Errors
/// As [`schema_version`].
pub fn escrow_events_after(
    db: &Path,
    key_file: &Path,
    kept: u64,
) -> Result<EventsAfterBackup, BackupError> {
    let key = mmkt_sqlcipher::read_key_file(key_file)?;
    let conn = open_keyed(db, &key, Access::ReadOnly)?;
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [ESCROW_EVENTS_TABLE],
            |r| r.get(0),
        )
        .map_err(BackupError::sqlite("look for the escrow_events table"))?;
    if exists == 0 {
        return Ok(EventsAfterBackup::default());
    }
    let offset = i64::try_from(kept).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare(
            "SELECT escrow_id, count(*) FROM (SELECT escrow_id FROM escrow_events ORDER BY id LIMIT -1 OFFSET ?1) \
             GROUP BY escrow_id ORDER BY escrow_id",
        )
        .map_err(BackupError::sqlite("read escrow_events"))?;
    let rows = stmt
        .query_map([offset], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(BackupError::sqlite("read escrow_events"))?;
    let mut out = EventsAfterBackup::default();
    for row in rows {
        let (escrow, count) = row.map_err(BackupError::sqlite("read escrow_events"))?;
        let count = u64::try_from(count).unwrap_or(0);
        out.total += count;
        out.by_escrow.push((escrow, count));
    }
    Ok(out)
}
