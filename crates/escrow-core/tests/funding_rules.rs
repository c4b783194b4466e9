//! Named funding rules of the escrow machine (confirmations, locked and pool transfers,
//! snapshots, the funding window), each asserting the exact typed outcome.

mod common;

use common::*;
use escrow_core::{
    Action, Actor, Amount, EscrowEvent, EscrowStateKind as K, FundingStatus, IncomingTransfer,
    Spendability, Timestamp, TransitionError, UnlockTime,
};

#[test]
fn underfunded_escrow_stays_pending_and_shows_what_is_missing() {
    let e = underfunded();
    assert_eq!(kind(&e), K::AwaitingFunding);
    assert_eq!(
        e.funding_status(),
        FundingStatus::Underfunded {
            received: Amount::ONE_XMR,
            missing: Amount::from_atomic(500_000_000_000),
        }
    );
    assert_eq!(
        awaiting_funding().funding_status(),
        FundingStatus::Unpaid { missing: amount() }
    );
    assert_eq!(
        unconfirmed().funding_status(),
        FundingStatus::AwaitingConfirmations {
            received: amount(),
            confirmed: Amount::ZERO
        }
    );
    assert_eq!(
        funded().funding_status(),
        FundingStatus::Complete { received: amount() }
    );
}

#[test]
fn funding_counts_only_transfers_with_enough_confirmations() {
    let half = Amount::from_atomic(750_000_000_000);
    let event = EscrowEvent::FundingObserved {
        incoming: vec![
            transfer(1, half, CONFIRMATIONS),
            transfer(2, half, CONFIRMATIONS - 1),
        ],
    };
    let t = awaiting_funding()
        .apply(Actor::System, event, &ctx(100))
        .expect("observed");
    assert_eq!(t.to_state(), K::AwaitingFunding);
    assert_eq!(t.escrow().funding().received(), amount());
    assert_eq!(t.escrow().funding().confirmed(), half);

    let event = EscrowEvent::FundingObserved {
        incoming: vec![
            transfer(1, half, CONFIRMATIONS + 5),
            transfer(2, half, CONFIRMATIONS),
        ],
    };
    let t = t
        .escrow()
        .apply(Actor::System, event, &ctx(200))
        .expect("observed");
    assert_eq!(
        (t.from_state(), t.to_state()),
        (K::AwaitingFunding, K::Funded)
    );
    assert!(t.is_state_change());
}

#[test]
fn locked_transfers_never_fund_and_hold_the_window_open() {
    let locks = [
        Spendability::TimeLocked {
            unlock_time: UnlockTime::Height(5_000),
        },
        Spendability::TimeLocked {
            unlock_time: UnlockTime::UnixTime(T0 + 86_400),
        },
        Spendability::WalletLocked,
    ];
    for spendability in locks {
        let locked = IncomingTransfer {
            spendability,
            ..transfer(1, amount(), CONFIRMATIONS + 50)
        };
        let event = EscrowEvent::FundingObserved {
            incoming: vec![locked],
        };
        let t = awaiting_funding()
            .apply(Actor::System, event, &ctx(100))
            .expect("observed");
        assert_eq!(t.to_state(), K::AwaitingFunding, "{spendability:?}");
        assert_eq!(
            t.escrow().funding_status(),
            FundingStatus::AwaitingConfirmations {
                received: amount(),
                confirmed: Amount::ZERO,
            }
        );
        // The window closing does not expire an escrow holding locked money.
        let err = t
            .escrow()
            .apply(
                Actor::System,
                EscrowEvent::FundingWindowElapsed,
                &ctx(WINDOW + 100),
            )
            .expect_err("locked money pending");
        assert_eq!(
            err,
            TransitionError::AwaitingConfirmations {
                received: amount(),
                confirmed: Amount::ZERO,
            }
        );
        // The same transfer, once unlocked, funds the escrow.
        let t = t
            .escrow()
            .apply(
                Actor::System,
                funding(amount(), CONFIRMATIONS + 60),
                &ctx(WINDOW + 200),
            )
            .expect("observed");
        assert_eq!(t.to_state(), K::Funded);
    }
}

#[test]
fn a_locked_late_payment_opens_no_dispute_until_it_unlocks() {
    let locked = IncomingTransfer {
        spendability: Spendability::TimeLocked {
            unlock_time: UnlockTime::Height(9_999),
        },
        ..transfer(1, amount(), CONFIRMATIONS)
    };
    let t = expired()
        .apply(
            Actor::System,
            EscrowEvent::FundingObserved {
                incoming: vec![locked],
            },
            &ctx(WINDOW + 500),
        )
        .expect("observed");
    assert_eq!(t.to_state(), K::Expired);
    assert_eq!(t.escrow().funding().confirmed(), Amount::ZERO);
    let t = t
        .escrow()
        .apply(
            Actor::System,
            funding(amount(), CONFIRMATIONS),
            &ctx(WINDOW + 600),
        )
        .expect("observed");
    assert_eq!(t.to_state(), K::Disputed);
}

#[test]
fn overflowing_funding_snapshot_is_refused() {
    let event = EscrowEvent::FundingObserved {
        incoming: vec![
            transfer(1, Amount::MAX, 20),
            transfer(2, Amount::ONE_PICONERO, 20),
        ],
    };
    let err = awaiting_funding()
        .apply(Actor::System, event, &ctx(100))
        .expect_err("overflow");
    assert_eq!(err, TransitionError::AmountOverflow);
}

#[test]
fn repeated_snapshot_is_a_noop_and_keeps_updated_at() {
    let e = funded();
    let t = e
        .apply(Actor::System, funding(amount(), CONFIRMATIONS), &ctx(900))
        .expect("repeat");
    assert!(t.is_noop());
    assert!(!t.is_state_change());
    assert_eq!(t.escrow().updated_at(), e.updated_at());

    let t = e
        .apply(Actor::Buyer, EscrowEvent::ReceiptConfirmed, &ctx(900))
        .expect("confirm");
    assert!(!t.is_noop());
    assert_eq!(
        t.escrow().updated_at(),
        Timestamp::from_unix_seconds(T0 + 900)
    );
}

#[test]
fn funds_once_counted_are_not_uncounted_after_funding() {
    let t = funded()
        .apply(
            Actor::System,
            EscrowEvent::FundingObserved { incoming: vec![] },
            &ctx(900),
        )
        .expect("empty snapshot");
    assert_eq!(t.escrow().funding().confirmed(), amount());
    assert_eq!(t.to_state(), K::Funded);
}

#[test]
fn expiry_waits_for_the_deadline() {
    let e = awaiting_funding();
    let deadline = e.funding_deadline().expect("deadline set at setup");
    assert_eq!(deadline, Timestamp::from_unix_seconds(T0 + 10 + WINDOW));
    let err = e
        .apply(
            Actor::System,
            EscrowEvent::FundingWindowElapsed,
            &ctx(10 + WINDOW - 1),
        )
        .expect_err("one second early");
    assert!(
        matches!(err, TransitionError::FundingWindowOpen { .. }),
        "{err}"
    );
    let t = e
        .apply(
            Actor::System,
            EscrowEvent::FundingWindowElapsed,
            &ctx(10 + WINDOW),
        )
        .expect("at the deadline");
    assert_eq!(t.to_state(), K::Expired);
}

#[test]
fn pool_transfers_never_decide_alone() {
    use escrow_core::EscrowEvent as Ev;
    // Partial payment still in the pool at the deadline: neither expire nor dispute yet.
    let e = step(
        &awaiting_funding(),
        Actor::System,
        funding(Amount::ONE_XMR, 0),
        20,
    );
    let err = e
        .apply(Actor::System, Ev::FundingWindowElapsed, &ctx(10 * WINDOW))
        .expect_err("unconfirmed partial payment");
    assert_eq!(
        err,
        TransitionError::AwaitingConfirmations {
            received: Amount::ONE_XMR,
            confirmed: Amount::ZERO
        }
    );
    // If it vanishes from the pool, the escrow expires.
    let e = step(
        &e,
        Actor::System,
        Ev::FundingObserved { incoming: vec![] },
        10 * WINDOW,
    );
    let t = e
        .apply(
            Actor::System,
            Ev::FundingWindowElapsed,
            &ctx(10 * WINDOW + 1),
        )
        .expect("expire");
    assert_eq!(t.to_state(), K::Expired);

    // A late pool transfer is only watched; it goes to an arbiter once confirmed.
    let e = step(
        &t.into_escrow(),
        Actor::System,
        funding(Amount::ONE_XMR, 0),
        11 * WINDOW,
    );
    assert_eq!(kind(&e), K::Expired);
    assert_eq!(e.funding().received(), Amount::ONE_XMR);
    assert!(matches!(
        e.next_action(),
        Some(Action::WatchLateFunding { .. })
    ));
    let e = step(
        &e,
        Actor::System,
        funding(Amount::ONE_XMR, CONFIRMATIONS),
        12 * WINDOW,
    );
    assert_eq!(kind(&e), K::Disputed);
}
