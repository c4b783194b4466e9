//! The escrow tables, written only here: `escrows` (the serialized escrow-core record, created with
//! its order and then replaced by compare-and-set), its `escrow_events` audit trail, and through
//! the submodules the per-escrow wallet files ([`wallets`]) and the orchestrator's step intents
//! and results ([`steps`]); [`custody`] reads what the custody cap and the terminal-wallet
//! check need. Synchronous; callers run it through [`crate::db::Db::run`].

pub mod custody;
pub mod destinations;
pub mod money;
pub mod rounds;
pub mod steps;
pub mod wallets;

use escrow_core::error::EscrowError;
use escrow_core::escrow::{EscrowTerms, NewEscrow};
use escrow_core::{
    Escrow, EscrowId, EscrowMode, OrderId, OrderStatus, Timestamp, Transition, UserId,
};
use rusqlite::{Connection, OptionalExtension, Params, params};

use super::sql_u64;
use crate::views::payout_tx_hash;

/// Which escrow a read or an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// By escrow id.
    Escrow(i64),
    /// By order id (one escrow per order).
    Order(i64),
}

/// Reads and checks an escrow record (`escrows.record`, serde JSON of [`Escrow`]).
fn decode(record: &str) -> rusqlite::Result<Escrow> {
    serde_json::from_str(record).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn encode(escrow: &Escrow) -> rusqlite::Result<String> {
    serde_json::to_string(escrow).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The escrow `target` names, if it exists.
///
/// # Errors
/// SQLite errors, or a record that fails escrow-core's invariant checks.
pub fn load(conn: &Connection, target: Target) -> rusqlite::Result<Option<Escrow>> {
    let (sql, id) = match target {
        Target::Escrow(id) => ("SELECT record FROM escrows WHERE id = ?1", id),
        Target::Order(id) => ("SELECT record FROM escrows WHERE order_id = ?1", id),
    };
    let record: Option<String> = conn.query_row(sql, [id], |r| r.get(0)).optional()?;
    record.map(|r| decode(&r)).transpose()
}

/// The escrows whose records `sql` selects (one `record` column) with `params`.
fn records(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Vec<Escrow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let records = stmt
        .query_map(params, |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    records.iter().map(|r| decode(r)).collect()
}

/// Escrows the orchestrator must move forward itself (`awaiting_setup`, `awaiting_funding`,
/// `releasing`, `refunding`), oldest first, except those whose payout set the co-signer refused
/// ([`steps::payout_refusal`]): they wait for an operator, not for the next pass.
///
/// # Errors
/// SQLite errors.
pub fn pending_ids(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM escrows WHERE state IN ('awaiting_setup', 'awaiting_funding', 'releasing', 'refunding')
         AND id NOT IN (SELECT escrow_id FROM escrow_steps WHERE status = 'refused') ORDER BY id",
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
    records(
        conn,
        "SELECT record FROM escrows WHERE state = 'disputed' ORDER BY updated_at, id",
        [],
    )
}

/// The parties of a new order's escrow.
#[derive(Debug, Clone, Copy)]
pub struct Parties {
    /// The buyer's account.
    pub buyer_id: UserId,
    /// The vendor's account.
    pub vendor_id: UserId,
}

/// Inserts the escrow of the just-inserted order `order_id` in its initial state
/// (`awaiting_setup`, no addresses), held in `mode`, created at `now` (Unix s); a non-custodial
/// escrow's setup rounds start at `now` ([`rounds::open_phase`]). Run it inside the order's
/// transaction; nothing should be committed when the inner result is an error.
///
/// # Errors
/// SQLite errors; `Ok(Err(_))` when escrow-core refuses the escrow.
pub fn create(
    conn: &Connection,
    order_id: i64,
    parties: Parties,
    terms: EscrowTerms,
    mode: EscrowMode,
    now: i64,
) -> rusqlite::Result<Result<Escrow, EscrowError>> {
    conn.execute(
        "INSERT INTO escrows (order_id, state, amount_atomic, required_confirmations, funding_window_secs, record, created_at, updated_at, mode)
         VALUES (?1, 'awaiting_setup', ?2, ?3, ?4, '', ?5, ?5, ?6)",
        params![order_id, sql_u64(terms.amount().as_atomic())?, sql_u64(terms.required_confirmations())?, sql_u64(terms.funding_window_secs())?, now, mode.as_str()],
    )?;
    let escrow_id = conn.last_insert_rowid();
    let escrow = match Escrow::new_in_mode(
        NewEscrow {
            id: EscrowId::new(escrow_id),
            order_id: OrderId::new(order_id),
            buyer_id: parties.buyer_id,
            vendor_id: parties.vendor_id,
            terms,
            payout_address: None,
            refund_address: None,
            created_at: Timestamp::from_unix_seconds(u64::try_from(now).unwrap_or(0)),
        },
        mode,
    ) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    if mode == EscrowMode::NonCustodial {
        rounds::open_phase(conn, escrow_id, rounds::PhaseKind::Setup, None, now)?;
    }
    conn.execute(
        "UPDATE escrows SET state = ?2, record = ?3 WHERE id = ?1",
        params![escrow_id, escrow.state().as_str(), encode(&escrow)?],
    )?;
    Ok(Ok(escrow))
}

/// Why [`persist`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleRecord;

/// Writes the escrow after `transition` with a compare-and-set on the previous state label and
/// `updated_at` (`prev_updated_at`), keeps `orders.status` in step, and appends the audit row.
/// Run it inside the transaction that loaded the escrow.
///
/// # Errors
/// SQLite errors; `Ok(Err(StaleRecord))` when another writer changed the row in between, or
/// when the transition would set a payout or refund address other than the one fixed when the
/// escrow was funded ([`destinations`]).
pub fn persist(
    conn: &Connection,
    transition: &Transition,
    prev_updated_at: u64,
    user_id: Option<i64>,
) -> rusqlite::Result<Result<(), StaleRecord>> {
    let escrow = transition.escrow();
    if !destinations::keeps_fixed_destination(conn, transition)? {
        return Ok(Err(StaleRecord));
    }
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
    destinations::fix_on_funding(conn, transition, updated_at)?;
    let status = OrderStatus::from(escrow.state().kind());
    conn.execute(
        "UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![escrow.order_id().get(), status.as_str(), updated_at],
    )?;
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
            payout_tx_hash(escrow).map(|h| h.as_str()),
            updated_at,
        ],
    )?;
    Ok(Ok(()))
}

/// Per stored state label: escrow count and the oldest `updated_at` (Unix s), for the
/// `escrow_total{state}` and `escrow_oldest_last_update_timestamp_seconds{state}` gauges.
///
/// # Errors
/// SQLite errors.
pub fn state_summary(conn: &Connection) -> rusqlite::Result<Vec<(String, u64, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT state, count(*), min(updated_at) FROM escrows GROUP BY state")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}
