//! Escrow events ([`EscrowEvent`]), their labels and permissions ([`EventKind`]), and the
//! dispute records they create ([`Dispute`], [`DisputeReason`], [`DisputeOutcome`]).

use std::fmt;
use std::str::FromStr;

use monero_types::{Address, Amount, TxHash};
use serde::{Deserialize, Serialize};

use super::spendable::Spendability;
use crate::error::{DisputeReasonError, ParseLabelError};
use crate::label::label_text;
use crate::role::Actor;
use crate::time::Timestamp;

/// Something that happened to an escrow, submitted with the [`Actor`] who caused it to
/// [`Escrow::apply`](crate::escrow::Escrow::apply).
///
/// Who may submit each event is [`EventKind::allowed_actors`]; in short: parties decide
/// (confirm, refund, dispute, cancel, addresses), an arbiter resolves, and the server (`System`)
/// reports facts (setup, funding, payout progress, deadlines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EscrowEvent {
    /// All three wallets are multisig-`ready` and agree on `address` (System).
    SetupCompleted {
        /// The shared 2-of-3 address the buyer pays to.
        address: Address,
    },
    /// Setup failed permanently (System). `reason` is shown to the operator; it must not
    /// contain multisig_info, passwords or other secrets.
    SetupFailed {
        /// What failed.
        reason: String,
    },
    /// Retry a failed setup with fresh wallets (System, on operator request).
    SetupRetried,
    /// A snapshot of every incoming transfer to the escrow address (System, funding watcher).
    ///
    /// It is a snapshot, not a delta: replaying it is harmless. The escrow counts as funded
    /// once the spendable transfers ([`Spendability::Spendable`]) with at least the required
    /// confirmations sum to the order total; a time-locked transfer never counts while locked.
    FundingObserved {
        /// Every incoming transfer seen so far, including unconfirmed (pool) ones.
        incoming: Vec<IncomingTransfer>,
    },
    /// The funding deadline has passed (System). Escrows that received nothing expire; partly
    /// funded ones (all of it confirmed) go to an arbiter for a refund; while any received
    /// transfer still lacks confirmations the event is refused
    /// ([`crate::TransitionError::AwaitingConfirmations`]) and should be retried later.
    FundingWindowElapsed,
    /// The buyer received the goods and releases the funds to the vendor (Buyer).
    ReceiptConfirmed,
    /// The vendor gives the funds back to the buyer without a dispute (Vendor): on a funded
    /// escrow with no dispute, the escrow moves to `refunding` with a payout to the buyer's
    /// refund address (refused while the buyer has none).
    RefundAgreed,
    /// The buyer or the vendor opens a dispute (Buyer, Vendor): on a funded escrow, or on an
    /// underfunded one that holds confirmed funds (e.g. the buyer sent the wrong amount).
    DisputeOpened {
        /// Why; shown to the arbiter.
        reason: DisputeReason,
    },
    /// An arbiter decides a dispute (Arbiter).
    DisputeResolved {
        /// Release to the vendor or refund to the buyer.
        outcome: DisputeOutcome,
    },
    /// The payout transaction is fully signed; its hashes are recorded before submission
    /// (System). May replace an earlier, unsubmitted preparation (both spend the same escrow
    /// outputs, so at most one can ever be mined).
    PayoutPrepared {
        /// `tx_hash_list` from `sign_multisig`, non-empty.
        tx_hashes: Vec<TxHash>,
        /// Piconero the destination receives.
        amount: Amount,
        /// Network fee in piconero, paid from the escrow.
        fee: Amount,
    },
    /// The prepared payout was accepted by the daemon (`submit_multisig` succeeded, or the
    /// transaction was found already known) (System).
    PayoutSubmitted {
        /// Must equal the prepared hashes (order does not matter).
        tx_hashes: Vec<TxHash>,
    },
    /// The non-custodial payout rounds missed their deadline before a fully signed set was
    /// submitted (System). Nothing was spent, so the decision is undone and the money stays in
    /// the escrow: an undisputed payout (the buyer's confirmation, the vendor's refund) goes back
    /// to `funded`, where the buyer may confirm, the vendor refund, or either open a dispute (an
    /// arbiter then pays out with the party still there); an arbiter's decision goes back to
    /// `disputed` for the arbiter to decide again. Refused for hosted escrows, whose rounds have
    /// no deadline, and once a payout is prepared (its transaction may be on the chain).
    PayoutStalled,
    /// Cancel an escrow that has seen no funds at all (Buyer, Vendor, System).
    Cancelled,
    /// The vendor sets the address releases pay to (Vendor). Refused once a payout is decided.
    PayoutAddressSet {
        /// The vendor's payout address, already validated for the network by the server.
        address: Address,
    },
    /// The buyer sets the address refunds pay to (Buyer). Refused once a payout is decided.
    RefundAddressSet {
        /// The buyer's refund address, already validated for the network by the server.
        address: Address,
    },
}

impl EscrowEvent {
    /// The label of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            EscrowEvent::SetupCompleted { .. } => EventKind::SetupCompleted,
            EscrowEvent::SetupFailed { .. } => EventKind::SetupFailed,
            EscrowEvent::SetupRetried => EventKind::SetupRetried,
            EscrowEvent::FundingObserved { .. } => EventKind::FundingObserved,
            EscrowEvent::FundingWindowElapsed => EventKind::FundingWindowElapsed,
            EscrowEvent::ReceiptConfirmed => EventKind::ReceiptConfirmed,
            EscrowEvent::RefundAgreed => EventKind::RefundAgreed,
            EscrowEvent::DisputeOpened { .. } => EventKind::DisputeOpened,
            EscrowEvent::DisputeResolved { .. } => EventKind::DisputeResolved,
            EscrowEvent::PayoutPrepared { .. } => EventKind::PayoutPrepared,
            EscrowEvent::PayoutSubmitted { .. } => EventKind::PayoutSubmitted,
            EscrowEvent::PayoutStalled => EventKind::PayoutStalled,
            EscrowEvent::Cancelled => EventKind::Cancelled,
            EscrowEvent::PayoutAddressSet { .. } => EventKind::PayoutAddressSet,
            EscrowEvent::RefundAddressSet { .. } => EventKind::RefundAddressSet,
        }
    }
}

/// The label of an [`EscrowEvent`], and who may trigger it.
///
/// | event                    | label                    | allowed actors          |
/// |--------------------------|--------------------------|-------------------------|
/// | `SetupCompleted`         | `setup_completed`        | system                  |
/// | `SetupFailed`            | `setup_failed`           | system                  |
/// | `SetupRetried`           | `setup_retried`          | system                  |
/// | `FundingObserved`        | `funding_observed`       | system                  |
/// | `FundingWindowElapsed`   | `funding_window_elapsed` | system                  |
/// | `ReceiptConfirmed`       | `receipt_confirmed`      | buyer                   |
/// | `RefundAgreed`           | `refund_agreed`          | vendor                  |
/// | `DisputeOpened`          | `dispute_opened`         | buyer, vendor           |
/// | `DisputeResolved`        | `dispute_resolved`       | arbiter                 |
/// | `PayoutPrepared`         | `payout_prepared`        | system                  |
/// | `PayoutSubmitted`        | `payout_submitted`       | system                  |
/// | `PayoutStalled`          | `payout_stalled`         | system                  |
/// | `Cancelled`              | `cancelled`              | buyer, vendor, system   |
/// | `PayoutAddressSet`       | `payout_address_set`     | vendor                  |
/// | `RefundAddressSet`       | `refund_address_set`     | buyer                   |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// See [`EscrowEvent::SetupCompleted`].
    SetupCompleted,
    /// See [`EscrowEvent::SetupFailed`].
    SetupFailed,
    /// See [`EscrowEvent::SetupRetried`].
    SetupRetried,
    /// See [`EscrowEvent::FundingObserved`].
    FundingObserved,
    /// See [`EscrowEvent::FundingWindowElapsed`].
    FundingWindowElapsed,
    /// See [`EscrowEvent::ReceiptConfirmed`].
    ReceiptConfirmed,
    /// See [`EscrowEvent::RefundAgreed`].
    RefundAgreed,
    /// See [`EscrowEvent::DisputeOpened`].
    DisputeOpened,
    /// See [`EscrowEvent::DisputeResolved`].
    DisputeResolved,
    /// See [`EscrowEvent::PayoutPrepared`].
    PayoutPrepared,
    /// See [`EscrowEvent::PayoutSubmitted`].
    PayoutSubmitted,
    /// See [`EscrowEvent::PayoutStalled`].
    PayoutStalled,
    /// See [`EscrowEvent::Cancelled`].
    Cancelled,
    /// See [`EscrowEvent::PayoutAddressSet`].
    PayoutAddressSet,
    /// See [`EscrowEvent::RefundAddressSet`].
    RefundAddressSet,
}

impl EventKind {
    /// Every event kind, in declaration order.
    pub const ALL: [EventKind; 15] = [
        EventKind::SetupCompleted,
        EventKind::SetupFailed,
        EventKind::SetupRetried,
        EventKind::FundingObserved,
        EventKind::FundingWindowElapsed,
        EventKind::ReceiptConfirmed,
        EventKind::RefundAgreed,
        EventKind::DisputeOpened,
        EventKind::DisputeResolved,
        EventKind::PayoutPrepared,
        EventKind::PayoutSubmitted,
        EventKind::PayoutStalled,
        EventKind::Cancelled,
        EventKind::PayoutAddressSet,
        EventKind::RefundAddressSet,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::SetupCompleted => "setup_completed",
            EventKind::SetupFailed => "setup_failed",
            EventKind::SetupRetried => "setup_retried",
            EventKind::FundingObserved => "funding_observed",
            EventKind::FundingWindowElapsed => "funding_window_elapsed",
            EventKind::ReceiptConfirmed => "receipt_confirmed",
            EventKind::RefundAgreed => "refund_agreed",
            EventKind::DisputeOpened => "dispute_opened",
            EventKind::DisputeResolved => "dispute_resolved",
            EventKind::PayoutPrepared => "payout_prepared",
            EventKind::PayoutSubmitted => "payout_submitted",
            EventKind::PayoutStalled => "payout_stalled",
            EventKind::Cancelled => "cancelled",
            EventKind::PayoutAddressSet => "payout_address_set",
            EventKind::RefundAddressSet => "refund_address_set",
        }
    }

    /// The actors allowed to trigger this event (see the table on [`EventKind`]).
    pub const fn allowed_actors(self) -> &'static [Actor] {
        match self {
            EventKind::SetupCompleted
            | EventKind::SetupFailed
            | EventKind::SetupRetried
            | EventKind::FundingObserved
            | EventKind::FundingWindowElapsed
            | EventKind::PayoutPrepared
            | EventKind::PayoutSubmitted
            | EventKind::PayoutStalled => &[Actor::System],
            EventKind::ReceiptConfirmed | EventKind::RefundAddressSet => &[Actor::Buyer],
            EventKind::DisputeOpened => &[Actor::Buyer, Actor::Vendor],
            EventKind::DisputeResolved => &[Actor::Arbiter],
            EventKind::Cancelled => &[Actor::Buyer, Actor::Vendor, Actor::System],
            EventKind::RefundAgreed | EventKind::PayoutAddressSet => &[Actor::Vendor],
        }
    }

    /// Whether `actor` may trigger this event.
    pub fn permits(self, actor: Actor) -> bool {
        self.allowed_actors().contains(&actor)
    }
}

label_text!(EventKind, "escrow event");

/// One incoming transfer to the escrow address, as wallet-rpc `get_transfers` (`in` and
/// `pool`) reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IncomingTransfer {
    /// The paying transaction.
    pub tx_hash: TxHash,
    /// Piconero received by the escrow address in this transaction.
    pub amount: Amount,
    /// Blocks on top of the transaction's block; 0 while in the pool.
    pub confirmations: u64,
    /// Whether the outputs are spendable money at the time of the snapshot
    /// ([`Spendability::of`] over the transfer's `unlock_time` and wallet `locked` flag);
    /// absent in older records, which read as spendable.
    #[serde(default)]
    pub spendability: Spendability,
}

/// The arbiter's decision on a dispute (`POST /api/disputes/{id}/resolve {outcome}`).
///
/// Labels: `release`, `refund`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    /// Pay the vendor (vendor builds, arbiter co-signs).
    Release,
    /// Refund the buyer (arbiter builds, buyer co-signs).
    Refund,
}

impl DisputeOutcome {
    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisputeOutcome::Release => "release",
            DisputeOutcome::Refund => "refund",
        }
    }
}

impl FromStr for DisputeOutcome {
    type Err = ParseLabelError;

    /// Parses `release` or `refund`.
    ///
    /// # Errors
    /// [`ParseLabelError`] for any other text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "release" => Ok(DisputeOutcome::Release),
            "refund" => Ok(DisputeOutcome::Refund),
            other => Err(ParseLabelError::new("dispute outcome", other)),
        }
    }
}

/// Longest accepted dispute reason, in characters.
pub const DISPUTE_REASON_MAX_CHARS: usize = 2_000;

/// Why a dispute was opened: 1 to [`DISPUTE_REASON_MAX_CHARS`] characters, not blank,
/// no control characters other than newline and tab.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisputeReason(String);

impl DisputeReason {
    /// Validates a reason.
    ///
    /// # Errors
    /// [`DisputeReasonError::Blank`], [`DisputeReasonError::TooLong`] or
    /// [`DisputeReasonError::ControlCharacter`].
    pub fn new(text: impl Into<String>) -> Result<Self, DisputeReasonError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(DisputeReasonError::Blank);
        }
        let chars = text.chars().count();
        if chars > DISPUTE_REASON_MAX_CHARS {
            return Err(DisputeReasonError::TooLong {
                max: DISPUTE_REASON_MAX_CHARS,
                found: chars,
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(DisputeReasonError::ControlCharacter);
        }
        Ok(DisputeReason(text))
    }

    /// Wraps text the crate composed itself (system disputes), known to satisfy the rules.
    pub(crate) fn from_trusted(text: String) -> Self {
        DisputeReason(text)
    }

    /// The reason text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisputeReason {
    type Error = DisputeReasonError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        DisputeReason::new(s)
    }
}

impl From<DisputeReason> for String {
    fn from(r: DisputeReason) -> String {
        r.0
    }
}

impl fmt::Display for DisputeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What led to a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeCause {
    /// A party (buyer or vendor) opened it.
    PartyComplaint,
    /// The funding window closed with less than the order total received (System).
    Underfunded,
    /// Funds arrived after the escrow expired or was cancelled (System).
    LateFunding,
}

impl DisputeCause {
    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisputeCause::PartyComplaint => "party_complaint",
            DisputeCause::Underfunded => "underfunded",
            DisputeCause::LateFunding => "late_funding",
        }
    }
}

/// A dispute on an escrow: who opened it, why, and the decision once made.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dispute {
    /// Buyer, vendor, or System for underfunded/late-funding disputes.
    pub opened_by: Actor,
    /// What led to it.
    pub cause: DisputeCause,
    /// Text shown to the arbiter.
    pub reason: DisputeReason,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// The arbiter's decision, once made.
    pub resolution: Option<Resolution>,
}

/// An arbiter's decision on a [`Dispute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resolution {
    /// Release or refund.
    pub outcome: DisputeOutcome,
    /// When it was decided.
    pub resolved_at: Timestamp,
}
