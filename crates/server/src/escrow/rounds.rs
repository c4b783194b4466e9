//! The server's side of the non-custodial round protocol: escrow-core's [`Rounds`] rebuilt from
//! the stored submissions ([`RoundBook`]), a party's (or the arbiter wallet's) submission checked
//! and stored in one transaction ([`submit`]), and the `escrow_turn` WebSocket notices.
//!
//! Payloads are checked for shape before the protocol sees them ([`parse_submission`]):
//! multisig_info is `MultisigxV2` followed by base58, the address must be a valid address of the
//! configured network, sync info and txsets are hex. A refused submission writes nothing.
//! Payloads are never logged.

use escrow_core::{
    Accepted, Actor, Address, DisputeStatus, Escrow, EscrowStateKind, PayloadKind, PayoutKind,
    PayoutRound, PayoutSigning, Round, RoundRefusal, RoundTimeout, Rounds, SetupStage, Submission,
    Timestamp,
};
use monero_types::MoneroNetwork;
use rusqlite::{Connection, TransactionBehavior};

use super::{EscrowContext, Target};
use crate::db::escrows;
use crate::db::escrows::rounds::{self as rows, PhaseKind, PhaseRow, SubmissionRow};
use crate::db::escrows::steps::StepOutput;
use crate::ws::TurnNotice;

/// The participants in the order their payloads are listed (escrow-core's `PARTICIPANTS`).
const ORDER: [Actor; 3] = escrow_core::escrow::PARTICIPANTS;

/// An escrow with its current phase of rounds, rebuilt from the stored submissions.
#[derive(Debug, Clone)]
pub struct RoundBook {
    /// The escrow record.
    pub escrow: Escrow,
    /// The current phase (setup, or the latest payout attempt).
    pub phase: PhaseRow,
    /// The protocol state after replaying every stored submission.
    pub rounds: Rounds,
    /// The stored submissions, in arrival order.
    pub rows: Vec<SubmissionRow>,
}

impl RoundBook {
    /// The payload `actor` submitted for `round`, if any.
    pub fn payload(&self, round: Round, actor: Actor) -> Option<&StepOutput> {
        self.rows
            .iter()
            .find(|r| r.actor == actor && r.round == round.as_str())
            .map(|r| &r.payload)
    }

    /// What `party` needs for its turn in `round`: the other participants' outputs of the round
    /// before it (buyer, vendor, arbiter order; in a payout, the other signer's sync info);
    /// nothing for `prepare` and `export_sync`.
    pub fn inputs_for(&self, party: Actor, round: Round) -> Vec<String> {
        let Some(previous) = previous_round(round) else {
            return Vec::new();
        };
        ORDER
            .into_iter()
            .filter(|a| *a != party)
            .filter_map(|a| self.payload(previous, a))
            .map(|p| p.expose().to_owned())
            .collect()
    }

    /// The protocol state at `now`: a copy whose current round is closed as timed out when its
    /// deadline has passed (nothing is written).
    pub fn at(&self, now: i64) -> Rounds {
        let mut rounds = self.rounds.clone();
        rounds.check_deadline(unix(now));
        rounds
    }
}

/// The round whose outputs feed `round` (setup: the stage before; payout: the sync export).
fn previous_round(round: Round) -> Option<Round> {
    match round {
        Round::Setup(SetupStage::Prepare) => None,
        Round::Setup(SetupStage::Make) => Some(Round::Setup(SetupStage::Prepare)),
        Round::Setup(SetupStage::ExchangeRound1) => Some(Round::Setup(SetupStage::Make)),
        Round::Setup(SetupStage::ExchangeRound2) => Some(Round::Setup(SetupStage::ExchangeRound1)),
        Round::Payout(PayoutRound::ExportSync) => None,
        Round::Payout(_) => Some(Round::Payout(PayoutRound::ExportSync)),
    }
}

/// A stored Unix time as escrow-core's timestamp (times before 1970 read as the epoch).
pub fn unix(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(u64::try_from(secs).unwrap_or(0))
}

/// Checks a payload's shape for `round` and turns it into escrow-core's [`Submission`].
///
/// # Errors
/// What is wrong with it (never the payload itself): empty, not multisig_info, not an address
/// of `network`, not hex.
pub fn parse_submission(
    round: Round,
    payload: &str,
    network: MoneroNetwork,
) -> Result<Submission, String> {
    if payload.is_empty() {
        return Err(format!("the {} payload is empty", round.as_str()));
    }
    let kind = round.payload_kind();
    match kind {
        PayloadKind::MultisigInfo => {
            let body = payload.strip_prefix("MultisigxV2").unwrap_or("");
            if body.is_empty() || !body.bytes().all(is_base58) {
                return Err(format!(
                    "{} takes the multisig_info the wallet returned (MultisigxV2 followed by base58)",
                    round.as_str()
                ));
            }
            Ok(Submission::MultisigInfo)
        }
        PayloadKind::Address => Address::validate(payload, network)
            .map(|(address, _)| Submission::Address(address))
            .map_err(|e| format!("{} takes the multisig address: {e}", round.as_str())),
        PayloadKind::MultisigSyncInfo | PayloadKind::PartialTxset | PayloadKind::SignedTxset => {
            if !payload.len().is_multiple_of(2) || !payload.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "{} takes a {} in hex",
                    round.as_str(),
                    kind.as_str()
                ));
            }
            Ok(match kind {
                PayloadKind::MultisigSyncInfo => Submission::MultisigSyncInfo,
                PayloadKind::PartialTxset => Submission::PartialTxset,
                _ => Submission::SignedTxset,
            })
        }
    }
}

fn is_base58(b: u8) -> bool {
    b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l')
}

/// Rebuilds the protocol of `phase` by replaying `stored` in order with their times.
fn replay(
    phase: &PhaseRow,
    stored: &[SubmissionRow],
    timeout: RoundTimeout,
) -> Result<Rounds, String> {
    let mut rounds = match phase.phase {
        PhaseKind::Setup => Rounds::setup(unix(phase.started_at), timeout),
        PhaseKind::Payout => {
            let signing = phase
                .signing
                .as_deref()
                .ok_or("a payout phase without its signing pair")
                .and_then(|text| parse_signing(text).ok_or("an unreadable signing pair"))?;
            Rounds::payout(signing, unix(phase.started_at), timeout)
        }
    };
    for row in stored {
        let round: Round = row
            .round
            .parse()
            .map_err(|e: escrow_core::ParseLabelError| e.to_string())?;
        // Stored addresses were checked for the network when they were accepted.
        let submission = match round.payload_kind() {
            PayloadKind::Address => Submission::Address(
                row.payload
                    .expose()
                    .parse()
                    .map_err(|e: monero_types::AddressError| e.to_string())?,
            ),
            _ => parse_submission(round, row.payload.expose(), MoneroNetwork::Mainnet)?,
        };
        rounds
            .submit(row.actor, round, &submission, unix(row.submitted_at))
            .map_err(|e| format!("stored submission no longer replays: {e}"))?;
    }
    Ok(rounds)
}

/// A payout's signing pair as stored in `escrow_round_phases.signing`:
/// `kind:dispute:first:second` labels, e.g. `release:undisputed:vendor:buyer`.
pub fn signing_text(signing: &PayoutSigning) -> String {
    let pair = signing.pair();
    format!(
        "{}:{}:{}:{}",
        signing.kind().as_str(),
        signing.disputed().as_str(),
        pair.first.as_str(),
        pair.second.as_str()
    )
}

/// The stored [`signing_text`] read back and checked again (`None` if unusable).
pub fn parse_signing(text: &str) -> Option<PayoutSigning> {
    let mut parts = text.split(':');
    let kind = match parts.next()? {
        "release" => PayoutKind::Release,
        "refund" => PayoutKind::Refund,
        _ => return None,
    };
    let disputed: DisputeStatus = parts.next()?.parse().ok()?;
    let first: Actor = parts.next()?.parse().ok()?;
    let second: Actor = parts.next()?.parse().ok()?;
    PayoutSigning::new(kind, disputed, first, second).ok()
}

/// The escrow's rounds, if it is non-custodial and has a phase.
///
/// # Errors
/// SQLite errors, or stored submissions that do not replay (a corrupted record).
pub fn load(
    conn: &Connection,
    escrow_id: i64,
    timeout: RoundTimeout,
) -> rusqlite::Result<Option<RoundBook>> {
    let Some(escrow) = escrows::load(conn, Target::Escrow(escrow_id))? else {
        return Ok(None);
    };
    let Some(phase) = rows::current_phase(conn, escrow_id)? else {
        return Ok(None);
    };
    let stored = rows::submissions(conn, escrow_id, &phase)?;
    let rounds = replay(&phase, &stored, timeout).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(Some(RoundBook {
        escrow,
        phase,
        rounds,
        rows: stored,
    }))
}

/// Why [`submit`] stored nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitRefusal {
    /// The escrow has no rounds (hosted, or unknown).
    NoRounds,
    /// The protocol refused it.
    Round(RoundRefusal),
    /// The payload's shape is wrong (the message says how, never the payload).
    Malformed(String),
}

/// One submission to check and store.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The escrow.
    pub escrow_id: i64,
    /// Who submits.
    pub actor: Actor,
    /// For which round.
    pub round: Round,
    /// The round output (redacted in `Debug`).
    pub payload: StepOutput,
}

/// Whether [`submit`] stores an accepted offer or only checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Store it (and commit).
    Store,
    /// Check it against the protocol and write nothing (before a txset's own check).
    CheckOnly,
}

/// Checks `offer` against the protocol and stores it (unless `write` is
/// [`Write::CheckOnly`]), in one IMMEDIATE transaction, at `now` (Unix s). Setup rounds are taken
/// only while the escrow awaits setup, payout rounds only while it is releasing or refunding.
///
/// # Errors
/// SQLite errors; `Ok(Err(_))` when refused (nothing written).
pub fn submit(
    conn: &mut Connection,
    offer: Offer,
    (timeout, network): (RoundTimeout, MoneroNetwork),
    (now, write): (i64, Write),
) -> rusqlite::Result<Result<(Accepted, RoundBook), SubmitRefusal>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(mut book) = load(&tx, offer.escrow_id, timeout)? else {
        return Ok(Err(SubmitRefusal::NoRounds));
    };
    let state = book.escrow.state().kind();
    let open = match book.phase.phase {
        PhaseKind::Setup => state == EscrowStateKind::AwaitingSetup,
        PhaseKind::Payout => matches!(
            state,
            EscrowStateKind::Releasing | EscrowStateKind::Refunding
        ),
    };
    if !open {
        return Ok(Err(SubmitRefusal::Round(RoundRefusal::Closed {
            status: state.as_str(),
        })));
    }
    let submission = match parse_submission(offer.round, offer.payload.expose(), network) {
        Ok(s) => s,
        Err(message) => return Ok(Err(SubmitRefusal::Malformed(message))),
    };
    let accepted = match book
        .rounds
        .submit(offer.actor, offer.round, &submission, unix(now))
    {
        Ok(a) => a,
        Err(refusal) => return Ok(Err(SubmitRefusal::Round(refusal))),
    };
    let row = SubmissionRow {
        round: offer.round.as_str().to_owned(),
        actor: offer.actor,
        payload: offer.payload,
        submitted_at: now,
    };
    if write == Write::CheckOnly {
        return Ok(Ok((accepted, book)));
    }
    rows::insert(&tx, offer.escrow_id, &book.phase, &row)?;
    tx.commit()?;
    book.rows.push(row);
    Ok(Ok((accepted, book)))
}

/// Tells buyer and vendor when the current round waits for them (`escrow_turn`), after an
/// accepted submission started a new round, and wakes the orchestrator (the arbiter's turn).
pub fn announce(ctx: &EscrowContext, accepted: &Accepted, book: &RoundBook) {
    if matches!(accepted, Accepted::RoundComplete { .. }) {
        publish_turns(ctx, book);
    }
    ctx.hub().wake();
}

/// The `escrow_turn` notices of the first round, once a non-custodial order is placed (nothing
/// for a hosted one). Failures to read are logged: the parties also poll the rounds view.
pub async fn announce_start(ctx: &EscrowContext, escrow_id: i64) {
    let timeout = ctx.settings().modes.round_timeout;
    let book = ctx
        .db()
        .run("select", "escrow_round_submissions", move |conn| {
            load(conn, escrow_id, timeout)
        })
        .await;
    match book {
        Ok(Some(book)) => publish_turns(ctx, &book),
        Ok(None) => {}
        Err(e) => tracing::warn!(escrow_id, error = %e, "cannot read the escrow rounds"),
    }
}

fn publish_turns(ctx: &EscrowContext, book: &RoundBook) {
    let Some(round) = book.rounds.current_round() else {
        return;
    };
    let escrow = &book.escrow;
    let deadline = book.rounds.deadline().as_unix_seconds();
    for party in book.rounds.waiting_for() {
        let user_id = match party {
            Actor::Buyer => escrow.buyer_id().get(),
            Actor::Vendor => escrow.vendor_id().get(),
            Actor::Arbiter | Actor::System => continue,
        };
        ctx.hub().notices().publish(TurnNotice::new(
            (escrow.id().get(), escrow.order_id().get()),
            round,
            (party, user_id),
            deadline,
        ));
    }
}

#[cfg(test)]
mod tests {
    use escrow_core::{PayoutKind, PayoutRound};

    use super::*;

    #[test]
    fn payloads_are_checked_for_their_round_shape() {
        let net = MoneroNetwork::Mainnet;
        let make = Round::Setup(SetupStage::Make);
        assert_eq!(
            parse_submission(make, "MultisigxV2R1abcXYZ123", net),
            Ok(Submission::MultisigInfo)
        );
        for bad in [
            "",
            "hello",
            "MultisigxV2",
            "MultisigxV2R1ab0",
            "MultisigxV2R1 ab",
        ] {
            assert!(parse_submission(make, bad, net).is_err(), "{bad:?}");
        }
        let err = parse_submission(make, "MultisigxV2R1secret0secret", net).unwrap_err();
        assert!(
            !err.contains("secret"),
            "the payload is never echoed: {err}"
        );
        let sync = Round::Payout(PayoutRound::ExportSync);
        assert_eq!(
            parse_submission(sync, "00aaFF", net),
            Ok(Submission::MultisigSyncInfo)
        );
        assert!(parse_submission(sync, "0aa", net).is_err(), "odd length");
        assert!(parse_submission(sync, "zz", net).is_err(), "not hex");
        let sign = Round::Payout(PayoutRound::SignTxset);
        assert_eq!(
            parse_submission(sign, "beef", net),
            Ok(Submission::SignedTxset)
        );
        let address = Round::Setup(SetupStage::ExchangeRound2);
        assert!(parse_submission(address, "4abc", net).is_err());
    }

    #[test]
    fn signing_pairs_round_trip_and_bad_text_is_refused() {
        let signing = PayoutSigning::new(
            PayoutKind::Release,
            DisputeStatus::Undisputed,
            Actor::Vendor,
            Actor::Buyer,
        )
        .unwrap();
        let text = signing_text(&signing);
        assert_eq!(text, "release:undisputed:vendor:buyer");
        assert_eq!(parse_signing(&text), Some(signing));
        for bad in [
            "",
            "release:undisputed:vendor",
            "release:undisputed:vendor:vendor",
            "release:disputed:buyer:arbiter",
            "keep:undisputed:vendor:buyer",
        ] {
            assert_eq!(parse_signing(bad), None, "{bad}");
        }
    }
}
