//! The vendor's undisputed refund (`RefundAgreed`), each rule asserting the exact typed outcome.

mod common;

use common::*;
use escrow_core::{
    Action, Actor, DisputeStatus, EscrowEvent, EscrowStateKind as K, EventKind, PayoutKind,
    PayoutReason, RejectionClass, TransitionError,
};

#[test]
fn only_the_vendor_agrees_to_a_refund() {
    for actor in [Actor::Buyer, Actor::Arbiter, Actor::System] {
        let err = funded()
            .apply(actor, EscrowEvent::RefundAgreed, &ctx(500))
            .expect_err("not the vendor");
        assert_eq!(
            err,
            TransitionError::NotPermitted {
                actor,
                event: EventKind::RefundAgreed
            }
        );
        assert_eq!(err.class(), RejectionClass::Forbidden);
    }
}

#[test]
fn the_vendors_refund_pays_the_buyers_refund_address_undisputed() {
    let t = funded()
        .apply(Actor::Vendor, EscrowEvent::RefundAgreed, &ctx(30))
        .expect("refund agreed");
    assert_eq!((t.from_state(), t.to_state()), (K::Funded, K::Refunding));
    assert_eq!(t.event(), EventKind::RefundAgreed);
    assert_eq!(t.recipients(), &[Actor::Buyer, Actor::Vendor]);
    let e = t.escrow();
    assert!(e.dispute().is_none(), "no dispute is opened");
    let plan = e.state().payout_plan().expect("a payout plan").clone();
    assert_eq!(plan.kind, PayoutKind::Refund);
    assert_eq!(plan.reason, PayoutReason::VendorRefunded);
    assert_eq!(plan.destination, refund_address());
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Vendor, Actor::Buyer)
    );
    assert_eq!(plan.decided_at, ctx(30).now);
    assert_eq!(DisputeStatus::of(plan.reason), DisputeStatus::Undisputed);
    assert_eq!(
        e.next_action(),
        Some(Action::PreparePayout { plan: plan.clone() })
    );
    // The buyer's later address change does not redirect it, and it ends refunded.
    let err = e
        .apply(
            Actor::Buyer,
            EscrowEvent::RefundAddressSet { address: addr('C') },
            &ctx(35),
        )
        .expect_err("payout decided");
    assert_eq!(
        err,
        TransitionError::PayoutDecided {
            state: K::Refunding
        }
    );
    let e = step(e, Actor::System, prepared_event(), 40);
    let e = step(&e, Actor::System, submitted_event(), 50);
    assert_eq!(kind(&e), K::Refunded);
    assert_eq!(e.state().payout_plan(), Some(&plan));
}

#[test]
fn the_vendors_refund_needs_the_buyers_refund_address() {
    let e = funded_with(Some(payout_address()), None);
    let err = e
        .apply(Actor::Vendor, EscrowEvent::RefundAgreed, &ctx(30))
        .expect_err("no refund address");
    assert_eq!(err, TransitionError::RefundAddressMissing);
    assert_eq!(err.code(), "refund_address_missing");
    assert_eq!(err.class(), RejectionClass::Conflict);

    let e = step(
        &e,
        Actor::Buyer,
        EscrowEvent::RefundAddressSet {
            address: refund_address(),
        },
        40,
    );
    let t = e
        .apply(Actor::Vendor, EscrowEvent::RefundAgreed, &ctx(50))
        .expect("refund agreed once the address is set");
    assert_eq!(t.to_state(), K::Refunding);
}

#[test]
fn the_vendors_refund_needs_a_funded_undisputed_escrow_without_a_decided_payout() {
    let cases = [
        (
            fresh(),
            TransitionError::NotFunded {
                state: K::AwaitingSetup,
            },
        ),
        (
            awaiting_funding(),
            TransitionError::NotFunded {
                state: K::AwaitingFunding,
            },
        ),
        (
            underfunded(),
            TransitionError::NotFunded {
                state: K::AwaitingFunding,
            },
        ),
        (
            unconfirmed(),
            TransitionError::NotFunded {
                state: K::AwaitingFunding,
            },
        ),
        (expired(), TransitionError::NotFunded { state: K::Expired }),
        (disputed(), TransitionError::InDispute),
        (
            releasing(),
            TransitionError::PayoutDecided {
                state: K::Releasing,
            },
        ),
        (
            releasing_prepared(),
            TransitionError::PayoutDecided {
                state: K::Releasing,
            },
        ),
        (
            refunding(),
            TransitionError::PayoutDecided {
                state: K::Refunding,
            },
        ),
        (
            refunding_agreed(),
            TransitionError::PayoutDecided {
                state: K::Refunding,
            },
        ),
        (released(), TransitionError::Terminal { state: K::Released }),
        (refunded(), TransitionError::Terminal { state: K::Refunded }),
    ];
    for (escrow, expected) in cases {
        let from = kind(&escrow);
        let err = escrow
            .apply(Actor::Vendor, EscrowEvent::RefundAgreed, &ctx(500))
            .expect_err("refused");
        assert_eq!(err, expected, "from {from}");
        assert_eq!(err.class(), RejectionClass::Conflict, "from {from}");
    }
}
