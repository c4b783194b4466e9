//! Funding watcher (escrow-core `Action::WatchFunding` and `Action::WatchLateFunding`): one poll
//! per pass reads every incoming transfer of the escrow address (confirmed and pool) from one of
//! the escrow's wallets and reports the snapshot as `funding_observed`; the state machine decides
//! funded / still pending (with what is missing) / late payment. After the funding deadline it
//! sends `funding_window_elapsed` (unfunded escrows expire; underfunded ones go to an arbiter).

use escrow_core::error::TransitionError;
use escrow_core::{Escrow, EscrowEvent, EscrowStateKind, IncomingTransfer, Timestamp};
use monero_rpc::TransferEntry;

use super::ApplyError;
use super::engine::{Engine, Progress, StepError};
use super::participant::Participant;
use super::setup::ROLES;
use crate::db::now_unix;

/// Polls the escrow address once and applies what it shows.
///
/// The watching wallet is chosen by escrow id (buyer, vendor, arbiter in turn) so that the three
/// wallet-rpc endpoints share the polling load; all three multisig wallets see the same transfers.
///
/// # Errors
/// [`StepError`] when the wallet cannot be read or the event cannot be stored.
pub async fn poll(engine: &Engine, escrow: &Escrow) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let wallets = engine.wallets(id).await?;
    let role = ROLES[usize::try_from(id.rem_euclid(3)).unwrap_or(0)];
    let watcher = engine.participant(role, &wallets)?;
    let transfers = watcher.incoming().await?;
    let incoming: Vec<IncomingTransfer> = transfers
        .incoming
        .iter()
        .chain(transfers.pool.iter())
        .filter(|t| !t.double_spend_seen)
        .map(to_incoming)
        .collect::<Result<_, _>>()?;
    let before = escrow.state().kind();
    let applied = engine
        .apply_system(id, EscrowEvent::FundingObserved { incoming })
        .await?;
    let after = applied.escrow();
    if after.state().kind() != before {
        return Ok(Progress::Continue);
    }
    if after.state().kind() == EscrowStateKind::AwaitingFunding {
        let now = Timestamp::from_unix_seconds(u64::try_from(now_unix()).unwrap_or(0));
        if after
            .funding_deadline()
            .is_some_and(|deadline| now >= deadline)
        {
            match engine
                .apply_system(id, EscrowEvent::FundingWindowElapsed)
                .await
            {
                Ok(_) => return Ok(Progress::Wait),
                // Everything received, confirmations pending: keep watching.
                Err(ApplyError::Rejected(
                    TransitionError::AwaitingConfirmations { .. }
                    | TransitionError::FundingWindowOpen { .. },
                )) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Progress::Wait)
}

fn to_incoming(entry: &TransferEntry) -> Result<IncomingTransfer, StepError> {
    Ok(IncomingTransfer {
        tx_hash: entry.txid.clone(),
        amount: entry.amount,
        confirmations: entry.confirmations,
    })
}
