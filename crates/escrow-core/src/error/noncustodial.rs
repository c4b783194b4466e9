//! The errors of the non-custodial rules: escrow modes, the round protocol and the payout
//! signers. Each refusal has a stable `code()` the HTTP layer answers with.

use thiserror::Error;

use crate::role::Actor;
use crate::time::Timestamp;

use super::PayoutRefusal;

/// An escrow mode setting or choice that cannot be used ([`crate::AllowedModes`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModeError {
    /// The allowed-modes list names no mode.
    #[error(
        "the list of allowed escrow modes is empty; name at least one of hosted, non_custodial"
    )]
    Empty,
    /// A label in the allowed-modes list is not a mode.
    #[error("unknown escrow mode {found:?}; use hosted or non_custodial")]
    Unknown {
        /// The rejected label (truncated to 64 characters).
        found: String,
    },
    /// The buyer chose a mode this marketplace does not offer.
    #[error("escrow mode {chosen} is not offered here; choose one of {allowed}")]
    NotAllowed {
        /// The buyer's choice.
        chosen: crate::EscrowMode,
        /// The offered modes, comma-separated labels.
        allowed: String,
    },
}

impl ModeError {
    /// Stable snake_case code: `empty_mode_list`, `unknown_mode`, `mode_not_allowed`.
    pub fn code(&self) -> &'static str {
        match self {
            ModeError::Empty => "empty_mode_list",
            ModeError::Unknown { .. } => "unknown_mode",
            ModeError::NotAllowed { .. } => "mode_not_allowed",
        }
    }
}

/// A round timeout that cannot be built ([`crate::RoundTimeout::from_secs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RoundTimeoutError {
    /// Zero seconds: every round would time out at once.
    #[error("the round timeout is 0 seconds; configure a positive number of seconds")]
    Zero,
}

/// Why [`crate::Rounds::submit`] refused a submission. Nothing changed; every variant is a
/// client error (the HTTP layer answers 4xx with [`RoundRefusal::code`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RoundRefusal {
    /// The protocol is closed: the address is ready, the setup failed, the payout is fully
    /// signed, or a round timed out.
    #[error("the escrow's rounds are closed ({status}); nothing more can be submitted")]
    Closed {
        /// The [`crate::RoundsStatus`] label.
        status: &'static str,
    },
    /// The current round's deadline has passed; the round times out.
    #[error("the round's deadline {deadline} has passed; the escrow moves on without it")]
    DeadlinePassed {
        /// The deadline.
        deadline: Timestamp,
    },
    /// The submitter takes no part in this phase (the system, or a party outside the signing
    /// pair).
    #[error("{party} takes no part in these rounds")]
    UnknownParty {
        /// Who submitted.
        party: Actor,
    },
    /// A round that is over (or of the other phase).
    #[error("the current round is {expected}, not {found}")]
    WrongRound {
        /// The current round.
        expected: crate::Round,
        /// The round submitted for.
        found: crate::Round,
    },
    /// Not this party's turn: a later round, or a round it does not owe.
    #[error("it is not {party}'s turn for {round}; wait for the others")]
    OutOfTurn {
        /// Who submitted.
        party: Actor,
        /// The round submitted for.
        round: crate::Round,
    },
    /// This party already submitted for this round.
    #[error("{party} already submitted for {round}")]
    Repeated {
        /// Who submitted.
        party: Actor,
        /// The round.
        round: crate::Round,
    },
    /// The submission carries the wrong kind of payload for its round.
    #[error("round {round} takes a {expected}, not a {found}")]
    WrongPayload {
        /// The round.
        round: crate::Round,
        /// What it takes.
        expected: crate::PayloadKind,
        /// What was submitted.
        found: crate::PayloadKind,
    },
}

impl RoundRefusal {
    /// Stable snake_case code: `rounds_closed`, `deadline_passed`, `unknown_party`,
    /// `wrong_round`, `out_of_turn`, `repeated`, `wrong_payload`.
    pub fn code(&self) -> &'static str {
        match self {
            RoundRefusal::Closed { .. } => "rounds_closed",
            RoundRefusal::DeadlinePassed { .. } => "deadline_passed",
            RoundRefusal::UnknownParty { .. } => "unknown_party",
            RoundRefusal::WrongRound { .. } => "wrong_round",
            RoundRefusal::OutOfTurn { .. } => "out_of_turn",
            RoundRefusal::Repeated { .. } => "repeated",
            RoundRefusal::WrongPayload { .. } => "wrong_payload",
        }
    }
}

/// Why a payout signer order or a second signature is refused ([`crate::PayoutSigning`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignerRefusal {
    /// The system never signs; only buyer, vendor and arbiter wallets do.
    #[error("{actor} cannot sign a payout; only buyer, vendor and arbiter wallets sign")]
    NotASigner {
        /// The refused actor.
        actor: Actor,
    },
    /// Both signatures from one party.
    #[error("{actor} cannot sign twice; a payout needs two different signers")]
    SameSigner {
        /// The actor named twice.
        actor: Actor,
    },
    /// A pair the payout rules do not allow.
    #[error(
        "{first} then {second} may not sign a {} {} payout; see the allowed signers",
        .disputed.as_str(), .kind.as_str()
    )]
    PairNotAllowed {
        /// Release or refund.
        kind: crate::PayoutKind,
        /// Whether it follows a dispute.
        disputed: crate::DisputeStatus,
        /// The first signer.
        first: Actor,
        /// The second signer.
        second: Actor,
    },
    /// The check before the second signature was asked of someone else than the second signer.
    #[error("{found} is not the second signer; {expected} is")]
    NotSecondSigner {
        /// The pair's second signer.
        expected: Actor,
        /// Who asked.
        found: Actor,
    },
    /// The set breaks the payout rules.
    #[error(transparent)]
    Payout(PayoutRefusal),
}

impl SignerRefusal {
    /// Stable snake_case code: `not_a_signer`, `same_signer`, `pair_not_allowed`,
    /// `not_second_signer`, or the [`crate::RefusalReason`] label of a payout refusal.
    pub fn code(&self) -> &'static str {
        match self {
            SignerRefusal::NotASigner { .. } => "not_a_signer",
            SignerRefusal::SameSigner { .. } => "same_signer",
            SignerRefusal::PairNotAllowed { .. } => "pair_not_allowed",
            SignerRefusal::NotSecondSigner { .. } => "not_second_signer",
            SignerRefusal::Payout(r) => r.reason().as_str(),
        }
    }
}
