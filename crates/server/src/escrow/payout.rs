//! Payout of a releasing or refunding escrow (escrow-core `Action::PreparePayout` and
//! `Action::SubmitPayout`).
//!
//! Prepare: the two signers of the frozen [`PayoutPlan`] re-sync (each `refresh` +
//! `export_multisig_info`, then `import_multisig_info` of the other's), the initiator builds
//! `sweep_all` to the plan's destination (the fee comes out of the escrow), the co-signer checks it
//! with `describe_transfer` (destination and amounts) and signs. The fully signed txset is stored
//! in the same transaction that records `payout_prepared` with the expected tx hashes, before any
//! submission. Stale-data / import-needed errors trigger a fresh re-sync and a rebuild.
//!
//! Submit: first look the expected hashes up in the submitting wallet (`get_transfer_by_txid`);
//! only if unknown, `submit_multisig` (intent recorded before). Then `payout_submitted`. A crash
//! anywhere in between ends in the lookup finding the transaction, so it is never submitted twice;
//! and since a sweep spends every escrow output, no second payout could ever be mined anyway.

use escrow_core::{Actor, Amount, Escrow, EscrowEvent, PayoutPlan, PreparedPayout};
use monero_rpc::{Address, MultisigTxset, SignOutcome, SweepOutcome, TxHash};
use serde::{Deserialize, Serialize};

use super::engine::{Engine, Progress, StepError};
use super::participant::{HostedParticipant, Participant};
use super::worker::WorkerError;
use super::{Target, apply_event_with};
use crate::db::escrows::steps::{self, Step, StepKey};
use crate::db::escrows::wallets;
use crate::db::now_unix;

/// Re-sync + build + sign rounds tried in one pass when wallets report stale multisig data.
pub const RESYNC_ROUNDS: u32 = 3;

/// What `payout_signed` stores: the fully signed txset and its hashes (secret: Debug redacts).
#[derive(Clone, Serialize, Deserialize)]
struct SignedPayout {
    multisig_txset: MultisigTxset,
    tx_hashes: Vec<TxHash>,
}

/// Builds, co-signs and records the payout (`payout_prepared`).
///
/// # Errors
/// [`StepError`] when a wallet fails (retried on the next pass) or a check fails.
pub async fn prepare(
    engine: &Engine,
    escrow: &Escrow,
    plan: &PayoutPlan,
) -> Result<Progress, StepError> {
    let id = escrow.id().get();
    let wallets = engine.wallets(id).await?;
    let initiator = engine.participant(plan.initiator, &wallets)?;
    let cosigner = engine.participant(plan.cosigner, &wallets)?;
    let destination =
        plan.destination
            .as_str()
            .parse::<Address>()
            .map_err(|e| StepError::InvalidStored {
                what: "payout destination",
                detail: e.to_string(),
            })?;
    let attempt = engine
        .context()
        .db()
        .run("select", "escrow_steps", move |conn| {
            steps::max_attempt(conn, id, Step::PayoutBuild)
        })
        .await?
        + 1;

    let mut round = 1;
    loop {
        match build_and_sign(engine, id, attempt, &initiator, &cosigner, &destination).await {
            Ok(prepared) => return record(engine, id, attempt, plan.cosigner, prepared).await,
            Err(StepError::Wallet(WorkerError::Rpc(e))) if e.is_resync_needed() => {
                tracing::info!(escrow_id = id, error = %e, "multisig data stale; re-syncing signers");
                if round >= RESYNC_ROUNDS {
                    return Err(StepError::Wallet(WorkerError::Rpc(e)));
                }
                round += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

struct Prepared {
    signed: SignedPayout,
    amount: Amount,
    fee: Amount,
}

async fn build_and_sign(
    engine: &Engine,
    id: i64,
    attempt: u32,
    initiator: &HostedParticipant,
    cosigner: &HostedParticipant,
    destination: &Address,
) -> Result<Prepared, StepError> {
    // Export/import before every signing round: each signer needs the other's partial key images.
    let (from_initiator, from_cosigner) =
        tokio::try_join!(initiator.export_sync(), cosigner.export_sync())?;
    tokio::try_join!(
        initiator.import_sync(vec![from_cosigner]),
        cosigner.import_sync(vec![from_initiator])
    )?;

    let build = StepKey {
        escrow_id: id,
        attempt,
        step: Step::PayoutBuild,
        role: initiator.role(),
    };
    engine.step_started(build).await?;
    let txset = match initiator.build_sweep(destination.clone()).await? {
        SweepOutcome::MultisigPending { multisig_txset, .. } => multisig_txset,
        _ => return Err(StepError::NotMultisig),
    };
    engine
        .step_done(build, txset.expose_secret().to_owned())
        .await?;

    // The co-signer checks what it signs: every recipient is the plan's destination.
    let descriptions = cosigner.describe(txset.clone()).await?;
    let mut amount = Amount::ZERO;
    let mut fee = Amount::ZERO;
    for d in &descriptions {
        if d.recipients.is_empty() || d.recipients.iter().any(|r| &r.address != destination) {
            return Err(StepError::WrongDestination);
        }
        for r in &d.recipients {
            amount = amount
                .checked_add(r.amount)
                .ok_or(StepError::AmountOverflow)?;
        }
        fee = fee.checked_add(d.fee).ok_or(StepError::AmountOverflow)?;
    }
    match cosigner.cosign(txset).await? {
        SignOutcome::FullySigned {
            multisig_txset,
            tx_hashes,
        } if !tx_hashes.is_empty() => Ok(Prepared {
            signed: SignedPayout {
                multisig_txset,
                tx_hashes,
            },
            amount,
            fee,
        }),
        _ => Err(StepError::IncompleteSignatures),
    }
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
    let event = EscrowEvent::PayoutPrepared {
        tx_hashes,
        amount: prepared.amount,
        fee: prepared.fee,
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
        amount = prepared.amount.as_atomic(),
        fee = prepared.fee.as_atomic(),
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
