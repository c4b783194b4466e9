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

/// Checks `(holds, rule)` pairs in order; the first that does not hold is the violation.
fn rules(list: &[(bool, &'static str)]) -> Result<(), InvariantViolation> {
    list.iter().try_for_each(|&(ok, text)| rule(ok, text))
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
    let (address, confirmed, dispute) = (e.address.is_some(), e.funding.confirmed, &e.dispute);
    match &e.state {
        EscrowState::AwaitingSetup | EscrowState::SetupFailed { .. } => rules(&[
            (!address, "no address before setup completes"),
            (
                e.funding.received.is_zero(),
                "no funds before setup completes",
            ),
            (dispute.is_none(), "no dispute before setup completes"),
        ]),
        EscrowState::AwaitingFunding => rules(&[
            (address, "awaiting_funding has an address"),
            (
                confirmed < amount,
                "awaiting_funding is not fully confirmed",
            ),
            (dispute.is_none(), "awaiting_funding has no dispute"),
        ]),
        EscrowState::Funded { .. } => rules(&[
            (address, "funded has an address"),
            (confirmed >= amount, "funded has the amount confirmed"),
            (dispute.is_none(), "funded has no dispute"),
        ]),
        EscrowState::Disputed => rules(&[
            (address, "disputed has an address"),
            (!confirmed.is_zero(), "disputed has confirmed funds"),
            (
                dispute.as_ref().is_some_and(|d| d.resolution.is_none()),
                "disputed has an unresolved dispute",
            ),
        ]),
        EscrowState::Releasing { plan, prepared } | EscrowState::Refunding { plan, prepared } => {
            check_plan(e, plan)?;
            prepared.as_ref().map_or(Ok(()), |p| check_prepared(e, p))
        }
        EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
            check_plan(e, &payout.plan)?;
            check_prepared(e, &payout.transaction)
        }
        EscrowState::Expired { .. } => rules(&[
            (address, "expired has an address"),
            (confirmed.is_zero(), "expired has no confirmed funds"),
            (dispute.is_none(), "expired has no dispute"),
        ]),
        EscrowState::Cancelled { .. } => rules(&[
            (confirmed.is_zero(), "cancelled has no confirmed funds"),
            (dispute.is_none(), "cancelled has no dispute"),
        ]),
    }
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
        PayoutReason::VendorRefunded => {
            rule(
                plan.kind == PayoutKind::Refund,
                "a vendor's agreement refunds",
            )?;
            rule(e.dispute.is_none(), "a vendor-agreed refund has no dispute")?;
            rule(
                e.funding.confirmed >= e.terms.amount,
                "a vendor-agreed refund was fully funded",
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
