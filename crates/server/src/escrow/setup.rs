//! Multisig setup of one escrow (escrow-core `Action::RunSetup`): fresh wallets per role, then the
//! 0.18 2-of-3 rounds `prepare` → `make` → `exchange_round_1` → `exchange_round_2`, each one
//! collected from all three participants (in parallel, one per wallet-rpc worker) before the next.
//!
//! Crash safety: every call is preceded by a `started` row and followed by a `done` row holding
//! its output (`escrow_steps`). A step found `started` but not `done` after a restart is re-run;
//! if the wallet already moved past it (its output is lost), the setup starts over with fresh
//! wallets (attempt + 1). That is safe because no address was shown yet, so nothing can be
//! funded. After [`MAX_SETUP_ATTEMPTS`] the escrow goes to `setup_failed` for the operator, whose
//! retry (`POST /ops/escrows/{id}/retry-setup`) raises the attempt floor: the next setup starts
//! with fresh wallets and a full budget of attempts.
//!
//! Payouts go first: before each round the setup waits while a payout waits for or holds its
//! lane ([`Engine::yield_to_payouts`]).
//!
//! A cancel stops the setup: before every round (and before the final check) the escrow is read
//! again, and a setup whose escrow no longer awaits setup ends there.
//!
//! A runner lease handover stops a setup between two rounds (the next holder resumes it from the
//! stored outputs), never inside one.

use escrow_core::escrow::{PARTICIPANTS, SetupStage};
use escrow_core::{Actor, EscrowEvent};
use futures_util::future::join_all;
use monero_rpc::{MultisigInfo, RpcError, WalletPassword};
use monero_types::Address;
use rand::RngCore;

use super::engine::{Engine, Progress, StepError};
use super::participant::{HostedParticipant, Participant};
use super::worker::WorkerError;
use crate::db::escrows::steps::{self, Step, StepKey, StepStatus};
use crate::db::escrows::wallets::{self, WalletRow};
use crate::db::now_unix;

/// Setup attempts (fresh wallet sets) before the escrow is marked `setup_failed`.
pub const MAX_SETUP_ATTEMPTS: u32 = 3;
/// Failed tries of one step (wallet-rpc reachable but refusing) before the attempt is abandoned.
pub const MAX_STEP_TRIES: u32 = 3;

/// The participants, in the order their outputs are stored and passed on (escrow-core's
/// `PARTICIPANTS`: buyer, vendor, arbiter).
pub const ROLES: [Actor; 3] = PARTICIPANTS;

/// What a round produced.
pub(super) enum Round {
    /// The three outputs, in [`ROLES`] order.
    Outputs(Vec<String>),
    /// A wallet-rpc was unreachable or busy: try again on the next pass.
    Retry(StepError),
    /// The attempt cannot continue (lost output, wallet refuses): start over with fresh wallets.
    Restart(String),
}

/// Runs (or resumes) the setup and applies `setup_completed` with the shared address.
///
/// # Errors
/// [`StepError`] when a step must be retried later.
pub async fn run(engine: &Engine, escrow: &escrow_core::Escrow) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let mut wallets = engine.wallets(id).await?;
    let floor = engine
        .context()
        .db()
        .run("select", "escrows", move |conn| {
            wallets::attempt_floor(conn, id)
        })
        .await?;
    // No wallets yet, or only those of the attempts before an operator's retry: start afresh.
    if wallets.first().is_none_or(|w| w.attempt <= floor) {
        wallets = new_wallets(engine, id, floor + 1, &ROLES).await?;
    }
    let attempt = wallets[0].attempt;
    let participants = ROLES
        .iter()
        .map(|role| engine.participant(*role, &wallets))
        .collect::<Result<Vec<HostedParticipant>, _>>()?;

    let mut previous: Vec<String> = Vec::new();
    for stage in SetupStage::ALL {
        engine.yield_to_payouts().await;
        if !engine.runner().accepts_jobs() {
            tracing::info!(
                escrow_id = id,
                stage = ?stage,
                "multisig setup paused for the runner lease handover"
            );
            return Ok(Progress::Wait);
        }
        if !still_wanted(engine, id).await? {
            return Ok(Progress::Wait);
        }
        match round(engine, id, attempt, stage, &participants, &previous).await? {
            Round::Outputs(outputs) => previous = outputs,
            Round::Retry(e) => return Err(e),
            Round::Restart(reason) => {
                return restart(engine, id, (floor, attempt), &reason).await;
            }
        }
    }
    if !still_wanted(engine, id).await? {
        return Ok(Progress::Wait);
    }
    let address = agreed_address(&previous)?;
    for p in &participants {
        let (status, wallet_address) = p.status().await?;
        if !status.ready
            || status.threshold != 2
            || status.total != 3
            || wallet_address.as_str() != address.as_str()
        {
            return restart(
                engine,
                id,
                (floor, attempt),
                &format!(
                    "the {} wallet is not a ready 2-of-3 wallet for the shared address",
                    p.role()
                ),
            )
            .await;
        }
    }
    tracing::info!(escrow_id = id, attempt, %address, "multisig setup complete");
    engine
        .apply_system(id, EscrowEvent::SetupCompleted { address })
        .await?;
    Ok(Progress::Continue)
}

/// The shared address, if all three final outputs agree.
fn agreed_address(outputs: &[String]) -> Result<Address, StepError> {
    let first = outputs.first().ok_or(StepError::SignersDisagree)?;
    if outputs.iter().any(|o| o != first) {
        return Err(StepError::SignersDisagree);
    }
    first
        .parse::<Address>()
        .map_err(|e| StepError::InvalidWalletAnswer {
            what: "multisig address",
            detail: e.to_string(),
        })
}

async fn round(
    engine: &Engine,
    id: i64,
    attempt: u32,
    stage: SetupStage,
    participants: &[HostedParticipant],
    previous: &[String],
) -> Result<Round, StepError> {
    let calls = participants.iter().enumerate().map(|(index, p)| {
        let others: Vec<String> = previous
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, o)| o.clone())
            .collect();
        contribute(engine, id, attempt, stage, p, others)
    });
    let results = join_all(calls).await;
    let mut outputs = Vec::with_capacity(results.len());
    let mut retry = None;
    for result in results {
        match result? {
            Round::Outputs(mut o) => outputs.append(&mut o),
            Round::Restart(reason) => return Ok(Round::Restart(reason)),
            Round::Retry(e) => retry = Some(e),
        }
    }
    if let Some(e) = retry {
        return Ok(Round::Retry(e));
    }
    Ok(Round::Outputs(outputs))
}

/// One participant's output for `stage`: from `escrow_steps` if already done, else by calling its
/// wallet (intent recorded first, result right after).
pub(super) async fn contribute(
    engine: &Engine,
    id: i64,
    attempt: u32,
    stage: SetupStage,
    participant: &HostedParticipant,
    others: Vec<String>,
) -> Result<Round, StepError> {
    let role = participant.role();
    let key = StepKey {
        escrow_id: id,
        attempt,
        step: Step::Setup(stage),
        role,
    };
    let db = engine.context().db();
    let before = db
        .run("insert", "escrow_steps", move |conn| {
            let row = steps::get(conn, &key)?;
            if row.as_ref().is_some_and(|r| r.status == StepStatus::Done) {
                return Ok(row);
            }
            steps::started(conn, &key, now_unix())?;
            Ok(None)
        })
        .await?;
    if let Some(done) = before {
        let output = done.result.ok_or(StepError::StepWithoutOutput {
            step: key.step,
            role,
        })?;
        return Ok(Round::Outputs(vec![output.into_inner()]));
    }
    let tries = db
        .run("select", "escrow_steps", move |conn| steps::get(conn, &key))
        .await?
        .map_or(1, |r| r.tries);
    let infos = others
        .into_iter()
        .map(|o| {
            MultisigInfo::new(o).map_err(|e| StepError::InvalidStored {
                what: "multisig_info",
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<MultisigInfo>, StepError>>();
    let result: Result<String, WorkerError> = match stage {
        SetupStage::Prepare => participant
            .prepare()
            .await
            .map(|i| i.expose_secret().to_owned()),
        SetupStage::Make => participant
            .make(infos?)
            .await
            .map(|i| i.expose_secret().to_owned()),
        SetupStage::ExchangeRound1 | SetupStage::ExchangeRound2 => {
            match participant.exchange(infos?).await {
                Ok(round) => match exchange_output(stage, round) {
                    Some(output) => Ok(output),
                    None if stage == SetupStage::ExchangeRound1 => {
                        return Ok(Round::Restart(format!(
                            "{role} wallet gave no multisig_info in key exchange round 1"
                        )));
                    }
                    None => {
                        return Ok(Round::Restart(format!(
                            "{role} wallet is not finished after key exchange round 2"
                        )));
                    }
                },
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(output) => {
            engine.step_done(key, output.clone()).await?;
            tracing::debug!(
                escrow_id = id,
                attempt,
                step = key.step.as_str(),
                role = role.as_str(),
                "multisig setup step done"
            );
            Ok(Round::Outputs(vec![output]))
        }
        Err(error) => {
            let message = error.to_string();
            db.run("update", "escrow_steps", move |conn| {
                steps::failed(conn, &key, &message)
            })
            .await?;
            if is_transient(&error) {
                return Ok(Round::Retry(error.into()));
            }
            // A refusal on a re-run means the wallet already did this step and its output is
            // lost (a crash between the call and the `done` row); repeated refusals mean the
            // wallet cannot continue. Either way this wallet set is abandoned.
            if tries > 1
                || tries >= MAX_STEP_TRIES
                || matches!(error, WorkerError::Rpc(RpcError::AlreadyMultisig { .. }))
            {
                return Ok(Round::Restart(format!(
                    "{} failed on the {role} wallet: {error}",
                    key.step.as_str()
                )));
            }
            Ok(Round::Retry(error.into()))
        }
    }
}

/// What a key exchange round hands on: round 1 the next multisig_info, round 2 the shared address.
fn exchange_output(stage: SetupStage, round: monero_rpc::KeyExchangeRound) -> Option<String> {
    match stage {
        SetupStage::ExchangeRound1 => round.multisig_info.map(|i| i.expose_secret().to_owned()),
        _ => round.address.map(|a| a.as_str().to_owned()),
    }
}

fn is_transient(error: &WorkerError) -> bool {
    match error {
        WorkerError::Stopped { .. } | WorkerError::NotRunner { .. } => true,
        WorkerError::Rpc(e) => e.is_unreachable() || matches!(e, RpcError::HttpStatus { .. }),
    }
}

/// Whether the escrow still waits for its setup: a buyer's cancel (or anything else that moved it
/// out of `awaiting_setup`) stops the setup before its next round, so no half-set-up wallet is
/// driven any further.
async fn still_wanted(engine: &Engine, id: i64) -> Result<bool, StepError> {
    let state = engine
        .context()
        .db()
        .run("select", "escrows", move |conn| {
            crate::db::escrows::load(conn, super::Target::Escrow(id))
        })
        .await?
        .map(|e| e.state().kind());
    if state == Some(escrow_core::EscrowStateKind::AwaitingSetup) {
        return Ok(true);
    }
    tracing::info!(
        escrow_id = id,
        state = state.map_or("missing", |s| s.as_str()),
        "multisig setup stopped: the escrow no longer awaits setup"
    );
    Ok(false)
}

/// Abandons wallet set `attempt` (counted from `floor`, the last attempt before an operator's
/// retry): a fresh set, or `setup_failed` once [`MAX_SETUP_ATTEMPTS`] sets since the floor failed.
async fn restart(
    engine: &Engine,
    id: i64,
    (floor, attempt): (u32, u32),
    reason: &str,
) -> Result<Progress, StepError> {
    let attempt_since_retry = attempt.saturating_sub(floor);
    if attempt_since_retry >= MAX_SETUP_ATTEMPTS {
        tracing::error!(
            escrow_id = id,
            attempt,
            reason,
            "multisig setup failed permanently"
        );
        let event = EscrowEvent::SetupFailed {
            reason: format!("multisig setup failed {attempt_since_retry} times; last: {reason}"),
        };
        engine.apply_system(id, event).await?;
        return Ok(Progress::Wait);
    }
    tracing::warn!(
        escrow_id = id,
        attempt,
        reason,
        "multisig setup restarts with fresh wallets"
    );
    new_wallets(engine, id, attempt + 1, &ROLES).await?;
    Ok(Progress::Continue)
}

/// Records a new wallet set for `roles` (names `escrow-<id>-<role>-<attempt>-<tag>`, random
/// 256-bit passwords): all three in hosted mode, the arbiter's alone for a non-custodial escrow.
pub(super) async fn new_wallets(
    engine: &Engine,
    id: i64,
    attempt: u32,
    roles: &[Actor],
) -> Result<Vec<WalletRow>, StepError> {
    let rows: Vec<WalletRow> = roles
        .iter()
        .map(|role| {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let mut tag = [0u8; 4];
            rand::rng().fill_bytes(&mut tag);
            WalletRow {
                role: *role,
                attempt,
                // The random tag keeps names unique when several databases share a wallet-rpc
                // (or a database is restored while the wallet directory is not).
                wallet_name: format!(
                    "escrow-{id}-{}-{attempt}-{}",
                    role.as_str(),
                    hex::encode(tag)
                ),
                password: WalletPassword::new(hex::encode(secret)),
            }
        })
        .collect();
    let stored = rows.clone();
    engine
        .context()
        .db()
        .run("insert", "escrow_wallets", move |conn| {
            wallets::insert(conn, id, &stored, now_unix())
        })
        .await?;
    Ok(rows)
}
