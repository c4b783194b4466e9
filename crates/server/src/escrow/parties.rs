//! The parties' account addresses on their escrows: a vendor's payout address and a buyer's
//! refund address, as the parties set them on their accounts, reach every escrow of theirs whose
//! payout is not decided yet.

use escrow_core::error::TransitionError;
use escrow_core::{Actor, Escrow, EscrowEvent};
use monero_types::Address;

use super::{Applied, ApplyError, EscrowContext, Target, apply_event};
use crate::db::addresses::{self, AddressKind};
use crate::db::{escrows, now_unix};

/// The account on `escrow` that keeps addresses of `kind`: the vendor (payout) or the buyer
/// (refund).
fn owner(escrow: &Escrow, kind: AddressKind) -> i64 {
    match kind {
        AddressKind::Payout => escrow.vendor_id().get(),
        AddressKind::Refund => escrow.buyer_id().get(),
    }
}

/// The event by which that party sets `address` on an escrow.
fn event(kind: AddressKind, address: Address) -> (Actor, EscrowEvent) {
    match kind {
        AddressKind::Payout => (Actor::Vendor, EscrowEvent::PayoutAddressSet { address }),
        AddressKind::Refund => (Actor::Buyer, EscrowEvent::RefundAddressSet { address }),
    }
}

/// Copies the parties' account addresses onto `escrow` where it has none yet (the vendor's
/// payout address, the buyer's refund address), as the parties themselves set them.
///
/// # Errors
/// [`ApplyError`] other than a refusal because the payout is decided or the escrow closed.
pub async fn fill_from_accounts(ctx: &EscrowContext, escrow: &Escrow) -> Result<(), ApplyError> {
    let (vendor, buyer) = (escrow.vendor_id().get(), escrow.buyer_id().get());
    let (payout, refund) = ctx
        .db()
        .run("select", "user_addresses", move |conn| {
            addresses::payout_and_refund(conn, vendor, buyer)
        })
        .await?;
    let missing = [
        (
            AddressKind::Payout,
            escrow.payout_address().is_none(),
            payout,
        ),
        (
            AddressKind::Refund,
            escrow.refund_address().is_none(),
            refund,
        ),
    ];
    for (kind, _, stored) in missing.into_iter().filter(|(_, none, _)| *none) {
        let Some(address) = stored.and_then(|a| a.parse::<Address>().ok()) else {
            continue;
        };
        let (actor, event) = event(kind, address);
        let user = owner(escrow, kind);
        let target = Target::Escrow(escrow.id().get());
        ignore_decided(apply_event(ctx, target, actor, Some(user), event).await)?;
    }
    Ok(())
}

/// Stores `address` as `user`'s account address of `kind` and applies it to the user's escrows
/// whose payout is not decided yet; returns how many escrows changed.
///
/// # Errors
/// [`ApplyError`] other than a refusal because the payout is decided or the escrow closed.
pub async fn set_account_address(
    ctx: &EscrowContext,
    user: i64,
    kind: AddressKind,
    address: &Address,
) -> Result<usize, ApplyError> {
    let stored = address.as_str().to_owned();
    let open = ctx
        .db()
        .run("update", "user_addresses", move |conn| {
            addresses::set(conn, user, kind, &stored, now_unix())?;
            escrows::open_for_party(conn, user)
        })
        .await?;
    let mut updated = 0;
    for escrow in open.iter().filter(|e| owner(e, kind) == user) {
        let (actor, event) = event(kind, address.clone());
        let target = Target::Escrow(escrow.id().get());
        match apply_event(ctx, target, actor, Some(user), event).await {
            Ok(Applied::Changed(_)) => updated += 1,
            other => ignore_decided(other)?,
        }
    }
    Ok(updated)
}

/// Address changes are refused once a payout is decided (or the escrow is closed); that is
/// expected when propagating account addresses.
fn ignore_decided(result: Result<Applied, ApplyError>) -> Result<(), ApplyError> {
    match result {
        Ok(_) => Ok(()),
        Err(ApplyError::Rejected(
            TransitionError::PayoutDecided { .. } | TransitionError::Terminal { .. },
        )) => Ok(()),
        Err(e) => Err(e),
    }
}
