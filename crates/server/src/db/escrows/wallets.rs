//! `escrow_wallets`: the per-escrow wallet file of each participant, one set per setup attempt,
//! with its archive marks (archived, kept, removed), and the setup attempt floor an operator's
//! retry raises.

use escrow_core::Actor;
use monero_rpc::WalletPassword;
use rusqlite::{Connection, params};

use crate::db::Columns;

/// One per-escrow wallet file (`Debug` redacts the password).
#[derive(Clone, Debug)]
pub struct WalletRow {
    /// The participant (buyer, vendor or arbiter) whose wallet-rpc holds the file.
    pub role: Actor,
    /// Setup attempt it belongs to (1-based).
    pub attempt: u32,
    /// File name in that role's wallet-rpc `--wallet-dir`.
    pub wallet_name: String,
    /// The wallet's random password (secret).
    pub password: WalletPassword,
}

/// The wallets of the latest setup attempt of `escrow_id` (empty before setup started).
///
/// # Errors
/// SQLite errors.
pub fn latest(conn: &Connection, escrow_id: i64) -> rusqlite::Result<Vec<WalletRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT role, attempt, wallet_name, password FROM escrow_wallets
         WHERE escrow_id = ?1 AND attempt = (SELECT max(attempt) FROM escrow_wallets WHERE escrow_id = ?1)",
    )?;
    stmt.query_map([escrow_id], read_row)?.collect()
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WalletRow> {
    let mut c = Columns::from(r, 0);
    Ok(WalletRow {
        role: c.label()?,
        attempt: c.read()?,
        wallet_name: c.read()?,
        password: WalletPassword::new(c.read::<String>()?),
    })
}

/// Inserts the wallet rows of a new setup attempt (all roles at once) at `now` (Unix s).
///
/// # Errors
/// SQLite errors (e.g. a duplicate name).
pub fn insert(
    conn: &Connection,
    escrow_id: i64,
    rows: &[WalletRow],
    now: i64,
) -> rusqlite::Result<()> {
    for row in rows {
        conn.execute(
            "INSERT INTO escrow_wallets (escrow_id, role, attempt, wallet_name, password, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![escrow_id, row.role.as_str(), row.attempt, row.wallet_name, row.password.expose_secret(), now],
        )?;
    }
    Ok(())
}

/// The setup attempt floor of `escrow_id` (`escrows.setup_attempt_floor`): the last attempt before
/// an operator's retry; attempts above it count toward the next failure. 0 before any retry.
///
/// # Errors
/// SQLite errors.
pub fn attempt_floor(conn: &Connection, escrow_id: i64) -> rusqlite::Result<u32> {
    conn.prepare_cached("SELECT setup_attempt_floor FROM escrows WHERE id = ?1")?
        .query_row([escrow_id], |r| r.get(0))
}

/// Raises the attempt floor of `escrow_id` to its latest setup attempt, so the next setup starts
/// with fresh wallets and a full attempt budget. Run it in the `setup_retried` transaction.
///
/// # Errors
/// SQLite errors.
pub fn raise_attempt_floor(conn: &Connection, escrow_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE escrows SET setup_attempt_floor =
            coalesce((SELECT max(attempt) FROM escrow_wallets WHERE escrow_id = ?1), 0)
         WHERE id = ?1",
        [escrow_id],
    )?;
    Ok(())
}

/// Cancelled or expired escrows that may hold wallet files to archive: closed before
/// `closed_before` (Unix s) if an address was ever shown (its late-funding watch is over), at
/// once otherwise, and with a wallet neither archived nor kept. The caller still checks that the
/// record shows no funds.
///
/// # Errors
/// As [`super::load`].
pub fn archive_candidates(
    conn: &Connection,
    closed_before: i64,
) -> rusqlite::Result<Vec<escrow_core::Escrow>> {
    super::records(
        conn,
        "SELECT e.record FROM escrows e WHERE e.state IN ('cancelled', 'expired')
         AND (e.address IS NULL OR e.updated_at < ?1)
         AND EXISTS (SELECT 1 FROM escrow_wallets w WHERE w.escrow_id = e.id
                     AND w.archived_at IS NULL AND w.kept_at IS NULL)
         ORDER BY e.id",
        [closed_before],
    )
}

/// Every wallet of `escrow_id` (all attempts) that is neither archived nor kept.
///
/// # Errors
/// SQLite errors.
pub fn unarchived(conn: &Connection, escrow_id: i64) -> rusqlite::Result<Vec<WalletRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT role, attempt, wallet_name, password FROM escrow_wallets
         WHERE escrow_id = ?1 AND archived_at IS NULL AND kept_at IS NULL ORDER BY attempt, role",
    )?;
    stmt.query_map([escrow_id], read_row)?.collect()
}

/// What the archive did with one wallet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveMark {
    /// Moved into the archive folder (`archived_at`).
    Archived,
    /// Its wallet-rpc showed an incoming transfer: kept in place for good (`kept_at`).
    Kept,
    /// Deleted from the archive folder after the retention period (`removed_at`).
    Removed,
}

/// Records `mark` for wallet `wallet_name` at `now` (Unix s).
///
/// # Errors
/// SQLite errors.
pub fn mark(
    conn: &Connection,
    wallet_name: &str,
    mark: ArchiveMark,
    now: i64,
) -> rusqlite::Result<()> {
    let sql = match mark {
        ArchiveMark::Archived => {
            "UPDATE escrow_wallets SET archived_at = ?2 WHERE wallet_name = ?1 AND kept_at IS NULL"
        }
        ArchiveMark::Kept => {
            "UPDATE escrow_wallets SET kept_at = ?2 WHERE wallet_name = ?1 AND archived_at IS NULL"
        }
        ArchiveMark::Removed => {
            "UPDATE escrow_wallets SET removed_at = ?2 WHERE wallet_name = ?1 AND archived_at IS NOT NULL AND kept_at IS NULL"
        }
    };
    conn.execute(sql, params![wallet_name, now])?;
    Ok(())
}

/// Archived wallets (role and file name) archived before `archived_before` (Unix s) and not
/// removed yet: due for deletion. Kept wallets are never listed.
///
/// # Errors
/// SQLite errors.
pub fn removable(
    conn: &Connection,
    archived_before: i64,
) -> rusqlite::Result<Vec<(Actor, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT role, wallet_name FROM escrow_wallets
         WHERE archived_at IS NOT NULL AND archived_at < ?1 AND removed_at IS NULL AND kept_at IS NULL",
    )?;
    stmt.query_map([archived_before], |r| {
        let mut c = Columns::from(r, 0);
        Ok((c.label()?, c.read()?))
    })?
    .collect()
}
