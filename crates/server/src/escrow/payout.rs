//! Payout of a releasing or refunding escrow (escrow-core `Action::PreparePayout` and
//! `Action::SubmitPayout`).
//!
//! Prepare: the two signers of the frozen [`PayoutPlan`] re-sync (each `refresh` +
//! `export_multisig_info`, then `import_multisig_info` of the other's), the co-signer snapshots
//! the escrow's unlocked balance (while none of the escrow's money is unlocked yet, nothing is
//! built: the payout waits, and the API shows `waiting_for` `unlock`), the initiator builds
//! `sweep_all` to the plan's destination (the fee comes out of the escrow), and the co-signer
//! verifies the whole set before it signs ([`cosign_checked`]: `describe_transfer`, then
//! escrow-core's [`check_payout`] on destination, change, unlock time, fee limit and inputs). A set that fails is never signed: the step is
//! recorded as refused with the reason, `escrow_payout_refused_total{reason}` counts it, and the
//! escrow's payout stops until an operator looks (the orchestrator skips it, the API shows
//! `blocked_reason`). A set that passes is signed; the fully signed txset is stored in the same
//! transaction that records `payout_prepared` with the expected tx hashes, before any submission.
//! Stale-data / import-needed errors trigger a fresh re-sync and a rebuild.
//!
//! Submit: first look the expected hashes up in the submitting wallet (`get_transfer_by_txid`);
//! only if unknown, `submit_multisig` (intent recorded before). Then `payout_submitted`. A crash
//! anywhere in between ends in the lookup finding the transaction, so it is never submitted twice;
//! and since a sweep spends every escrow output, no second payout could ever be mined anyway.

use escrow_core::{
    Actor, CheckedPayout, Escrow, EscrowEvent, ExpectedPayout, PaidOutput, PayoutPlan,
    PayoutRefusal, PreparedPayout, TxDescription, check_payout,
};
use monero_rpc::{
    Address, MultisigTxset, RpcError, SignOutcome, SweepOutcome, TransferDescription, TxHash,
};
use serde::{Deserialize, Serialize};

use super::engine::{Engine, Progress, StepError};
use super::participant::{HostedParticipant, Participant};
use super::waiting::WaitingFor;
use super::worker::WorkerError;
use super::{EscrowContext, Target, apply_event_with};
use crate::db::escrows::steps::{self, Step, StepKey};
use crate::db::escrows::wallets;
use crate::db::{DbError, now_unix};
use crate::metrics;

/// Re-sync + build + sign rounds tried in one pass when wallets report stale multisig data.
pub const RESYNC_ROUNDS: u32 = 3;

/// What `payout_signed` stores: the fully signed txset and its hashes (secret: Debug redacts).
#[derive(Clone, Serialize, Deserialize)]
struct SignedPayout {
    multisig_txset: MultisigTxset,
    tx_hashes: Vec<TxHash>,
}

/// Builds, checks, co-signs and records the payout (`payout_prepared`). An escrow whose payout
/// set was refused earlier is left alone ([`Progress::Wait`]).
///
/// # Errors
/// [`StepError`] when a wallet fails (retried on the next pass) or a stored value is unusable.
pub async fn prepare(
    engine: &Engine,
    escrow: &Escrow,
    plan: &PayoutPlan,
) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let db = engine.context().db();
    let refusal = db
        .run("select", "escrow_steps", move |conn| {
            steps::payout_refusal(conn, id)
        })
        .await?;
    if let Some(refusal) = refusal {
        tracing::debug!(escrow_id = id, reason = %refusal.reason, "payout refused earlier; waiting for an operator");
        return Ok(Progress::Wait);
    }
    let wallets = engine.wallets(id).await?;
    let round = Round {
        id,
        attempt: db
            .run("select", "escrow_steps", move |conn| {
                steps::max_attempt(conn, id, Step::PayoutBuild)
            })
            .await?
            + 1,
        initiator: engine.participant(plan.initiator, &wallets)?,
        cosigner: engine.participant(plan.cosigner, &wallets)?,
        destination: plan.destination.clone(),
        escrow_address: escrow.address().cloned().ok_or(StepError::InvalidStored {
            what: "escrow address",
            detail: "a releasing or refunding escrow has no multisig address".into(),
        })?,
    };

    let mut resyncs = 1;
    loop {
        match build_and_sign(engine, &round).await {
            Ok(Built::Waiting(waiting)) => {
                tracing::debug!(escrow_id = id, waiting_for = waiting.as_str(), blocks_left = ?waiting.blocks_left(), "payout waits");
                engine.context().payout_waits().set(id, waiting);
                return Ok(Progress::Wait);
            }
            Ok(Built::Signed(prepared)) => {
                engine.context().payout_waits().clear(id);
                return record(engine, id, round.attempt, plan.cosigner, prepared).await;
            }
            Ok(Built::Refused | Built::BalanceMoved) => {
                engine.context().payout_waits().clear(id);
                return Ok(Progress::Wait);
            }
            Err(StepError::Wallet(WorkerError::Rpc(e))) if e.is_resync_needed() => {
                tracing::info!(escrow_id = id, error = %e, "multisig data stale; re-syncing signers");
                if resyncs >= RESYNC_ROUNDS {
                    return Err(StepError::Wallet(WorkerError::Rpc(e)));
                }
                resyncs += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One payout attempt: who builds, who co-signs, what the set must do.
struct Round {
    id: i64,
    attempt: u32,
    initiator: HostedParticipant,
    cosigner: HostedParticipant,
    destination: Address,
    escrow_address: Address,
}

struct Prepared {
    signed: SignedPayout,
    checked: CheckedPayout,
}

/// How one build-and-sign round ended.
enum Built {
    /// Checked and fully signed.
    Signed(Prepared),
    /// The co-signer refused the set (recorded); nothing was signed.
    Refused,
    /// The escrow balance changed while the set was built (a block unlocked or brought
    /// outputs): not a refusal, the next pass rebuilds.
    BalanceMoved,
    /// Nothing was built: the escrow holds money but none of it is spendable yet.
    Waiting(WaitingFor),
}

async fn build_and_sign(engine: &Engine, round: &Round) -> Result<Built, StepError> {
    let (initiator, cosigner) = (&round.initiator, &round.cosigner);
    // Export/import before every signing round: each signer needs the other's partial key images.
    let (from_initiator, from_cosigner) =
        tokio::try_join!(initiator.export_sync(), cosigner.export_sync())?;
    tokio::try_join!(
        initiator.import_sync(vec![from_cosigner]),
        cosigner.import_sync(vec![from_initiator])
    )?;
    let balance = cosigner.balance().await?;
    if balance.unlocked_balance.is_zero() && !balance.balance.is_zero() {
        return Ok(Built::Waiting(WaitingFor::unlock(balance.blocks_to_unlock)));
    }
    let before = balance.unlocked_balance;

    let build = StepKey {
        escrow_id: round.id,
        attempt: round.attempt,
        step: Step::PayoutBuild,
        role: initiator.role(),
    };
    engine.step_started(build).await?;
    let txset = match initiator.build_sweep(round.destination.clone()).await? {
        SweepOutcome::MultisigPending { multisig_txset, .. } => multisig_txset,
        _ => return Err(StepError::NotMultisig),
    };
    engine
        .step_done(build, txset.expose_secret().to_owned())
        .await?;

    // The initiator built at a chain height between the two snapshots (both refresh first), so
    // equal snapshots mean the set was built on the balance the check uses.
    let after = cosigner.balance().await?.unlocked_balance;
    if after != before {
        tracing::info!(
            escrow_id = round.id,
            before = before.as_atomic(),
            after = after.as_atomic(),
            "escrow balance changed while the payout was built; rebuilding next pass"
        );
        return Ok(Built::BalanceMoved);
    }
    let expected = ExpectedPayout {
        destination: round.destination.clone(),
        escrow_address: round.escrow_address.clone(),
        unlocked_balance: before,
        fee_limit: engine.context().settings().payout_fee,
    };
    let key = StepKey {
        escrow_id: round.id,
        attempt: round.attempt,
        step: Step::PayoutSigned,
        role: cosigner.role(),
    };
    Ok(
        match cosign_checked(engine.context(), key, cosigner, txset, &expected).await? {
            Cosigned::Signed {
                multisig_txset,
                tx_hashes,
                checked,
            } => Built::Signed(Prepared {
                signed: SignedPayout {
                    multisig_txset,
                    tx_hashes,
                },
                checked,
            }),
            Cosigned::Refused(_) => Built::Refused,
        },
    )
}

/// What the co-signer did with a payout set ([`cosign_checked`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Cosigned {
    /// The set passed the check and now carries both signatures: submit it.
    Signed {
        /// The fully signed set.
        multisig_txset: MultisigTxset,
        /// Hashes the transactions will have (non-empty).
        tx_hashes: Vec<TxHash>,
        /// What the destination receives and the fee, piconero.
        checked: CheckedPayout,
    },
    /// The set failed the check: recorded as refused, counted, and never signed.
    Refused(PayoutRefusal),
}

/// The co-signer's half of a payout: decodes `txset` with the co-signer's own wallet
/// (`describe_transfer`), checks it against `expected` (escrow-core [`check_payout`]: every
/// recipient the destination, change only to the escrow, `unlock_time` 0, fee within the limit,
/// inputs equal to the unlocked balance snapshot, nothing kept back), and only if it passes
/// adds the signature (`sign_multisig`).
///
/// A set that fails, or that the wallet cannot decode ([`RpcError::InvalidTxset`]), is never
/// signed: step `key` is stored as refused with the reason and its explanation
/// ([`steps::refused`]), `escrow_payout_refused_total{reason}` is incremented, an error is
/// logged (addresses and amounts, never the set), and [`Cosigned::Refused`] is returned.
///
/// # Errors
/// [`StepError::Wallet`] when a wallet call fails for another reason (retryable);
/// [`StepError::Db`] when the refusal cannot be stored (nothing is signed then either);
/// [`StepError::IncompleteSignatures`] when the signed set still lacks a signature.
pub async fn cosign_checked(
    ctx: &EscrowContext,
    key: StepKey,
    cosigner: &impl Participant,
    txset: MultisigTxset,
    expected: &ExpectedPayout,
) -> Result<Cosigned, StepError> {
    let checked = match verdict(cosigner, txset.clone(), expected).await? {
        Ok(checked) => checked,
        Err(refusal) => {
            refuse(ctx, key, &refusal).await?;
            return Ok(Cosigned::Refused(refusal));
        }
    };
    match cosigner.cosign(txset).await? {
        SignOutcome::FullySigned {
            multisig_txset,
            tx_hashes,
        } if !tx_hashes.is_empty() => Ok(Cosigned::Signed {
            multisig_txset,
            tx_hashes,
            checked,
        }),
        _ => Err(StepError::IncompleteSignatures),
    }
}

/// The check of [`cosign_checked`] without the signature: `txset` decoded by `wallet`
/// (`describe_transfer`) and run through escrow-core's [`check_payout`] against `expected`; a set
/// the wallet cannot decode is refused as [`PayoutRefusal::Undescribable`]. `Ok(Err(_))` is a
/// refusal.
///
/// # Errors
/// [`StepError::Wallet`] when the wallet call fails for another reason (retryable).
pub(super) async fn verdict(
    wallet: &impl Participant,
    txset: MultisigTxset,
    expected: &ExpectedPayout,
) -> Result<Result<CheckedPayout, PayoutRefusal>, StepError> {
    match wallet.describe(txset).await {
        Ok(descriptions) => {
            let txs: Vec<TxDescription> = descriptions.iter().map(tx_description).collect();
            Ok(check_payout(&txs, expected))
        }
        Err(WorkerError::Rpc(e @ RpcError::InvalidTxset { .. })) => {
            Ok(Err(PayoutRefusal::Undescribable {
                detail: e.to_string(),
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// A wallet-rpc description as escrow-core's check reads it.
pub(super) fn tx_description(d: &TransferDescription) -> TxDescription {
    TxDescription {
        amount_in: d.amount_in,
        amount_out: d.amount_out,
        recipients: d
            .recipients
            .iter()
            .map(|r| PaidOutput {
                address: r.address.clone(),
                amount: r.amount,
            })
            .collect(),
        change_amount: d.change_amount,
        change_address: d.change_address.clone(),
        fee: d.fee,
        unlock_time: d.unlock_time,
    }
}

/// Stores, counts and logs a refusal.
async fn refuse(ctx: &EscrowContext, key: StepKey, refusal: &PayoutRefusal) -> Result<(), DbError> {
    let reason = refusal.reason();
    let detail = refusal.to_string();
    ctx.db()
        .run("update", "escrow_steps", move |conn| {
            steps::refused(conn, &key, reason, &detail, now_unix())
        })
        .await?;
    metrics::record_payout_refused(reason);
    tracing::error!(
        escrow_id = key.escrow_id,
        attempt = key.attempt,
        cosigner = key.role.as_str(),
        reason = reason.as_str(),
        detail = %refusal,
        "payout set refused and not signed; the payout waits for an operator"
    );
    Ok(())
}

async fn record(
    engine: &Engine,
    id: i64,
    attempt: u32,
    cosigner: Actor,
    prepared: Prepared,
) -> Result<Progress, StepError> {
    let tx_hashes = prepared.signed.tx_hashes.clone();
    let signed = serde_json::to_string(&prepared.signed).map_err(|e| StepError::InvalidStored {
        what: "signed txset",
        detail: e.to_string(),
    })?;
    let key = StepKey {
        escrow_id: id,
        attempt,
        step: Step::PayoutSigned,
        role: cosigner,
    };
    let CheckedPayout { amount, fee } = prepared.checked;
    let event = EscrowEvent::PayoutPrepared {
        tx_hashes,
        amount,
        fee,
    };
    let extra =
        Box::new(move |conn: &rusqlite::Connection| steps::done(conn, &key, &signed, now_unix()));
    apply_event_with(
        engine.context(),
        Target::Escrow(id),
        Actor::System,
        None,
        event,
        Some(extra),
    )
    .await?;
    tracing::info!(
        escrow_id = id,
        amount = amount.as_atomic(),
        fee = fee.as_atomic(),
        "payout prepared"
    );
    Ok(Progress::Continue)
}

/// Looks the prepared payout up and submits it only if no wallet knows it yet, then records
/// `payout_submitted`.
///
/// # Errors
/// [`StepError`] when a wallet fails (retried on the next pass).
pub async fn submit(
    engine: &Engine,
    escrow: &Escrow,
    plan: &PayoutPlan,
    prepared: &PreparedPayout,
) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let role = plan.cosigner;
    let (wallets, signed) = engine
        .context()
        .db()
        .run("select", "escrow_steps", move |conn| {
            let wallets = wallets::latest(conn, id)?;
            let key = StepKey {
                escrow_id: id,
                attempt: steps::max_attempt(conn, id, Step::PayoutSigned)?,
                step: Step::PayoutSigned,
                role,
            };
            let signed = steps::get(conn, &key)?.and_then(|r| r.result);
            Ok((wallets, signed.map(|s| (key.attempt, s))))
        })
        .await?;
    let Some((attempt, signed)) = signed else {
        return Err(StepError::SignedPayoutMissing);
    };
    let signed: SignedPayout =
        serde_json::from_str(signed.expose()).map_err(|e| StepError::InvalidStored {
            what: "signed txset",
            detail: e.to_string(),
        })?;
    let expected: Vec<String> = prepared
        .tx_hashes
        .iter()
        .map(|h| h.as_str().to_owned())
        .collect();
    let mut stored: Vec<String> = signed
        .tx_hashes
        .iter()
        .map(|h| h.as_str().to_owned())
        .collect();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    stored.sort();
    if stored != sorted_expected {
        return Err(StepError::SignedPayoutMismatch);
    }
    let submitter = engine.participant(plan.cosigner, &wallets)?;

    let mut known = true;
    for hash in &signed.tx_hashes {
        if !submitter.knows_tx(hash.clone()).await? {
            known = false;
            break;
        }
    }
    if known {
        tracing::info!(
            escrow_id = id,
            "payout already known to the wallet; not submitting again"
        );
    } else {
        let key = StepKey {
            escrow_id: id,
            attempt,
            step: Step::PayoutSubmit,
            role,
        };
        engine.step_started(key).await?;
        let hashes = submitter.submit(signed.multisig_txset.clone()).await?;
        let joined = hashes
            .iter()
            .map(TxHash::as_str)
            .collect::<Vec<_>>()
            .join(",");
        engine.step_done(key, joined).await?;
        tracing::info!(escrow_id = id, tx_hash = %expected.first().map_or("", String::as_str), "payout submitted");
    }
    let event = EscrowEvent::PayoutSubmitted {
        tx_hashes: prepared.tx_hashes.clone(),
    };
    engine.apply_system(id, event).await?;
    Ok(Progress::Wait)
}
