//! The parties' account addresses on their escrows: a vendor's payout address and a buyer's
//! refund address, as the parties set them on their accounts, reach every escrow of theirs that
//! holds no money yet. Once money reaches an escrow its addresses are fixed
//! ([`crate::db::escrows::destinations`]) and later account changes no longer reach it.

use escrow_core::error::TransitionError;
use escrow_core::{Actor, Escrow, EscrowEvent};
use monero_types::Address;
use rusqlite::TransactionBehavior;

use super::{Applied, ApplyError, EscrowContext, Target, apply_event};
use crate::db::addresses::{self, AddressChange, AddressKind, NewAddress};
use crate::db::escrows::destinations;
use crate::db::now_unix;

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

/// Copies the addresses in force onto `escrow` where it has none yet (the vendor's payout
/// address, the buyer's refund address: the ones fixed when it was funded, else the account
/// addresses), as the parties themselves set them.
///
/// # Errors
/// [`ApplyError`] other than a refusal because the payout is decided or the escrow closed.
pub async fn fill_from_accounts(ctx: &EscrowContext, escrow: &Escrow) -> Result<(), ApplyError> {
    let id = escrow.id().get();
    let (payout, refund) = ctx
        .db()
        .run("select", "escrows", move |conn| {
            destinations::in_force(conn, id)
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

/// The outcome of [`set_account_address`].
#[derive(Debug, Clone)]
pub struct AccountAddressSet {
    /// The audit record of the change.
    pub change: AddressChange,
    /// Escrows that now use the new address (those holding no money yet).
    pub escrows_updated: usize,
}

/// Stores `address` as `user`'s account address of `kind` with its audit row (`client_ip`
/// recorded), and applies it to the user's escrows whose address of that kind is not fixed yet.
///
/// # Errors
/// [`ApplyError`] other than a refusal because the payout is decided or the escrow closed.
pub async fn set_account_address(
    ctx: &EscrowContext,
    user: i64,
    kind: AddressKind,
    address: &Address,
    client_ip: &str,
) -> Result<AccountAddressSet, ApplyError> {
    let (stored, ip) = (address.as_str().to_owned(), client_ip.to_owned());
    let (change, open) = ctx
        .db()
        .run("update", "user_addresses", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let change = addresses::set(
                &tx,
                &NewAddress {
                    user_id: user,
                    kind,
                    address: &stored,
                    client_ip: &ip,
                    now: now_unix(),
                },
            )?;
            let open = destinations::open_unfixed_for_party(&tx, user, kind)?;
            tx.commit()?;
            Ok((change, open))
        })
        .await?;
    let mut updated = 0;
    for escrow in open.iter().filter(|e| owner(e, kind) == user) {
        let (actor, event) = event(kind, address.clone());
        let id = escrow.id().get();
        let outcome = apply_event(ctx, Target::Escrow(id), actor, Some(user), event).await;
        // Funded since it was listed: it keeps the address fixed then.
        if matches!(outcome, Err(ApplyError::Conflict)) && is_fixed(ctx, id, kind).await? {
            continue;
        }
        match outcome {
            Ok(Applied::Changed(_)) => updated += 1,
            other => ignore_decided(other)?,
        }
    }
    Ok(AccountAddressSet {
        change,
        escrows_updated: updated,
    })
}

/// Whether escrow `id`'s address of `kind` is fixed (it was funded).
async fn is_fixed(ctx: &EscrowContext, id: i64, kind: AddressKind) -> Result<bool, ApplyError> {
    let fixed = ctx
        .db()
        .run("select", "escrows", move |conn| {
            destinations::fixed_address(conn, id, kind)
        })
        .await?;
    Ok(fixed.is_some())
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
