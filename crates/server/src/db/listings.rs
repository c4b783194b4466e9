//! `listings` table and its FTS5 index `listings_fts` (kept in sync by triggers).

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiTime, Columns, Page, now_unix, page};

/// A listing as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Listing {
    /// Listing id.
    pub listing_id: i64,
    /// The vendor's account id.
    pub vendor_id: i64,
    /// The vendor's username.
    pub vendor_username: String,
    /// Title, 1-200 chars.
    pub title: String,
    /// Description, up to 10 000 chars.
    pub description: String,
    /// Unit price in atomic units (piconero; 1 XMR = 10^12).
    pub price_xmr: u64,
    /// Units available.
    pub stock: u32,
    /// Creation time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: ApiTime,
    /// Last update time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: ApiTime,
}

/// Validated listing fields for an insert or a full replacement.
#[derive(Debug, Clone)]
pub struct ListingFields {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Unit price, atomic units, > 0.
    pub price_atomic: u64,
    /// Units available.
    pub stock: u32,
}

/// Validated partial update; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ListingPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New unit price, atomic units, > 0.
    pub price_atomic: Option<u64>,
    /// New stock.
    pub stock: Option<u32>,
}

/// Outcome of [`update`] and [`soft_delete`] when the statements ran.
#[derive(Debug)]
pub enum OwnedChange<T> {
    /// Applied.
    Done(T),
    /// No live listing with this id; nothing written.
    NotFound,
    /// The listing belongs to another vendor; nothing written.
    NotOwner,
}

const SELECT: &str =
    "SELECT l.id, l.vendor_id, u.username, l.title, l.description, l.price_atomic, l.stock,
    l.created_at, l.updated_at FROM listings l JOIN users u ON u.id = l.vendor_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Listing> {
    let mut c = Columns::from(row, 0);
    Ok(Listing {
        listing_id: c.read()?,
        vendor_id: c.read()?,
        vendor_username: c.read()?,
        title: c.read()?,
        description: c.read()?,
        price_xmr: c.read()?,
        stock: c.read()?,
        created_at: c.read()?,
        updated_at: c.read()?,
    })
}

/// Inserts a listing for `vendor_id` and returns it.
///
/// # Errors
/// SQLite errors.
pub fn insert(
    conn: &Connection,
    vendor_id: i64,
    fields: &ListingFields,
) -> rusqlite::Result<Listing> {
    let now = now_unix();
    conn.prepare_cached(
        "INSERT INTO listings (vendor_id, title, description, price_atomic, stock, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![vendor_id, fields.title, fields.description, fields.price_atomic, fields.stock, now])?;
    get(conn, conn.last_insert_rowid())?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// The live (not deleted) listing with this id.
///
/// # Errors
/// SQLite errors.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Listing>> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE l.id = ?1 AND l.deleted_at IS NULL"
    ))?
    .query_row([id], from_row)
    .optional()
}

/// Live listings, newest first, `limit` rows after skipping `offset`.
///
/// # Errors
/// SQLite errors.
pub fn list(conn: &Connection, limit: u32, offset: u64) -> rusqlite::Result<Page<Listing>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE l.deleted_at IS NULL ORDER BY l.created_at DESC, l.id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = stmt.query_map(params![limit + 1, offset], from_row)?;
    page(rows, limit)
}

/// Full-text search over title and description (FTS5 `MATCH`, best match first).
/// `fts_query` must already be a safe FTS5 expression (see `routes::listings::fts_query`).
///
/// # Errors
/// SQLite errors.
pub fn search(
    conn: &Connection,
    fts_query: &str,
    limit: u32,
    offset: u64,
) -> rusqlite::Result<Page<Listing>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.vendor_id, u.username, l.title, l.description, l.price_atomic, l.stock, l.created_at, l.updated_at
         FROM listings_fts JOIN listings l ON l.id = listings_fts.rowid JOIN users u ON u.id = l.vendor_id
         WHERE listings_fts MATCH ?1 AND l.deleted_at IS NULL
         ORDER BY listings_fts.rank, l.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![fts_query, limit + 1, offset], from_row)?;
    page(rows, limit)
}

/// Starts a transaction on the live listing `id` if `vendor_id` owns it; otherwise says why not.
fn begin_owned<T>(
    conn: &mut Connection,
    id: i64,
    vendor_id: i64,
) -> rusqlite::Result<Result<Transaction<'_>, OwnedChange<T>>> {
    // IMMEDIATE: the write lock is taken before the ownership read. A deferred transaction
    // would read, then fail with "database is locked" (no busy wait) on upgrading to a writer
    // when another edit of a listing committed meanwhile.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let owner: Option<i64> = tx
        .query_row(
            "SELECT vendor_id FROM listings WHERE id = ?1 AND deleted_at IS NULL",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match owner {
        None => Err(OwnedChange::NotFound),
        Some(v) if v != vendor_id => Err(OwnedChange::NotOwner),
        Some(_) => Ok(tx),
    })
}

/// Applies `patch` to the listing if `vendor_id` owns it.
///
/// # Errors
/// SQLite errors.
pub fn update(
    conn: &mut Connection,
    id: i64,
    vendor_id: i64,
    patch: &ListingPatch,
) -> rusqlite::Result<OwnedChange<Listing>> {
    let tx = match begin_owned(conn, id, vendor_id)? {
        Ok(tx) => tx,
        Err(refused) => return Ok(refused),
    };
    tx.execute(
        "UPDATE listings SET title = COALESCE(?2, title), description = COALESCE(?3, description),
             price_atomic = COALESCE(?4, price_atomic), stock = COALESCE(?5, stock), updated_at = ?6
         WHERE id = ?1",
        params![
            id,
            patch.title,
            patch.description,
            patch.price_atomic,
            patch.stock,
            now_unix()
        ],
    )?;
    let listing = get(&tx, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    tx.commit()?;
    Ok(OwnedChange::Done(listing))
}

/// Hides the listing (soft delete: existing orders keep referring to it) if `vendor_id` owns it.
///
/// # Errors
/// SQLite errors.
pub fn soft_delete(
    conn: &mut Connection,
    id: i64,
    vendor_id: i64,
) -> rusqlite::Result<OwnedChange<()>> {
    let tx = match begin_owned(conn, id, vendor_id)? {
        Ok(tx) => tx,
        Err(refused) => return Ok(refused),
    };
    tx.execute(
        "UPDATE listings SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1",
        params![id, now_unix()],
    )?;
    tx.commit()?;
    Ok(OwnedChange::Done(()))
}
