//! Property tests over random event sequences: no illegal state is reachable, terminal states
//! stay terminal, permissions always hold, and amounts stay consistent.

mod common;

use common::{CONFIRMATIONS, addr, amount, awaiting_funding, ctx, hash};
use escrow_core::{
    Actor, Amount, Context, DisputeOutcome, DisputeReason, Escrow, EscrowEvent, EscrowId,
    EscrowState, EscrowStateKind, EscrowTerms, EventKind, IncomingTransfer, NewEscrow, OrderId,
    PayoutReason, Spendability, Timestamp, TransitionError, UnlockTime, UserId,
};
use proptest::prelude::*;

/// An event shape; amounts are relative to the escrow so sequences reach deep states.
#[derive(Clone, Debug)]
enum Gen {
    SetupCompleted,
    SetupFailed,
    SetupRetried,
    /// Transfers as (permille of the escrow amount, confirmations).
    Funding(Vec<(u64, u64)>),
    WindowElapsed,
    Confirm,
    AgreeRefund,
    Dispute,
    Resolve(bool),
    /// (hash count, payout permille of received, fee permille of received).
    Prepare(usize, u64, u64),
    /// Whether to submit the prepared hashes (true) or other ones.
    Submit(bool),
    Cancel,
    SetPayout(char),
    SetRefund(char),
}

fn gen_strategy() -> impl Strategy<Value = Gen> {
    prop_oneof![
        2 => Just(Gen::SetupCompleted),
        1 => Just(Gen::SetupFailed),
        1 => Just(Gen::SetupRetried),
        4 => prop::collection::vec((0u64..1_500, 0u64..25), 0..4).prop_map(Gen::Funding),
        2 => Just(Gen::WindowElapsed),
        3 => Just(Gen::Confirm),
        2 => Just(Gen::AgreeRefund),
        2 => Just(Gen::Dispute),
        2 => any::<bool>().prop_map(Gen::Resolve),
        3 => (0usize..3, 0u64..1_100, 0u64..60).prop_map(|(n, a, f)| Gen::Prepare(n, a, f)),
        3 => prop::bool::weighted(0.8).prop_map(Gen::Submit),
        1 => Just(Gen::Cancel),
        1 => prop::sample::select(vec!['V', 'W']).prop_map(Gen::SetPayout),
        1 => prop::sample::select(vec!['B', 'C']).prop_map(Gen::SetRefund),
    ]
}

fn permille(a: Amount, p: u64) -> Amount {
    let v = u128::from(a.as_atomic()) * u128::from(p) / 1_000;
    Amount::from_atomic(u64::try_from(v).unwrap_or(u64::MAX))
}

fn build(g: &Gen, e: &Escrow) -> EscrowEvent {
    match g {
        Gen::SetupCompleted => EscrowEvent::SetupCompleted { address: addr('A') },
        Gen::SetupFailed => EscrowEvent::SetupFailed {
            reason: "make_multisig returned an error".into(),
        },
        Gen::SetupRetried => EscrowEvent::SetupRetried,
        Gen::Funding(transfers) => EscrowEvent::FundingObserved {
            incoming: transfers
                .iter()
                .enumerate()
                .map(|(i, &(p, confirmations))| IncomingTransfer {
                    tx_hash: hash(u8::try_from(i).unwrap_or(0) + 1),
                    amount: permille(e.amount(), p),
                    confirmations,
                    spendability: Spendability::Spendable,
                })
                .collect(),
        },
        Gen::WindowElapsed => EscrowEvent::FundingWindowElapsed,
        Gen::Confirm => EscrowEvent::ReceiptConfirmed,
        Gen::AgreeRefund => EscrowEvent::RefundAgreed,
        Gen::Dispute => EscrowEvent::DisputeOpened {
            reason: DisputeReason::new("not as described").expect("valid"),
        },
        Gen::Resolve(release) => EscrowEvent::DisputeResolved {
            outcome: if *release {
                DisputeOutcome::Release
            } else {
                DisputeOutcome::Refund
            },
        },
        Gen::Prepare(n, a, f) => EscrowEvent::PayoutPrepared {
            tx_hashes: (0..*n)
                .map(|i| hash(0x80 + u8::try_from(i).unwrap_or(0)))
                .collect(),
            amount: permille(e.funding().received(), *a),
            fee: permille(e.funding().received(), *f),
        },
        Gen::Submit(matching) => {
            let prepared = match e.state() {
                EscrowState::Releasing { prepared, .. }
                | EscrowState::Refunding { prepared, .. } => prepared.clone(),
                _ => None,
            };
            let tx_hashes = match (matching, prepared) {
                (true, Some(p)) => p.tx_hashes.into_iter().rev().collect(),
                _ => vec![hash(0x42)],
            };
            EscrowEvent::PayoutSubmitted { tx_hashes }
        }
        Gen::Cancel => EscrowEvent::Cancelled,
        Gen::SetPayout(c) => EscrowEvent::PayoutAddressSet { address: addr(*c) },
        Gen::SetRefund(c) => EscrowEvent::RefundAddressSet { address: addr(*c) },
    }
}

#[derive(Clone, Debug)]
struct Step {
    shape: Gen,
    /// Use an actor allowed for the event (true) or `any_actor`.
    rightful: bool,
    any_actor: Actor,
    /// Seconds since the previous step.
    dt: u64,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (
        gen_strategy(),
        prop::bool::weighted(0.85),
        prop::sample::select(Actor::ALL.to_vec()),
        prop_oneof![3 => 0u64..100, 1 => 0u64..20_000],
    )
        .prop_map(|(shape, rightful, any_actor, dt)| Step {
            shape,
            rightful,
            any_actor,
            dt,
        })
}

fn escrow_strategy() -> impl Strategy<Value = Escrow> {
    (
        1u64..=10_000_000_000_000,
        1u64..15,
        1u64..10_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(amount, confirmations, window, payout, refund)| {
            Escrow::new(NewEscrow {
                id: EscrowId::new(1),
                order_id: OrderId::new(1),
                buyer_id: UserId::new(10),
                vendor_id: UserId::new(20),
                terms: EscrowTerms::new(Amount::from_atomic(amount), confirmations, window)
                    .expect("valid terms"),
                payout_address: payout.then(|| addr('V')),
                refund_address: refund.then(|| addr('B')),
                created_at: Timestamp::from_unix_seconds(1_700_000_000),
            })
            .expect("valid escrow")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_rule(
        start in escrow_strategy(),
        steps in prop::collection::vec(step_strategy(), 1..60),
    ) {
        let mut escrow = start.clone();
        let mut now = escrow.created_at().as_unix_seconds();
        let mut history: Vec<(Actor, EventKind)> = Vec::new();
        for s in &steps {
            now += s.dt;
            let event = build(&s.shape, &escrow);
            let kind = event.kind();
            let actor = if s.rightful {
                let allowed = kind.allowed_actors();
                allowed[usize::try_from(now).unwrap_or(0) % allowed.len()]
            } else {
                s.any_actor
            };
            let from = escrow.state().kind();
            match escrow.apply(actor, event, &Context::at(Timestamp::from_unix_seconds(now))) {
                Ok(t) => {
                    let next = t.escrow();
                    prop_assert!(kind.permits(actor), "{actor} was allowed {kind}");
                    prop_assert!(!from.is_terminal(), "left terminal {from} with {kind}");
                    prop_assert!(from.can_move_to(t.to_state()), "illegal edge {from} -> {}", t.to_state());
                    prop_assert_eq!(next.check_invariants(), Ok(()));
                    // Fixed terms and identities never change.
                    prop_assert_eq!(next.terms(), escrow.terms());
                    prop_assert_eq!((next.id(), next.order_id(), next.buyer_id(), next.vendor_id()),
                        (escrow.id(), escrow.order_id(), escrow.buyer_id(), escrow.vendor_id()));
                    prop_assert_eq!(next.created_at(), escrow.created_at());
                    prop_assert!(next.updated_at() >= escrow.updated_at());
                    // The escrow address, once set, never changes.
                    if let Some(a) = escrow.address() {
                        prop_assert_eq!(next.address(), Some(a));
                    }
                    // A decided payout is never redirected.
                    if let Some(plan) = escrow.state().payout_plan() {
                        prop_assert_eq!(next.state().payout_plan(), Some(plan));
                    }
                    // Funding: entering `funded` means the amount is confirmed.
                    if t.to_state() == escrow_core::EscrowStateKind::Funded {
                        prop_assert!(next.funding().confirmed() >= next.amount());
                    }
                    // A disputed escrow holds money, and so does every payout.
                    if let Some(payout) = next.state().payout() {
                        let spent = payout.transaction.amount.checked_add(payout.transaction.fee);
                        prop_assert!(spent.is_some_and(|s| s <= next.funding().received()),
                            "payout exceeds funds");
                        prop_assert!(!payout.transaction.tx_hashes.is_empty());
                        match payout.plan.reason {
                            PayoutReason::BuyerConfirmed => prop_assert!(
                                history.contains(&(Actor::Buyer, EventKind::ReceiptConfirmed))
                                || kind == EventKind::ReceiptConfirmed),
                            PayoutReason::ArbiterDecision => prop_assert!(
                                history.contains(&(Actor::Arbiter, EventKind::DisputeResolved))),
                            PayoutReason::VendorRefunded => prop_assert!(
                                history.contains(&(Actor::Vendor, EventKind::RefundAgreed))
                                && next.dispute().is_none()),
                        }
                    }
                    if t.is_state_change() {
                        prop_assert!(!t.is_noop());
                    }
                    history.push((actor, kind));
                    escrow = t.into_escrow();
                }
                Err(e) => {
                    prop_assert!(!matches!(e, TransitionError::Inconsistent(_)),
                        "the machine tried to build an inconsistent escrow: {}", e);
                    let forbidden = matches!(e, TransitionError::NotPermitted { .. });
                    prop_assert_eq!(forbidden, !kind.permits(actor), "{}", e);
                    if from.is_terminal() && !forbidden {
                        prop_assert!(matches!(e, TransitionError::Terminal { .. } | TransitionError::AlreadyConfirmed), "{}", e);
                    }
                }
            }
        }
        // Whatever was reached survives storage.
        let text = serde_json::to_string(&escrow).expect("serialize");
        let back: Escrow = serde_json::from_str(&text).expect("deserialize");
        prop_assert_eq!(back, escrow);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Once released or refunded, no event of any actor changes anything.
    #[test]
    fn terminal_states_stay_terminal(
        refund in any::<bool>(),
        steps in prop::collection::vec(step_strategy(), 1..30),
    ) {
        let escrow = if refund { common::refunded() } else { common::released() };
        let mut now = 1_800_000_000u64;
        for s in &steps {
            now += s.dt;
            let event = build(&s.shape, &escrow);
            for actor in Actor::ALL {
                let result = escrow.apply(actor, event.clone(), &Context::at(Timestamp::from_unix_seconds(now)));
                prop_assert!(result.is_err(), "{actor} changed a terminal escrow");
            }
        }
    }
}

/// Sanity check that the generator reaches deep states (otherwise the properties above would
/// hold vacuously): run a fixed, seeded sample and count what was reached.
#[test]
fn generator_reaches_every_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::collections::BTreeSet;

    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (
        escrow_strategy(),
        prop::collection::vec(step_strategy(), 1..60),
    );
    let mut reached = BTreeSet::new();
    for _ in 0..300 {
        let (start, steps) = strategy.new_tree(&mut runner).expect("tree").current();
        let mut escrow = start;
        let mut now = escrow.created_at().as_unix_seconds();
        for s in &steps {
            now += s.dt;
            let event = build(&s.shape, &escrow);
            let allowed = event.kind().allowed_actors();
            let actor = allowed[usize::try_from(now).unwrap_or(0) % allowed.len()];
            if let Ok(t) = escrow.apply(
                actor,
                event,
                &Context::at(Timestamp::from_unix_seconds(now)),
            ) {
                escrow = t.into_escrow();
                reached.insert(escrow.state().kind());
            }
        }
    }
    let missing: Vec<_> = escrow_core::EscrowStateKind::ALL
        .into_iter()
        .filter(|k| *k != escrow_core::EscrowStateKind::AwaitingSetup && !reached.contains(k))
        .collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
}

/// Spendability by index: spendable, time-locked, or still locked by the wallet.
fn spendability(code: u8) -> Spendability {
    match code {
        0 => Spendability::Spendable,
        1 => Spendability::TimeLocked {
            unlock_time: UnlockTime::Height(1_000_000),
        },
        _ => Spendability::WalletLocked,
    }
}

proptest! {
    #[test]
    fn only_spendable_confirmed_money_funds(
        transfers in prop::collection::vec((0u64..1_500, 0u64..25, 0u8..3), 0..5),
    ) {
        let incoming: Vec<IncomingTransfer> = transfers
            .iter()
            .enumerate()
            .map(|(i, &(p, confirmations, code))| IncomingTransfer {
                tx_hash: hash(u8::try_from(i).unwrap_or(0) + 1),
                amount: permille(amount(), p),
                confirmations,
                spendability: spendability(code),
            })
            .collect();
        let counted = Amount::checked_sum(
            incoming
                .iter()
                .filter(|t| t.spendability == Spendability::Spendable && t.confirmations >= CONFIRMATIONS)
                .map(|t| t.amount),
        )
        .expect("no overflow");
        let t = awaiting_funding()
            .apply(Actor::System, EscrowEvent::FundingObserved { incoming }, &ctx(100))
            .expect("observed");
        prop_assert_eq!(t.escrow().funding().confirmed(), counted);
        prop_assert_eq!(t.to_state() == EscrowStateKind::Funded, counted >= amount());
    }
}
