//! Consistency rules every [`Escrow`] satisfies (checked after construction, on
//! deserialization, and after every transition in the property tests).

use super::Escrow;
use super::event::{Dispute, DisputeOutcome};
use super::state::{EscrowState, PayoutKind, PayoutPlan, PayoutReason, PreparedPayout};
use crate::error::InvariantViolation;

fn rule(ok: bool, rule: &'static str) -> Result<(), InvariantViolation> {
    if ok {
        return Ok(());
    }
    Err(InvariantViolation { rule })
}

pub(super) fn check(e: &Escrow) -> Result<(), InvariantViolation> {
    rule(!e.terms.amount.is_zero(), "escrow amount is non-zero")?;
    rule(
        e.terms.required_confirmations > 0,
        "required confirmations are at least 1",
    )?;
    rule(
        e.terms.funding_window_secs > 0,
        "funding window is non-zero",
    )?;
    rule(e.buyer_id != e.vendor_id, "buyer and vendor differ")?;
    rule(
        e.updated_at >= e.created_at,
        "updated_at is not before created_at",
    )?;
    rule(
        e.funding.confirmed <= e.funding.received,
        "confirmed funds do not exceed received funds",
    )?;
    rule(
        e.address.is_some() == e.funding_deadline.is_some(),
        "an escrow address comes with a funding deadline",
    )?;
    let amount = e.terms.amount;
    match &e.state {
        EscrowState::AwaitingSetup | EscrowState::SetupFailed { .. } => {
            rule(e.address.is_none(), "no address before setup completes")?;
            rule(
                e.funding.received.is_zero(),
                "no funds before setup completes",
            )?;
            rule(e.dispute.is_none(), "no dispute before setup completes")?;
        }
        EscrowState::AwaitingFunding => {
            rule(e.address.is_some(), "awaiting_funding has an address")?;
            rule(
                e.funding.confirmed < amount,
                "awaiting_funding is not fully confirmed",
            )?;
            rule(e.dispute.is_none(), "awaiting_funding has no dispute")?;
        }
        EscrowState::Funded { .. } => {
            rule(e.address.is_some(), "funded has an address")?;
            rule(
                e.funding.confirmed >= amount,
                "funded has the amount confirmed",
            )?;
            rule(e.dispute.is_none(), "funded has no dispute")?;
        }
        EscrowState::Disputed => {
            rule(e.address.is_some(), "disputed has an address")?;
            rule(
                !e.funding.confirmed.is_zero(),
                "disputed has confirmed funds",
            )?;
            let open = e.dispute.as_ref().is_some_and(|d| d.resolution.is_none());
            rule(open, "disputed has an unresolved dispute")?;
        }
        EscrowState::Releasing { plan, prepared } | EscrowState::Refunding { plan, prepared } => {
            check_plan(e, plan)?;
            if let Some(prepared) = prepared {
                check_prepared(e, prepared)?;
            }
        }
        EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
            check_plan(e, &payout.plan)?;
            check_prepared(e, &payout.transaction)?;
        }
        EscrowState::Expired { .. } => {
            rule(e.address.is_some(), "expired has an address")?;
            rule(
                e.funding.confirmed.is_zero(),
                "expired has no confirmed funds",
            )?;
            rule(e.dispute.is_none(), "expired has no dispute")?;
        }
        EscrowState::Cancelled { .. } => {
            rule(
                e.funding.confirmed.is_zero(),
                "cancelled has no confirmed funds",
            )?;
            rule(e.dispute.is_none(), "cancelled has no dispute")?;
        }
    }
    Ok(())
}

fn check_plan(e: &Escrow, plan: &PayoutPlan) -> Result<(), InvariantViolation> {
    rule(e.address.is_some(), "a payout comes from an escrow address")?;
    rule(
        !e.funding.confirmed.is_zero(),
        "a payout has confirmed funds",
    )?;
    let expected_kind = match e.state {
        EscrowState::Releasing { .. } | EscrowState::Released { .. } => PayoutKind::Release,
        _ => PayoutKind::Refund,
    };
    rule(
        plan.kind == expected_kind,
        "the payout kind matches the state",
    )?;
    let destination = match plan.kind {
        PayoutKind::Release => e.payout_address.as_ref(),
        PayoutKind::Refund => e.refund_address.as_ref(),
    };
    rule(
        destination == Some(&plan.destination),
        "the payout goes to the party's recorded address",
    )?;
    rule(
        (plan.initiator, plan.cosigner) == PayoutPlan::signers(plan.kind, plan.reason),
        "the payout signers match its kind and reason",
    )?;
    match plan.reason {
        PayoutReason::BuyerConfirmed => {
            rule(
                plan.kind == PayoutKind::Release,
                "a buyer confirmation releases",
            )?;
            rule(
                e.dispute.is_none(),
                "a buyer-confirmed release has no dispute",
            )?;
            rule(
                e.funding.confirmed >= e.terms.amount,
                "a buyer-confirmed release was fully funded",
            )?;
        }
        PayoutReason::ArbiterDecision => {
            let outcome = e
                .dispute
                .as_ref()
                .and_then(|d: &Dispute| d.resolution)
                .map(|r| r.outcome);
            let expected = match plan.kind {
                PayoutKind::Release => DisputeOutcome::Release,
                PayoutKind::Refund => DisputeOutcome::Refund,
            };
            rule(
                outcome == Some(expected),
                "an arbiter payout follows a matching dispute resolution",
            )?;
        }
    }
    Ok(())
}

fn check_prepared(e: &Escrow, p: &PreparedPayout) -> Result<(), InvariantViolation> {
    rule(
        !p.tx_hashes.is_empty(),
        "a payout has at least one transaction",
    )?;
    rule(!p.amount.is_zero(), "a payout pays a non-zero amount")?;
    let spent = p.amount.checked_add(p.fee);
    rule(
        spent.is_some_and(|s| s <= e.funding.confirmed),
        "payout amount plus fee does not exceed the confirmed funds",
    )?;
    Ok(())
}
