//! The transition function: [`Escrow::apply`] checks who acts and whether the event fits the
//! state, and returns the next [`Escrow`] inside a [`Transition`], or a [`TransitionError`].

use monero_types::{Address, Amount};

use super::event::{
    Dispute, DisputeCause, DisputeOutcome, DisputeReason, EscrowEvent, EventKind, IncomingTransfer,
    Resolution,
};
use super::state::{EscrowState, EscrowStateKind, PayoutKind, PayoutPlan, PayoutReason};
use super::{Escrow, Funding, Spendability};
use crate::error::TransitionError;
use crate::role::Actor;
use crate::time::Timestamp;

mod payout;

/// Inputs of a transition that are not the event itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// The current time, read by the caller (escrow-core reads no clock).
    pub now: Timestamp,
}

impl Context {
    /// A context at time `now`.
    pub const fn at(now: Timestamp) -> Self {
        Context { now }
    }
}

/// How a caller should report a [`TransitionError`] (e.g. as an HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionClass {
    /// The actor may never trigger this event (HTTP 403).
    Forbidden,
    /// The event does not fit the escrow's current state (HTTP 409).
    Conflict,
    /// The event's own data is invalid (HTTP 422).
    Invalid,
    /// The machine refused to produce an inconsistent escrow: a bug, not the caller's fault
    /// (HTTP 500). Nothing was changed.
    Internal,
}

/// An accepted event: the escrow before/after and what it means for the orchestrator.
///
/// Persist [`Transition::escrow`] with a compare-and-set on the old state
/// (`UPDATE escrows SET ... WHERE id = ? AND state = from_state AND updated_at = ?`), then
/// count `escrow_state_transitions_total{from_state, to_state}` if
/// [`Transition::is_state_change`], notify [`Transition::recipients`], and schedule
/// [`Transition::escrow`]`.next_action()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    from: EscrowStateKind,
    event: EventKind,
    actor: Actor,
    changed: bool,
    escrow: Escrow,
}

impl Transition {
    /// The state label before the event (`from_state` metric label).
    pub fn from_state(&self) -> EscrowStateKind {
        self.from
    }
    /// The state label after the event (`to_state` metric label).
    pub fn to_state(&self) -> EscrowStateKind {
        self.escrow.state.kind()
    }
    /// The applied event's label.
    pub fn event(&self) -> EventKind {
        self.event
    }
    /// Who triggered it.
    pub fn actor(&self) -> Actor {
        self.actor
    }
    /// The escrow after the event.
    pub fn escrow(&self) -> &Escrow {
        &self.escrow
    }
    /// The escrow after the event, by value.
    pub fn into_escrow(self) -> Escrow {
        self.escrow
    }
    /// Whether the state label changed (count it in `escrow_state_transitions_total`).
    pub fn is_state_change(&self) -> bool {
        self.from != self.to_state()
    }
    /// Whether the event changed nothing at all (e.g. a repeated funding snapshot): the caller
    /// may skip the write and the notification.
    pub fn is_noop(&self) -> bool {
        !self.changed
    }
    /// Who should be told about this transition (WebSocket): always buyer and vendor, plus
    /// arbiters once a dispute exists on the escrow.
    pub fn recipients(&self) -> &'static [Actor] {
        if self.escrow.dispute.is_some() {
            return &[Actor::Buyer, Actor::Vendor, Actor::Arbiter];
        }
        &[Actor::Buyer, Actor::Vendor]
    }
}

/// The states without a funded escrow to act on (not funded yet, or closed), as one pattern so
/// that the matches refusing them stay exhaustive.
macro_rules! no_funded_escrow {
    () => {
        EscrowState::AwaitingSetup
            | EscrowState::SetupFailed { .. }
            | EscrowState::AwaitingFunding
            | EscrowState::Expired { .. }
            | EscrowState::Cancelled { .. }
            | EscrowState::Released { .. }
            | EscrowState::Refunded { .. }
    };
}

impl Escrow {
    /// Applies `event`, triggered by `actor`, at `ctx.now`.
    ///
    /// Pure: `self` is not modified; the next escrow is returned in the [`Transition`].
    /// Checks run in this order: the actor's permission for the event kind
    /// ([`EventKind::allowed_actors`]), then the event against the current state, then the
    /// event's data. See [`EscrowEvent`] and [`EscrowStateKind::successors`] for the rules.
    ///
    /// # Errors
    /// A [`TransitionError`] saying why the event was refused; the escrow is unchanged.
    /// [`TransitionError::class`] maps it to forbidden / conflict / invalid.
    pub fn apply(
        &self,
        actor: Actor,
        event: EscrowEvent,
        ctx: &Context,
    ) -> Result<Transition, TransitionError> {
        let kind = event.kind();
        if !kind.permits(actor) {
            return Err(TransitionError::NotPermitted { actor, event: kind });
        }
        let from = self.state.kind();
        if from.is_terminal() {
            if kind == EventKind::ReceiptConfirmed && self.released_on_buyer_confirmation() {
                return Err(TransitionError::AlreadyConfirmed);
            }
            return Err(TransitionError::Terminal { state: from });
        }
        let mut next = self.clone();
        next.step(actor, event, ctx.now)?;
        let changed = next != *self;
        if changed {
            next.updated_at = next.updated_at.max(ctx.now);
        }
        // Defence in depth for money: never hand out a record that breaks an invariant.
        next.check_invariants()?;
        Ok(Transition {
            from,
            event: kind,
            actor,
            changed,
            escrow: next,
        })
    }

    fn released_on_buyer_confirmation(&self) -> bool {
        self.state
            .payout_plan()
            .is_some_and(|p| p.reason == PayoutReason::BuyerConfirmed)
    }

    /// Mutates the clone `self` according to `event`; the caller discards it on error.
    fn step(
        &mut self,
        actor: Actor,
        event: EscrowEvent,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        let from = self.state.kind();
        let invalid = |event: EventKind| TransitionError::InvalidTransition { state: from, event };
        match event {
            EscrowEvent::SetupCompleted { address } => {
                let EscrowState::AwaitingSetup = self.state else {
                    return Err(invalid(EventKind::SetupCompleted));
                };
                self.address = Some(address);
                self.funding_deadline =
                    Some(now.saturating_add_seconds(self.terms.funding_window_secs));
                self.state = EscrowState::AwaitingFunding;
            }
            EscrowEvent::SetupFailed { reason } => {
                let EscrowState::AwaitingSetup = self.state else {
                    return Err(invalid(EventKind::SetupFailed));
                };
                self.state = EscrowState::SetupFailed {
                    reason,
                    failed_at: now,
                };
            }
            EscrowEvent::SetupRetried => {
                let EscrowState::SetupFailed { .. } = self.state else {
                    return Err(invalid(EventKind::SetupRetried));
                };
                self.state = EscrowState::AwaitingSetup;
            }
            EscrowEvent::FundingObserved { incoming } => self.observe_funding(&incoming, now)?,
            EscrowEvent::FundingWindowElapsed => self.window_elapsed(now)?,
            EscrowEvent::ReceiptConfirmed => self.confirm_receipt(now)?,
            EscrowEvent::RefundAgreed => self.agree_refund(now)?,
            EscrowEvent::DisputeOpened { reason } => {
                self.open_dispute(actor, DisputeCause::PartyComplaint, reason, now)?;
            }
            EscrowEvent::DisputeResolved { outcome } => self.resolve_dispute(outcome, now)?,
            EscrowEvent::PayoutPrepared {
                tx_hashes,
                amount,
                fee,
            } => self.prepare_payout(tx_hashes, amount, fee, now)?,
            EscrowEvent::PayoutSubmitted { tx_hashes } => self.submit_payout(tx_hashes, now)?,
            EscrowEvent::PayoutStalled => self.stall_payout(now)?,
            EscrowEvent::Cancelled => self.cancel(actor, now)?,
            EscrowEvent::PayoutAddressSet { address } => {
                self.ensure_addresses_editable()?;
                self.payout_address = Some(address);
            }
            EscrowEvent::RefundAddressSet { address } => {
                self.ensure_addresses_editable()?;
                self.refund_address = Some(address);
            }
        }
        Ok(())
    }

    fn observe_funding(
        &mut self,
        incoming: &[IncomingTransfer],
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        if self.address.is_none() {
            return Err(TransitionError::NoEscrowAddress {
                state: self.state.kind(),
            });
        }
        let observed = self.tally(incoming)?;
        match self.state {
            EscrowState::AwaitingFunding => {
                // Pool transfers may vanish (double-spent), so before funding the snapshot wins.
                self.funding = observed;
                if observed.confirmed >= self.terms.amount {
                    self.state = EscrowState::Funded { funded_at: now };
                }
            }
            EscrowState::Funded { .. }
            | EscrowState::Disputed
            | EscrowState::Releasing { .. }
            | EscrowState::Refunding { .. } => {
                // Counted funds are never un-counted: a shrinking snapshot after funding is a
                // chain incident for the operator, not a reason to un-fund the escrow.
                self.funding = self.funding.max(observed);
            }
            EscrowState::Expired { .. } | EscrowState::Cancelled { .. } => {
                // Snapshot: a late pool transfer may still vanish. Once part of it has the
                // required confirmations, an arbiter must refund it.
                self.funding = observed;
                if !observed.confirmed.is_zero() {
                    let text = format!(
                        "{} XMR arrived after the escrow was {}; refund the buyer",
                        observed.confirmed,
                        self.state.as_str()
                    );
                    self.start_system_dispute(DisputeCause::LateFunding, text, now);
                }
            }
            EscrowState::AwaitingSetup
            | EscrowState::SetupFailed { .. }
            | EscrowState::Released { .. }
            | EscrowState::Refunded { .. } => {
                return Err(self.invalid(EventKind::FundingObserved));
            }
        }
        Ok(())
    }

    fn tally(&self, incoming: &[IncomingTransfer]) -> Result<Funding, TransitionError> {
        let received = Amount::checked_sum(incoming.iter().map(|t| t.amount))
            .ok_or(TransitionError::AmountOverflow)?;
        let confirmed = Amount::checked_sum(
            incoming
                .iter()
                .filter(|t| {
                    t.spendability == Spendability::Spendable
                        && t.confirmations >= self.terms.required_confirmations
                })
                .map(|t| t.amount),
        )
        .ok_or(TransitionError::AmountOverflow)?;
        Ok(Funding {
            received,
            confirmed,
        })
    }

    fn window_elapsed(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        let EscrowState::AwaitingFunding = self.state else {
            return Err(self.invalid(EventKind::FundingWindowElapsed));
        };
        let deadline = self.funding_deadline.unwrap_or(Timestamp::EPOCH);
        if now < deadline {
            return Err(TransitionError::FundingWindowOpen { deadline, now });
        }
        let Funding {
            received,
            confirmed,
        } = self.funding;
        if received.is_zero() {
            self.state = EscrowState::Expired { expired_at: now };
            return Ok(());
        }
        if confirmed < received {
            // Something is still unconfirmed (maybe the full amount): decide once it confirms
            // or vanishes from the pool.
            return Err(TransitionError::AwaitingConfirmations {
                received,
                confirmed,
            });
        }
        let text = format!(
            "underfunded: {} of {} XMR received when the funding window closed; refund the buyer",
            confirmed, self.terms.amount
        );
        self.start_system_dispute(DisputeCause::Underfunded, text, now);
        Ok(())
    }

    fn confirm_receipt(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            EscrowState::Funded { .. } => {
                let destination = self
                    .payout_address
                    .clone()
                    .ok_or(TransitionError::PayoutAddressMissing)?;
                self.state = EscrowState::Releasing {
                    plan: plan(
                        PayoutKind::Release,
                        PayoutReason::BuyerConfirmed,
                        destination,
                        now,
                    ),
                    prepared: None,
                };
                Ok(())
            }
            EscrowState::Releasing { .. } if self.released_on_buyer_confirmation() => {
                Err(TransitionError::AlreadyConfirmed)
            }
            EscrowState::Releasing { .. } | EscrowState::Refunding { .. } => {
                Err(TransitionError::PayoutDecided {
                    state: self.state.kind(),
                })
            }
            EscrowState::Disputed => Err(TransitionError::InDispute),
            no_funded_escrow!() => Err(TransitionError::NotFunded {
                state: self.state.kind(),
            }),
        }
    }

    /// The vendor's undisputed refund: only on a funded escrow, to the buyer's refund address.
    fn agree_refund(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            EscrowState::Funded { .. } => {
                let destination = self
                    .refund_address
                    .clone()
                    .ok_or(TransitionError::RefundAddressMissing)?;
                self.state = EscrowState::Refunding {
                    plan: plan(
                        PayoutKind::Refund,
                        PayoutReason::VendorRefunded,
                        destination,
                        now,
                    ),
                    prepared: None,
                };
                Ok(())
            }
            EscrowState::Releasing { .. } | EscrowState::Refunding { .. } => {
                Err(TransitionError::PayoutDecided {
                    state: self.state.kind(),
                })
            }
            EscrowState::Disputed => Err(TransitionError::InDispute),
            no_funded_escrow!() => Err(TransitionError::NotFunded {
                state: self.state.kind(),
            }),
        }
    }

    fn open_dispute(
        &mut self,
        actor: Actor,
        cause: DisputeCause,
        reason: DisputeReason,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        match self.state {
            EscrowState::Funded { .. } => {}
            EscrowState::AwaitingFunding if !self.funding.confirmed.is_zero() => {}
            EscrowState::Disputed => return Err(TransitionError::AlreadyDisputed),
            EscrowState::Releasing { .. } | EscrowState::Refunding { .. } => {
                return Err(TransitionError::PayoutDecided {
                    state: self.state.kind(),
                });
            }
            no_funded_escrow!() => {
                return Err(TransitionError::NothingToDispute {
                    state: self.state.kind(),
                });
            }
        }
        self.dispute = Some(Dispute {
            opened_by: actor,
            cause,
            reason,
            opened_at: now,
            resolution: None,
        });
        self.state = EscrowState::Disputed;
        Ok(())
    }

    /// Opens a dispute on the server's behalf (underfunded or late payment). The text is
    /// built here, short and printable, so it always satisfies [`DisputeReason`]'s rules.
    fn start_system_dispute(&mut self, cause: DisputeCause, text: String, now: Timestamp) {
        self.dispute = Some(Dispute {
            opened_by: Actor::System,
            cause,
            reason: DisputeReason::from_trusted(text),
            opened_at: now,
            resolution: None,
        });
        self.state = EscrowState::Disputed;
    }

    fn resolve_dispute(
        &mut self,
        outcome: DisputeOutcome,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        let EscrowState::Disputed = self.state else {
            return Err(TransitionError::NotDisputed {
                state: self.state.kind(),
            });
        };
        let (kind, destination) = match outcome {
            DisputeOutcome::Release => (
                PayoutKind::Release,
                self.payout_address
                    .clone()
                    .ok_or(TransitionError::PayoutAddressMissing)?,
            ),
            DisputeOutcome::Refund => (
                PayoutKind::Refund,
                self.refund_address
                    .clone()
                    .ok_or(TransitionError::RefundAddressMissing)?,
            ),
        };
        let Some(dispute) = self.dispute.as_mut() else {
            return Err(TransitionError::NotDisputed {
                state: self.state.kind(),
            });
        };
        dispute.resolution = Some(Resolution {
            outcome,
            resolved_at: now,
        });
        let plan = plan(kind, PayoutReason::ArbiterDecision, destination, now);
        self.state = match kind {
            PayoutKind::Release => EscrowState::Releasing {
                plan,
                prepared: None,
            },
            PayoutKind::Refund => EscrowState::Refunding {
                plan,
                prepared: None,
            },
        };
        Ok(())
    }

    fn cancel(&mut self, actor: Actor, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            EscrowState::AwaitingSetup | EscrowState::SetupFailed { .. } => {}
            EscrowState::AwaitingFunding if self.funding.received.is_zero() => {}
            EscrowState::AwaitingFunding
            | EscrowState::Funded { .. }
            | EscrowState::Disputed
            | EscrowState::Releasing { .. }
            | EscrowState::Refunding { .. } => {
                return Err(TransitionError::FundsPresent {
                    received: self.funding.received,
                });
            }
            EscrowState::Expired { .. }
            | EscrowState::Cancelled { .. }
            | EscrowState::Released { .. }
            | EscrowState::Refunded { .. } => {
                return Err(self.invalid(EventKind::Cancelled));
            }
        }
        self.state = EscrowState::Cancelled {
            by: actor,
            cancelled_at: now,
        };
        Ok(())
    }

    /// `event` does not fit the current state.
    fn invalid(&self, event: EventKind) -> TransitionError {
        TransitionError::InvalidTransition {
            state: self.state.kind(),
            event,
        }
    }

    fn ensure_addresses_editable(&self) -> Result<(), TransitionError> {
        match self.state {
            EscrowState::Releasing { .. } | EscrowState::Refunding { .. } => {
                Err(TransitionError::PayoutDecided {
                    state: self.state.kind(),
                })
            }
            _ => Ok(()),
        }
    }
}

impl Funding {
    /// Component-wise maximum (keeps `confirmed <= received` if both inputs do).
    fn max(self, other: Funding) -> Funding {
        Funding {
            received: self.received.max(other.received),
            confirmed: self.confirmed.max(other.confirmed),
        }
    }
}

fn plan(
    kind: PayoutKind,
    reason: PayoutReason,
    destination: Address,
    decided_at: Timestamp,
) -> PayoutPlan {
    let (initiator, cosigner) = PayoutPlan::signers(kind, reason);
    PayoutPlan {
        kind,
        reason,
        destination,
        initiator,
        cosigner,
        decided_at,
    }
}
