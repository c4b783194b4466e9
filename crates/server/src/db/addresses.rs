//! `user_addresses`: the address each party keeps on their account (a vendor's payout address, a
//! buyer's refund address), already validated for the configured network.

use rusqlite::{Connection, OptionalExtension, params};

/// Which address a user keeps on their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// A vendor's payout address (releases).
    Payout,
    /// A buyer's refund address (refunds).
    Refund,
}

impl AddressKind {
    /// `payout` or `refund` (stored label and JSON value).
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Payout => "payout",
            AddressKind::Refund => "refund",
        }
    }
}

/// Stores (replaces) a user's address of `kind` at `now` (Unix s).
///
/// # Errors
/// SQLite errors.
pub fn set(
    conn: &Connection,
    user_id: i64,
    kind: AddressKind,
    address: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO user_addresses (user_id, kind, address, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, kind) DO UPDATE SET address = ?3, updated_at = ?4",
        params![user_id, kind.as_str(), address, now],
    )?;
    Ok(())
}

/// A user's address of `kind`, if set.
///
/// # Errors
/// SQLite errors.
pub fn get(conn: &Connection, user_id: i64, kind: AddressKind) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT address FROM user_addresses WHERE user_id = ?1 AND kind = ?2",
        params![user_id, kind.as_str()],
        |r| r.get(0),
    )
    .optional()
}

/// The payout address of account `vendor` and the refund address of account `buyer` (pass the
/// same account twice for one user's own addresses).
///
/// # Errors
/// SQLite errors.
pub fn payout_and_refund(
    conn: &Connection,
    vendor: i64,
    buyer: i64,
) -> rusqlite::Result<(Option<String>, Option<String>)> {
    Ok((
        get(conn, vendor, AddressKind::Payout)?,
        get(conn, buyer, AddressKind::Refund)?,
    ))
}
