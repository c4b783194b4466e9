//! Escrow states: the data-carrying [`EscrowState`], its label [`EscrowStateKind`] (SQL column,
//! metric label), the transition graph, and the payout records ([`PayoutPlan`],
//! [`PreparedPayout`], [`Payout`]).

use monero_types::{Address, Amount, TxHash};
use serde::{Deserialize, Serialize};

use crate::label::label_text;
use crate::role::Actor;
use crate::time::Timestamp;

/// The state of one escrow, with the data that only exists in that state.
///
/// Serde writes an internally tagged object whose `state` field is the
/// [`EscrowStateKind::as_str`] label, e.g. `{"state":"funded","funded_at":1700000000}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EscrowState {
    /// Created with the order; the 2-of-3 multisig wallets are being prepared
    /// (prepare_multisig, make_multisig, two exchange_multisig_keys rounds).
    AwaitingSetup,
    /// Multisig setup failed permanently (e.g. the three wallets disagree on the address).
    /// No address was ever shown, so no money can be at stake. The operator retries or cancels.
    SetupFailed {
        /// What failed, for the operator (never a secret: no multisig_info, no password).
        reason: String,
        /// When it failed.
        failed_at: Timestamp,
    },
    /// The escrow address and exact amount are shown to the buyer; the watcher waits for
    /// incoming funds with enough confirmations. Underfunded escrows stay here and expose what
    /// is missing ([`crate::escrow::Escrow::funding_status`]).
    AwaitingFunding,
    /// At least the order total was received with the required confirmations. The vendor
    /// ships; the buyer confirms receipt, the vendor refunds, or either party opens a dispute.
    Funded {
        /// When the funding was confirmed.
        funded_at: Timestamp,
    },
    /// A dispute is open ([`crate::escrow::Escrow::dispute`]); an arbiter decides.
    Disputed,
    /// Paying the vendor: the payout transaction is being built, co-signed and submitted.
    Releasing {
        /// Destination, signers and reason, frozen when the decision was made.
        plan: PayoutPlan,
        /// The fully signed transaction, once built (persisted before submission so that a
        /// restart looks it up by hash instead of paying twice).
        prepared: Option<PreparedPayout>,
    },
    /// Refunding the buyer, after an arbiter decision or because the vendor agreed to refund
    /// (no dispute); same flow as [`EscrowState::Releasing`].
    Refunding {
        /// Destination, signers and reason, frozen when the decision was made.
        plan: PayoutPlan,
        /// The fully signed transaction, once built.
        prepared: Option<PreparedPayout>,
    },
    /// Terminal: the vendor was paid.
    Released {
        /// The submitted payout.
        payout: Payout,
    },
    /// Terminal: the buyer was refunded.
    Refunded {
        /// The submitted payout.
        payout: Payout,
    },
    /// Closed: nothing was received within the funding window. A payment that still arrives
    /// later opens a system dispute once confirmed, so that an arbiter refunds it (money is
    /// never stranded).
    Expired {
        /// When the window was found elapsed.
        expired_at: Timestamp,
    },
    /// Closed: cancelled before any funds were seen. Late funds are handled as for
    /// [`EscrowState::Expired`].
    Cancelled {
        /// Who cancelled.
        by: Actor,
        /// When.
        cancelled_at: Timestamp,
    },
}

impl EscrowState {
    /// The label of this state.
    pub fn kind(&self) -> EscrowStateKind {
        match self {
            EscrowState::AwaitingSetup => EscrowStateKind::AwaitingSetup,
            EscrowState::SetupFailed { .. } => EscrowStateKind::SetupFailed,
            EscrowState::AwaitingFunding => EscrowStateKind::AwaitingFunding,
            EscrowState::Funded { .. } => EscrowStateKind::Funded,
            EscrowState::Disputed => EscrowStateKind::Disputed,
            EscrowState::Releasing { .. } => EscrowStateKind::Releasing,
            EscrowState::Refunding { .. } => EscrowStateKind::Refunding,
            EscrowState::Released { .. } => EscrowStateKind::Released,
            EscrowState::Refunded { .. } => EscrowStateKind::Refunded,
            EscrowState::Expired { .. } => EscrowStateKind::Expired,
            EscrowState::Cancelled { .. } => EscrowStateKind::Cancelled,
        }
    }

    /// The stable snake_case label, same as `self.kind().as_str()`.
    pub fn as_str(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The payout plan of a releasing/refunding/released/refunded escrow.
    pub fn payout_plan(&self) -> Option<&PayoutPlan> {
        match self {
            EscrowState::Releasing { plan, .. } | EscrowState::Refunding { plan, .. } => Some(plan),
            EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
                Some(&payout.plan)
            }
            _ => None,
        }
    }

    /// The submitted payout of a released/refunded escrow (its tx hashes, amount and fee).
    pub fn payout(&self) -> Option<&Payout> {
        match self {
            EscrowState::Released { payout } | EscrowState::Refunded { payout } => Some(payout),
            _ => None,
        }
    }
}

/// The label of an [`EscrowState`], without its data: stored in `escrows.state`, used as the
/// `state`, `from_state` and `to_state` metric labels.
///
/// | kind               | label              | terminal | may hold funds |
/// |--------------------|--------------------|----------|----------------|
/// | `AwaitingSetup`    | `awaiting_setup`   | no       | no             |
/// | `SetupFailed`      | `setup_failed`     | no       | no             |
/// | `AwaitingFunding`  | `awaiting_funding` | no       | yes (partial)  |
/// | `Funded`           | `funded`           | no       | yes            |
/// | `Disputed`         | `disputed`         | no       | yes            |
/// | `Releasing`        | `releasing`        | no       | yes            |
/// | `Refunding`        | `refunding`        | no       | yes            |
/// | `Released`         | `released`         | yes      | no             |
/// | `Refunded`         | `refunded`         | yes      | no             |
/// | `Expired`          | `expired`          | no (late funds only) | no     |
/// | `Cancelled`        | `cancelled`        | no (late funds only) | no     |
///
/// The "escrow stuck in pending" alert should watch [`EscrowStateKind::is_pending`] states
/// (`awaiting_setup|awaiting_funding|releasing|refunding`): the ones the server itself must
/// move forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscrowStateKind {
    /// See [`EscrowState::AwaitingSetup`].
    AwaitingSetup,
    /// See [`EscrowState::SetupFailed`].
    SetupFailed,
    /// See [`EscrowState::AwaitingFunding`].
    AwaitingFunding,
    /// See [`EscrowState::Funded`].
    Funded,
    /// See [`EscrowState::Disputed`].
    Disputed,
    /// See [`EscrowState::Releasing`].
    Releasing,
    /// See [`EscrowState::Refunding`].
    Refunding,
    /// See [`EscrowState::Released`].
    Released,
    /// See [`EscrowState::Refunded`].
    Refunded,
    /// See [`EscrowState::Expired`].
    Expired,
    /// See [`EscrowState::Cancelled`].
    Cancelled,
}

impl EscrowStateKind {
    /// Every state, in flow order (use it to pre-register `escrow_total{state}` at zero).
    pub const ALL: [EscrowStateKind; 11] = [
        EscrowStateKind::AwaitingSetup,
        EscrowStateKind::SetupFailed,
        EscrowStateKind::AwaitingFunding,
        EscrowStateKind::Funded,
        EscrowStateKind::Disputed,
        EscrowStateKind::Releasing,
        EscrowStateKind::Refunding,
        EscrowStateKind::Released,
        EscrowStateKind::Refunded,
        EscrowStateKind::Expired,
        EscrowStateKind::Cancelled,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            EscrowStateKind::AwaitingSetup => "awaiting_setup",
            EscrowStateKind::SetupFailed => "setup_failed",
            EscrowStateKind::AwaitingFunding => "awaiting_funding",
            EscrowStateKind::Funded => "funded",
            EscrowStateKind::Disputed => "disputed",
            EscrowStateKind::Releasing => "releasing",
            EscrowStateKind::Refunding => "refunding",
            EscrowStateKind::Released => "released",
            EscrowStateKind::Refunded => "refunded",
            EscrowStateKind::Expired => "expired",
            EscrowStateKind::Cancelled => "cancelled",
        }
    }

    /// Released or refunded: the money has left the escrow and no event is accepted any more.
    pub const fn is_terminal(self) -> bool {
        matches!(self, EscrowStateKind::Released | EscrowStateKind::Refunded)
    }

    /// States the server itself must move forward (setup, funding watch, payout); an escrow
    /// that stays long in one of them is stuck.
    pub const fn is_pending(self) -> bool {
        matches!(
            self,
            EscrowStateKind::AwaitingSetup
                | EscrowStateKind::AwaitingFunding
                | EscrowStateKind::Releasing
                | EscrowStateKind::Refunding
        )
    }

    /// States in which the escrow address may hold the buyer's money (partial funding
    /// included): `awaiting_funding`, `funded`, `disputed`, `releasing`, `refunding`.
    pub const fn may_hold_funds(self) -> bool {
        matches!(
            self,
            EscrowStateKind::AwaitingFunding
                | EscrowStateKind::Funded
                | EscrowStateKind::Disputed
                | EscrowStateKind::Releasing
                | EscrowStateKind::Refunding
        )
    }

    /// The states this one may move to (self-loops, which only update data, are not listed).
    ///
    /// ```text
    /// awaiting_setup   -> awaiting_funding | setup_failed | cancelled
    /// setup_failed     -> awaiting_setup | cancelled
    /// awaiting_funding -> funded | expired | disputed | cancelled
    /// funded           -> releasing | refunding | disputed
    /// disputed         -> releasing | refunding
    /// releasing        -> released | funded | disputed   (funded, disputed: non-custodial rounds stalled)
    /// refunding        -> refunded | funded | disputed
    /// expired          -> disputed      (late payment)
    /// cancelled        -> disputed      (late payment)
    /// released, refunded: none
    /// ```
    pub const fn successors(self) -> &'static [EscrowStateKind] {
        use EscrowStateKind as K;
        match self {
            K::AwaitingSetup => &[K::AwaitingFunding, K::SetupFailed, K::Cancelled],
            K::SetupFailed => &[K::AwaitingSetup, K::Cancelled],
            K::AwaitingFunding => &[K::Funded, K::Expired, K::Disputed, K::Cancelled],
            K::Funded => &[K::Releasing, K::Refunding, K::Disputed],
            K::Disputed => &[K::Releasing, K::Refunding],
            K::Releasing => &[K::Released, K::Funded, K::Disputed],
            K::Refunding => &[K::Refunded, K::Funded, K::Disputed],
            K::Released | K::Refunded => &[],
            K::Expired | K::Cancelled => &[K::Disputed],
        }
    }

    /// Whether `self -> to` is an edge of the graph in [`EscrowStateKind::successors`]
    /// (or a self-loop).
    pub fn can_move_to(self, to: EscrowStateKind) -> bool {
        (self == to && !self.is_terminal()) || self.successors().contains(&to)
    }
}

label_text!(EscrowStateKind, "escrow state");

/// Which way the escrowed funds go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutKind {
    /// To the vendor's payout address.
    Release,
    /// To the buyer's refund address.
    Refund,
}

impl PayoutKind {
    /// Stable snake_case label (`release`, `refund`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PayoutKind::Release => "release",
            PayoutKind::Refund => "refund",
        }
    }
}

/// Why a payout was decided.
///
/// Labels: `buyer_confirmed`, `arbiter_decision`, `vendor_refunded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutReason {
    /// The buyer confirmed receipt (release; vendor builds, buyer co-signs).
    BuyerConfirmed,
    /// An arbiter decided a dispute (the arbiter co-signs with the winning party).
    ArbiterDecision,
    /// The vendor agreed to refund without a dispute (refund; vendor builds, buyer co-signs).
    VendorRefunded,
}

impl PayoutReason {
    /// Every reason, in declaration order.
    pub const ALL: [PayoutReason; 3] = [
        PayoutReason::BuyerConfirmed,
        PayoutReason::ArbiterDecision,
        PayoutReason::VendorRefunded,
    ];

    /// Stable snake_case label (the serde value too).
    pub const fn as_str(self) -> &'static str {
        match self {
            PayoutReason::BuyerConfirmed => "buyer_confirmed",
            PayoutReason::ArbiterDecision => "arbiter_decision",
            PayoutReason::VendorRefunded => "vendor_refunded",
        }
    }
}

label_text!(PayoutReason, "payout reason");

/// The frozen decision of where the funds go and who signs, made when the escrow enters
/// `releasing` or `refunding`. Later address changes cannot redirect it.
///
/// Signers are escrow roles, not wallet endpoints: in hosted mode the server drives the
/// matching wallet-rpc; in non-custodial mode the party signs with their own wallet.
/// Before signing, every signer runs export_multisig_info / import_multisig_info.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayoutPlan {
    /// Release or refund.
    pub kind: PayoutKind,
    /// Buyer confirmation, arbiter decision or the vendor's refund.
    pub reason: PayoutReason,
    /// Where the whole escrow balance goes (sweep_all, so the fee comes out of the escrow).
    pub destination: Address,
    /// The role whose wallet builds the transaction (`sweep_all`, yields `multisig_txset`).
    pub initiator: Actor,
    /// The role whose wallet co-signs it (`sign_multisig`).
    pub cosigner: Actor,
    /// When the decision was made.
    pub decided_at: Timestamp,
}

impl PayoutPlan {
    /// The two signing roles for a payout of `kind` decided for `reason`:
    ///
    /// | reason            | kind    | initiator | cosigner |
    /// |-------------------|---------|-----------|----------|
    /// | buyer_confirmed   | release | vendor    | buyer    |
    /// | arbiter_decision  | release | vendor    | arbiter  |
    /// | arbiter_decision  | refund  | arbiter   | buyer    |
    /// | vendor_refunded   | refund  | vendor    | buyer    |
    ///
    /// In an undisputed refund the buyer's wallet, the payee's, co-signs and so checks the set
    /// before its signature. A refund on buyer confirmation and a release on the vendor's refund
    /// do not exist; they return the arbiter/buyer and vendor/buyer pairs.
    pub const fn signers(kind: PayoutKind, reason: PayoutReason) -> (Actor, Actor) {
        match (kind, reason) {
            (PayoutKind::Release, PayoutReason::BuyerConfirmed | PayoutReason::VendorRefunded)
            | (PayoutKind::Refund, PayoutReason::VendorRefunded) => (Actor::Vendor, Actor::Buyer),
            (PayoutKind::Release, PayoutReason::ArbiterDecision) => (Actor::Vendor, Actor::Arbiter),
            (PayoutKind::Refund, PayoutReason::BuyerConfirmed | PayoutReason::ArbiterDecision) => {
                (Actor::Arbiter, Actor::Buyer)
            }
        }
    }
}

/// A payout transaction that is fully signed but maybe not yet submitted. Recorded before
/// `submit_multisig`, so that after a crash the orchestrator first looks these hashes up
/// (daemon `get_transactions` / wallet `get_transfer_by_txid`) instead of submitting twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PreparedPayout {
    /// Hashes from `sign_multisig`'s `tx_hash_list` (non-empty; sweep_all may need several).
    pub tx_hashes: Vec<TxHash>,
    /// Piconero the destination receives (sum of the sweep's `amount_list`), non-zero.
    pub amount: Amount,
    /// Network fee in piconero (sum of `fee_list`), paid from the escrow.
    pub fee: Amount,
    /// When it was prepared.
    pub prepared_at: Timestamp,
}

/// A submitted payout: plan + signed transaction + submission time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payout {
    /// The decision (destination, signers, reason).
    pub plan: PayoutPlan,
    /// The transaction(s), their amount and fee.
    pub transaction: PreparedPayout,
    /// When `submit_multisig` succeeded (or the tx was found already known to the daemon).
    pub submitted_at: Timestamp,
}

impl Payout {
    /// The first transaction hash (the only one unless sweep_all needed several). Always
    /// `Some` for a payout accepted by the machine (it refuses an empty hash list).
    pub fn tx_hash(&self) -> Option<&TxHash> {
        self.transaction.tx_hashes.first()
    }
}
