//! Where an escrow's money may go: the payout and refund addresses in force when money first
//! reached it are fixed on the escrow row (`funded_payout_address`, `funded_refund_address`,
//! `addresses_fixed_at`), so changing an account address afterwards cannot redirect it.
//!
//! [`fix_on_funding`] takes the snapshot in the transaction of the transition that brings the
//! money; [`keeps_fixed_destination`] refuses, in the transaction of any later address event, an
//! address other than the fixed one.

use escrow_core::{Address, EscrowStateKind, EventKind, Transition};
use rusqlite::{Connection, OptionalExtension, params};

use super::records;
use crate::db::addresses::AddressKind;

/// Whether an escrow in `state` has (or had) money in it: every state but the ones before
/// funding and the closed-unfunded ones.
fn holds_money(state: EscrowStateKind) -> bool {
    !matches!(
        state,
        EscrowStateKind::AwaitingSetup
            | EscrowStateKind::SetupFailed
            | EscrowStateKind::AwaitingFunding
            | EscrowStateKind::Expired
            | EscrowStateKind::Cancelled
    )
}

/// The column holding the fixed address of `kind`.
fn column(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Payout => "funded_payout_address",
        AddressKind::Refund => "funded_refund_address",
    }
}

/// When `transition` brings the escrow's first money (funded, or disputed as underfunded or
/// paid late), fixes its payout and refund addresses: the escrow's own address of each kind if
/// it has one, else the party's account address (none: stays open until one is set). Taken once;
/// `now` is Unix s.
///
/// # Errors
/// SQLite errors.
pub(super) fn fix_on_funding(
    conn: &Connection,
    transition: &Transition,
    now: i64,
) -> rusqlite::Result<()> {
    if holds_money(transition.from_state()) || !holds_money(transition.to_state()) {
        return Ok(());
    }
    let escrow = transition.escrow();
    conn.execute(
        "UPDATE escrows SET
           funded_payout_address = COALESCE(?2, (SELECT address FROM user_addresses WHERE user_id = ?3 AND kind = 'payout')),
           funded_refund_address = COALESCE(?4, (SELECT address FROM user_addresses WHERE user_id = ?5 AND kind = 'refund')),
           addresses_fixed_at = ?6
         WHERE id = ?1 AND addresses_fixed_at IS NULL",
        params![
            escrow.id().get(),
            escrow.payout_address().map(Address::as_str),
            escrow.vendor_id().get(),
            escrow.refund_address().map(Address::as_str),
            escrow.buyer_id().get(),
            now,
        ],
    )?;
    Ok(())
}

/// Whether `transition` leaves the escrow's fixed destinations alone: true for every event but a
/// payout or refund address set to something other than the address fixed at funding.
///
/// # Errors
/// SQLite errors.
pub(super) fn keeps_fixed_destination(
    conn: &Connection,
    transition: &Transition,
) -> rusqlite::Result<bool> {
    let escrow = transition.escrow();
    let (kind, new) = match transition.event() {
        EventKind::PayoutAddressSet => (AddressKind::Payout, escrow.payout_address()),
        EventKind::RefundAddressSet => (AddressKind::Refund, escrow.refund_address()),
        _ => return Ok(true),
    };
    let fixed = fixed_address(conn, escrow.id().get(), kind)?;
    Ok(fixed.is_none() || fixed.as_deref() == new.map(Address::as_str))
}

/// The address of `kind` fixed on escrow `escrow_id` when it was funded, if any.
///
/// # Errors
/// SQLite errors.
pub fn fixed_address(
    conn: &Connection,
    escrow_id: i64,
    kind: AddressKind,
) -> rusqlite::Result<Option<String>> {
    let sql = format!("SELECT {} FROM escrows WHERE id = ?1", column(kind));
    Ok(conn
        .query_row(&sql, [escrow_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// The payout and refund addresses that apply to escrow `escrow_id`: the ones fixed at funding,
/// else the vendor's and the buyer's account addresses.
///
/// # Errors
/// SQLite errors.
pub fn in_force(
    conn: &Connection,
    escrow_id: i64,
) -> rusqlite::Result<(Option<String>, Option<String>)> {
    conn.query_row(
        "SELECT COALESCE(e.funded_payout_address, (SELECT address FROM user_addresses WHERE user_id = o.vendor_id AND kind = 'payout')),
                COALESCE(e.funded_refund_address, (SELECT address FROM user_addresses WHERE user_id = o.buyer_id AND kind = 'refund'))
         FROM escrows e JOIN orders o ON o.id = e.order_id WHERE e.id = ?1",
        [escrow_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map(Option::unwrap_or_default)
}

/// Escrows of `user_id` as buyer or vendor, not released or refunded, whose address of `kind`
/// is not fixed yet: the ones a new account address of that kind still reaches.
///
/// # Errors
/// SQLite errors, or a record that fails escrow-core's invariant checks.
pub fn open_unfixed_for_party(
    conn: &Connection,
    user_id: i64,
    kind: AddressKind,
) -> rusqlite::Result<Vec<escrow_core::Escrow>> {
    let sql = format!(
        "SELECT e.record FROM escrows e JOIN orders o ON o.id = e.order_id
         WHERE (o.buyer_id = ?1 OR o.vendor_id = ?1) AND e.state NOT IN ('released', 'refunded')
           AND e.{} IS NULL ORDER BY e.id",
        column(kind)
    );
    records(conn, &sql, [user_id])
}
