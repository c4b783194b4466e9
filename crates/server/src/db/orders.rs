//! `orders` and `escrows` tables: placing an order (stock decrement, order row, escrow in its initial
//! state, one transaction) and reading the caller's orders.

use escrow_core::error::{EscrowError, OrderError};
use escrow_core::escrow::{EscrowTerms, NewEscrow};
use escrow_core::{
    Amount, Escrow, EscrowCap, EscrowId, Listing, ListingId, Order, OrderId, OrderStatus,
    Timestamp, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{from_unix, now_unix};

/// An order with its escrow, as the API shows it. Amounts are atomic units (piconero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderView {
    /// Order id.
    pub order_id: i64,
    /// Ordered listing.
    pub listing_id: i64,
    /// Listing title at read time.
    pub listing_title: String,
    /// Buyer account id.
    pub buyer_id: i64,
    /// Vendor account id.
    pub vendor_id: i64,
    /// Units ordered.
    pub quantity: u32,
    /// Unit price at order time, atomic units.
    pub unit_price_xmr: u64,
    /// unit_price_xmr × quantity, atomic units: what the buyer pays into the escrow.
    pub total_xmr: u64,
    /// Coarse status derived from the escrow state (`pending`, `paid`, `disputed`, ...).
    #[schema(value_type = String, example = "pending")]
    pub status: OrderStatus,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// Last change (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: time::OffsetDateTime,
    /// The order's 2-of-3 escrow.
    pub escrow: EscrowView,
}

/// The escrow part of an [`OrderView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EscrowView {
    /// Escrow id.
    pub escrow_id: i64,
    /// Escrow state (`awaiting_setup` right after the order).
    #[schema(value_type = String, example = "awaiting_setup")]
    pub state: String,
    /// Amount to fund, atomic units.
    pub amount_xmr: u64,
    /// Multisig address once setup completes, else null.
    pub address: Option<String>,
    /// Confirmations required before the escrow counts as funded.
    pub required_confirmations: u64,
    /// Seconds the buyer has to fund once the address is shown.
    pub funding_window_secs: u64,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// Last change (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: time::OffsetDateTime,
}

/// Inputs of [`place`] besides the order line.
#[derive(Debug, Clone, Copy)]
pub struct EscrowPolicy {
    /// Per-environment cap on the order total.
    pub cap: EscrowCap,
    /// Confirmations required for funding.
    pub required_confirmations: u64,
    /// Funding window in seconds.
    pub funding_window_secs: u64,
}

/// Outcome of [`place`] when the transaction ran; only `Placed` wrote anything.
#[derive(Debug)]
pub enum PlaceOutcome {
    /// Order, stock decrement and escrow committed together.
    Placed(Box<OrderView>),
    /// No live listing with this id.
    ListingNotFound,
    /// The domain refused the order (stock, overflow, cap, self-purchase).
    Rejected(OrderError),
    /// The escrow terms were refused (zero confirmations or window in the config).
    EscrowRejected(EscrowError),
}

fn sql_u64(v: u64) -> rusqlite::Result<i64> {
    i64::try_from(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn load_listing(conn: &Connection, id: i64) -> rusqlite::Result<Option<Listing>> {
    conn.query_row(
        "SELECT id, vendor_id, title, description, price_atomic, stock, created_at, updated_at
         FROM listings WHERE id = ?1 AND deleted_at IS NULL",
        [id],
        |r| {
            Ok(Listing {
                id: ListingId::new(r.get(0)?),
                vendor_id: UserId::new(r.get(1)?),
                title: r.get(2)?,
                description: r.get(3)?,
                price: Amount::from_atomic(r.get(4)?),
                stock: r.get(5)?,
                created_at: Timestamp::from_unix_seconds(r.get(6)?),
                updated_at: Timestamp::from_unix_seconds(r.get(7)?),
            })
        },
    )
    .optional()
}

/// Places an order in one IMMEDIATE transaction: checks it with [`Order::place`] (stock, checked
/// total, cap), decrements stock, inserts the order and its escrow in the initial state
/// (`awaiting_setup`, the serialized [`Escrow`] in `escrows.record`).
///
/// # Errors
/// SQLite errors (the transaction is rolled back).
pub fn place(
    conn: &mut Connection,
    buyer_id: i64,
    listing_id: i64,
    quantity: u32,
    policy: &EscrowPolicy,
) -> rusqlite::Result<PlaceOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(listing) = load_listing(&tx, listing_id)? else {
        return Ok(PlaceOutcome::ListingNotFound);
    };
    let line = match Order::place(&listing, UserId::new(buyer_id), quantity, &policy.cap) {
        Ok(line) => line,
        Err(e) => return Ok(PlaceOutcome::Rejected(e)),
    };
    let terms = match EscrowTerms::new(
        line.total(),
        policy.required_confirmations,
        policy.funding_window_secs,
    ) {
        Ok(t) => t,
        Err(e) => return Ok(PlaceOutcome::EscrowRejected(e)),
    };
    let now = now_unix();
    let changed = tx.execute(
        "UPDATE listings SET stock = stock - ?2, updated_at = ?3 WHERE id = ?1 AND stock >= ?2 AND deleted_at IS NULL",
        params![listing_id, quantity, now],
    )?;
    if changed != 1 {
        return Ok(PlaceOutcome::Rejected(OrderError::InsufficientStock {
            requested: quantity,
            available: listing.stock,
        }));
    }
    let status = OrderStatus::from(escrow_core::escrow::EscrowStateKind::AwaitingSetup);
    tx.execute(
        "INSERT INTO orders (listing_id, buyer_id, vendor_id, quantity, unit_price_atomic, total_atomic, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            listing_id,
            buyer_id,
            line.vendor_id().get(),
            quantity,
            sql_u64(line.unit_price().as_atomic())?,
            sql_u64(line.total().as_atomic())?,
            status.as_str(),
            now
        ],
    )?;
    let order_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO escrows (order_id, state, amount_atomic, required_confirmations, funding_window_secs, record, created_at, updated_at)
         VALUES (?1, 'awaiting_setup', ?2, ?3, ?4, '', ?5, ?5)",
        params![order_id, sql_u64(terms.amount().as_atomic())?, sql_u64(terms.required_confirmations())?, sql_u64(terms.funding_window_secs())?, now],
    )?;
    let escrow_id = tx.last_insert_rowid();
    let escrow = match Escrow::new(NewEscrow {
        id: EscrowId::new(escrow_id),
        order_id: OrderId::new(order_id),
        buyer_id: line.buyer_id(),
        vendor_id: line.vendor_id(),
        terms,
        payout_address: None,
        refund_address: None,
        created_at: Timestamp::from_unix_seconds(u64::try_from(now).unwrap_or(0)),
    }) {
        Ok(e) => e,
        Err(e) => return Ok(PlaceOutcome::EscrowRejected(e)),
    };
    let record = serde_json::to_string(&escrow)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "UPDATE escrows SET state = ?2, record = ?3 WHERE id = ?1",
        params![escrow_id, escrow.state().as_str(), record],
    )?;
    let view =
        get_for_party(&tx, order_id, buyer_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    tx.commit()?;
    Ok(PlaceOutcome::Placed(Box::new(view)))
}

const SELECT: &str = "SELECT o.id, o.listing_id, l.title, o.buyer_id, o.vendor_id, o.quantity, o.unit_price_atomic,
    o.total_atomic, o.status, o.created_at, o.updated_at,
    e.id, e.state, e.amount_atomic, e.address, e.required_confirmations, e.funding_window_secs, e.created_at, e.updated_at
    FROM orders o JOIN listings l ON l.id = o.listing_id JOIN escrows e ON e.order_id = o.id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OrderView> {
    let status: String = r.get(8)?;
    Ok(OrderView {
        order_id: r.get(0)?,
        listing_id: r.get(1)?,
        listing_title: r.get(2)?,
        buyer_id: r.get(3)?,
        vendor_id: r.get(4)?,
        quantity: r.get(5)?,
        unit_price_xmr: r.get(6)?,
        total_xmr: r.get(7)?,
        status: status.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: from_unix(r.get(9)?),
        updated_at: from_unix(r.get(10)?),
        escrow: EscrowView {
            escrow_id: r.get(11)?,
            state: r.get(12)?,
            amount_xmr: r.get(13)?,
            address: r.get(14)?,
            required_confirmations: r.get(15)?,
            funding_window_secs: r.get(16)?,
            created_at: from_unix(r.get(17)?),
            updated_at: from_unix(r.get(18)?),
        },
    })
}

/// The order if `user_id` is its buyer or vendor (anyone else gets `None`, like a missing order).
///
/// # Errors
/// SQLite errors.
pub fn get_for_party(
    conn: &Connection,
    order_id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<OrderView>> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE o.id = ?1 AND (o.buyer_id = ?2 OR o.vendor_id = ?2)"
    ))?
    .query_row(params![order_id, user_id], from_row)
    .optional()
}

/// Orders where `user_id` is buyer or vendor, newest first; returns the page and whether more follow.
///
/// # Errors
/// SQLite errors.
pub fn list_for_party(
    conn: &Connection,
    user_id: i64,
    limit: u32,
    offset: u64,
) -> rusqlite::Result<(Vec<OrderView>, bool)> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE o.buyer_id = ?1 OR o.vendor_id = ?1 ORDER BY o.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let mut items = stmt
        .query_map(params![user_id, limit + 1, offset], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok((items, has_more))
}

/// Per stored state label: escrow count and the oldest `updated_at` (Unix s), for the
/// `escrow_total{state}` and `escrow_oldest_last_update_timestamp_seconds{state}` gauges.
///
/// # Errors
/// SQLite errors.
pub fn escrow_state_summary(conn: &Connection) -> rusqlite::Result<Vec<(String, u64, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT state, count(*), min(updated_at) FROM escrows GROUP BY state")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}
