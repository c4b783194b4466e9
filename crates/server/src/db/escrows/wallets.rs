//! `escrow_wallets`: the per-escrow wallet file of each participant, one set per setup attempt.

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
    stmt.query_map([escrow_id], |r| {
        let mut c = Columns::from(r, 0);
        Ok(WalletRow {
            role: c.label()?,
            attempt: c.read()?,
            wallet_name: c.read()?,
            password: WalletPassword::new(c.read::<String>()?),
        })
    })?
    .collect()
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
