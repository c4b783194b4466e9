//! Embedded schema migrations, tracked by `PRAGMA user_version` (N = number of migrations applied).

use rusqlite::Connection;

use super::DbError;

/// Migration scripts in order; script `i` (0-based) brings the schema to version `i + 1`.
/// Append only: never edit a migration that has shipped.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_escrow_orchestration.sql"),
    include_str!("../../migrations/0003_runner_lease.sql"),
    include_str!("../../migrations/0004_payout_refusal.sql"),
    include_str!("../../migrations/0005_order_jams.sql"),
    include_str!("../../migrations/0006_address_changes.sql"),
    include_str!("../../migrations/0007_noncustodial_rounds.sql"),
];

/// The schema version this binary writes (`PRAGMA user_version` after [`migrate`]).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Applies every migration above the file's `user_version`, each in its own transaction together with
/// the `user_version` bump, so a crash leaves the schema at a whole version.
///
/// # Errors
/// [`DbError::NewerSchema`] when the file was written by a newer binary; [`DbError::Migration`] when a
/// script fails (that transaction is rolled back).
pub fn migrate(conn: &mut Connection) -> Result<MigrationOutcome, DbError> {
    let current: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(DbError::Sqlite)?;
    if current > SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, script) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as u32 + 1;
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(script)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        apply(conn).map_err(|source| DbError::Migration { version, source })?;
    }
    Ok(MigrationOutcome {
        from: current,
        to: SCHEMA_VERSION,
    })
}

/// Schema versions before and after [`migrate`] (equal when nothing was applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationOutcome {
    /// `user_version` found.
    pub from: u32,
    /// `user_version` now.
    pub to: u32,
}
