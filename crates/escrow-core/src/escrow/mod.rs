//! The 2-of-3 escrow: the [`Escrow`] record, its [`EscrowTerms`] and [`Funding`], the state
//! machine ([`Escrow::apply`]) and the work it asks of the orchestrator ([`Action`]).
//!
//! The flow, with the actor of each step:
//!
//! ```text
//! awaiting_setup --SetupCompleted(system)--> awaiting_funding --FundingObserved(system)--> funded
//!   funded --ReceiptConfirmed(buyer)--> releasing --PayoutPrepared, PayoutSubmitted(system)--> released
//!   funded --RefundAgreed(vendor)--> refunding (undisputed refund)
//!   funded --DisputeOpened(buyer|vendor)--> disputed --DisputeResolved(arbiter)--> releasing | refunding
//!   refunding --PayoutPrepared, PayoutSubmitted(system)--> refunded
//!   releasing | refunding --PayoutStalled(system, non-custodial, nothing prepared)--> funded | disputed
//!   awaiting_funding --FundingWindowElapsed(system)--> expired (nothing received)
//!                                                   | disputed (underfunded, arbiter refunds)
//! ```
//!
//! ## Hosted and non-custodial modes
//!
//! The machine is about escrow states and who acts, not about which wallet-rpc performs a
//! step. Events that report facts (setup completed, funding seen, payout prepared/submitted)
//! come from [`crate::Actor::System`] in both modes; decisions come from the people entitled
//! to them. Who signs a payout is recorded as escrow roles in the [`PayoutPlan`]. In hosted
//! mode the server drives the buyer, vendor and arbiter wallet-rpc for those roles; in a
//! non-custodial mode ([`crate::EscrowMode::NonCustodial`]) buyer and vendor submit their
//! setup-round outputs and partially signed txsets through the API, checked by [`Rounds`]
//! (who submits what next, refusals, deadlines) and [`signers`] (who may sign a payout), the
//! server signs only as arbiter, and the same events and states apply unchanged.
//!
//! ## Persistence
//!
//! The machine is pure and level-triggered: [`Escrow::apply`] returns a new [`Escrow`] (inside a
//! [`Transition`]) that the server persists with a compare-and-set on the old state; what to do
//! next is derived from the persisted state ([`Escrow::next_action`]), so a restart after a
//! crash resumes from the database alone.

mod action;
mod event;
mod invariants;
mod machine;
pub mod rounds;
mod setup;
pub mod signers;
mod spendable;
mod state;

use monero_types::{Address, Amount};
use serde::{Deserialize, Serialize};

pub use action::Action;
pub use event::{
    DISPUTE_REASON_MAX_CHARS, Dispute, DisputeCause, DisputeOutcome, DisputeReason, EscrowEvent,
    EventKind, IncomingTransfer, Resolution,
};
pub use machine::{Context, RejectionClass, Transition};
pub use rounds::{
    Accepted, NextStep, PayloadKind, PayoutRound, Round, RoundTimeout, Rounds, RoundsStatus,
    Submission, TimedOut,
};
pub use setup::{PARTICIPANTS, SetupAdvance, SetupProgress, SetupStage, THRESHOLD};
pub use signers::{
    DisputeStatus, PayoutSigning, SigningPair, payout_options_without, required_signers,
};
pub use spendable::{ChainTip, SPENDABLE_AGE, Spendability, WalletLock, unlock_time_passed};
pub use state::{
    EscrowState, EscrowStateKind, Payout, PayoutKind, PayoutPlan, PayoutReason, PreparedPayout,
};

use crate::error::{EscrowError, InvariantViolation};
use crate::ids::{EscrowId, OrderId, UserId};
use crate::mode::EscrowMode;
use crate::role::{Actor, Role};
use crate::time::Timestamp;

/// The fixed terms of one escrow, set at creation. Deserialization applies the same checks as
/// [`EscrowTerms::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TermsRecord")]
pub struct EscrowTerms {
    amount: Amount,
    required_confirmations: u64,
    funding_window_secs: u64,
}

/// The serde shape of [`EscrowTerms`], checked before it becomes one.
#[derive(Deserialize)]
struct TermsRecord {
    amount: Amount,
    required_confirmations: u64,
    funding_window_secs: u64,
}

impl TryFrom<TermsRecord> for EscrowTerms {
    type Error = EscrowError;

    fn try_from(r: TermsRecord) -> Result<Self, Self::Error> {
        EscrowTerms::new(r.amount, r.required_confirmations, r.funding_window_secs)
    }
}

impl EscrowTerms {
    /// Terms for an escrow of `amount` piconero (the order total), funded once incoming
    /// transfers with at least `required_confirmations` blocks cover it, within
    /// `funding_window_secs` seconds after the address is shown.
    ///
    /// # Errors
    /// [`EscrowError::ZeroAmount`], [`EscrowError::ZeroConfirmations`] (0-conf funding would
    /// let a buyer double-spend after the vendor ships), [`EscrowError::ZeroFundingWindow`].
    pub fn new(
        amount: Amount,
        required_confirmations: u64,
        funding_window_secs: u64,
    ) -> Result<Self, EscrowError> {
        if amount.is_zero() {
            return Err(EscrowError::ZeroAmount);
        }
        if required_confirmations == 0 {
            return Err(EscrowError::ZeroConfirmations);
        }
        if funding_window_secs == 0 {
            return Err(EscrowError::ZeroFundingWindow);
        }
        Ok(EscrowTerms {
            amount,
            required_confirmations,
            funding_window_secs,
        })
    }

    /// The exact amount the buyer must pay, in piconero (the order total).
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// Confirmations an incoming transfer needs before it counts as funding.
    pub fn required_confirmations(&self) -> u64 {
        self.required_confirmations
    }

    /// Seconds the buyer has to fund, counted from [`EscrowEvent::SetupCompleted`].
    pub fn funding_window_secs(&self) -> u64 {
        self.funding_window_secs
    }
}

/// What the escrow address has received, from the latest [`EscrowEvent::FundingObserved`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    received: Amount,
    confirmed: Amount,
}

impl Funding {
    /// Piconero received in total, including unconfirmed (pool) transfers.
    pub fn received(&self) -> Amount {
        self.received
    }

    /// Piconero received in spendable transfers ([`Spendability::Spendable`]) with at least
    /// the required confirmations (always `<= received`).
    pub fn confirmed(&self) -> Amount {
        self.confirmed
    }
}

/// How far the buyer's payment has come, for the buyer's view ("shows what is missing").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FundingStatus {
    /// Nothing received yet.
    Unpaid {
        /// Piconero still to pay (the full amount).
        missing: Amount,
    },
    /// Less than the order total received (confirmed or not).
    Underfunded {
        /// Piconero received so far.
        received: Amount,
        /// Piconero still to pay.
        missing: Amount,
    },
    /// Enough received, but not all of it has the required confirmations yet.
    AwaitingConfirmations {
        /// Piconero received (at least the order total).
        received: Amount,
        /// Piconero with enough confirmations so far.
        confirmed: Amount,
    },
    /// The order total is received with the required confirmations.
    Complete {
        /// Piconero received (may exceed the order total; the payout sweeps it all).
        received: Amount,
    },
}

/// Everything needed to create an escrow for a new order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEscrow {
    /// Row id of the escrow.
    pub id: EscrowId,
    /// The order it secures.
    pub order_id: OrderId,
    /// The order's buyer.
    pub buyer_id: UserId,
    /// The listing's vendor (must differ from the buyer).
    pub vendor_id: UserId,
    /// Amount, confirmations and funding window.
    pub terms: EscrowTerms,
    /// The vendor's payout address, if already known.
    pub payout_address: Option<Address>,
    /// The buyer's refund address, if already known.
    pub refund_address: Option<Address>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Declares [`Escrow`] and `EscrowRecord`, its unchecked serde twin, from one field list, with
/// `EscrowRecord::unchecked` moving every field across.
macro_rules! escrow_with_record {
    ($(#[$attr:meta])* pub struct Escrow { $($(#[$field_attr:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        pub struct Escrow {
            $($(#[$field_attr])* $field: $ty,)*
        }

        /// The serde shape of [`Escrow`], checked before it becomes one.
        #[derive(Deserialize)]
        struct EscrowRecord {
            $($(#[$field_attr])* $field: $ty,)*
        }

        impl EscrowRecord {
            /// The record as an escrow whose invariants are not checked yet.
            fn unchecked(self) -> Escrow {
                Escrow {
                    $($field: self.$field,)*
                }
            }
        }
    };
}

escrow_with_record! {
    /// One order's 2-of-3 multisig escrow: parties, terms, state, and what the chain showed.
    ///
    /// Fields are private so that every change goes through [`Escrow::apply`]; getters borrow.
    /// Persist it as JSON (`serde_json::to_string(&escrow)`) next to a `state` column holding
    /// `escrow.state().as_str()`. Deserialization re-checks every invariant and refuses an
    /// inconsistent record ([`EscrowError::Inconsistent`]).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(try_from = "EscrowRecord")]
    pub struct Escrow {
        id: EscrowId,
        order_id: OrderId,
        buyer_id: UserId,
        vendor_id: UserId,
        terms: EscrowTerms,
        #[serde(default)]
        mode: EscrowMode,
        #[serde(flatten)]
        state: EscrowState,
        address: Option<Address>,
        funding_deadline: Option<Timestamp>,
        funding: Funding,
        payout_address: Option<Address>,
        refund_address: Option<Address>,
        dispute: Option<Dispute>,
        created_at: Timestamp,
        updated_at: Timestamp,
    }
}

impl TryFrom<EscrowRecord> for Escrow {
    type Error = EscrowError;

    fn try_from(record: EscrowRecord) -> Result<Self, Self::Error> {
        let escrow = record.unchecked();
        escrow.check_invariants()?;
        Ok(escrow)
    }
}

impl Escrow {
    /// A new [`EscrowMode::Hosted`] escrow in `awaiting_setup`: nothing received, no address
    /// yet (same as [`Escrow::new_in_mode`] with the hosted mode).
    ///
    /// # Errors
    /// [`EscrowError::SelfDealing`] if buyer and vendor are the same user.
    pub fn new(params: NewEscrow) -> Result<Escrow, EscrowError> {
        Escrow::new_in_mode(params, EscrowMode::Hosted)
    }

    /// A new escrow in `awaiting_setup` held in `mode` (the buyer's choice, checked with
    /// [`crate::AllowedModes::admit`]). The mode never changes afterwards; records stored before
    /// modes existed load as hosted.
    ///
    /// # Errors
    /// [`EscrowError::SelfDealing`] if buyer and vendor are the same user.
    pub fn new_in_mode(params: NewEscrow, mode: EscrowMode) -> Result<Escrow, EscrowError> {
        if params.buyer_id == params.vendor_id {
            return Err(EscrowError::SelfDealing);
        }
        let escrow = Escrow {
            id: params.id,
            order_id: params.order_id,
            buyer_id: params.buyer_id,
            vendor_id: params.vendor_id,
            terms: params.terms,
            mode,
            state: EscrowState::AwaitingSetup,
            address: None,
            funding_deadline: None,
            funding: Funding::default(),
            payout_address: params.payout_address,
            refund_address: params.refund_address,
            dispute: None,
            created_at: params.created_at,
            updated_at: params.created_at,
        };
        escrow.check_invariants()?;
        Ok(escrow)
    }

    /// Row id.
    pub fn id(&self) -> EscrowId {
        self.id
    }
    /// The order this escrow secures.
    pub fn order_id(&self) -> OrderId {
        self.order_id
    }
    /// The buyer (pays in; co-signs a release; receives refunds).
    pub fn buyer_id(&self) -> UserId {
        self.buyer_id
    }
    /// The vendor (receives releases).
    pub fn vendor_id(&self) -> UserId {
        self.vendor_id
    }
    /// Amount, confirmations and funding window.
    pub fn terms(&self) -> &EscrowTerms {
        &self.terms
    }
    /// Who holds the buyer's and vendor's keys (fixed at creation).
    pub fn mode(&self) -> EscrowMode {
        self.mode
    }
    /// The exact amount to pay, in piconero (same as `terms().amount()`).
    pub fn amount(&self) -> Amount {
        self.terms.amount
    }
    /// The current state.
    pub fn state(&self) -> &EscrowState {
        &self.state
    }
    /// The 2-of-3 multisig address the buyer pays to, once setup completed.
    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }
    /// When the funding window closes (set when setup completes).
    pub fn funding_deadline(&self) -> Option<Timestamp> {
        self.funding_deadline
    }
    /// What the escrow address has received.
    pub fn funding(&self) -> &Funding {
        &self.funding
    }
    /// The vendor's payout address, where releases go.
    pub fn payout_address(&self) -> Option<&Address> {
        self.payout_address.as_ref()
    }
    /// The buyer's refund address, where refunds go.
    pub fn refund_address(&self) -> Option<&Address> {
        self.refund_address.as_ref()
    }
    /// The dispute, if one was ever opened (kept after resolution).
    pub fn dispute(&self) -> Option<&Dispute> {
        self.dispute.as_ref()
    }
    /// Creation time.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// Time of the last change (the `escrow_last_update_timestamp` metric).
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    /// How far the payment has come, with what is missing.
    pub fn funding_status(&self) -> FundingStatus {
        let amount = self.terms.amount;
        let Funding {
            received,
            confirmed,
        } = self.funding;
        if confirmed >= amount {
            return FundingStatus::Complete { received };
        }
        if received >= amount {
            return FundingStatus::AwaitingConfirmations {
                received,
                confirmed,
            };
        }
        if received.is_zero() {
            return FundingStatus::Unpaid { missing: amount };
        }
        FundingStatus::Underfunded {
            received,
            missing: amount.saturating_sub(received),
        }
    }

    /// The escrow role of a signed-in user, for authorization and notifications: the buyer,
    /// the vendor, any arbiter account, or `None` for a stranger. Never returns
    /// [`Actor::System`].
    pub fn actor_for(&self, user: UserId, role: Role) -> Option<Actor> {
        if user == self.buyer_id {
            return Some(Actor::Buyer);
        }
        if user == self.vendor_id {
            return Some(Actor::Vendor);
        }
        match role {
            Role::Arbiter => Some(Actor::Arbiter),
            Role::Buyer | Role::Vendor => None,
        }
    }

    /// Checks every consistency rule between state, addresses, funding, dispute and payout.
    /// Every escrow produced by [`Escrow::new`] and [`Escrow::apply`] passes; deserialization
    /// runs it too.
    ///
    /// # Errors
    /// The first broken rule as an [`InvariantViolation`].
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        invariants::check(self)
    }
}
