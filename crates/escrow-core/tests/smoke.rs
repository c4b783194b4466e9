//! The happy path and the refund path end to end through the public API.

mod common;

use common::*;
use escrow_core::{Action, Actor, EscrowStateKind as K};

#[test]
fn every_fixture_reaches_its_state_and_is_consistent() {
    let cases = [
        ("awaiting_setup", K::AwaitingSetup),
        ("setup_failed", K::SetupFailed),
        ("awaiting_funding", K::AwaitingFunding),
        ("underfunded", K::AwaitingFunding),
        ("funded", K::Funded),
        ("disputed", K::Disputed),
        ("releasing", K::Releasing),
        ("releasing_prepared", K::Releasing),
        ("refunding", K::Refunding),
        ("refunding_prepared", K::Refunding),
        ("released", K::Released),
        ("refunded", K::Refunded),
        ("expired", K::Expired),
        ("cancelled", K::Cancelled),
    ];
    for (name, expected) in cases {
        let e = by_name(name);
        assert_eq!(kind(&e), expected, "{name}");
        assert_eq!(e.check_invariants(), Ok(()), "{name}");
    }
}

#[test]
fn release_records_the_payout_and_ends_terminal() {
    let e = released();
    let payout = e.state().payout().expect("released has a payout");
    assert_eq!(payout.tx_hash(), Some(&hash(0xaa)));
    assert_eq!(payout.plan.destination, payout_address());
    assert_eq!(
        (payout.plan.initiator, payout.plan.cosigner),
        (Actor::Vendor, Actor::Buyer)
    );
    assert_eq!(e.next_action(), None);
}

#[test]
fn refund_pays_the_buyer_signed_by_arbiter_and_buyer() {
    let e = refunding();
    let Some(Action::PreparePayout { plan }) = e.next_action() else {
        panic!("refunding asks for a payout, got {:?}", e.next_action());
    };
    assert_eq!(plan.destination, refund_address());
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Arbiter, Actor::Buyer)
    );
    assert_eq!(kind(&refunded()), K::Refunded);
}
