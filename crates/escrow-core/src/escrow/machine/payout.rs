//! The payout transitions of [`Escrow::apply`]: a fully signed payout prepared, submitted, or
//! (non-custodial rounds past their deadline) undone.

use monero_types::{Amount, TxHash};

use crate::error::TransitionError;
use crate::escrow::state::{EscrowState, Payout, PayoutKind, PayoutReason, PreparedPayout};
use crate::escrow::{Escrow, event::EventKind};
use crate::mode::EscrowMode;
use crate::time::Timestamp;

impl Escrow {
    pub(super) fn prepare_payout(
        &mut self,
        tx_hashes: Vec<TxHash>,
        amount: Amount,
        fee: Amount,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        let confirmed = self.funding.confirmed;
        let (EscrowState::Releasing { prepared, .. } | EscrowState::Refunding { prepared, .. }) =
            &mut self.state
        else {
            return Err(self.invalid(EventKind::PayoutPrepared));
        };
        if tx_hashes.is_empty() {
            return Err(TransitionError::EmptyPayout);
        }
        if amount.is_zero() {
            return Err(TransitionError::ZeroPayout);
        }
        let spent = amount
            .checked_add(fee)
            .ok_or(TransitionError::AmountOverflow)?;
        if spent > confirmed {
            return Err(TransitionError::PayoutExceedsFunds {
                amount,
                fee,
                confirmed,
            });
        }
        *prepared = Some(PreparedPayout {
            tx_hashes,
            amount,
            fee,
            prepared_at: now,
        });
        Ok(())
    }

    /// Undoes a non-custodial payout decision whose rounds timed out before anything was
    /// prepared: back to `disputed` (resolution cleared) after an arbiter's decision, else back
    /// to `funded`.
    pub(super) fn stall_payout(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        let (EscrowState::Releasing { plan, prepared } | EscrowState::Refunding { plan, prepared }) =
            &self.state
        else {
            return Err(self.invalid(EventKind::PayoutStalled));
        };
        if self.mode != EscrowMode::NonCustodial {
            return Err(self.invalid(EventKind::PayoutStalled));
        }
        if prepared.is_some() {
            return Err(TransitionError::PayoutUnderWay);
        }
        if plan.reason != PayoutReason::ArbiterDecision {
            self.state = EscrowState::Funded { funded_at: now };
            return Ok(());
        }
        let Some(dispute) = self.dispute.as_mut() else {
            return Err(TransitionError::NotDisputed {
                state: self.state.kind(),
            });
        };
        dispute.resolution = None;
        self.state = EscrowState::Disputed;
        Ok(())
    }

    pub(super) fn submit_payout(
        &mut self,
        tx_hashes: Vec<TxHash>,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        let (kind, plan, prepared) = match &self.state {
            EscrowState::Releasing { plan, prepared } => (PayoutKind::Release, plan, prepared),
            EscrowState::Refunding { plan, prepared } => (PayoutKind::Refund, plan, prepared),
            _ => {
                return Err(self.invalid(EventKind::PayoutSubmitted));
            }
        };
        let Some(prepared) = prepared else {
            return Err(TransitionError::PayoutNotPrepared);
        };
        let mut expected = prepared.tx_hashes.clone();
        let mut found = tx_hashes;
        expected.sort();
        found.sort();
        if expected != found {
            return Err(TransitionError::PayoutMismatch { expected, found });
        }
        let payout = Payout {
            plan: plan.clone(),
            transaction: prepared.clone(),
            submitted_at: now,
        };
        self.state = match kind {
            PayoutKind::Release => EscrowState::Released { payout },
            PayoutKind::Refund => EscrowState::Refunded { payout },
        };
        Ok(())
    }
}
