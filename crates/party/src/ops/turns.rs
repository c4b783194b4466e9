//! One turn of the round protocol ([`take_turn`]: the payload computed from the rounds view's
//! inputs by the party's own wallet, then `POST /api/escrows/{id}/rounds/{round}`); the loop of
//! `escrow join` and `sign` is [`super::drive`].

use std::str::FromStr;

use escrow_core::{Actor, Amount, DisputeStatus, PayoutKind, PayoutSigning};
use monero_types::{Address, MultisigInfo, MultisigSyncInfo, MultisigTxset};
use serde::Serialize;

use super::Party;
use crate::error::PartyError;
use crate::market::types::{RoundsView, SubmitAnswer};
use crate::wallet::check::{PayoutTerms, ShownOutput};
use crate::wallet::{EscrowWallet, Exchanged};

/// What the second signer is shown before it signs (amounts in piconero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignReview {
    /// The escrow.
    pub escrow_id: i64,
    /// `release` or `refund`.
    pub kind: String,
    /// The plan's destination.
    pub destination: String,
    /// What the destination receives, piconero.
    pub amount_piconero: u64,
    /// The network fee, piconero.
    pub fee_piconero: u64,
    /// Every recipient as this wallet decoded the set.
    pub outputs: Vec<ShownOutput>,
}

/// Asks whether to sign a set that passed the check.
pub trait Approve {
    /// `true` to sign.
    fn approve(&self, review: &SignReview) -> bool;
}

/// Signs every set that passed the check without asking (`--yes`).
#[derive(Debug, Clone, Copy)]
pub struct PreApproved;

impl Approve for PreApproved {
    fn approve(&self, _review: &SignReview) -> bool {
        true
    }
}

/// One payload submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    /// The round.
    pub round: String,
    /// The market's `accepted` answer.
    pub accepted: String,
}

/// What a payout's terms are, from the rounds view and this party's own fee bound.
///
/// # Errors
/// [`PartyError::Protocol`] for a view without a usable payout; [`PartyError::Refused`] for a
/// signer order escrow-core does not allow.
pub fn payout_terms(
    view: &RoundsView,
    own: escrow_core::FeeLimit,
) -> Result<PayoutTerms, PartyError> {
    let payout = view
        .payout
        .as_ref()
        .ok_or_else(|| PartyError::Protocol("the payout round has no payout terms".into()))?;
    let kind = match payout.kind.as_str() {
        "release" => PayoutKind::Release,
        "refund" => PayoutKind::Refund,
        other => {
            return Err(PartyError::Protocol(format!(
                "unknown payout kind {other:?}"
            )));
        }
    };
    let label = |e: escrow_core::ParseLabelError| PartyError::Protocol(e.to_string());
    let disputed = DisputeStatus::from_str(&payout.dispute).map_err(label)?;
    let first = Actor::from_str(&payout.first).map_err(label)?;
    let second = Actor::from_str(&payout.second).map_err(label)?;
    let me = Actor::from_str(&view.your_role).map_err(label)?;
    let signing = PayoutSigning::new(kind, disputed, first, second)?;
    let destination = Address::from_str(&payout.destination).map_err(|e| {
        PartyError::Protocol(format!("the payout destination is not an address: {e}"))
    })?;
    Ok(PayoutTerms {
        signing,
        me,
        destination,
        fee_limit: PayoutTerms::fee_limit(Amount::from_atomic(payout.max_fee_xmr), own),
    })
}

fn secrets<T>(
    inputs: &[String],
    wrap: fn(String) -> Result<T, monero_types::InvalidValue>,
) -> Result<Vec<T>, PartyError> {
    inputs
        .iter()
        .map(|i| wrap(i.clone()).map_err(|e| PartyError::Protocol(e.to_string())))
        .collect()
}

/// This party's payload for the view's current round, computed by `wallet`.
///
/// # Errors
/// [`PartyError::Protocol`] for an unknown round or unusable inputs; wallet errors;
/// [`PartyError::Refused`] / [`PartyError::NotConfirmed`] in `sign_txset`.
pub async fn payload(
    party: &Party,
    wallet: &EscrowWallet,
    view: &RoundsView,
    approve: &dyn Approve,
) -> Result<String, PartyError> {
    let round = view.round.as_deref().unwrap_or_default();
    let infos = || secrets(&view.inputs, MultisigInfo::try_from);
    let syncs = || secrets(&view.inputs, MultisigSyncInfo::try_from);
    match round {
        "prepare" => Ok(wallet.prepare().await?.expose_secret().to_owned()),
        "make" => Ok(wallet.make(&infos()?).await?.expose_secret().to_owned()),
        "exchange_round_1" | "exchange_round_2" => Ok(match wallet.exchange(&infos()?).await? {
            Exchanged::Info(info) => info.expose_secret().to_owned(),
            Exchanged::Address(address) => address.as_str().to_owned(),
        }),
        "export_sync" => Ok(wallet.export_sync().await?.expose_secret().to_owned()),
        "build_txset" => {
            let terms = payout_terms(view, party.own_fee_limit)?;
            let txset = wallet.build_txset(&syncs()?, &terms.destination).await?;
            Ok(txset.expose_secret().to_owned())
        }
        "sign_txset" => sign_second(party, wallet, view, approve).await,
        other => Err(PartyError::Protocol(format!("unknown round {other:?}"))),
    }
}

async fn sign_second(
    party: &Party,
    wallet: &EscrowWallet,
    view: &RoundsView,
    approve: &dyn Approve,
) -> Result<String, PartyError> {
    let terms = payout_terms(view, party.own_fee_limit)?;
    let partial = view
        .partial_txset
        .clone()
        .ok_or_else(|| PartyError::Protocol("sign_txset without the first signer's set".into()))?;
    let txset = MultisigTxset::new(partial).map_err(|e| PartyError::Protocol(e.to_string()))?;
    let syncs = secrets(&view.inputs, MultisigSyncInfo::try_from)?;
    let reviewed = wallet.review_txset(&syncs, txset, &terms).await?;
    let review = SignReview {
        escrow_id: view.escrow_id,
        kind: terms.signing.kind().as_str().to_owned(),
        destination: terms.destination.as_str().to_owned(),
        amount_piconero: reviewed.checked.amount.as_atomic(),
        fee_piconero: reviewed.checked.fee.as_atomic(),
        outputs: reviewed.outputs.clone(),
    };
    if !approve.approve(&review) {
        return Err(PartyError::NotConfirmed);
    }
    Ok(wallet
        .sign_reviewed(reviewed)
        .await?
        .expose_secret()
        .to_owned())
}

/// The setup rounds: their payloads are stored before they are submitted, and a retry (after a
/// lost answer or a crash) resubmits the stored one, since wallet-rpc cannot redo them.
const SETUP_ROUNDS: [&str; 4] = ["prepare", "make", "exchange_round_1", "exchange_round_2"];

async fn setup_payload(
    party: &Party,
    wallet: &EscrowWallet,
    view: &RoundsView,
    approve: &dyn Approve,
    round: &str,
) -> Result<String, PartyError> {
    if let Some(stored) = party.state.round_payload(wallet.name(), round)? {
        return Ok(stored);
    }
    let payload = payload(party, wallet, view, approve).await?;
    party
        .state
        .save_round_payload(wallet.name(), round, &payload)?;
    Ok(payload)
}

/// Does this party's turn of `view` if it owes one: computes the payload (a setup round's is
/// stored first, and reused on a retry) and submits it.
///
/// # Errors
/// As [`payload`]; market errors of the submission.
pub async fn take_turn(
    party: &Party,
    wallet: &EscrowWallet,
    view: &RoundsView,
    approve: &dyn Approve,
) -> Result<Option<SubmitAnswer>, PartyError> {
    let Some(round) = view.round.as_deref().filter(|_| view.your_turn) else {
        return Ok(None);
    };
    let payload = match SETUP_ROUNDS.contains(&round) {
        true => setup_payload(party, wallet, view, approve, round).await?,
        false => payload(party, wallet, view, approve).await?,
    };
    let answer = party.market.submit(view.escrow_id, round, &payload).await?;
    Ok(Some(answer))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const DEST: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

    pub(crate) fn view(
        role: &str,
        phase: &str,
        round: &str,
        status: &str,
        first: &str,
        second: &str,
    ) -> RoundsView {
        serde_json::from_value(serde_json::json!({
            "escrow_id": 7, "order_id": 7, "escrow_mode": "non_custodial", "your_role": role,
            "phase": phase, "round": round, "status": status, "deadline": "2026-12-01T23:00:00Z",
            "waiting_for": [role], "your_turn": true, "expected": "partial_txset", "inputs": ["x"],
            "payout": {"kind": "release", "dispute": "undisputed", "first": first, "second": second,
                       "destination": DEST, "max_fee_xmr": 1_000_000u64},
            "partial_txset": null, "next_step": null
        }))
        .unwrap()
    }

    fn own() -> escrow_core::FeeLimit {
        escrow_core::FeeLimit::new(Amount::from_atomic(5_000), 100).unwrap()
    }

    #[test]
    fn payout_terms_come_from_the_view_and_refuse_pairs_escrow_core_forbids() {
        let terms = payout_terms(
            &view("buyer", "payout", "sign_txset", "open", "vendor", "buyer"),
            own(),
        )
        .unwrap();
        assert_eq!(terms.me, Actor::Buyer);
        assert_eq!(terms.signing.pair().first, Actor::Vendor);
        assert_eq!(
            terms.fee_limit.max_fee(),
            Amount::from_atomic(5_000),
            "own bound wins"
        );
        let forbidden = payout_terms(
            &view("buyer", "payout", "sign_txset", "open", "buyer", "arbiter"),
            own(),
        );
        assert!(
            matches!(forbidden, Err(PartyError::Refused(_))),
            "{forbidden:?}"
        );
        let mut unknown = view("buyer", "payout", "build_txset", "open", "vendor", "buyer");
        unknown.payout.as_mut().unwrap().kind = "burn".into();
        assert!(matches!(
            payout_terms(&unknown, own()),
            Err(PartyError::Protocol(_))
        ));
    }

    #[test]
    fn after_a_dispute_the_winner_builds_and_the_arbiter_signs_second() {
        for (me, kind) in [("vendor", "release"), ("buyer", "refund")] {
            let mut disputed = view(me, "payout", "build_txset", "open", me, "arbiter");
            let payout = disputed.payout.as_mut().unwrap();
            payout.kind = kind.into();
            payout.dispute = "disputed".into();
            let terms = payout_terms(&disputed, own()).unwrap();
            assert_eq!(terms.me.as_str(), me);
            assert_eq!(terms.signing.disputed(), DisputeStatus::Disputed);
            assert_eq!(terms.signing.pair().first.as_str(), me, "{kind}");
            assert_eq!(terms.signing.pair().second, Actor::Arbiter, "{kind}");
            assert_eq!(terms.destination.as_str(), DEST);
        }
        // The loser is no signer of a disputed payout, whichever side it is.
        let mut wrong = view("buyer", "payout", "build_txset", "open", "buyer", "arbiter");
        wrong.payout.as_mut().unwrap().dispute = "disputed".into();
        assert!(
            matches!(payout_terms(&wrong, own()), Err(PartyError::Refused(_))),
            "a release after a dispute is the vendor's and the arbiter's"
        );
    }
}
