//! `user_addresses`: the address each party keeps on their account (a vendor's payout address, a
//! buyer's refund address), already validated for the configured network, and the
//! `address_changes` audit trail of every change.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

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

/// The audit fingerprint of an address: the first 16 hex digits of its SHA-256 (enough to tell
/// two addresses apart in the audit trail, not the address itself).
pub fn fingerprint(address: &str) -> String {
    let digest = Sha256::digest(address.as_bytes());
    hex::encode(&digest[..8])
}

/// A change of an account address as recorded in `address_changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressChange {
    /// Which address changed.
    pub kind: AddressKind,
    /// [`fingerprint`] of the previous address; `None` when there was none.
    pub old_fingerprint: Option<String>,
    /// [`fingerprint`] of the new address.
    pub new_fingerprint: String,
    /// When (Unix s).
    pub changed_at: i64,
}

/// A new account address and who sets it.
#[derive(Debug, Clone, Copy)]
pub struct NewAddress<'a> {
    /// The account.
    pub user_id: i64,
    /// Which address.
    pub kind: AddressKind,
    /// The address, validated for the configured network.
    pub address: &'a str,
    /// The client address of the request (audit).
    pub client_ip: &'a str,
    /// When (Unix s).
    pub now: i64,
}

/// Stores (replaces) the account's address and appends the `address_changes` audit row (old and
/// new fingerprints, client address, time). Run it in the transaction of the change.
///
/// # Errors
/// SQLite errors.
pub fn set(conn: &Connection, new: &NewAddress<'_>) -> rusqlite::Result<AddressChange> {
    let old = get(conn, new.user_id, new.kind)?;
    conn.execute(
        "INSERT INTO user_addresses (user_id, kind, address, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, kind) DO UPDATE SET address = ?3, updated_at = ?4",
        params![new.user_id, new.kind.as_str(), new.address, new.now],
    )?;
    let change = AddressChange {
        kind: new.kind,
        old_fingerprint: old.as_deref().map(fingerprint),
        new_fingerprint: fingerprint(new.address),
        changed_at: new.now,
    };
    conn.execute(
        "INSERT INTO address_changes (user_id, kind, old_fingerprint, new_fingerprint, client_ip, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            new.user_id,
            new.kind.as_str(),
            change.old_fingerprint,
            change.new_fingerprint,
            new.client_ip,
            new.now
        ],
    )?;
    Ok(change)
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
