//! Named rules of the escrow machine, each asserting the exact typed outcome.

mod common;

use common::*;
use escrow_core::{
    Action, Actor, Amount, DisputeOutcome, Escrow, EscrowEvent, EscrowId, EscrowStateKind as K,
    EscrowTerms, EventKind, NewEscrow, OrderId, RejectionClass, Timestamp, TransitionError,
};

#[test]
fn double_confirmation_is_refused_while_releasing_and_after_release() {
    for escrow in [releasing(), releasing_prepared(), released()] {
        let err = escrow
            .apply(Actor::Buyer, EscrowEvent::ReceiptConfirmed, &ctx(500))
            .expect_err("second confirmation");
        assert_eq!(err, TransitionError::AlreadyConfirmed);
        assert_eq!(err.class(), RejectionClass::Conflict);
    }
}

#[test]
fn vendor_cannot_confirm_receipt() {
    let err = funded()
        .apply(Actor::Vendor, EscrowEvent::ReceiptConfirmed, &ctx(500))
        .expect_err("vendor confirm");
    assert_eq!(
        err,
        TransitionError::NotPermitted {
            actor: Actor::Vendor,
            event: EventKind::ReceiptConfirmed
        }
    );
    assert_eq!(err.class(), RejectionClass::Forbidden);
}

#[test]
fn only_an_arbiter_resolves() {
    for actor in [Actor::Buyer, Actor::Vendor, Actor::System] {
        let err = disputed()
            .apply(
                actor,
                EscrowEvent::DisputeResolved {
                    outcome: DisputeOutcome::Refund,
                },
                &ctx(500),
            )
            .expect_err("non-arbiter resolve");
        assert_eq!(
            err,
            TransitionError::NotPermitted {
                actor,
                event: EventKind::DisputeResolved
            }
        );
    }
}

#[test]
fn resolving_a_non_disputed_escrow_is_refused() {
    let err = funded()
        .apply(
            Actor::Arbiter,
            EscrowEvent::DisputeResolved {
                outcome: DisputeOutcome::Release,
            },
            &ctx(500),
        )
        .expect_err("not disputed");
    assert_eq!(err, TransitionError::NotDisputed { state: K::Funded });
    assert_eq!(err.code(), "not_disputed");
}

#[test]
fn release_needs_the_vendor_payout_address() {
    let e = funded_with(None, None);
    let err = e
        .apply(Actor::Buyer, EscrowEvent::ReceiptConfirmed, &ctx(30))
        .expect_err("no payout address");
    assert_eq!(err, TransitionError::PayoutAddressMissing);

    let disputed = step(
        &e,
        Actor::Vendor,
        EscrowEvent::DisputeOpened {
            reason: reason("buyer unresponsive"),
        },
        30,
    );
    let err = disputed
        .apply(
            Actor::Arbiter,
            EscrowEvent::DisputeResolved {
                outcome: DisputeOutcome::Refund,
            },
            &ctx(40),
        )
        .expect_err("no refund address");
    assert_eq!(err, TransitionError::RefundAddressMissing);

    let e = step(
        &e,
        Actor::Vendor,
        EscrowEvent::PayoutAddressSet {
            address: payout_address(),
        },
        40,
    );
    let t = e
        .apply(Actor::Buyer, EscrowEvent::ReceiptConfirmed, &ctx(50))
        .expect("confirm with address");
    let Some(Action::PreparePayout { plan }) = t.escrow().next_action() else {
        panic!(
            "expected a payout action, got {:?}",
            t.escrow().next_action()
        );
    };
    assert_eq!(plan.destination, payout_address());
}

#[test]
fn the_payout_destination_is_frozen_at_the_decision() {
    let e = releasing();
    let err = e
        .apply(
            Actor::Vendor,
            EscrowEvent::PayoutAddressSet { address: addr('Z') },
            &ctx(500),
        )
        .expect_err("frozen");
    assert_eq!(
        err,
        TransitionError::PayoutDecided {
            state: K::Releasing
        }
    );
}

#[test]
fn a_prepared_payout_can_be_replaced_and_submit_must_match_the_latest() {
    let e = releasing_prepared();
    let replacement = EscrowEvent::PayoutPrepared {
        tx_hashes: vec![hash(0xdd), hash(0xee)],
        amount: Amount::ONE_XMR,
        fee: fee(),
    };
    let e = step(&e, Actor::System, replacement, 60);
    let err = e
        .apply(Actor::System, submitted_event(), &ctx(70))
        .expect_err("old hash");
    assert!(
        matches!(err, TransitionError::PayoutMismatch { .. }),
        "{err}"
    );
    let t = e
        .apply(
            Actor::System,
            EscrowEvent::PayoutSubmitted {
                tx_hashes: vec![hash(0xee), hash(0xdd)],
            },
            &ctx(70),
        )
        .expect("same set, other order");
    assert_eq!(t.to_state(), K::Released);
    let payout = t.escrow().state().payout().expect("payout");
    assert_eq!(payout.transaction.amount, Amount::ONE_XMR);
}

#[test]
fn next_action_drives_the_orchestrator_in_every_state() {
    assert_eq!(fresh().next_action(), Some(Action::RunSetup));
    assert!(matches!(
        awaiting_funding().next_action(),
        Some(Action::WatchFunding { .. })
    ));
    assert_eq!(funded().next_action(), None);
    assert_eq!(disputed().next_action(), None);
    assert_eq!(setup_failed().next_action(), None);
    assert!(matches!(
        releasing().next_action(),
        Some(Action::PreparePayout { .. })
    ));
    assert!(matches!(
        releasing_prepared().next_action(),
        Some(Action::SubmitPayout { .. })
    ));
    assert!(matches!(
        refunding_prepared().next_action(),
        Some(Action::SubmitPayout { .. })
    ));
    assert!(matches!(
        expired().next_action(),
        Some(Action::WatchLateFunding { .. })
    ));
    assert_eq!(cancelled_early().next_action(), None);
    assert_eq!(released().next_action(), None);
    assert_eq!(refunded().next_action(), None);
}

#[test]
fn signers_follow_the_decision() {
    let release_by_arbiter = step(
        &disputed(),
        Actor::Arbiter,
        EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Release,
        },
        40,
    );
    let plan = release_by_arbiter.state().payout_plan().expect("plan");
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Vendor, Actor::Arbiter)
    );
    let plan = releasing().state().payout_plan().cloned().expect("plan");
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Vendor, Actor::Buyer)
    );
    let plan = refunding().state().payout_plan().cloned().expect("plan");
    assert_eq!(
        (plan.initiator, plan.cosigner),
        (Actor::Arbiter, Actor::Buyer)
    );
}

#[test]
fn recipients_add_arbiters_only_once_a_dispute_exists() {
    let t = funded()
        .apply(Actor::Buyer, EscrowEvent::ReceiptConfirmed, &ctx(100))
        .expect("ok");
    assert_eq!(t.recipients(), &[Actor::Buyer, Actor::Vendor]);
    let t = funded()
        .apply(
            Actor::Vendor,
            EscrowEvent::DisputeOpened {
                reason: reason("x"),
            },
            &ctx(100),
        )
        .expect("ok");
    assert_eq!(
        t.recipients(),
        &[Actor::Buyer, Actor::Vendor, Actor::Arbiter]
    );
}

#[test]
fn actor_for_maps_users_to_escrow_roles() {
    use escrow_core::{Role, UserId};
    let e = funded();
    assert_eq!(e.actor_for(BUYER, Role::Buyer), Some(Actor::Buyer));
    assert_eq!(e.actor_for(VENDOR, Role::Vendor), Some(Actor::Vendor));
    assert_eq!(
        e.actor_for(UserId::new(99), Role::Arbiter),
        Some(Actor::Arbiter)
    );
    assert_eq!(e.actor_for(UserId::new(98), Role::Buyer), None);
    assert_eq!(e.actor_for(UserId::new(97), Role::Vendor), None);
}

#[test]
fn escrow_creation_rejects_bad_terms() {
    use escrow_core::EscrowError;
    assert_eq!(
        EscrowTerms::new(Amount::ZERO, 1, 1),
        Err(EscrowError::ZeroAmount)
    );
    assert_eq!(
        EscrowTerms::new(amount(), 0, 1),
        Err(EscrowError::ZeroConfirmations)
    );
    assert_eq!(
        EscrowTerms::new(amount(), 1, 0),
        Err(EscrowError::ZeroFundingWindow)
    );
    let err = Escrow::new(NewEscrow {
        id: EscrowId::new(3),
        order_id: OrderId::new(3),
        buyer_id: BUYER,
        vendor_id: BUYER,
        terms: EscrowTerms::new(amount(), 1, 1).expect("terms"),
        payout_address: None,
        refund_address: None,
        created_at: Timestamp::from_unix_seconds(T0),
    })
    .expect_err("same user");
    assert_eq!(err, EscrowError::SelfDealing);
}

#[test]
fn every_error_has_a_snake_case_code_and_a_message() {
    let errors = [
        TransitionError::AlreadyConfirmed,
        TransitionError::InDispute,
        TransitionError::AlreadyDisputed,
        TransitionError::PayoutAddressMissing,
        TransitionError::RefundAddressMissing,
        TransitionError::AmountOverflow,
        TransitionError::EmptyPayout,
        TransitionError::ZeroPayout,
        TransitionError::PayoutNotPrepared,
        TransitionError::Terminal { state: K::Released },
        TransitionError::FundsPresent {
            received: Amount::ONE_XMR,
        },
    ];
    let internal = TransitionError::Inconsistent(escrow_core::InvariantViolation {
        rule: "funded has the amount confirmed",
    });
    assert_eq!(internal.class(), RejectionClass::Internal);
    assert_eq!(internal.code(), "escrow_inconsistent");
    assert!(
        internal
            .to_string()
            .contains("funded has the amount confirmed")
    );
    for e in errors {
        let code = e.code();
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn payouts_are_bounded_by_confirmed_funds() {
    // 1.5 XMR confirmed plus 1 XMR more still in the pool while releasing.
    let e = step(
        &releasing(),
        Actor::System,
        EscrowEvent::FundingObserved {
            incoming: vec![
                transfer(1, amount(), CONFIRMATIONS),
                transfer(2, Amount::ONE_XMR, 0),
            ],
        },
        35,
    );
    assert_eq!(
        e.funding().received(),
        amount().checked_add(Amount::ONE_XMR).expect("fits")
    );
    let err = e
        .apply(
            Actor::System,
            EscrowEvent::PayoutPrepared {
                tx_hashes: vec![hash(1)],
                amount: amount(),
                fee: fee(),
            },
            &ctx(40),
        )
        .expect_err("pool funds are not spendable");
    assert_eq!(
        err,
        TransitionError::PayoutExceedsFunds {
            amount: amount(),
            fee: fee(),
            confirmed: amount()
        }
    );
    assert_eq!(err.class(), RejectionClass::Invalid);

    // Once the extra payment confirms and is reported, the whole balance can be swept.
    let total = amount().checked_add(Amount::ONE_XMR).expect("fits");
    let e = step(
        &e,
        Actor::System,
        EscrowEvent::FundingObserved {
            incoming: vec![
                transfer(1, amount(), CONFIRMATIONS),
                transfer(2, Amount::ONE_XMR, CONFIRMATIONS),
            ],
        },
        45,
    );
    let sweep = total.checked_sub(fee()).expect("fee below total");
    let e = step(
        &e,
        Actor::System,
        EscrowEvent::PayoutPrepared {
            tx_hashes: vec![hash(1)],
            amount: sweep,
            fee: fee(),
        },
        50,
    );
    let e = step(
        &e,
        Actor::System,
        EscrowEvent::PayoutSubmitted {
            tx_hashes: vec![hash(1)],
        },
        60,
    );
    let payout = e.state().payout().expect("released");
    assert_eq!(payout.transaction.amount, sweep);
}
