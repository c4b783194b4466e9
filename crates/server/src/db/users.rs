//! `users` table: accounts with an argon2id hash and one role.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiTime, Columns, now_unix};

pub use escrow_core::Role;

/// An account as the API shows it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    /// Account id.
    pub id: i64,
    /// Unique, case-insensitive, 3-32 chars of `[A-Za-z0-9_.-]`.
    pub username: String,
    /// Role: `buyer`, `vendor` or `arbiter`.
    #[schema(value_type = String, example = "buyer")]
    pub role: Role,
    /// Creation time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: ApiTime,
}

/// Result of [`insert`] when the statement ran.
#[derive(Debug)]
pub enum InsertOutcome {
    /// The account exists now.
    Created(User),
    /// Another account already uses this username (case-insensitive); nothing written.
    UsernameTaken,
}

/// Reads columns `id, username, role, created_at` starting at `start`.
pub(crate) fn user_from_row(row: &Row<'_>, start: usize) -> rusqlite::Result<User> {
    let mut c = Columns::from(row, start);
    Ok(User {
        id: c.read()?,
        username: c.read()?,
        role: c.label()?,
        created_at: c.read()?,
    })
}

/// Inserts an account. `password_hash` is an argon2id PHC string.
///
/// # Errors
/// SQLite errors other than the username uniqueness conflict.
pub fn insert(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    role: Role,
) -> rusqlite::Result<InsertOutcome> {
    let now = now_unix();
    let inserted = conn.execute(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(username) DO NOTHING",
        params![username, password_hash, role.as_str(), now],
    )?;
    if inserted == 0 {
        return Ok(InsertOutcome::UsernameTaken);
    }
    let user = User {
        id: conn.last_insert_rowid(),
        username: username.to_owned(),
        role,
        created_at: ApiTime::from_unix(now),
    };
    Ok(InsertOutcome::Created(user))
}

/// The account and its password hash for `username` (case-insensitive), if any.
///
/// # Errors
/// SQLite errors.
pub fn find_with_hash(
    conn: &Connection,
    username: &str,
) -> rusqlite::Result<Option<(User, String)>> {
    conn.prepare_cached(
        "SELECT id, username, role, created_at, password_hash FROM users WHERE username = ?1",
    )?
    .query_row([username], |row| Ok((user_from_row(row, 0)?, row.get(4)?)))
    .optional()
}

/// The argon2id PHC string of account `user_id`, if the account exists.
///
/// # Errors
/// SQLite errors.
pub fn password_hash(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?
        .query_row([user_id], |row| row.get(0))
        .optional()
}
