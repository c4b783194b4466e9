//! `sessions` table: sha256 hashes of session tokens with an expiry.

use rusqlite::{Connection, OptionalExtension, params};

use super::users::{User, user_from_row};

/// Stores a session for `user_id` valid until `expires_at` (Unix seconds).
///
/// # Errors
/// SQLite errors.
pub fn create(
    conn: &Connection,
    token_hash: &[u8; 32],
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash.as_slice(), user_id, now, expires_at],
    )?;
    Ok(())
}

/// The user owning an unexpired session with this token hash.
///
/// # Errors
/// SQLite errors.
pub fn lookup(
    conn: &Connection,
    token_hash: &[u8; 32],
    now: i64,
) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(
        "SELECT u.id, u.username, u.role, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    )?
    .query_row(params![token_hash.as_slice(), now], |row| user_from_row(row, 0))
    .optional()
}

/// Deletes the session with this token hash; returns how many rows went (0 or 1).
///
/// # Errors
/// SQLite errors.
pub fn delete(conn: &Connection, token_hash: &[u8; 32]) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = ?1",
        [token_hash.as_slice()],
    )
}

/// Deletes every session expired at `now`; returns the count.
///
/// # Errors
/// SQLite errors.
pub fn purge_expired(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])
}
