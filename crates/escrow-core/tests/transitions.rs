//! Data-driven transition tests: (state × actor × event) -> expected state or error code, plus
//! an exhaustive sweep of every fixture × actor × sample event against the permission table
//! and the transition graph.

mod common;

use common::*;
use escrow_core::{
    Actor, DisputeCause, EscrowStateKind as K, EventKind, RejectionClass, TransitionError,
};

#[derive(Debug, Clone, Copy)]
enum Expect {
    State(K),
    Error(&'static str),
}
use Expect::{Error as E, State as S};

const A: Actor = Actor::Arbiter;
const B: Actor = Actor::Buyer;
const V: Actor = Actor::Vendor;
const SYS: Actor = Actor::System;

#[rustfmt::skip]
const TABLE: &[(&str, Actor, &str, Expect)] = &[
    // awaiting_setup
    ("awaiting_setup", SYS, "setup_completed", S(K::AwaitingFunding)),
    ("awaiting_setup", SYS, "setup_failed", S(K::SetupFailed)),
    ("awaiting_setup", SYS, "setup_retried", E("invalid_transition")),
    ("awaiting_setup", SYS, "funding_full", E("no_escrow_address")),
    ("awaiting_setup", SYS, "window_elapsed", E("invalid_transition")),
    ("awaiting_setup", B, "confirm", E("not_funded")),
    ("awaiting_setup", V, "confirm", E("not_permitted")),
    ("awaiting_setup", B, "dispute", E("nothing_to_dispute")),
    ("awaiting_setup", A, "resolve_refund", E("not_disputed")),
    ("awaiting_setup", B, "resolve_refund", E("not_permitted")),
    ("awaiting_setup", SYS, "prepare", E("invalid_transition")),
    ("awaiting_setup", SYS, "submit", E("invalid_transition")),
    ("awaiting_setup", B, "cancel", S(K::Cancelled)),
    ("awaiting_setup", V, "cancel", S(K::Cancelled)),
    ("awaiting_setup", SYS, "cancel", S(K::Cancelled)),
    ("awaiting_setup", A, "cancel", E("not_permitted")),
    ("awaiting_setup", V, "set_payout", S(K::AwaitingSetup)),
    ("awaiting_setup", B, "set_refund", S(K::AwaitingSetup)),
    ("awaiting_setup", B, "set_payout", E("not_permitted")),
    ("awaiting_setup", V, "set_refund", E("not_permitted")),
    ("awaiting_setup", A, "setup_completed", E("not_permitted")),
    ("awaiting_setup", B, "setup_completed", E("not_permitted")),
    ("awaiting_setup", V, "agree_refund", E("not_funded")),
    // setup_failed
    ("setup_failed", SYS, "setup_retried", S(K::AwaitingSetup)),
    ("setup_failed", SYS, "setup_completed", E("invalid_transition")),
    ("setup_failed", SYS, "setup_failed", E("invalid_transition")),
    ("setup_failed", SYS, "funding_full", E("no_escrow_address")),
    ("setup_failed", B, "cancel", S(K::Cancelled)),
    ("setup_failed", B, "confirm", E("not_funded")),
    ("setup_failed", A, "setup_retried", E("not_permitted")),
    // awaiting_funding
    ("awaiting_funding", SYS, "funding_full", S(K::Funded)),
    ("awaiting_funding", SYS, "funding_partial", S(K::AwaitingFunding)),
    ("awaiting_funding", SYS, "funding_unconfirmed", S(K::AwaitingFunding)),
    ("awaiting_funding", SYS, "funding_none", S(K::AwaitingFunding)),
    ("awaiting_funding", SYS, "window_elapsed", S(K::Expired)),
    ("awaiting_funding", SYS, "window_early", E("funding_window_open")),
    ("awaiting_funding", SYS, "setup_completed", E("invalid_transition")),
    ("awaiting_funding", B, "confirm", E("not_funded")),
    ("awaiting_funding", B, "dispute", E("nothing_to_dispute")),
    ("awaiting_funding", A, "resolve_release", E("not_disputed")),
    ("awaiting_funding", B, "cancel", S(K::Cancelled)),
    ("awaiting_funding", V, "cancel", S(K::Cancelled)),
    ("awaiting_funding", SYS, "prepare", E("invalid_transition")),
    ("awaiting_funding", B, "funding_full", E("not_permitted")),
    ("awaiting_funding", V, "agree_refund", E("not_funded")),
    // underfunded: 1 of 1.5 XMR received and confirmed
    ("underfunded", SYS, "funding_full", S(K::Funded)),
    ("underfunded", SYS, "funding_none", S(K::AwaitingFunding)),
    ("underfunded", SYS, "window_elapsed", S(K::Disputed)),
    ("underfunded", SYS, "window_early", E("funding_window_open")),
    ("underfunded", B, "dispute", S(K::Disputed)),
    ("underfunded", V, "dispute", S(K::Disputed)),
    ("underfunded", B, "cancel", E("funds_present")),
    ("underfunded", SYS, "cancel", E("funds_present")),
    ("underfunded", B, "confirm", E("not_funded")),
    ("underfunded", V, "agree_refund", E("not_funded")),
    // unconfirmed: the full amount is in, but lacks confirmations
    ("unconfirmed", SYS, "window_elapsed", E("awaiting_confirmations")),
    ("unconfirmed", SYS, "funding_full", S(K::Funded)),
    ("unconfirmed", B, "cancel", E("funds_present")),
    ("unconfirmed", B, "confirm", E("not_funded")),
    ("unconfirmed", B, "dispute", E("nothing_to_dispute")),
    ("unconfirmed", V, "agree_refund", E("not_funded")),
    // funded
    ("funded", B, "confirm", S(K::Releasing)),
    ("funded", V, "confirm", E("not_permitted")),
    ("funded", A, "confirm", E("not_permitted")),
    ("funded", SYS, "confirm", E("not_permitted")),
    ("funded", B, "dispute", S(K::Disputed)),
    ("funded", V, "dispute", S(K::Disputed)),
    ("funded", A, "dispute", E("not_permitted")),
    ("funded", SYS, "dispute", E("not_permitted")),
    ("funded", A, "resolve_refund", E("not_disputed")),
    ("funded", A, "resolve_release", E("not_disputed")),
    ("funded", B, "cancel", E("funds_present")),
    ("funded", V, "cancel", E("funds_present")),
    ("funded", SYS, "funding_full", S(K::Funded)),
    ("funded", SYS, "funding_none", S(K::Funded)),
    ("funded", SYS, "window_elapsed", E("invalid_transition")),
    ("funded", SYS, "prepare", E("invalid_transition")),
    ("funded", SYS, "submit", E("invalid_transition")),
    ("funded", SYS, "setup_completed", E("invalid_transition")),
    ("funded", V, "set_payout", S(K::Funded)),
    ("funded", B, "set_refund", S(K::Funded)),
    ("funded", V, "agree_refund", S(K::Refunding)),
    ("funded", B, "agree_refund", E("not_permitted")),
    ("funded", A, "agree_refund", E("not_permitted")),
    ("funded", SYS, "agree_refund", E("not_permitted")),
    // disputed
    ("disputed", A, "resolve_release", S(K::Releasing)),
    ("disputed", A, "resolve_refund", S(K::Refunding)),
    ("disputed", B, "resolve_refund", E("not_permitted")),
    ("disputed", V, "resolve_release", E("not_permitted")),
    ("disputed", SYS, "resolve_refund", E("not_permitted")),
    ("disputed", B, "dispute", E("already_disputed")),
    ("disputed", V, "dispute", E("already_disputed")),
    ("disputed", B, "confirm", E("in_dispute")),
    ("disputed", B, "cancel", E("funds_present")),
    ("disputed", SYS, "funding_full", S(K::Disputed)),
    ("disputed", SYS, "prepare", E("invalid_transition")),
    ("disputed", V, "set_payout", S(K::Disputed)),
    ("disputed", B, "set_refund", S(K::Disputed)),
    ("disputed", V, "agree_refund", E("in_dispute")),
    // releasing (buyer confirmed, nothing prepared yet)
    ("releasing", B, "confirm", E("already_confirmed")),
    ("releasing", V, "confirm", E("not_permitted")),
    ("releasing", B, "dispute", E("payout_decided")),
    ("releasing", V, "dispute", E("payout_decided")),
    ("releasing", V, "set_payout", E("payout_decided")),
    ("releasing", B, "set_refund", E("payout_decided")),
    ("releasing", A, "resolve_refund", E("not_disputed")),
    ("releasing", B, "cancel", E("funds_present")),
    ("releasing", SYS, "prepare", S(K::Releasing)),
    ("releasing", SYS, "prepare_too_much", E("payout_exceeds_funds")),
    ("releasing", SYS, "prepare_empty", E("empty_payout")),
    ("releasing", SYS, "prepare_zero", E("zero_payout")),
    ("releasing", SYS, "submit", E("payout_not_prepared")),
    ("releasing", SYS, "funding_full", S(K::Releasing)),
    ("releasing", SYS, "window_elapsed", E("invalid_transition")),
    ("releasing", V, "agree_refund", E("payout_decided")),
    // releasing with a prepared payout
    ("releasing_prepared", SYS, "submit", S(K::Released)),
    ("releasing_prepared", SYS, "submit_other", E("payout_mismatch")),
    ("releasing_prepared", SYS, "prepare", S(K::Releasing)),
    ("releasing_prepared", B, "confirm", E("already_confirmed")),
    ("releasing_prepared", B, "submit", E("not_permitted")),
    ("releasing_prepared", V, "agree_refund", E("payout_decided")),
    // refunding (arbiter decided for the buyer)
    ("refunding", A, "resolve_release", E("not_disputed")),
    ("refunding", A, "resolve_refund", E("not_disputed")),
    ("refunding", B, "confirm", E("payout_decided")),
    ("refunding", B, "dispute", E("payout_decided")),
    ("refunding", B, "set_refund", E("payout_decided")),
    ("refunding", SYS, "prepare", S(K::Refunding)),
    ("refunding", SYS, "prepare_too_much", E("payout_exceeds_funds")),
    ("refunding", SYS, "submit", E("payout_not_prepared")),
    ("refunding_prepared", SYS, "submit", S(K::Refunded)),
    ("refunding_prepared", SYS, "submit_other", E("payout_mismatch")),
    ("refunding", V, "agree_refund", E("payout_decided")),
    // refunding because the vendor agreed (no dispute)
    ("refunding_agreed", V, "agree_refund", E("payout_decided")),
    ("refunding_agreed", B, "confirm", E("payout_decided")),
    ("refunding_agreed", B, "dispute", E("payout_decided")),
    ("refunding_agreed", V, "dispute", E("payout_decided")),
    ("refunding_agreed", A, "resolve_release", E("not_disputed")),
    ("refunding_agreed", B, "set_refund", E("payout_decided")),
    ("refunding_agreed", B, "cancel", E("funds_present")),
    ("refunding_agreed", SYS, "funding_full", S(K::Refunding)),
    ("refunding_agreed", SYS, "prepare", S(K::Refunding)),
    ("refunding_agreed", SYS, "prepare_too_much", E("payout_exceeds_funds")),
    ("refunding_agreed", SYS, "submit", E("payout_not_prepared")),
    // released: terminal
    ("released", B, "confirm", E("already_confirmed")),
    ("released", V, "confirm", E("not_permitted")),
    ("released", B, "dispute", E("escrow_closed")),
    ("released", A, "resolve_refund", E("escrow_closed")),
    ("released", SYS, "funding_full", E("escrow_closed")),
    ("released", SYS, "submit", E("escrow_closed")),
    ("released", SYS, "prepare", E("escrow_closed")),
    ("released", B, "cancel", E("escrow_closed")),
    ("released", V, "set_payout", E("escrow_closed")),
    ("released", V, "agree_refund", E("escrow_closed")),
    // refunded: terminal
    ("refunded", B, "confirm", E("escrow_closed")),
    ("refunded", SYS, "submit", E("escrow_closed")),
    ("refunded", A, "resolve_release", E("escrow_closed")),
    ("refunded", B, "set_refund", E("escrow_closed")),
    ("refunded", V, "agree_refund", E("escrow_closed")),
    // expired: closed, except for late payments
    ("expired", SYS, "funding_full", S(K::Disputed)),
    ("expired", SYS, "funding_partial", S(K::Disputed)),
    ("expired", SYS, "funding_none", S(K::Expired)),
    ("expired", SYS, "funding_unconfirmed", S(K::Expired)),
    ("expired", SYS, "window_elapsed", E("invalid_transition")),
    ("expired", B, "cancel", E("invalid_transition")),
    ("expired", B, "dispute", E("nothing_to_dispute")),
    ("expired", B, "confirm", E("not_funded")),
    ("expired", B, "set_refund", S(K::Expired)),
    ("expired", V, "agree_refund", E("not_funded")),
    // cancelled after the address was shown
    ("cancelled", SYS, "funding_partial", S(K::Disputed)),
    ("cancelled", SYS, "funding_none", S(K::Cancelled)),
    ("cancelled", SYS, "funding_unconfirmed", S(K::Cancelled)),
    ("cancelled", B, "cancel", E("invalid_transition")),
    ("cancelled", SYS, "setup_completed", E("invalid_transition")),
    ("cancelled", V, "agree_refund", E("not_funded")),
    // stalled payout rounds: non-custodial only, undone only while nothing is prepared
    ("releasing", SYS, "stall", E("invalid_transition")),
    ("refunding", SYS, "stall", E("invalid_transition")),
    ("funded", SYS, "stall", E("invalid_transition")),
    ("released", SYS, "stall", E("escrow_closed")),
    ("nc_releasing", SYS, "stall", S(K::Funded)),
    ("nc_releasing", B, "stall", E("not_permitted")),
    ("nc_releasing", A, "stall", E("not_permitted")),
    ("nc_releasing_prepared", SYS, "stall", E("payout_under_way")),
    ("nc_refunding_agreed", SYS, "stall", S(K::Funded)),
    ("nc_refunding", SYS, "stall", S(K::Disputed)),
    ("nc_releasing", B, "dispute", E("payout_decided")),
    // cancelled during setup: no address exists
    ("cancelled_early", SYS, "funding_full", E("no_escrow_address")),
    ("cancelled_early", SYS, "setup_completed", E("invalid_transition")),
];

#[test]
fn transition_table() {
    let mut failures = Vec::new();
    for &(fixture, actor, event_name, expect) in TABLE {
        let escrow = by_name(fixture);
        let (event, at) = sample_event(event_name);
        let result = escrow.apply(actor, event, &ctx(at));
        let ok = match (&result, expect) {
            (Ok(t), S(state)) => t.to_state() == state && t.escrow().check_invariants().is_ok(),
            (Err(e), E(code)) => e.code() == code,
            _ => false,
        };
        if !ok {
            let got = match &result {
                Ok(t) => format!("state {}", t.to_state()),
                Err(e) => format!("error {} ({e})", e.code()),
            };
            failures.push(format!(
                "{fixture} × {actor} × {event_name}: expected {expect:?}, got {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every fixture × every actor × every sample event: a refusal for a forbidden actor is always
/// `NotPermitted`, an accepted event always follows the graph, keeps the invariants and never
/// leaves a terminal state.
#[test]
fn exhaustive_sweep_respects_permissions_and_graph() {
    let mut accepted = 0;
    for fixture in FIXTURES {
        let escrow = by_name(fixture);
        let from = escrow.state().kind();
        for actor in Actor::ALL {
            for event_name in SAMPLE_EVENTS {
                let (event, at) = sample_event(event_name);
                let kind = event.kind();
                let label = format!("{fixture} × {actor} × {event_name}");
                match escrow.apply(actor, event, &ctx(at)) {
                    Ok(t) => {
                        accepted += 1;
                        assert!(kind.permits(actor), "{label}: accepted a forbidden actor");
                        assert!(!from.is_terminal(), "{label}: left a terminal state");
                        assert!(
                            from.can_move_to(t.to_state()),
                            "{label}: edge {from} -> {}",
                            t.to_state()
                        );
                        assert_eq!(t.from_state(), from, "{label}");
                        assert_eq!(t.escrow().check_invariants(), Ok(()), "{label}");
                        assert_eq!(
                            t.escrow().amount(),
                            escrow.amount(),
                            "{label}: amount changed"
                        );
                    }
                    Err(e) => {
                        assert!(
                            !matches!(e, TransitionError::Inconsistent(_)),
                            "{label}: machine bug: {e}"
                        );
                        let forbidden = matches!(e, TransitionError::NotPermitted { .. });
                        assert_eq!(forbidden, !kind.permits(actor), "{label}: {e}");
                        assert_eq!(forbidden, e.class() == RejectionClass::Forbidden, "{label}");
                    }
                }
            }
        }
    }
    assert!(accepted > 50, "sweep accepted only {accepted} events");
}

#[test]
fn every_event_kind_has_a_documented_permission_row() {
    use Actor::*;
    let expected: &[(EventKind, &[Actor])] = &[
        (EventKind::SetupCompleted, &[System]),
        (EventKind::SetupFailed, &[System]),
        (EventKind::SetupRetried, &[System]),
        (EventKind::FundingObserved, &[System]),
        (EventKind::FundingWindowElapsed, &[System]),
        (EventKind::ReceiptConfirmed, &[Buyer]),
        (EventKind::RefundAgreed, &[Vendor]),
        (EventKind::DisputeOpened, &[Buyer, Vendor]),
        (EventKind::DisputeResolved, &[Arbiter]),
        (EventKind::PayoutPrepared, &[System]),
        (EventKind::PayoutSubmitted, &[System]),
        (EventKind::PayoutStalled, &[System]),
        (EventKind::Cancelled, &[Buyer, Vendor, System]),
        (EventKind::PayoutAddressSet, &[Vendor]),
        (EventKind::RefundAddressSet, &[Buyer]),
    ];
    assert_eq!(expected.len(), EventKind::ALL.len());
    for (kind, actors) in expected {
        assert_eq!(kind.allowed_actors(), *actors, "{kind}");
    }
}

#[test]
fn underfunded_window_close_opens_a_system_dispute_that_can_be_refunded() {
    let (event, at) = sample_event("window_elapsed");
    let disputed = underfunded()
        .apply(Actor::System, event, &ctx(at))
        .expect("window close is accepted")
        .into_escrow();
    let dispute = disputed.dispute().expect("a dispute was opened");
    assert_eq!(dispute.opened_by, Actor::System);
    assert_eq!(dispute.cause, DisputeCause::Underfunded);
    assert!(
        dispute.reason.as_str().contains("1 of 1.5 XMR"),
        "{}",
        dispute.reason
    );
    let refunding = step(
        &disputed,
        Actor::Arbiter,
        escrow_core::EscrowEvent::DisputeResolved {
            outcome: escrow_core::DisputeOutcome::Refund,
        },
        at + 1,
    );
    assert_eq!(kind(&refunding), K::Refunding);
    // Only 1 XMR arrived: a payout of the whole order total must be refused.
    let (too_much, _) = sample_event("prepare");
    let err = refunding
        .apply(Actor::System, too_much, &ctx(at + 2))
        .expect_err("more than received");
    assert!(
        matches!(err, TransitionError::PayoutExceedsFunds { .. }),
        "{err}"
    );
}

#[test]
fn late_payment_after_expiry_is_routed_to_an_arbiter() {
    let (event, at) = sample_event("funding_partial");
    let t = expired()
        .apply(Actor::System, event, &ctx(at + 10 * WINDOW))
        .expect("late funding is accepted");
    assert_eq!((t.from_state(), t.to_state()), (K::Expired, K::Disputed));
    let dispute = t.escrow().dispute().expect("dispute");
    assert_eq!(dispute.cause, DisputeCause::LateFunding);
    assert_eq!(
        t.recipients(),
        &[Actor::Buyer, Actor::Vendor, Actor::Arbiter]
    );
}
