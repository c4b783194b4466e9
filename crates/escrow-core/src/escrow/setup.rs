//! The multisig setup protocol as pure bookkeeping: [`SetupStage`] (the 2-of-3 rounds on
//! Monero 0.18) and [`SetupProgress`] (who has contributed to the current round).
//!
//! Each of the three participants (buyer, vendor, arbiter wallets) produces one output per
//! round; all three outputs of a round must be collected before anyone starts the next round.
//! The outputs themselves (multisig_info, secrets) are stored by the orchestrator, never here:
//! this module only tracks *who* has contributed, so it fits hosted mode (the server drives all
//! three wallet-rpc) and a later non-custodial mode (buyer and vendor upload their round
//! outputs through the API) alike.

use serde::{Deserialize, Serialize};

use crate::error::SetupError;
use crate::escrow::rounds::PayloadKind;
use crate::label::label_text;
use crate::role::Actor;

/// The wallets that take part in a 2-of-3 escrow, in the order they are driven.
pub const PARTICIPANTS: [Actor; 3] = [Actor::Buyer, Actor::Vendor, Actor::Arbiter];

/// Multisig signature threshold: any 2 of the 3 participants can spend.
pub const THRESHOLD: u32 = 2;

/// One round of the 2-of-3 setup, in order. Labels: `prepare`, `make`, `exchange_round_1`,
/// `exchange_round_2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStage {
    /// `prepare_multisig {enable_multisig_experimental: true}` on each fresh wallet;
    /// output: the wallet's first multisig_info.
    Prepare,
    /// `make_multisig {multisig_info: [other two], threshold: 2}`; output: multisig_info for
    /// the first key exchange (its address is a placeholder, not the real one).
    Make,
    /// `exchange_multisig_keys` with the other two `make` outputs; output: multisig_info for
    /// the second exchange.
    #[serde(rename = "exchange_round_1")]
    ExchangeRound1,
    /// `exchange_multisig_keys` with the other two round-1 outputs; output: the final address.
    /// All three must report `is_multisig.ready == true` and the same address.
    #[serde(rename = "exchange_round_2")]
    ExchangeRound2,
}

impl SetupStage {
    /// Every stage, in protocol order.
    pub const ALL: [SetupStage; 4] = [
        SetupStage::Prepare,
        SetupStage::Make,
        SetupStage::ExchangeRound1,
        SetupStage::ExchangeRound2,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            SetupStage::Prepare => "prepare",
            SetupStage::Make => "make",
            SetupStage::ExchangeRound1 => "exchange_round_1",
            SetupStage::ExchangeRound2 => "exchange_round_2",
        }
    }

    /// The wallet-rpc method each participant calls in this stage.
    pub const fn rpc_method(self) -> &'static str {
        match self {
            SetupStage::Prepare => "prepare_multisig",
            SetupStage::Make => "make_multisig",
            SetupStage::ExchangeRound1 | SetupStage::ExchangeRound2 => "exchange_multisig_keys",
        }
    }

    /// What each participant's output of this stage is, as a non-custodial party submits it
    /// ([`crate::escrow::rounds`]): a multisig_info, except the final address after the second
    /// key exchange.
    pub const fn payload_kind(self) -> PayloadKind {
        match self {
            SetupStage::Prepare | SetupStage::Make | SetupStage::ExchangeRound1 => {
                PayloadKind::MultisigInfo
            }
            SetupStage::ExchangeRound2 => PayloadKind::Address,
        }
    }

    /// The following stage, or `None` after the second key exchange.
    pub const fn next(self) -> Option<SetupStage> {
        match self {
            SetupStage::Prepare => Some(SetupStage::Make),
            SetupStage::Make => Some(SetupStage::ExchangeRound1),
            SetupStage::ExchangeRound1 => Some(SetupStage::ExchangeRound2),
            SetupStage::ExchangeRound2 => None,
        }
    }
}

label_text!(SetupStage, "setup stage");

/// Where the setup stands: the current stage and who has contributed to it, or complete.
///
/// Persist it (serde) with the orchestrator's setup job and record each participant's output
/// right after storing the output itself; after a crash, [`SetupProgress::waiting_for`] says
/// which wallets still owe the current round.
///
/// Deserialization refuses a corrupted record (a non-participant, a duplicate, or a round
/// holding all three contributions without having advanced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", try_from = "ProgressRecord")]
pub enum SetupProgress {
    /// A round is being collected.
    InProgress {
        /// The current round.
        stage: SetupStage,
        /// Participants whose output for `stage` is recorded, in [`PARTICIPANTS`] order.
        contributed: Vec<Actor>,
    },
    /// All four rounds are collected; the orchestrator checks that the three final addresses
    /// agree and then applies [`crate::escrow::EscrowEvent::SetupCompleted`].
    Complete,
}

/// The serde shape of [`SetupProgress`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum ProgressRecord {
    InProgress {
        stage: SetupStage,
        contributed: Vec<Actor>,
    },
    Complete,
}

impl TryFrom<ProgressRecord> for SetupProgress {
    type Error = SetupError;

    fn try_from(r: ProgressRecord) -> Result<Self, Self::Error> {
        let (stage, contributed) = match r {
            ProgressRecord::Complete => return Ok(SetupProgress::Complete),
            ProgressRecord::InProgress { stage, contributed } => (stage, contributed),
        };
        let mut progress = SetupProgress::InProgress {
            stage,
            contributed: Vec::new(),
        };
        for actor in contributed {
            match progress.record(actor, stage)? {
                SetupAdvance::Recorded { .. } => {}
                SetupAdvance::AlreadyRecorded
                | SetupAdvance::RoundComplete { .. }
                | SetupAdvance::SetupComplete => {
                    return Err(SetupError::CorruptRecord { stage });
                }
            }
        }
        Ok(progress)
    }
}

/// The effect of [`SetupProgress::record`] (all are successes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupAdvance {
    /// Recorded; the round still waits for these participants.
    Recorded {
        /// Participants that still owe this round.
        waiting_for: Vec<Actor>,
    },
    /// This contribution completed the round; the next round may start.
    RoundComplete {
        /// The round just completed.
        completed: SetupStage,
        /// The round that starts now.
        next: SetupStage,
    },
    /// This contribution completed the last round.
    SetupComplete,
    /// The same participant's output for this round was already recorded (a retry after a
    /// crash); nothing changed.
    AlreadyRecorded,
}

impl Default for SetupProgress {
    fn default() -> Self {
        SetupProgress::new()
    }
}

impl SetupProgress {
    /// A setup that has not started: stage `prepare`, nobody contributed.
    pub const fn new() -> Self {
        SetupProgress::InProgress {
            stage: SetupStage::Prepare,
            contributed: Vec::new(),
        }
    }

    /// The current stage, or `None` once complete.
    pub fn stage(&self) -> Option<SetupStage> {
        match self {
            SetupProgress::InProgress { stage, .. } => Some(*stage),
            SetupProgress::Complete => None,
        }
    }

    /// Participants that still owe the current round (empty once complete).
    pub fn waiting_for(&self) -> Vec<Actor> {
        match self {
            SetupProgress::InProgress { contributed, .. } => PARTICIPANTS
                .into_iter()
                .filter(|p| !contributed.contains(p))
                .collect(),
            SetupProgress::Complete => Vec::new(),
        }
    }

    /// Records that `participant` delivered its output for `stage`, and advances when all
    /// three have.
    ///
    /// # Errors
    /// - [`SetupError::NotAParticipant`] for [`Actor::System`].
    /// - [`SetupError::AlreadyComplete`] once all rounds are done.
    /// - [`SetupError::WrongStage`] when `stage` is not the current round (an output from an
    ///   earlier round arriving late, or a round started too early).
    pub fn record(
        &mut self,
        participant: Actor,
        stage: SetupStage,
    ) -> Result<SetupAdvance, SetupError> {
        if !PARTICIPANTS.contains(&participant) {
            return Err(SetupError::NotAParticipant { actor: participant });
        }
        let SetupProgress::InProgress {
            stage: current,
            contributed,
        } = self
        else {
            return Err(SetupError::AlreadyComplete);
        };
        if stage != *current {
            return Err(SetupError::WrongStage {
                expected: *current,
                found: stage,
            });
        }
        if contributed.contains(&participant) {
            return Ok(SetupAdvance::AlreadyRecorded);
        }
        contributed.push(participant);
        contributed.sort_by_key(|a| PARTICIPANTS.iter().position(|p| p == a));
        if contributed.len() < PARTICIPANTS.len() {
            return Ok(SetupAdvance::Recorded {
                waiting_for: self.waiting_for(),
            });
        }
        let completed = *current;
        match completed.next() {
            Some(next) => {
                *self = SetupProgress::InProgress {
                    stage: next,
                    contributed: Vec::new(),
                };
                Ok(SetupAdvance::RoundComplete { completed, next })
            }
            None => {
                *self = SetupProgress::Complete;
                Ok(SetupAdvance::SetupComplete)
            }
        }
    }
}
