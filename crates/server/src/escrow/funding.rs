//! Funding watcher (escrow-core `Action::WatchFunding` and `Action::WatchLateFunding`): one poll
//! per pass reads every incoming transfer of the escrow address (confirmed and pool) from one of
//! the escrow's wallets and reports the snapshot as `funding_observed`; the state machine decides
//! funded / still pending (with what is missing) / late payment. After the funding deadline it
//! sends `funding_window_elapsed` (unfunded escrows expire, and their units go back to the
//! listing in the same transaction; underfunded ones go to an arbiter).
//!
//! Only spendable money funds: each transfer carries its escrow-core [`Spendability`], decided
//! from its `unlock_time` and wallet-rpc `locked` flag at the wallet's chain height and the
//! server's clock, so a time-locked payment never makes an escrow `funded` while it is locked.

use escrow_core::error::TransitionError;
use escrow_core::{
    ChainTip, Escrow, EscrowEvent, EscrowStateKind, IncomingTransfer, Spendability, Timestamp,
    WalletLock,
};
use monero_rpc::TransferEntry;

use super::ApplyError;
use super::engine::{Engine, Progress, StepError};
use super::participant::Participant;
use super::setup::ROLES;
use crate::db::{now_unix, orders};

/// Polls the escrow address once and applies what it shows.
///
/// The watching wallet is chosen by escrow id (buyer, vendor, arbiter in turn) so that the three
/// wallet-rpc endpoints share the polling load; all three multisig wallets see the same transfers.
/// A non-custodial escrow is watched through the arbiter wallet.
///
/// # Errors
/// [`StepError`] when the wallet cannot be read or the event cannot be stored.
pub async fn poll(engine: &Engine, escrow: &Escrow) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let wallets = engine.wallets(id).await?;
    // A non-custodial escrow's only server-side wallet is the arbiter's.
    let role = match escrow.mode() {
        escrow_core::EscrowMode::NonCustodial => escrow_core::Actor::Arbiter,
        _ => ROLES[usize::try_from(id.rem_euclid(3)).unwrap_or(0)],
    };
    let watcher = engine.participant(role, &wallets)?;
    let transfers = watcher.incoming().await?;
    let now = Timestamp::from_unix_seconds(u64::try_from(now_unix()).unwrap_or(0));
    let incoming: Vec<IncomingTransfer> = transfers
        .incoming
        .iter()
        .chain(transfers.pool.iter())
        .filter(|t| !t.double_spend_seen)
        .map(|t| to_incoming(t, now))
        .collect();
    let before = escrow.state().kind();
    let applied = engine
        .apply_system(id, EscrowEvent::FundingObserved { incoming })
        .await?;
    let after = applied.escrow();
    if after.state().kind() != before {
        return Ok(Progress::Continue);
    }
    let window_closed = after
        .funding_deadline()
        .is_some_and(|deadline| now >= deadline);
    if after.state().kind() != EscrowStateKind::AwaitingFunding || !window_closed {
        return Ok(Progress::Wait);
    }
    let order_id = after.order_id().get();
    // Runs only if the event changed the escrow; returns stock only if it expired.
    let give_back = Box::new(move |conn: &rusqlite::Connection| {
        orders::return_stock(conn, order_id, now_unix()).map(|_| ())
    });
    match engine
        .apply_system_with(id, EscrowEvent::FundingWindowElapsed, give_back)
        .await
    {
        Ok(_) => Ok(Progress::Wait),
        // Everything received, confirmations (or a lock) pending: keep watching.
        Err(ApplyError::Rejected(
            TransitionError::AwaitingConfirmations { .. }
            | TransitionError::FundingWindowOpen { .. },
        )) => Ok(Progress::Wait),
        Err(e) => Err(e.into()),
    }
}

/// One `get_transfers` entry as escrow-core sees it at `now`. The chain height is the wallet's
/// own (`height + confirmations` of a mined entry; 0 for a pool entry, which no height lock
/// has passed and no confirmation count admits anyway).
fn to_incoming(entry: &TransferEntry, now: Timestamp) -> IncomingTransfer {
    let tip = ChainTip {
        height: match entry.confirmations {
            0 => 0,
            confirmations => entry.height.saturating_add(confirmations),
        },
        time: now,
    };
    let wallet = if entry.locked {
        WalletLock::Locked
    } else {
        WalletLock::Unlocked
    };
    IncomingTransfer {
        tx_hash: entry.txid.clone(),
        amount: entry.amount,
        confirmations: entry.confirmations,
        spendability: Spendability::of(entry.unlock_time, wallet, entry.confirmations, tip),
    }
}
