//! A non-custodial escrow's multisig setup (escrow-core `Action::RunSetup` in
//! [`EscrowMode::NonCustodial`](escrow_core::EscrowMode)): the server runs only the arbiter's
//! side. Buyer and vendor submit their round outputs through the API ([`super::rounds`]); on each
//! pass this job
//!
//! 1. cancels the escrow (stock back) when the current round missed its deadline: no address was
//!    shown, nothing can be at stake;
//! 2. ends the setup once the protocol closed: `setup_completed` with the address all three
//!    reported (after checking the arbiter wallet is a ready 2-of-3 wallet of that address), or
//!    `setup_failed` when the reports differ;
//! 3. otherwise, when the arbiter owes the current round, runs it in the arbiter wallet with the
//!    other two parties' outputs of the previous round and submits the arbiter's output like a
//!    party would (crash-safe through `escrow_steps`, as in hosted mode).
//!
//! It never waits for a party: with nothing to do it returns and the next pass (or the wake-up
//! after a party's submission) looks again.

use escrow_core::{Accepted, Actor, Address, Escrow, EscrowEvent, Round, RoundsStatus};

use super::engine::{Engine, Progress, StepError};
use super::participant::{Participant, THRESHOLD};
use super::rounds::{self, Offer, RoundBook, SubmitRefusal, unix};
use super::setup::{self, new_wallets};
use crate::db::escrows::steps::StepOutput;
use crate::db::escrows::wallets;
use crate::db::{now_unix, orders};

/// The arbiter's only wallet set of a non-custodial escrow (the parties' wallets are theirs, so a
/// setup is never restarted with fresh wallets).
const ATTEMPT: u32 = 1;

/// Runs one pass of the setup (see the module documentation).
///
/// # Errors
/// [`StepError`] when a step must be retried later.
pub async fn run_setup(engine: &Engine, escrow: &Escrow) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let book = load(engine, id).await?;
    let mut rounds = book.rounds.clone();
    if let Some(timed_out) = rounds.check_deadline(unix(now_unix())) {
        tracing::info!(
            escrow_id = id,
            round = timed_out.round.as_str(),
            missing = ?timed_out.missing,
            reason = "round_timeout",
            "non-custodial setup round missed its deadline; the escrow is cancelled"
        );
        return cancel(engine, escrow).await;
    }
    match book.rounds.status() {
        RoundsStatus::AddressReady(address) => return complete(engine, id, address).await,
        RoundsStatus::AddressesDisagree => {
            return fail(
                engine,
                id,
                "buyer, vendor and arbiter reported different multisig addresses",
            )
            .await;
        }
        RoundsStatus::Open => {}
        RoundsStatus::FullySigned | RoundsStatus::TimedOut(_) => return Ok(Progress::Wait),
    }
    let Some((round @ Round::Setup(stage), _)) = book.rounds.expected_from(Actor::Arbiter) else {
        return Ok(Progress::Wait);
    };
    if !engine.runner().accepts_jobs() {
        return Ok(Progress::Wait);
    }
    let wallets = arbiter_wallet(engine, id).await?;
    let arbiter = engine.participant(Actor::Arbiter, &wallets)?;
    let inputs = book.inputs_for(Actor::Arbiter, round);
    let output = match setup::contribute(engine, id, ATTEMPT, stage, &arbiter, inputs).await? {
        setup::Round::Outputs(mut outputs) => {
            outputs.pop().ok_or(StepError::StepWithoutOutput {
                step: crate::db::escrows::steps::Step::Setup(stage),
                role: Actor::Arbiter,
            })?
        }
        setup::Round::Retry(e) => return Err(e),
        setup::Round::Restart(reason) => return fail(engine, id, &reason).await,
    };
    submit_arbiter(engine, id, round, output).await
}

/// The escrow's rounds.
async fn load(engine: &Engine, id: i64) -> Result<RoundBook, StepError> {
    let timeout = engine.context().settings().modes.round_timeout;
    engine
        .context()
        .db()
        .run("select", "escrow_round_submissions", move |conn| {
            rounds::load(conn, id, timeout)
        })
        .await?
        .ok_or(StepError::InvalidStored {
            what: "escrow rounds",
            detail: "a non-custodial escrow without a setup phase".into(),
        })
}

/// The arbiter's wallet row, recorded on the first pass.
async fn arbiter_wallet(engine: &Engine, id: i64) -> Result<Vec<wallets::WalletRow>, StepError> {
    let rows = engine.wallets(id).await?;
    if rows.iter().any(|w| w.role == Actor::Arbiter) {
        return Ok(rows);
    }
    new_wallets(engine, id, ATTEMPT, &[Actor::Arbiter]).await
}

/// Submits the arbiter wallet's output of `round` (a setup or payout round) like a party's.
pub(super) async fn submit_arbiter(
    engine: &Engine,
    id: i64,
    round: Round,
    output: String,
) -> Result<Progress, StepError> {
    let ctx = engine.context();
    let settings = (ctx.settings().modes.round_timeout, ctx.settings().network);
    let offer = Offer {
        escrow_id: id,
        actor: Actor::Arbiter,
        round,
        payload: StepOutput::new(output),
    };
    let result = ctx
        .db()
        .run("insert", "escrow_round_submissions", move |conn| {
            rounds::submit(conn, offer, settings, (now_unix(), rounds::Write::Store))
        })
        .await?;
    match result {
        Ok((accepted, book)) => {
            tracing::debug!(
                escrow_id = id,
                round = round.as_str(),
                "arbiter round output submitted"
            );
            rounds::announce(ctx, &accepted, &book);
            Ok(match accepted {
                Accepted::Recorded { .. } => Progress::Wait,
                _ => Progress::Continue,
            })
        }
        // The deadline passed or the escrow moved on meanwhile: the next pass decides.
        Err(SubmitRefusal::Round(refusal)) => {
            tracing::info!(escrow_id = id, round = round.as_str(), error = %refusal, "arbiter round output not taken");
            Ok(Progress::Wait)
        }
        Err(SubmitRefusal::Malformed(detail)) => Err(StepError::InvalidWalletAnswer {
            what: "round output",
            detail,
        }),
        Err(SubmitRefusal::NoRounds) => Err(StepError::InvalidStored {
            what: "escrow rounds",
            detail: "the escrow's rounds disappeared".into(),
        }),
    }
}

/// Shows `address` once the arbiter wallet confirms it is a ready 2-of-3 wallet of it.
async fn complete(engine: &Engine, id: i64, address: &Address) -> Result<Progress, StepError> {
    let wallets = arbiter_wallet(engine, id).await?;
    let arbiter = engine.participant(Actor::Arbiter, &wallets)?;
    let (status, wallet_address) = arbiter.status().await?;
    if !status.ready
        || status.threshold != THRESHOLD
        || status.total != 3
        || wallet_address.as_str() != address.as_str()
    {
        return fail(
            engine,
            id,
            "the arbiter wallet is not a ready 2-of-3 wallet for the agreed address",
        )
        .await;
    }
    tracing::info!(escrow_id = id, %address, "non-custodial multisig setup complete");
    let event = EscrowEvent::SetupCompleted {
        address: address.clone(),
    };
    engine.apply_system(id, event).await?;
    Ok(Progress::Continue)
}

async fn fail(engine: &Engine, id: i64, reason: &str) -> Result<Progress, StepError> {
    tracing::warn!(
        escrow_id = id,
        reason,
        "non-custodial multisig setup failed"
    );
    let event = EscrowEvent::SetupFailed {
        reason: reason.to_owned(),
    };
    engine.apply_system(id, event).await?;
    Ok(Progress::Wait)
}

/// Cancels the escrow after a missed setup deadline, giving the units back to the listing.
async fn cancel(engine: &Engine, escrow: &Escrow) -> Result<Progress, StepError> {
    let order_id = escrow.order_id().get();
    let give_back = Box::new(move |conn: &rusqlite::Connection| {
        orders::return_stock(conn, order_id, now_unix()).map(|_| ())
    });
    engine
        .apply_system_with(escrow.id().get(), EscrowEvent::Cancelled, give_back)
        .await?;
    Ok(Progress::Wait)
}
