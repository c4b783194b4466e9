//! The non-custodial round protocol as pure bookkeeping: who must submit what next, which
//! submissions are refused, and what a missed deadline leaves ([`Rounds`]).
//!
//! In non-custodial mode buyer and vendor run their own wallet-rpc; the server runs only the
//! arbiter's. Each round output travels through the server, which checks it here before it
//! stores and relays it. Two phases:
//!
//! - **Setup** (before funding): the four [`SetupStage`]s, each owed by all three participants
//!   (the same bookkeeping as hosted mode, [`SetupProgress`]): multisig_info from `prepare`,
//!   `make` and `exchange_round_1`, then the final address from `exchange_round_2`. The address
//!   is ready only when all three report the same one.
//! - **Payout** (after funding), for one checked [`PayoutSigning`]: `export_sync` (both signers'
//!   `export_multisig_info`, each imports the other's), `build_txset` (the first signer's partial
//!   txset), `sign_txset` (the second signer's fully signed txset, which the server submits).
//!
//! Every round has a deadline ([`RoundTimeout`] after the round began). A round not complete by
//! then closes the protocol as [`TimedOut`] with the next step: cancel before funding; after
//! funding, the signings that need none of the missing parties ([`NextStep`]).
//!
//! A refused submission ([`RoundRefusal`]) changes nothing. The blobs themselves (multisig_info,
//! txsets) never enter this module: the server stores them; only the final address (not a secret)
//! is compared here. To resume after a restart, replay the stored submissions in order with their
//! times.

use monero_types::Address;

use crate::error::{RoundRefusal, RoundTimeoutError};
use crate::escrow::setup::{PARTICIPANTS, SetupAdvance, SetupProgress, SetupStage};
use crate::escrow::signers::{PayoutSigning, payout_options_without};
use crate::label::label_text;
use crate::role::Actor;
use crate::time::Timestamp;

/// What a round's submission carries. Labels: `multisig_info`, `address`, `multisig_sync_info`,
/// `partial_txset`, `signed_txset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// A multisig_info from `prepare_multisig`, `make_multisig` or `exchange_multisig_keys`.
    MultisigInfo,
    /// The multisig address reported after the last key exchange.
    Address,
    /// The output of `export_multisig_info` (imported by the other signer).
    MultisigSyncInfo,
    /// A `multisig_txset` with the first signature (`sweep_all` in a multisig wallet).
    PartialTxset,
    /// The `multisig_txset` with both signatures (`sign_multisig`), ready to submit.
    SignedTxset,
}

impl PayloadKind {
    /// Every kind, in protocol order.
    pub const ALL: [PayloadKind; 5] = [
        PayloadKind::MultisigInfo,
        PayloadKind::Address,
        PayloadKind::MultisigSyncInfo,
        PayloadKind::PartialTxset,
        PayloadKind::SignedTxset,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            PayloadKind::MultisigInfo => "multisig_info",
            PayloadKind::Address => "address",
            PayloadKind::MultisigSyncInfo => "multisig_sync_info",
            PayloadKind::PartialTxset => "partial_txset",
            PayloadKind::SignedTxset => "signed_txset",
        }
    }
}

label_text!(PayloadKind, "round payload kind");

/// One round of the payout phase, in order. Labels: `export_sync`, `build_txset`, `sign_txset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayoutRound {
    /// Both signers `export_multisig_info`; each imports the other's before signing.
    ExportSync,
    /// The first signer builds the set (`sweep_all`): a partial txset.
    BuildTxset,
    /// The second signer checks and signs it (`sign_multisig`): the fully signed txset.
    SignTxset,
}

impl PayoutRound {
    /// Every payout round, in protocol order.
    pub const ALL: [PayoutRound; 3] = [
        PayoutRound::ExportSync,
        PayoutRound::BuildTxset,
        PayoutRound::SignTxset,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            PayoutRound::ExportSync => "export_sync",
            PayoutRound::BuildTxset => "build_txset",
            PayoutRound::SignTxset => "sign_txset",
        }
    }

    /// What the round's submissions carry.
    pub const fn payload_kind(self) -> PayloadKind {
        match self {
            PayoutRound::ExportSync => PayloadKind::MultisigSyncInfo,
            PayoutRound::BuildTxset => PayloadKind::PartialTxset,
            PayoutRound::SignTxset => PayloadKind::SignedTxset,
        }
    }

    const fn next(self) -> Option<PayoutRound> {
        match self {
            PayoutRound::ExportSync => Some(PayoutRound::BuildTxset),
            PayoutRound::BuildTxset => Some(PayoutRound::SignTxset),
            PayoutRound::SignTxset => None,
        }
    }
}

label_text!(PayoutRound, "payout round");

/// Any round of the protocol: setup rounds come before payout rounds.
///
/// Labels: the [`SetupStage`] and [`PayoutRound`] labels (`prepare` ... `sign_txset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Round {
    /// A multisig setup round.
    Setup(SetupStage),
    /// A payout round.
    Payout(PayoutRound),
}

impl Round {
    /// Every round, in protocol order.
    pub const ALL: [Round; 7] = [
        Round::Setup(SetupStage::Prepare),
        Round::Setup(SetupStage::Make),
        Round::Setup(SetupStage::ExchangeRound1),
        Round::Setup(SetupStage::ExchangeRound2),
        Round::Payout(PayoutRound::ExportSync),
        Round::Payout(PayoutRound::BuildTxset),
        Round::Payout(PayoutRound::SignTxset),
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Round::Setup(s) => s.as_str(),
            Round::Payout(p) => p.as_str(),
        }
    }

    /// What the round's submissions carry.
    pub const fn payload_kind(self) -> PayloadKind {
        match self {
            Round::Setup(s) => s.payload_kind(),
            Round::Payout(p) => p.payload_kind(),
        }
    }
}

label_text!(Round, "round");

/// One submission as the server parsed it. Blobs stay with the server; only the address, which
/// all three must agree on, is carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    /// A multisig_info (setup rounds `prepare`, `make`, `exchange_round_1`).
    MultisigInfo,
    /// The final multisig address (`exchange_round_2`).
    Address(Address),
    /// An `export_multisig_info` output (`export_sync`).
    MultisigSyncInfo,
    /// A partially signed txset (`build_txset`).
    PartialTxset,
    /// A fully signed txset (`sign_txset`).
    SignedTxset,
}

impl Submission {
    /// What this submission carries.
    pub const fn kind(&self) -> PayloadKind {
        match self {
            Submission::MultisigInfo => PayloadKind::MultisigInfo,
            Submission::Address(_) => PayloadKind::Address,
            Submission::MultisigSyncInfo => PayloadKind::MultisigSyncInfo,
            Submission::PartialTxset => PayloadKind::PartialTxset,
            Submission::SignedTxset => PayloadKind::SignedTxset,
        }
    }
}

/// Seconds a party has to complete a round, counted from the round's start (non-zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTimeout(u64);

impl RoundTimeout {
    /// A timeout of `secs` seconds.
    ///
    /// # Errors
    /// [`RoundTimeoutError::Zero`] for 0 (every round would time out at once).
    pub const fn from_secs(secs: u64) -> Result<RoundTimeout, RoundTimeoutError> {
        if secs == 0 {
            return Err(RoundTimeoutError::Zero);
        }
        Ok(RoundTimeout(secs))
    }

    /// The timeout, seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
}

/// What to do after a round timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Before funding: no address was shown, nothing can be at stake; cancel the escrow
    /// (the buyer may order again).
    Cancel,
    /// After funding: the money stays until one of these signings pays it out (each needs none
    /// of the missing parties; those with the arbiter need a dispute first). Empty only if
    /// two parties are missing.
    PayOutWith(Vec<PayoutSigning>),
}

/// A round that was not complete by its deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedOut {
    /// The round that timed out.
    pub round: Round,
    /// The parties that still owed it.
    pub missing: Vec<Actor>,
    /// The deadline that passed.
    pub deadline: Timestamp,
    /// What the escrow can do now.
    pub next_step: NextStep,
}

/// An accepted submission's effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Recorded; the round still waits for these parties.
    Recorded {
        /// Parties that still owe this round.
        waiting_for: Vec<Actor>,
    },
    /// This submission completed its round; the next one starts now.
    RoundComplete {
        /// The round just completed.
        completed: Round,
        /// The round that starts.
        next: Round,
        /// The new round's deadline.
        deadline: Timestamp,
    },
    /// All three reported the same address: the escrow may show it
    /// ([`crate::EscrowEvent::SetupCompleted`]).
    AddressReady {
        /// The agreed multisig address.
        address: Address,
    },
    /// All three reported, but not the same address: the setup failed, no address may be shown
    /// ([`crate::EscrowEvent::SetupFailed`]).
    AddressesDisagree,
    /// The second signer's set is in: the server may submit it (after its own check).
    FullySigned,
}

/// Where the protocol stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundsStatus {
    /// A round is being collected.
    Open,
    /// Setup done: all three reported this address.
    AddressReady(Address),
    /// Setup failed: the three reported addresses differ.
    AddressesDisagree,
    /// Payout done: the fully signed txset is in.
    FullySigned,
    /// A round missed its deadline.
    TimedOut(TimedOut),
}

impl RoundsStatus {
    /// Stable snake_case label: `open`, `address_ready`, `addresses_disagree`, `fully_signed`,
    /// `timed_out`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RoundsStatus::Open => "open",
            RoundsStatus::AddressReady(_) => "address_ready",
            RoundsStatus::AddressesDisagree => "addresses_disagree",
            RoundsStatus::FullySigned => "fully_signed",
            RoundsStatus::TimedOut(_) => "timed_out",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Setup {
        progress: SetupProgress,
        /// Addresses reported in `exchange_round_2`, in arrival order.
        addresses: Vec<(Actor, Address)>,
    },
    Payout {
        signing: PayoutSigning,
        round: PayoutRound,
        contributed: Vec<Actor>,
    },
}

/// The non-custodial round protocol of one escrow phase (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rounds {
    timeout: RoundTimeout,
    deadline: Timestamp,
    phase: Phase,
    status: RoundsStatus,
}

impl Rounds {
    /// The setup phase, its first round (`prepare`) starting at `started_at`.
    pub fn setup(started_at: Timestamp, timeout: RoundTimeout) -> Rounds {
        Rounds {
            timeout,
            deadline: started_at.saturating_add_seconds(timeout.as_secs()),
            phase: Phase::Setup {
                progress: SetupProgress::new(),
                addresses: Vec::new(),
            },
            status: RoundsStatus::Open,
        }
    }

    /// The payout phase for `signing`, its first round (`export_sync`) starting at `started_at`.
    pub fn payout(signing: PayoutSigning, started_at: Timestamp, timeout: RoundTimeout) -> Rounds {
        Rounds {
            timeout,
            deadline: started_at.saturating_add_seconds(timeout.as_secs()),
            phase: Phase::Payout {
                signing,
                round: PayoutRound::ExportSync,
                contributed: Vec::new(),
            },
            status: RoundsStatus::Open,
        }
    }

    /// Where the protocol stands.
    pub fn status(&self) -> &RoundsStatus {
        &self.status
    }

    /// The deadline of the current round.
    pub fn deadline(&self) -> Timestamp {
        self.deadline
    }

    /// The round being collected, or `None` once the protocol is closed.
    pub fn current_round(&self) -> Option<Round> {
        if self.status != RoundsStatus::Open {
            return None;
        }
        match &self.phase {
            Phase::Setup { progress, .. } => progress.stage().map(Round::Setup),
            Phase::Payout { round, .. } => Some(Round::Payout(*round)),
        }
    }

    /// The parties that still owe the current round, in buyer, vendor, arbiter order (empty once
    /// closed).
    pub fn waiting_for(&self) -> Vec<Actor> {
        if self.status != RoundsStatus::Open {
            return Vec::new();
        }
        match &self.phase {
            Phase::Setup { progress, .. } => progress.waiting_for(),
            Phase::Payout {
                signing,
                round,
                contributed,
            } => owed_by(signing, *round)
                .into_iter()
                .filter(|a| !contributed.contains(a))
                .collect(),
        }
    }

    /// What `party` must submit next: the current round and its payload kind, or `None` when
    /// nothing is owed by it now (not its turn, already submitted, or closed).
    pub fn expected_from(&self, party: Actor) -> Option<(Round, PayloadKind)> {
        let round = self.current_round()?;
        self.waiting_for()
            .contains(&party)
            .then_some((round, round.payload_kind()))
    }

    /// Records `party`'s `submission` for `round` at `now`, advancing when the round is complete.
    ///
    /// # Errors
    /// Checked in this order; a refusal changes nothing:
    /// [`RoundRefusal::Closed`], [`RoundRefusal::DeadlinePassed`] (call [`Rounds::check_deadline`]),
    /// [`RoundRefusal::UnknownParty`] (not a participant of this phase),
    /// [`RoundRefusal::WrongRound`] (a past round, or one of the other phase),
    /// [`RoundRefusal::OutOfTurn`] (a later round, or a round this party does not owe),
    /// [`RoundRefusal::Repeated`], [`RoundRefusal::WrongPayload`].
    pub fn submit(
        &mut self,
        party: Actor,
        round: Round,
        submission: &Submission,
        now: Timestamp,
    ) -> Result<Accepted, RoundRefusal> {
        let current = self.current_round().ok_or(RoundRefusal::Closed {
            status: self.status.as_str(),
        })?;
        if now >= self.deadline {
            return Err(RoundRefusal::DeadlinePassed {
                deadline: self.deadline,
            });
        }
        if !self.participants().contains(&party) {
            return Err(RoundRefusal::UnknownParty { party });
        }
        let same_phase = matches!(
            (round, current),
            (Round::Setup(_), Round::Setup(_)) | (Round::Payout(_), Round::Payout(_))
        );
        if !same_phase || round < current {
            return Err(RoundRefusal::WrongRound {
                expected: current,
                found: round,
            });
        }
        if round > current {
            return Err(RoundRefusal::OutOfTurn { party, round });
        }
        if !self.waiting_for().contains(&party) {
            if self.owes_current(party) {
                return Err(RoundRefusal::Repeated { party, round });
            }
            return Err(RoundRefusal::OutOfTurn { party, round });
        }
        if submission.kind() != round.payload_kind() {
            return Err(RoundRefusal::WrongPayload {
                round,
                expected: round.payload_kind(),
                found: submission.kind(),
            });
        }
        Ok(self.record(party, submission, now))
    }

    /// Closes the protocol as [`TimedOut`] when the current round is not complete at `now`
    /// (at or after its deadline); returns it. `None` while the deadline has not passed or the
    /// protocol is already closed (a second call after a timeout returns `None` too).
    pub fn check_deadline(&mut self, now: Timestamp) -> Option<TimedOut> {
        let round = self.current_round()?;
        if now < self.deadline {
            return None;
        }
        let missing = self.waiting_for();
        let next_step = match self.phase {
            Phase::Setup { .. } => NextStep::Cancel,
            Phase::Payout { .. } => NextStep::PayOutWith(payout_options_without(&missing)),
        };
        let timed_out = TimedOut {
            round,
            missing,
            deadline: self.deadline,
            next_step,
        };
        self.status = RoundsStatus::TimedOut(timed_out.clone());
        Some(timed_out)
    }

    fn participants(&self) -> Vec<Actor> {
        match &self.phase {
            Phase::Setup { .. } => PARTICIPANTS.to_vec(),
            Phase::Payout { signing, .. } => vec![signing.pair().first, signing.pair().second],
        }
    }

    fn owes_current(&self, party: Actor) -> bool {
        match &self.phase {
            Phase::Setup { .. } => PARTICIPANTS.contains(&party),
            Phase::Payout { signing, round, .. } => owed_by(signing, *round).contains(&party),
        }
    }

    /// Records a checked submission (owed, current round, right payload).
    fn record(&mut self, party: Actor, submission: &Submission, now: Timestamp) -> Accepted {
        let next_deadline = now.saturating_add_seconds(self.timeout.as_secs());
        match &mut self.phase {
            Phase::Setup {
                progress,
                addresses,
            } => {
                let Some(stage) = progress.stage() else {
                    return Accepted::Recorded {
                        waiting_for: Vec::new(),
                    };
                };
                if let Submission::Address(address) = submission {
                    addresses.push((party, address.clone()));
                }
                match progress.record(party, stage) {
                    Ok(SetupAdvance::RoundComplete { completed, next }) => {
                        self.deadline = next_deadline;
                        Accepted::RoundComplete {
                            completed: Round::Setup(completed),
                            next: Round::Setup(next),
                            deadline: next_deadline,
                        }
                    }
                    Ok(SetupAdvance::SetupComplete) => {
                        let (accepted, status) = agreement(addresses);
                        self.status = status;
                        accepted
                    }
                    Ok(SetupAdvance::Recorded { waiting_for }) => {
                        Accepted::Recorded { waiting_for }
                    }
                    // Ruled out by `submit`'s checks; nothing was recorded.
                    Ok(SetupAdvance::AlreadyRecorded) | Err(_) => Accepted::Recorded {
                        waiting_for: progress.waiting_for(),
                    },
                }
            }
            Phase::Payout {
                signing,
                round,
                contributed,
            } => {
                contributed.push(party);
                let owed = owed_by(signing, *round);
                let waiting_for: Vec<Actor> = owed
                    .into_iter()
                    .filter(|a| !contributed.contains(a))
                    .collect();
                if !waiting_for.is_empty() {
                    return Accepted::Recorded { waiting_for };
                }
                let completed = *round;
                let Some(next) = completed.next() else {
                    self.status = RoundsStatus::FullySigned;
                    return Accepted::FullySigned;
                };
                *round = next;
                contributed.clear();
                self.deadline = next_deadline;
                Accepted::RoundComplete {
                    completed: Round::Payout(completed),
                    next: Round::Payout(next),
                    deadline: next_deadline,
                }
            }
        }
    }
}

/// Who owes a payout round: both signers, the first, or the second.
fn owed_by(signing: &PayoutSigning, round: PayoutRound) -> Vec<Actor> {
    let pair = signing.pair();
    match round {
        PayoutRound::ExportSync => PARTICIPANTS
            .into_iter()
            .filter(|a| pair.includes(*a))
            .collect(),
        PayoutRound::BuildTxset => vec![pair.first],
        PayoutRound::SignTxset => vec![pair.second],
    }
}

/// The outcome of the three address reports: ready only when all three are present and equal.
fn agreement(addresses: &[(Actor, Address)]) -> (Accepted, RoundsStatus) {
    let all_reported = PARTICIPANTS
        .iter()
        .all(|p| addresses.iter().any(|(a, _)| a == p));
    let first = addresses.first().map(|(_, address)| address);
    match first {
        Some(address)
            if all_reported
                && addresses.len() == PARTICIPANTS.len()
                && addresses.iter().all(|(_, a)| a == address) =>
        {
            (
                Accepted::AddressReady {
                    address: address.clone(),
                },
                RoundsStatus::AddressReady(address.clone()),
            )
        }
        _ => (Accepted::AddressesDisagree, RoundsStatus::AddressesDisagree),
    }
}
