//! [`Action`]: the work the orchestrator owes an escrow in its current state.

use monero_types::Address;
use serde::{Deserialize, Serialize};

use super::Escrow;
use super::state::{EscrowState, PayoutPlan, PreparedPayout};
use crate::time::Timestamp;

/// What the server must do next for an escrow, derived from its persisted state alone
/// ([`Escrow::next_action`]). Because it is level-triggered, a restart after a crash asks every
/// non-terminal escrow for its action and resumes; each action ends by applying an event.
///
/// States that wait for a person (`funded`: the buyer or the vendor; `disputed`: an arbiter;
/// `setup_failed`: the operator) have no action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create fresh per-escrow wallets and run prepare_multisig, make_multisig and two
    /// exchange_multisig_keys rounds; finish with [`super::EscrowEvent::SetupCompleted`] or
    /// [`super::EscrowEvent::SetupFailed`].
    RunSetup,
    /// Poll incoming transfers to `address` and report them with
    /// [`super::EscrowEvent::FundingObserved`]; after `deadline` send
    /// [`super::EscrowEvent::FundingWindowElapsed`].
    WatchFunding {
        /// The escrow address.
        address: Address,
        /// End of the funding window.
        deadline: Timestamp,
    },
    /// Report a fresh [`super::EscrowEvent::FundingObserved`] snapshot first (sweep_all
    /// spends every unlocked output, including payments that arrived after funding, and the
    /// machine refuses a payout above the confirmed funds it knows of). Then re-sync the two
    /// signers (export/import multisig info), build the sweep to `plan.destination` with the
    /// initiator's wallet, co-sign with the cosigner's, and record it with
    /// [`super::EscrowEvent::PayoutPrepared`] before submitting.
    PreparePayout {
        /// Destination and signers.
        plan: PayoutPlan,
    },
    /// Look the prepared hashes up first (daemon/wallet); submit only if unknown; then send
    /// [`super::EscrowEvent::PayoutSubmitted`]. Never submit a second, different transaction
    /// without re-preparing.
    SubmitPayout {
        /// Destination and signers.
        plan: PayoutPlan,
        /// The signed transaction to look up or submit.
        prepared: PreparedPayout,
    },
    /// An expired or cancelled escrow's address still exists: keep reporting
    /// [`super::EscrowEvent::FundingObserved`] for a grace period the server chooses, so a late
    /// payment is routed to an arbiter for a refund instead of being stranded.
    WatchLateFunding {
        /// The escrow address.
        address: Address,
    },
}

impl Escrow {
    /// The work the orchestrator owes this escrow now, or `None` while it waits for a person
    /// (or forever, once released/refunded).
    pub fn next_action(&self) -> Option<Action> {
        match &self.state {
            EscrowState::AwaitingSetup => Some(Action::RunSetup),
            EscrowState::AwaitingFunding => {
                let address = self.address.clone()?;
                let deadline = self.funding_deadline?;
                Some(Action::WatchFunding { address, deadline })
            }
            EscrowState::Releasing { plan, prepared }
            | EscrowState::Refunding { plan, prepared } => match prepared {
                None => Some(Action::PreparePayout { plan: plan.clone() }),
                Some(prepared) => Some(Action::SubmitPayout {
                    plan: plan.clone(),
                    prepared: prepared.clone(),
                }),
            },
            EscrowState::Expired { .. } | EscrowState::Cancelled { .. } => self
                .address
                .clone()
                .map(|address| Action::WatchLateFunding { address }),
            EscrowState::SetupFailed { .. }
            | EscrowState::Funded { .. }
            | EscrowState::Disputed
            | EscrowState::Released { .. }
            | EscrowState::Refunded { .. } => None,
        }
    }
}
