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
use super::{Target, apply_event, apply_event_with, store};
use crate::db::now_unix;

/// Re-sync + build + sign rounds tried in one pass when wallets report stale multisig data.
pub const RESYNC_ROUNDS: u32 = 3;

const STEP_BUILD: &str = "payout_build";
const STEP_SIGNED: &str = "payout_signed";
const STEP_SUBMIT: &str = "payout_submit";

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
    let wallets = engine
        .state()
        .db()
        .run("select", "escrow_wallets", move |conn| {
            store::latest_wallets(conn, id)
        })
        .await?;
    let initiator = engine.participant(plan.initiator, &wallets)?;
    let cosigner = engine.participant(plan.cosigner, &wallets)?;
    let destination: Address =
        plan.destination.as_str().parse().map_err(|e| {
            StepError::Protocol(format!("payout destination is not an address: {e}"))
        })?;
    let attempt = engine
        .state()
        .db()
        .run("select", "escrow_steps", move |conn| {
            store::max_step_attempt(conn, id, STEP_BUILD)
        })
        .await?
        + 1;

    let mut last_error = None;
    for _ in 0..RESYNC_ROUNDS {
        match build_and_sign(engine, id, attempt, &initiator, &cosigner, &destination).await {
            Ok(prepared) => return record(engine, id, attempt, plan.cosigner, prepared).await,
            Err(StepError::Wallet(WorkerError::Rpc(e))) if e.is_resync_needed() => {
                tracing::info!(escrow_id = id, error = %e, "multisig data stale; re-syncing signers");
                last_error = Some(StepError::Wallet(WorkerError::Rpc(e)));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| StepError::Protocol("payout re-sync rounds exhausted".into())))
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

    let initiator_role = initiator.role().as_str();
    engine
        .state()
        .db()
        .run("insert", "escrow_steps", move |conn| {
            store::step_started(conn, id, attempt, STEP_BUILD, initiator_role, now_unix())
        })
        .await?;
    let txset = match initiator.build_sweep(destination.clone()).await? {
        SweepOutcome::MultisigPending { multisig_txset, .. } => multisig_txset,
        _ => {
            return Err(StepError::Protocol(
                "the escrow wallet signed a sweep alone; it is not a 2-of-3 wallet".into(),
            ));
        }
    };
    let stored = txset.expose_secret().to_owned();
    engine
        .state()
        .db()
        .run("update", "escrow_steps", move |conn| {
            store::step_done(
                conn,
                id,
                attempt,
                STEP_BUILD,
                initiator_role,
                &stored,
                now_unix(),
            )
        })
        .await?;

    // The co-signer checks what it signs: every recipient is the plan's destination.
    let descriptions = cosigner.describe(txset.clone()).await?;
    let mut amount = Amount::ZERO;
    let mut fee = Amount::ZERO;
    for d in &descriptions {
        if d.recipients.is_empty() || d.recipients.iter().any(|r| &r.address != destination) {
            return Err(StepError::Protocol(
                "the payout transaction pays an address other than the plan's destination".into(),
            ));
        }
        for r in &d.recipients {
            amount = amount
                .checked_add(Amount::from_atomic(r.amount.as_atomic()))
                .ok_or_else(overflow)?;
        }
        fee = fee
            .checked_add(Amount::from_atomic(d.fee.as_atomic()))
            .ok_or_else(overflow)?;
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
        _ => Err(StepError::Protocol(
            "the co-signed payout still lacks signatures".into(),
        )),
    }
}

fn overflow() -> StepError {
    StepError::Protocol("payout amounts overflow 64 bits".into())
}

async fn record(
    engine: &Engine,
    id: i64,
    attempt: u32,
    cosigner: Actor,
    prepared: Prepared,
) -> Result<Progress, StepError> {
    let tx_hashes = prepared
        .signed
        .tx_hashes
        .iter()
        .map(|h| h.as_str().parse())
        .collect::<Result<Vec<escrow_core::TxHash>, _>>()
        .map_err(|e| {
            StepError::Protocol(format!("sign_multisig returned an invalid tx hash: {e}"))
        })?;
    let signed = serde_json::to_string(&prepared.signed)
        .map_err(|e| StepError::Protocol(format!("cannot encode the signed txset: {e}")))?;
    let role = cosigner.as_str();
    let event = EscrowEvent::PayoutPrepared {
        tx_hashes,
        amount: prepared.amount,
        fee: prepared.fee,
    };
    let extra = Box::new(move |conn: &rusqlite::Connection| {
        store::step_done(conn, id, attempt, STEP_SIGNED, role, &signed, now_unix())
    });
    apply_event_with(
        engine.state(),
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
    let role = plan.cosigner.as_str();
    let (wallets, signed) = engine
        .state()
        .db()
        .run("select", "escrow_steps", move |conn| {
            let wallets = store::latest_wallets(conn, id)?;
            let attempt = store::max_step_attempt(conn, id, STEP_SIGNED)?;
            let signed = store::step(conn, id, attempt, STEP_SIGNED, role)?.and_then(|r| r.result);
            Ok((wallets, signed.map(|s| (attempt, s))))
        })
        .await?;
    let Some((attempt, signed)) = signed else {
        return Err(StepError::Protocol(
            "prepared payout has no stored signed txset; operator must check the escrow".into(),
        ));
    };
    let signed: SignedPayout = serde_json::from_str(&signed)
        .map_err(|e| StepError::Protocol(format!("stored signed txset is unreadable: {e}")))?;
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
        return Err(StepError::Protocol(
            "stored signed txset does not match the prepared tx hashes".into(),
        ));
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
        engine
            .state()
            .db()
            .run("insert", "escrow_steps", move |conn| {
                store::step_started(conn, id, attempt, STEP_SUBMIT, role, now_unix())
            })
            .await?;
        let hashes = submitter.submit(signed.multisig_txset.clone()).await?;
        let joined = hashes
            .iter()
            .map(TxHash::as_str)
            .collect::<Vec<_>>()
            .join(",");
        engine
            .state()
            .db()
            .run("update", "escrow_steps", move |conn| {
                store::step_done(conn, id, attempt, STEP_SUBMIT, role, &joined, now_unix())
            })
            .await?;
        tracing::info!(escrow_id = id, tx_hash = %expected.first().map_or("", String::as_str), "payout submitted");
    }
    let event = EscrowEvent::PayoutSubmitted {
        tx_hashes: prepared.tx_hashes.clone(),
    };
    apply_event(
        engine.state(),
        Target::Escrow(id),
        Actor::System,
        None,
        event,
    )
    .await?;
    Ok(Progress::Wait)
}
