//! SQL for escrow orchestration: escrow records and their compare-and-set persistence, per-escrow
//! wallet files, step intents/results (`escrow_steps`), the event audit trail and the parties'
//! payout/refund addresses. Synchronous; callers run it through [`crate::db::Db::run`].

use escrow_core::{Escrow, OrderStatus, Transition};
use rusqlite::{Connection, OptionalExtension, params};

/// Reads and checks an escrow record (`escrows.record`, serde JSON of [`Escrow`]).
fn decode(record: &str) -> rusqlite::Result<Escrow> {
    serde_json::from_str(record).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn encode(escrow: &Escrow) -> rusqlite::Result<String> {
    serde_json::to_string(escrow).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The escrow with row id `id`.
///
/// # Errors
/// SQLite errors, or a record that fails escrow-core's invariant checks.
pub fn load(conn: &Connection, id: i64) -> rusqlite::Result<Option<Escrow>> {
    let record: Option<String> = conn
        .query_row("SELECT record FROM escrows WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    record.map(|r| decode(&r)).transpose()
}

/// The escrow of order `order_id`.
///
/// # Errors
/// As [`load`].
pub fn load_by_order(conn: &Connection, order_id: i64) -> rusqlite::Result<Option<Escrow>> {
    let record: Option<String> = conn
        .query_row(
            "SELECT record FROM escrows WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .optional()?;
    record.map(|r| decode(&r)).transpose()
}

/// Escrows the orchestrator must move forward itself (`awaiting_setup`, `awaiting_funding`,
/// `releasing`, `refunding`), oldest first.
///
/// # Errors
/// SQLite errors.
pub fn pending_ids(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM escrows WHERE state IN ('awaiting_setup', 'awaiting_funding', 'releasing', 'refunding') ORDER BY id",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Expired or cancelled escrows with an address, closed at or after `since` (Unix s): their address
/// is still watched for late payments.
///
/// # Errors
/// SQLite errors.
pub fn late_watch_ids(conn: &Connection, since: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM escrows WHERE state IN ('expired', 'cancelled') AND address IS NOT NULL AND updated_at >= ?1 ORDER BY id",
    )?;
    stmt.query_map([since], |r| r.get(0))?.collect()
}

/// Open disputes (state `disputed`), oldest first.
///
/// # Errors
/// As [`load`].
pub fn disputed(conn: &Connection) -> rusqlite::Result<Vec<Escrow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record FROM escrows WHERE state = 'disputed' ORDER BY updated_at, id",
    )?;
    let records = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    records.iter().map(|r| decode(r)).collect()
}

/// Escrows of `user_id` as buyer or vendor that are not released or refunded.
///
/// # Errors
/// As [`load`].
pub fn open_for_party(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Escrow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.record FROM escrows e JOIN orders o ON o.id = e.order_id
         WHERE (o.buyer_id = ?1 OR o.vendor_id = ?1) AND e.state NOT IN ('released', 'refunded') ORDER BY e.id",
    )?;
    let records = stmt
        .query_map([user_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    records.iter().map(|r| decode(r)).collect()
}

/// Why [`persist`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleRecord;

/// Writes the escrow after `transition` with a compare-and-set on the previous state label and
/// `updated_at` (`prev_updated_at`), keeps `orders.status` in step, and appends the audit row.
/// Run it inside the transaction that loaded the escrow.
///
/// # Errors
/// SQLite errors; `Ok(Err(StaleRecord))` when another writer changed the row in between.
pub fn persist(
    conn: &Connection,
    transition: &Transition,
    prev_updated_at: u64,
    user_id: Option<i64>,
) -> rusqlite::Result<Result<(), StaleRecord>> {
    let escrow = transition.escrow();
    let record = encode(escrow)?;
    let updated_at = i64::try_from(escrow.updated_at().as_unix_seconds()).unwrap_or(i64::MAX);
    let changed = conn.execute(
        "UPDATE escrows SET state = ?2, address = ?3, record = ?4, updated_at = ?5
         WHERE id = ?1 AND state = ?6 AND json_extract(record, '$.updated_at') = ?7",
        params![
            escrow.id().get(),
            escrow.state().as_str(),
            escrow.address().map(|a| a.as_str()),
            record,
            updated_at,
            transition.from_state().as_str(),
            i64::try_from(prev_updated_at).unwrap_or(i64::MAX),
        ],
    )?;
    if changed != 1 {
        return Ok(Err(StaleRecord));
    }
    let status = OrderStatus::from(escrow.state().kind());
    conn.execute(
        "UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![escrow.order_id().get(), status.as_str(), updated_at],
    )?;
    let tx_hash = escrow
        .state()
        .payout()
        .and_then(|p| p.tx_hash())
        .map(|h| h.as_str().to_owned())
        .or_else(|| match escrow.state() {
            escrow_core::EscrowState::Releasing {
                prepared: Some(p), ..
            }
            | escrow_core::EscrowState::Refunding {
                prepared: Some(p), ..
            } => p.tx_hashes.first().map(|h| h.as_str().to_owned()),
            _ => None,
        });
    conn.execute(
        "INSERT INTO escrow_events (escrow_id, event, actor, user_id, from_state, to_state, tx_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            escrow.id().get(),
            transition.event().as_str(),
            transition.actor().as_str(),
            user_id,
            transition.from_state().as_str(),
            transition.to_state().as_str(),
            tx_hash,
            updated_at,
        ],
    )?;
    Ok(Ok(()))
}

/// One per-escrow wallet file (`escrow_wallets`).
#[derive(Clone)]
pub struct WalletRow {
    /// `buyer`, `vendor` or `arbiter`.
    pub role: String,
    /// Setup attempt it belongs to (1-based).
    pub attempt: u32,
    /// File name in that role's wallet-rpc `--wallet-dir`.
    pub wallet_name: String,
    /// The wallet's random password (secret).
    pub password: String,
}

impl std::fmt::Debug for WalletRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletRow")
            .field("role", &self.role)
            .field("attempt", &self.attempt)
            .field("wallet_name", &self.wallet_name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The wallets of the latest setup attempt of `escrow_id` (empty before setup started).
///
/// # Errors
/// SQLite errors.
pub fn latest_wallets(conn: &Connection, escrow_id: i64) -> rusqlite::Result<Vec<WalletRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT role, attempt, wallet_name, password FROM escrow_wallets
         WHERE escrow_id = ?1 AND attempt = (SELECT max(attempt) FROM escrow_wallets WHERE escrow_id = ?1)",
    )?;
    stmt.query_map([escrow_id], |r| {
        Ok(WalletRow {
            role: r.get(0)?,
            attempt: r.get(1)?,
            wallet_name: r.get(2)?,
            password: r.get(3)?,
        })
    })?
    .collect()
}

/// Inserts the wallet rows of a new setup attempt (all roles at once).
///
/// # Errors
/// SQLite errors (e.g. a duplicate name).
pub fn insert_wallets(
    conn: &Connection,
    escrow_id: i64,
    rows: &[WalletRow],
    now: i64,
) -> rusqlite::Result<()> {
    for row in rows {
        conn.execute(
            "INSERT INTO escrow_wallets (escrow_id, role, attempt, wallet_name, password, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![escrow_id, row.role, row.attempt, row.wallet_name, row.password, now],
        )?;
    }
    Ok(())
}

/// Status of one step row.
#[derive(Clone, PartialEq, Eq)]
pub struct StepRow {
    /// `started` (intent recorded, no result) or `done`.
    pub status: String,
    /// The result once done (may be a secret: multisig_info, multisig_txset).
    pub result: Option<String>,
    /// How many times the step was started.
    pub tries: u32,
}

impl std::fmt::Debug for StepRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepRow")
            .field("status", &self.status)
            .field("tries", &self.tries)
            .finish_non_exhaustive()
    }
}

/// The step row `(escrow_id, attempt, step, role)`, if any.
///
/// # Errors
/// SQLite errors.
pub fn step(
    conn: &Connection,
    escrow_id: i64,
    attempt: u32,
    step: &str,
    role: &str,
) -> rusqlite::Result<Option<StepRow>> {
    conn.prepare_cached(
        "SELECT status, result, tries FROM escrow_steps WHERE escrow_id = ?1 AND attempt = ?2 AND step = ?3 AND role = ?4",
    )?
    .query_row(params![escrow_id, attempt, step, role], |r| Ok(StepRow { status: r.get(0)?, result: r.get(1)?, tries: r.get(2)? }))
    .optional()
}

/// Records the intent to run a step (status `started`, tries + 1) before its RPC call.
/// Returns the row as it was before (to tell a first run from a re-run after a crash).
///
/// # Errors
/// SQLite errors.
pub fn step_started(
    conn: &Connection,
    escrow_id: i64,
    attempt: u32,
    name: &str,
    role: &str,
    now: i64,
) -> rusqlite::Result<Option<StepRow>> {
    let before = step(conn, escrow_id, attempt, name, role)?;
    conn.execute(
        "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, tries, started_at) VALUES (?1, ?2, ?3, ?4, 'started', 1, ?5)
         ON CONFLICT (escrow_id, attempt, step, role) DO UPDATE SET tries = tries + 1, started_at = ?5
         WHERE status = 'started'",
        params![escrow_id, attempt, name, role, now],
    )?;
    Ok(before)
}

/// Records a step's result (status `done`).
///
/// # Errors
/// SQLite errors.
pub fn step_done(
    conn: &Connection,
    escrow_id: i64,
    attempt: u32,
    name: &str,
    role: &str,
    result: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, result, tries, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, 'done', ?5, 1, ?6, ?6)
         ON CONFLICT (escrow_id, attempt, step, role) DO UPDATE SET status = 'done', result = ?5, finished_at = ?6, last_error = NULL",
        params![escrow_id, attempt, name, role, result, now],
    )?;
    Ok(())
}

/// Records the last failure of a started step (never a secret).
///
/// # Errors
/// SQLite errors.
pub fn step_failed(
    conn: &Connection,
    escrow_id: i64,
    attempt: u32,
    name: &str,
    role: &str,
    error: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE escrow_steps SET last_error = ?5 WHERE escrow_id = ?1 AND attempt = ?2 AND step = ?3 AND role = ?4",
        params![escrow_id, attempt, name, role, error],
    )?;
    Ok(())
}

/// The highest attempt number used by steps named `name` for this escrow (0 if none).
///
/// # Errors
/// SQLite errors.
pub fn max_step_attempt(conn: &Connection, escrow_id: i64, name: &str) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT coalesce(max(attempt), 0) FROM escrow_steps WHERE escrow_id = ?1 AND step = ?2",
        params![escrow_id, name],
        |r| r.get(0),
    )
}

/// Which address a user keeps on their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// A vendor's payout address (releases).
    Payout,
    /// A buyer's refund address (refunds).
    Refund,
}

impl AddressKind {
    /// `payout` or `refund`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Payout => "payout",
            AddressKind::Refund => "refund",
        }
    }
}

/// Stores (replaces) a user's address of `kind`.
///
/// # Errors
/// SQLite errors.
pub fn set_user_address(
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
pub fn user_address(
    conn: &Connection,
    user_id: i64,
    kind: AddressKind,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT address FROM user_addresses WHERE user_id = ?1 AND kind = ?2",
        params![user_id, kind.as_str()],
        |r| r.get(0),
    )
    .optional()
}
