//! `orders` table: placing an order (stock decrement, order row and its escrow in the initial
//! state through [`super::escrows::create`], one transaction) and reading the caller's orders.

use escrow_core::error::{EscrowError, OrderError};
use escrow_core::escrow::EscrowTerms;
use escrow_core::{
    Amount, EscrowCap, EscrowMode, Listing, ListingId, Order, OrderStatus, Timestamp, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::escrows::{self, Parties};
use super::{ApiTime, Columns, Page, now_unix, page, sql_u64};
use crate::config::custody::{CustodyCap, CustodyCapReached};

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
    /// Who holds the buyer's and vendor's escrow keys: `hosted` (the server) or `non_custodial`
    /// (each party's own wallet; the server holds only the arbiter's).
    #[schema(value_type = String, example = "hosted")]
    pub escrow_mode: EscrowMode,
    /// When the order was placed (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: ApiTime,
    /// Last change of its status (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: ApiTime,
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
    #[schema(value_type = String, format = DateTime)]
    pub created_at: ApiTime,
    /// Last change (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: ApiTime,
}

/// Inputs of [`place`] besides the order line.
#[derive(Debug, Clone, Copy)]
pub struct EscrowPolicy {
    /// Per-environment cap on the order total.
    pub cap: EscrowCap,
    /// Per-environment cap on the total of all open escrows, this one included.
    pub custody: CustodyCap,
    /// Confirmations required for funding.
    pub required_confirmations: u64,
    /// Funding window in seconds.
    pub funding_window_secs: u64,
    /// Most unfunded orders the buyer may have at once ([`UNFUNDED_STATES`]).
    pub max_unfunded: u32,
    /// The escrow mode the buyer chose (already admitted by the marketplace's allowed modes).
    pub mode: EscrowMode,
}

/// Escrow states of an unfunded order: the ones [`EscrowPolicy::max_unfunded`] counts.
pub const UNFUNDED_STATES: &str = "'awaiting_setup', 'setup_failed', 'awaiting_funding'";

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
    /// The open escrows with this one would exceed the custody cap.
    CustodyCapReached(CustodyCapReached),
    /// The buyer already has [`EscrowPolicy::max_unfunded`] unfunded orders.
    TooManyUnfunded {
        /// The buyer's unfunded orders now.
        open: u32,
        /// The cap.
        cap: u32,
    },
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
/// total, cap) and against the custody cap ([`CustodyCap::admit`] over the open escrows),
/// decrements stock, inserts the order and its escrow in the initial state (`awaiting_setup`,
/// the serialized [`escrow_core::Escrow`] in `escrows.record`).
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
    let open = unfunded_count(&tx, buyer_id)?;
    if open >= policy.max_unfunded {
        return Ok(PlaceOutcome::TooManyUnfunded {
            open,
            cap: policy.max_unfunded,
        });
    }
    let Some(listing) = load_listing(&tx, listing_id)? else {
        return Ok(PlaceOutcome::ListingNotFound);
    };
    let line = match Order::place(&listing, UserId::new(buyer_id), quantity, &policy.cap) {
        Ok(line) => line.with_escrow_mode(policy.mode),
        Err(e) => return Ok(PlaceOutcome::Rejected(e)),
    };
    if let Err(e) = policy
        .custody
        .admit(escrows::custody::open_amounts(&tx)?, line.total())
    {
        return Ok(PlaceOutcome::CustodyCapReached(e));
    }
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
    let parties = Parties {
        buyer_id: line.buyer_id(),
        vendor_id: line.vendor_id(),
    };
    if let Err(e) = escrows::create(&tx, order_id, parties, terms, line.escrow_mode(), now)? {
        return Ok(PlaceOutcome::EscrowRejected(e));
    }
    let view =
        get_for_party(&tx, order_id, buyer_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    tx.commit()?;
    Ok(PlaceOutcome::Placed(Box::new(view)))
}

/// How many of `buyer_id`'s orders are unfunded (escrow in one of [`UNFUNDED_STATES`]).
///
/// # Errors
/// SQLite errors.
pub fn unfunded_count(conn: &Connection, buyer_id: i64) -> rusqlite::Result<u32> {
    conn.prepare_cached(&format!(
        "SELECT count(*) FROM orders o JOIN escrows e ON e.order_id = o.id
         WHERE o.buyer_id = ?1 AND e.state IN ({UNFUNDED_STATES})"
    ))?
    .query_row([buyer_id], |r| r.get(0))
}

/// Gives the units of order `order_id` back to its listing, once: only when its escrow is
/// `cancelled` or `expired` and the stock was not returned yet (`orders.stock_returned_at`).
/// Run it inside the transaction that moved the escrow there. Returns whether stock was returned.
/// The listing's stock saturates at 2^32-1.
///
/// # Errors
/// SQLite errors.
pub fn return_stock(conn: &Connection, order_id: i64, now: i64) -> rusqlite::Result<bool> {
    let marked = conn.execute(
        "UPDATE orders SET stock_returned_at = ?2 WHERE id = ?1 AND stock_returned_at IS NULL
         AND EXISTS (SELECT 1 FROM escrows e WHERE e.order_id = ?1 AND e.state IN ('cancelled', 'expired'))",
        params![order_id, now],
    )?;
    if marked != 1 {
        return Ok(false);
    }
    conn.execute(
        "UPDATE listings SET stock = min(stock + (SELECT quantity FROM orders WHERE id = ?1), 4294967295), updated_at = ?2
         WHERE id = (SELECT listing_id FROM orders WHERE id = ?1)",
        params![order_id, now],
    )?;
    Ok(true)
}

const SELECT: &str = "SELECT o.id, o.listing_id, l.title, o.buyer_id, o.vendor_id, o.quantity, o.unit_price_atomic,
    o.total_atomic, o.status, e.mode, o.created_at, o.updated_at,
    e.id, e.state, e.amount_atomic, e.address, e.required_confirmations, e.funding_window_secs, e.created_at, e.updated_at
    FROM orders o JOIN listings l ON l.id = o.listing_id JOIN escrows e ON e.order_id = o.id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OrderView> {
    let mut c = Columns::from(r, 0);
    Ok(OrderView {
        order_id: c.read()?,
        listing_id: c.read()?,
        listing_title: c.read()?,
        buyer_id: c.read()?,
        vendor_id: c.read()?,
        quantity: c.read()?,
        unit_price_xmr: c.read()?,
        total_xmr: c.read()?,
        status: c.label()?,
        escrow_mode: c.label()?,
        created_at: c.read()?,
        updated_at: c.read()?,
        escrow: EscrowView {
            escrow_id: c.read()?,
            state: c.read()?,
            amount_xmr: c.read()?,
            address: c.read()?,
            required_confirmations: c.read()?,
            funding_window_secs: c.read()?,
            created_at: c.read()?,
            updated_at: c.read()?,
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

/// Orders where `user_id` is buyer or vendor, newest first: `limit` rows after skipping `offset`.
///
/// # Errors
/// SQLite errors.
pub fn list_for_party(
    conn: &Connection,
    user_id: i64,
    limit: u32,
    offset: u64,
) -> rusqlite::Result<Page<OrderView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE o.buyer_id = ?1 OR o.vendor_id = ?1 ORDER BY o.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, limit + 1, offset], from_row)?;
    page(rows, limit)
}
