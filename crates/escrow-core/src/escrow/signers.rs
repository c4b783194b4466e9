//! Who signs a payout: the signing pairs each payout allows ([`required_signers`]), the check of
//! a partial txset's signer order ([`PayoutSigning::new`]), and the second signer's check of the
//! set before it signs ([`PayoutSigning::check_second_signature`], the rules of
//! [`crate::payout_check`]).
//!
//! The rules, for a 2-of-3 escrow (buyer, vendor, arbiter):
//!
//! | payout  | undisputed     | after a dispute  |
//! |---------|----------------|------------------|
//! | release | buyer + vendor | arbiter + vendor |
//! | refund  | vendor + buyer | arbiter + buyer  |
//!
//! Either member of a pair may build the set (the first signer: `sweep_all` in its own wallet,
//! which adds its signature); the other signs second (`sign_multisig`) and, before that, checks
//! the set against the plan. The server runs the same check before it relays a partial set to the
//! second signer, and its arbiter wallet runs it before it co-signs.

use crate::error::SignerRefusal;
use crate::escrow::state::{PayoutKind, PayoutReason};
use crate::label::label_text;
use crate::payout_check::{CheckedPayout, ExpectedPayout, TxDescription, check_payout};
use crate::role::Actor;

/// Whether a payout follows a dispute (the arbiter may then sign instead of the losing party).
/// Labels: `undisputed`, `disputed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisputeStatus {
    /// No dispute: buyer and vendor sign together.
    Undisputed,
    /// A dispute was opened: the arbiter signs with the winning party.
    Disputed,
}

impl DisputeStatus {
    /// Both statuses, undisputed first.
    pub const ALL: [DisputeStatus; 2] = [DisputeStatus::Undisputed, DisputeStatus::Disputed];

    /// Stable snake_case label: `undisputed`, `disputed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Undisputed => "undisputed",
            DisputeStatus::Disputed => "disputed",
        }
    }

    /// The status of a [`crate::PayoutPlan`] decided for `reason`: a buyer's confirmation and a
    /// vendor's refund are undisputed, an arbiter's decision follows a dispute.
    pub const fn of(reason: PayoutReason) -> DisputeStatus {
        match reason {
            PayoutReason::BuyerConfirmed | PayoutReason::VendorRefunded => {
                DisputeStatus::Undisputed
            }
            PayoutReason::ArbiterDecision => DisputeStatus::Disputed,
        }
    }
}

label_text!(DisputeStatus, "dispute status");

/// Two signers in signing order: `first` builds the partial set, `second` checks and completes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SigningPair {
    /// Builds the set (`sweep_all`), the first signature.
    pub first: Actor,
    /// Checks the set, then adds the second signature (`sign_multisig`).
    pub second: Actor,
}

impl SigningPair {
    /// Whether `actor` is one of the two signers.
    pub fn includes(&self, actor: Actor) -> bool {
        self.first == actor || self.second == actor
    }

    const fn both(a: Actor, b: Actor) -> [SigningPair; 2] {
        [
            SigningPair {
                first: a,
                second: b,
            },
            SigningPair {
                first: b,
                second: a,
            },
        ]
    }
}

const UNDISPUTED: [SigningPair; 2] = SigningPair::both(Actor::Vendor, Actor::Buyer);
const RELEASE_DISPUTED: [SigningPair; 2] = SigningPair::both(Actor::Arbiter, Actor::Vendor);
const REFUND_DISPUTED: [SigningPair; 2] = SigningPair::both(Actor::Arbiter, Actor::Buyer);

/// The signing pairs, in signing order, allowed for a payout of `kind` (see the module table;
/// each pair appears in both orders).
pub const fn required_signers(kind: PayoutKind, disputed: DisputeStatus) -> &'static [SigningPair] {
    match (kind, disputed) {
        (_, DisputeStatus::Undisputed) => &UNDISPUTED,
        (PayoutKind::Release, DisputeStatus::Disputed) => &RELEASE_DISPUTED,
        (PayoutKind::Refund, DisputeStatus::Disputed) => &REFUND_DISPUTED,
    }
}

/// A payout's kind, dispute status and checked signer order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PayoutSigning {
    kind: PayoutKind,
    disputed: DisputeStatus,
    pair: SigningPair,
}

impl PayoutSigning {
    /// Checks that `first` then `second` may sign a payout of `kind` (a partial txset built by
    /// `first`, to be completed by `second`).
    ///
    /// # Errors
    /// [`SignerRefusal::NotASigner`] for [`Actor::System`], [`SignerRefusal::SameSigner`] when
    /// both are one actor, [`SignerRefusal::PairNotAllowed`] for a pair outside
    /// [`required_signers`].
    pub fn new(
        kind: PayoutKind,
        disputed: DisputeStatus,
        first: Actor,
        second: Actor,
    ) -> Result<PayoutSigning, SignerRefusal> {
        if let Some(actor) = [first, second].into_iter().find(|a| *a == Actor::System) {
            return Err(SignerRefusal::NotASigner { actor });
        }
        if first == second {
            return Err(SignerRefusal::SameSigner { actor: first });
        }
        let pair = SigningPair { first, second };
        if !required_signers(kind, disputed).contains(&pair) {
            return Err(SignerRefusal::PairNotAllowed {
                kind,
                disputed,
                first,
                second,
            });
        }
        Ok(PayoutSigning {
            kind,
            disputed,
            pair,
        })
    }

    /// Release or refund.
    pub const fn kind(&self) -> PayoutKind {
        self.kind
    }
    /// Whether the payout follows a dispute.
    pub const fn disputed(&self) -> DisputeStatus {
        self.disputed
    }
    /// The signers, in order.
    pub const fn pair(&self) -> SigningPair {
        self.pair
    }

    /// The check `signer` runs before adding the second signature (and the server before it
    /// relays the set to it): `signer` must be the pair's second, and the decoded set
    /// (`describe_transfer`) must pass [`check_payout`] against `expected` (destination, change,
    /// `unlock_time` 0, fee bound, inputs).
    ///
    /// # Errors
    /// [`SignerRefusal::NotSecondSigner`], or [`SignerRefusal::Payout`] with the first
    /// [`crate::PayoutRefusal`]; the set must then not be signed.
    pub fn check_second_signature(
        &self,
        signer: Actor,
        txs: &[TxDescription],
        expected: &ExpectedPayout,
    ) -> Result<CheckedPayout, SignerRefusal> {
        if signer != self.pair.second {
            return Err(SignerRefusal::NotSecondSigner {
                expected: self.pair.second,
                found: signer,
            });
        }
        check_payout(txs, expected).map_err(SignerRefusal::Payout)
    }
}

/// Every allowed payout signing (kind, dispute status, ordered pair) that needs none of
/// `missing`: who can still pay out once those parties stopped answering. Release before refund,
/// undisputed before disputed.
pub fn payout_options_without(missing: &[Actor]) -> Vec<PayoutSigning> {
    let mut options = Vec::new();
    for kind in [PayoutKind::Release, PayoutKind::Refund] {
        for disputed in DisputeStatus::ALL {
            for pair in required_signers(kind, disputed) {
                if missing.iter().any(|m| pair.includes(*m)) {
                    continue;
                }
                options.push(PayoutSigning {
                    kind,
                    disputed,
                    pair: *pair,
                });
            }
        }
    }
    options
}
