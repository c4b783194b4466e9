//! A non-custodial payout whose rounds missed their deadline ([`EscrowEvent::PayoutStalled`]):
//! the decision is undone while nothing is prepared, and the party still there can get the
//! money out through the usual funded and disputed steps.

mod common;

use common::*;
use escrow_core::{
    Actor, DisputeOutcome, EscrowEvent, EscrowStateKind as K, PayoutReason, TransitionError,
};

#[test]
fn a_stalled_release_goes_back_to_funded_and_the_vendor_can_dispute() {
    let funded = step(
        &nc_releasing(),
        Actor::System,
        EscrowEvent::PayoutStalled,
        400,
    );
    assert_eq!(kind(&funded), K::Funded);
    assert!(funded.dispute().is_none());
    assert_eq!(funded.state().payout_plan(), None, "the decision is undone");

    // The buyer, who confirmed and then never signed, is gone: the vendor disputes and the
    // arbiter releases with the vendor.
    let disputed = step(
        &funded,
        Actor::Vendor,
        EscrowEvent::DisputeOpened {
            reason: reason("the buyer confirmed, then never signed"),
        },
        500,
    );
    let releasing = step(
        &disputed,
        Actor::Arbiter,
        EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Release,
        },
        600,
    );
    let plan = releasing.state().payout_plan().expect("a new plan");
    assert_eq!(plan.reason, PayoutReason::ArbiterDecision);
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Vendor, Actor::Arbiter)
    );
    assert_eq!(plan.destination, payout_address());
}

#[test]
fn a_stalled_release_can_be_confirmed_again_by_the_buyer() {
    let funded = step(
        &nc_releasing(),
        Actor::System,
        EscrowEvent::PayoutStalled,
        400,
    );
    let again = step(&funded, Actor::Buyer, EscrowEvent::ReceiptConfirmed, 500);
    let plan = again.state().payout_plan().expect("a new plan");
    assert_eq!(plan.reason, PayoutReason::BuyerConfirmed);
    assert_eq!(
        plan.decided_at.as_unix_seconds(),
        T0 + 500,
        "a fresh decision, so the server opens fresh rounds"
    );
}

#[test]
fn a_stalled_decision_goes_back_to_the_arbiter() {
    let disputed = step(
        &nc_refunding(),
        Actor::System,
        EscrowEvent::PayoutStalled,
        400,
    );
    assert_eq!(kind(&disputed), K::Disputed);
    let dispute = disputed.dispute().expect("the dispute stays");
    assert_eq!(dispute.resolution, None, "the arbiter decides again");
    assert_eq!(dispute.opened_by, Actor::Vendor);
    let refunding = step(
        &disputed,
        Actor::Arbiter,
        EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Refund,
        },
        500,
    );
    assert_eq!(kind(&refunding), K::Refunding);
}

#[test]
fn a_prepared_payout_or_a_hosted_one_is_never_undone() {
    let err = nc_releasing_prepared()
        .apply(Actor::System, EscrowEvent::PayoutStalled, &ctx(400))
        .expect_err("a prepared set may be on the chain");
    assert_eq!(err, TransitionError::PayoutUnderWay);
    for hosted in [releasing(), refunding(), refunding_agreed()] {
        let err = hosted
            .apply(Actor::System, EscrowEvent::PayoutStalled, &ctx(400))
            .expect_err("hosted rounds have no deadline");
        assert_eq!(err.code(), "invalid_transition", "{err}");
    }
}
