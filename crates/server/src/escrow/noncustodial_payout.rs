//! A non-custodial escrow's payout (escrow-core `Action::PreparePayout`/`SubmitPayout` in
//! non-custodial mode): the payout rounds of the signing pair ([`signing_for`]), the server's
//! check of every txset a party submits ([`check_txset`], also run by the API before it stores a
//! `build_txset` or `sign_txset` submission), the arbiter wallet's own rounds after a dispute,
//! and the submission of the fully signed set through the arbiter wallet (`submit_multisig`),
//! recorded as `payout_prepared` + `payout_submitted`.
//!
//! The check: the arbiter wallet refreshes, reads its unlocked balance, decodes the set
//! (`describe_transfer`) and runs escrow-core's `check_payout` against the plan (destination,
//! change only to the escrow, `unlock_time` 0, fee limit, inputs equal to the unlocked balance).
//! Checking needs only the outputs the shared view key shows; the other signers' `export_sync`
//! outputs are imported only when the arbiter wallet itself signs. The submission re-checks the
//! signed set against the balance the route's check has just refreshed ([`WalletView`]), and
//! refreshes again before it refuses.
//!
//! Undisputed payouts are signed by buyer and vendor (a release: the vendor builds, the buyer
//! signs second; the vendor's refund: the buyer builds, the vendor signs second).
//! After a dispute the arbiter is the second signer (the winner builds). When the rounds wait for
//! it, the server runs its turn in the arbiter wallet and submits the output like a party's:
//! `export_sync` (`export_multisig_info`), and `sign_txset`, where the winner's partial set goes
//! through the same check and is signed only if it passes (the hosted co-signer's
//! [`payout::cosign_checked`]); a failing set is recorded as refused, never signed, and the
//! escrow waits for an operator. Both turns are crash-safe through `escrow_steps` (intent before
//! the wallet call, result right after, the stored result reused on the next pass): a crash
//! between the signature and its record signs the same partial set again, and the signed set is
//! submitted once (a prepared payout is looked up in the arbiter wallet before anything else).

use escrow_core::{
    Actor, CheckedPayout, DisputeStatus, Escrow, EscrowEvent, EscrowState, ExpectedPayout,
    PayoutKind, PayoutPlan, PayoutRefusal, PayoutRound, PayoutSigning, PreparedPayout, Round,
    RoundsStatus, TimedOut,
};
use monero_rpc::{Amount, MultisigSyncInfo, MultisigTxset, TransferEntry, TxHash};
use serde::{Deserialize, Serialize};

use super::engine::{Engine, Progress, StepError, wallet_ref};
use super::participant::{HostedParticipant, Participant};
use super::payout::{self, Cosigned};
use super::rounds::{self, RoundBook, unix};
use super::{EscrowContext, noncustodial};
use crate::db::escrows::rounds::{self as rows, PhaseKind};
use crate::db::escrows::steps::{self, Step, StepKey, StepRow, StepStatus};
use crate::db::escrows::wallets;
use crate::db::now_unix;

/// The signing pair of `plan` in non-custodial mode: the payee's side builds, the other signs
/// second (undisputed release vendor then buyer, refund buyer then vendor; after a dispute the
/// winner then the arbiter).
///
/// # Errors
/// escrow-core's refusal of the pair (none for the plans escrow-core makes).
pub fn signing_for(plan: &PayoutPlan) -> Result<PayoutSigning, escrow_core::SignerRefusal> {
    let disputed = DisputeStatus::of(plan.reason);
    let (first, second) = match (plan.kind, disputed) {
        (PayoutKind::Release, DisputeStatus::Undisputed) => (Actor::Vendor, Actor::Buyer),
        (PayoutKind::Refund, DisputeStatus::Undisputed) => (Actor::Buyer, Actor::Vendor),
        (PayoutKind::Release, DisputeStatus::Disputed) => (Actor::Vendor, Actor::Arbiter),
        (PayoutKind::Refund, DisputeStatus::Disputed) => (Actor::Buyer, Actor::Arbiter),
    };
    PayoutSigning::new(plan.kind, disputed, first, second)
}

/// One pass of the payout: opens the payout rounds (and tells the first round's parties), or,
/// once the second signer's set is in, checks it again and submits it.
///
/// # Errors
/// [`StepError`] when a step must be retried later.
pub async fn run(
    engine: &Engine,
    escrow: &Escrow,
    plan: &PayoutPlan,
) -> Result<Progress, StepError> {
    let ctx = engine.context();
    let id = escrow.id().get();
    if let Some(prepared) = prepared(escrow) {
        // Submitted before a restart: the arbiter wallet knows the transaction.
        let arbiter = arbiter(ctx, id).await?;
        let hash = prepared
            .tx_hashes
            .first()
            .cloned()
            .ok_or(StepError::SignedPayoutMissing)?;
        if arbiter.knows_tx(hash).await? {
            let tx_hashes = prepared.tx_hashes.clone();
            engine
                .apply_system(id, EscrowEvent::PayoutSubmitted { tx_hashes })
                .await?;
            return Ok(Progress::Wait);
        }
    }
    let book = load(ctx, id).await?;
    // A payout attempt older than the plan belongs to a decision a stall undid: this decision
    // gets fresh rounds.
    if book.phase.phase != PhaseKind::Payout || unix(book.phase.started_at) < plan.decided_at {
        return open(ctx, id, plan).await;
    }
    if let Some(timed_out) = book.rounds.clone().check_deadline(unix(now_unix())) {
        return stall(engine, id, &timed_out).await;
    }
    if *book.rounds.status() != RoundsStatus::FullySigned {
        return match book.rounds.expected_from(Actor::Arbiter) {
            Some((round, _)) if engine.runner().accepts_jobs() => {
                arbiter_turn(engine, &book, round).await
            }
            _ => Ok(Progress::Wait),
        };
    }
    let signing = signing(&book)?;
    let signed = book
        .payload(Round::Payout(PayoutRound::SignTxset), signing.pair().second)
        .ok_or(StepError::SignedPayoutMissing)?;
    let txset =
        MultisigTxset::new(signed.expose().to_owned()).map_err(|e| StepError::InvalidStored {
            what: "signed txset",
            detail: e.to_string(),
        })?;
    let key = StepKey {
        escrow_id: id,
        attempt: book.phase.attempt,
        step: Step::PayoutSubmit,
        role: Actor::Arbiter,
    };
    let row = ctx
        .db()
        .run("select", "escrow_steps", move |conn| steps::get(conn, &key))
        .await?;
    let arbiter = arbiter(ctx, id).await?;
    if let Some(sent) = sent_before(&arbiter, key, row).await? {
        return record(engine, id, sent).await;
    }
    let checked = match resubmit_check(ctx, &book, &arbiter, &txset).await? {
        Ok(checked) => checked,
        Err(refusal) => {
            tracing::error!(escrow_id = id, reason = refusal.reason().as_str(), error = %refusal, "the signed payout set fails the check; not submitted");
            return Ok(Progress::Wait);
        }
    };
    engine.step_started(key).await?;
    let tx_hashes = arbiter.submit(txset).await?;
    let sent = Sent {
        tx_hashes,
        amount: checked.amount,
        fee: checked.fee,
    };
    let result = serde_json::to_string(&sent).map_err(|e| StepError::InvalidStored {
        what: "submitted payout",
        detail: e.to_string(),
    })?;
    engine.step_done(key, result).await?;
    tracing::info!(escrow_id = id, tx_hash = %sent.tx_hashes.first().map(|h| h.as_str()).unwrap_or(""), "non-custodial payout submitted");
    record(engine, id, sent).await
}

/// A payout the arbiter wallet submitted: its hashes, and the piconero paid and the fee.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sent {
    tx_hashes: Vec<TxHash>,
    amount: Amount,
    fee: Amount,
}

/// What an earlier pass already submitted, from the `payout_submit` step `row`: its stored
/// result once `submit_multisig` answered, or, when the pass stopped between `submit_multisig`
/// and that record (a crash), the arbiter wallet's own spends. The escrow's arbiter wallet
/// belongs to this escrow alone, so anything it sent is this payout. `None`: nothing was sent,
/// submit now.
async fn sent_before(
    arbiter: &HostedParticipant,
    key: StepKey,
    row: Option<StepRow>,
) -> Result<Option<Sent>, StepError> {
    let Some(row) = row else {
        return Ok(None);
    };
    if row.status == StepStatus::Done {
        let text = stored_output(key, row)?;
        let sent = serde_json::from_str(&text).map_err(|e| StepError::InvalidStored {
            what: "submitted payout",
            detail: e.to_string(),
        })?;
        return Ok(Some(sent));
    }
    let spends = arbiter.sent().await?;
    if spends.is_empty() {
        return Ok(None);
    }
    let sum = |f: fn(&TransferEntry) -> Amount| {
        spends
            .iter()
            .try_fold(Amount::ZERO, |total, t| total.checked_add(f(t)))
            .ok_or(StepError::InvalidStored {
                what: "arbiter wallet spends",
                detail: "amounts overflow".into(),
            })
    };
    let sent = Sent {
        tx_hashes: spends.iter().map(|t| t.txid.clone()).collect(),
        amount: sum(|t| t.amount)?,
        fee: sum(|t| t.fee)?,
    };
    tracing::warn!(
        escrow_id = key.escrow_id,
        tx_hash = %sent.tx_hashes.first().map(|h| h.as_str()).unwrap_or(""),
        "a payout submission stopped before its record; the arbiter wallet shows it sent, recording it instead of submitting again"
    );
    Ok(Some(sent))
}

/// Records a submitted payout: `payout_prepared` with its hashes, then `payout_submitted`.
async fn record(engine: &Engine, id: i64, sent: Sent) -> Result<Progress, StepError> {
    let prepared = EscrowEvent::PayoutPrepared {
        tx_hashes: sent.tx_hashes.clone(),
        amount: sent.amount,
        fee: sent.fee,
    };
    engine.apply_system(id, prepared).await?;
    let submitted = EscrowEvent::PayoutSubmitted {
        tx_hashes: sent.tx_hashes,
    };
    engine.apply_system(id, submitted).await?;
    Ok(Progress::Wait)
}

/// The payout rounds missed their deadline with nothing submitted: the decision is undone
/// ([`EscrowEvent::PayoutStalled`]) and the money stays in the escrow. An undisputed payout goes
/// back to `funded` (the party still there may confirm, refund or dispute again); an arbiter's
/// decision goes back to `disputed`, for the arbiter to decide again.
async fn stall(engine: &Engine, id: i64, timed_out: &TimedOut) -> Result<Progress, StepError> {
    let applied = engine.apply_system(id, EscrowEvent::PayoutStalled).await?;
    tracing::warn!(
        escrow_id = id,
        round = timed_out.round.as_str(),
        missing = ?timed_out.missing,
        state = applied.escrow().state().kind().as_str(),
        "non-custodial payout round missed its deadline; the decision is undone and the money stays in the escrow"
    );
    Ok(Progress::Wait)
}

/// The signing pair of `book`'s payout phase.
fn signing(book: &RoundBook) -> Result<PayoutSigning, StepError> {
    rounds::parse_signing(book.phase.signing.as_deref().unwrap_or_default()).ok_or(
        StepError::InvalidStored {
            what: "payout signing pair",
            detail: "unreadable".into(),
        },
    )
}

/// The arbiter's turn in payout `round` (it is a signer after a dispute): its output computed
/// by the arbiter wallet (or read back from `escrow_steps`), submitted like a party's.
async fn arbiter_turn(
    engine: &Engine,
    book: &RoundBook,
    round: Round,
) -> Result<Progress, StepError> {
    let ctx = engine.context();
    let id = book.escrow.id().get();
    let arbiter = arbiter(ctx, id).await?;
    let key = |step| StepKey {
        escrow_id: id,
        attempt: book.phase.attempt,
        step,
        role: Actor::Arbiter,
    };
    let output = match round {
        Round::Payout(PayoutRound::ExportSync) => {
            let key = key(Step::PayoutSync);
            match begin(ctx, key).await? {
                Some(row) => stored_output(key, row)?,
                None => {
                    let info = arbiter.export_sync().await?.expose_secret().to_owned();
                    engine.step_done(key, info.clone()).await?;
                    info
                }
            }
        }
        Round::Payout(PayoutRound::SignTxset) => {
            match sign_second(engine, book, &arbiter, key(Step::PayoutSigned)).await? {
                Some(signed) => signed,
                None => return Ok(Progress::Wait),
            }
        }
        other => {
            // `signing_for` never lets the arbiter build, and it takes no part in the setup here.
            tracing::error!(
                escrow_id = id,
                round = other.as_str(),
                "the payout rounds wait for the arbiter in a round it does not run"
            );
            return Ok(Progress::Wait);
        }
    };
    noncustodial::submit_arbiter(engine, id, round, output).await
}

/// The arbiter wallet's `sign_txset`: the first signer's partial set, checked against the plan
/// exactly as [`check_txset`] does and signed only if it passes ([`payout::cosign_checked`]),
/// the signed set stored as step `key` before it is handed on. `None`: refused (now or earlier),
/// nothing signed.
async fn sign_second(
    engine: &Engine,
    book: &RoundBook,
    arbiter: &HostedParticipant,
    key: StepKey,
) -> Result<Option<String>, StepError> {
    let ctx = engine.context();
    match begin(ctx, key).await? {
        Some(row) if row.status == StepStatus::Refused => return Ok(None),
        Some(row) => return stored_output(key, row).map(Some),
        None => {}
    }
    let first = signing(book)?.pair().first;
    let partial = book
        .payload(Round::Payout(PayoutRound::BuildTxset), first)
        .ok_or(StepError::InvalidStored {
            what: "partial txset",
            detail: "sign_txset is open without the first signer's set".into(),
        })?;
    let txset =
        MultisigTxset::new(partial.expose().to_owned()).map_err(|e| StepError::InvalidStored {
            what: "partial txset",
            detail: e.to_string(),
        })?;
    let expected = expected_payout(ctx, book, arbiter, WalletView::Signing).await?;
    match payout::cosign_checked(ctx, key, arbiter, txset, &expected).await? {
        Cosigned::Signed { multisig_txset, .. } => {
            let signed = multisig_txset.expose_secret().to_owned();
            engine.step_done(key, signed.clone()).await?;
            tracing::info!(
                escrow_id = key.escrow_id,
                "the arbiter wallet checked and signed the payout set"
            );
            Ok(Some(signed))
        }
        // Stored as refused and logged by `cosign_checked` (without the set).
        Cosigned::Refused(_) => Ok(None),
    }
}

/// Step `key`'s row when it already ended (done or refused); else records the intent to run it
/// and returns `None`.
async fn begin(ctx: &EscrowContext, key: StepKey) -> Result<Option<StepRow>, StepError> {
    let row = ctx
        .db()
        .run("insert", "escrow_steps", move |conn| {
            let row = steps::get(conn, &key)?;
            if row
                .as_ref()
                .is_some_and(|r| r.status != StepStatus::Started)
            {
                return Ok(row);
            }
            steps::started(conn, &key, now_unix())?;
            Ok(None)
        })
        .await?;
    Ok(row)
}

/// The stored result of a done step.
fn stored_output(key: StepKey, row: StepRow) -> Result<String, StepError> {
    row.result
        .map(|r| r.into_inner())
        .ok_or(StepError::StepWithoutOutput {
            step: key.step,
            role: key.role,
        })
}

/// The payout already recorded as prepared, if any.
fn prepared(escrow: &Escrow) -> Option<&PreparedPayout> {
    match escrow.state() {
        EscrowState::Releasing { prepared, .. } | EscrowState::Refunding { prepared, .. } => {
            prepared.as_ref()
        }
        _ => None,
    }
}

async fn load(ctx: &EscrowContext, id: i64) -> Result<RoundBook, StepError> {
    let timeout = ctx.settings().modes.round_timeout;
    ctx.db()
        .run("select", "escrow_round_submissions", move |conn| {
            rounds::load(conn, id, timeout)
        })
        .await?
        .ok_or(StepError::InvalidStored {
            what: "escrow rounds",
            detail: "a non-custodial escrow without rounds".into(),
        })
}

/// Opens the payout rounds of `plan` and tells the signers whose turn it is.
async fn open(ctx: &EscrowContext, id: i64, plan: &PayoutPlan) -> Result<Progress, StepError> {
    let signing = signing_for(plan).map_err(|e| StepError::InvalidStored {
        what: "payout signing pair",
        detail: e.to_string(),
    })?;
    let text = rounds::signing_text(&signing);
    ctx.db()
        .run("insert", "escrow_round_phases", move |conn| {
            rows::open_phase(conn, id, PhaseKind::Payout, Some(&text), now_unix())
        })
        .await?;
    tracing::info!(
        escrow_id = id,
        signing = %rounds::signing_text(&signing),
        "non-custodial payout rounds opened"
    );
    rounds::announce_start(ctx, id).await;
    Ok(Progress::Wait)
}

/// The arbiter's wallet of escrow `id` on the arbiter's wallet-rpc worker.
async fn arbiter(ctx: &EscrowContext, id: i64) -> Result<HostedParticipant, StepError> {
    let worker = ctx.arbiter_worker().ok_or(StepError::NotConfigured {
        role: Actor::Arbiter,
    })?;
    let rows = ctx
        .db()
        .run("select", "escrow_wallets", move |conn| {
            wallets::latest(conn, id)
        })
        .await?;
    let row =
        rows.into_iter()
            .find(|w| w.role == Actor::Arbiter)
            .ok_or(StepError::MissingWallet {
                role: Actor::Arbiter,
            })?;
    let wallet = wallet_ref(&row)?;
    Ok(HostedParticipant::new(
        Actor::Arbiter,
        worker.clone(),
        wallet,
    ))
}

/// The server's check of a payout `txset` of `book`'s payout rounds (see the module
/// documentation): `Ok(Err(_))` is a refusal (the set must be neither relayed nor submitted).
///
/// # Errors
/// [`StepError`] when the arbiter wallet cannot be used now (retry later).
pub async fn check_txset(
    ctx: &EscrowContext,
    book: &RoundBook,
    txset: MultisigTxset,
) -> Result<Result<CheckedPayout, PayoutRefusal>, StepError> {
    let arbiter = arbiter(ctx, book.escrow.id().get()).await?;
    let expected = expected_payout(ctx, book, &arbiter, WalletView::Scanned).await?;
    payout::verdict(&arbiter, txset, &expected).await
}

/// The submission's check of the signed set the route accepted: first against the balance that
/// check has just refreshed, then, if that refuses (a restart in between, a wallet reopened from
/// an older cache), after a refresh of its own. Only the second verdict refuses.
async fn resubmit_check(
    ctx: &EscrowContext,
    book: &RoundBook,
    arbiter: &HostedParticipant,
    txset: &MultisigTxset,
) -> Result<Result<CheckedPayout, PayoutRefusal>, StepError> {
    let expected = expected_payout(ctx, book, arbiter, WalletView::Cached).await?;
    if let Ok(checked) = payout::verdict(arbiter, txset.clone(), &expected).await? {
        return Ok(Ok(checked));
    }
    let expected = expected_payout(ctx, book, arbiter, WalletView::Scanned).await?;
    payout::verdict(arbiter, txset.clone(), &expected).await
}

/// How current the arbiter wallet's view of the escrow must be before a check reads its balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalletView {
    /// As last scanned (`get_balance` only): right after another check refreshed it.
    Cached,
    /// Refreshed (`refresh`, `get_balance`): the outputs the shared view key shows, all a check
    /// of a set this wallet does not sign needs.
    Scanned,
    /// Refreshed, with the other signers' `export_sync` outputs imported and refreshed again:
    /// what the arbiter wallet needs before it signs.
    Signing,
}

/// What the payout of `book` must do, as the arbiter wallet sees the escrow in `view` (its own
/// sync info, when it signs, stays out of the import).
async fn expected_payout(
    ctx: &EscrowContext,
    book: &RoundBook,
    arbiter: &HostedParticipant,
    view: WalletView,
) -> Result<ExpectedPayout, StepError> {
    let escrow = &book.escrow;
    let (Some(plan), Some(escrow_address)) = (escrow.state().payout_plan(), escrow.address())
    else {
        return Err(StepError::InvalidStored {
            what: "payout plan",
            detail: "the escrow is not paying out".into(),
        });
    };
    let balance = match view {
        WalletView::Cached => arbiter.scanned_balance().await?,
        WalletView::Scanned => arbiter.balance().await?,
        WalletView::Signing => {
            arbiter.balance().await?;
            arbiter.import_sync(other_syncs(book)?).await?;
            arbiter.balance().await?
        }
    };
    Ok(ExpectedPayout {
        destination: plan.destination.clone(),
        escrow_address: escrow_address.clone(),
        unlocked_balance: balance.unlocked_balance,
        fee_limit: ctx.settings().payout_fee,
    })
}

/// The buyer's and vendor's `export_sync` outputs of `book`'s payout rounds.
fn other_syncs(book: &RoundBook) -> Result<Vec<MultisigSyncInfo>, StepError> {
    escrow_core::escrow::PARTICIPANTS
        .into_iter()
        .filter(|a| *a != Actor::Arbiter)
        .filter_map(|a| book.payload(Round::Payout(PayoutRound::ExportSync), a))
        .map(|p| MultisigSyncInfo::new(p.expose().to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StepError::InvalidStored {
            what: "multisig sync info",
            detail: e.to_string(),
        })
}
