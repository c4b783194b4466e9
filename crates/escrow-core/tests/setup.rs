//! Multisig setup bookkeeping: all three outputs of a round before the next, idempotent
//! retries, typed refusals.

use escrow_core::{Actor, SetupAdvance, SetupError, SetupProgress, SetupStage};
use proptest::prelude::*;

#[test]
fn rounds_complete_only_with_all_three_participants() {
    let mut p = SetupProgress::new();
    assert_eq!(p.stage(), Some(SetupStage::Prepare));
    assert_eq!(
        p.record(Actor::Vendor, SetupStage::Prepare),
        Ok(SetupAdvance::Recorded {
            waiting_for: vec![Actor::Buyer, Actor::Arbiter]
        })
    );
    assert_eq!(
        p.record(Actor::Vendor, SetupStage::Prepare),
        Ok(SetupAdvance::AlreadyRecorded)
    );
    assert_eq!(
        p.record(Actor::Buyer, SetupStage::Make),
        Err(SetupError::WrongStage {
            expected: SetupStage::Prepare,
            found: SetupStage::Make
        })
    );
    assert_eq!(
        p.record(Actor::Arbiter, SetupStage::Prepare),
        Ok(SetupAdvance::Recorded {
            waiting_for: vec![Actor::Buyer]
        })
    );
    assert_eq!(
        p.record(Actor::Buyer, SetupStage::Prepare),
        Ok(SetupAdvance::RoundComplete {
            completed: SetupStage::Prepare,
            next: SetupStage::Make
        })
    );
    for stage in [SetupStage::Make, SetupStage::ExchangeRound1] {
        for actor in [Actor::Buyer, Actor::Vendor] {
            assert!(matches!(
                p.record(actor, stage),
                Ok(SetupAdvance::Recorded { .. })
            ));
        }
        assert!(matches!(
            p.record(Actor::Arbiter, stage),
            Ok(SetupAdvance::RoundComplete { completed, .. }) if completed == stage
        ));
    }
    p.record(Actor::Buyer, SetupStage::ExchangeRound2)
        .expect("buyer");
    p.record(Actor::Vendor, SetupStage::ExchangeRound2)
        .expect("vendor");
    assert_eq!(
        p.record(Actor::Arbiter, SetupStage::ExchangeRound2),
        Ok(SetupAdvance::SetupComplete)
    );
    assert_eq!(p, SetupProgress::Complete);
    assert_eq!(p.stage(), None);
    assert!(p.waiting_for().is_empty());
    assert_eq!(
        p.record(Actor::Buyer, SetupStage::ExchangeRound2),
        Err(SetupError::AlreadyComplete)
    );
}

#[test]
fn system_is_not_a_participant() {
    let mut p = SetupProgress::new();
    assert_eq!(
        p.record(Actor::System, SetupStage::Prepare),
        Err(SetupError::NotAParticipant {
            actor: Actor::System
        })
    );
    assert_eq!(p, SetupProgress::new());
}

#[test]
fn stages_follow_the_documented_rpc_sequence() {
    let methods: Vec<&str> = SetupStage::ALL.iter().map(|s| s.rpc_method()).collect();
    assert_eq!(
        methods,
        [
            "prepare_multisig",
            "make_multisig",
            "exchange_multisig_keys",
            "exchange_multisig_keys"
        ]
    );
    for stage in SetupStage::ALL {
        assert_eq!(stage.as_str().parse::<SetupStage>(), Ok(stage));
        assert_eq!(
            serde_json::to_string(&stage).expect("ser"),
            format!("\"{stage}\"")
        );
    }
    let json = serde_json::to_string(&SetupProgress::new()).expect("ser");
    assert_eq!(
        json,
        r#"{"status":"in_progress","stage":"prepare","contributed":[]}"#
    );
}

#[test]
fn stored_progress_round_trips_and_corruption_is_refused() {
    let mut p = SetupProgress::new();
    p.record(Actor::Buyer, SetupStage::Prepare).expect("buyer");
    p.record(Actor::Arbiter, SetupStage::Prepare)
        .expect("arbiter");
    let json = serde_json::to_string(&p).expect("ser");
    assert_eq!(serde_json::from_str::<SetupProgress>(&json).expect("de"), p);
    let complete = serde_json::to_string(&SetupProgress::Complete).expect("ser");
    assert_eq!(
        serde_json::from_str::<SetupProgress>(&complete).expect("de"),
        SetupProgress::Complete
    );

    let corrupt = [
        r#"{"status":"in_progress","stage":"make","contributed":["buyer","buyer"]}"#,
        r#"{"status":"in_progress","stage":"make","contributed":["buyer","vendor","arbiter"]}"#,
        r#"{"status":"in_progress","stage":"make","contributed":["system"]}"#,
        r#"{"status":"in_progress","stage":"exchange_round_3","contributed":[]}"#,
    ];
    for text in corrupt {
        assert!(
            serde_json::from_str::<SetupProgress>(text).is_err(),
            "{text}"
        );
    }
}

proptest! {
    /// Any order of contributions (with retries and strays) completes exactly after the 12
    /// distinct (participant, round) contributions, never earlier.
    #[test]
    fn any_interleaving_completes_after_twelve_contributions(
        picks in prop::collection::vec((0usize..4, 0usize..4), 0..200),
    ) {
        let mut p = SetupProgress::new();
        let mut accepted = std::collections::BTreeSet::new();
        for (a, s) in picks {
            let actor = Actor::ALL[a];
            let stage = SetupStage::ALL[s];
            let before = p.clone();
            match p.record(actor, stage) {
                Ok(SetupAdvance::AlreadyRecorded) => prop_assert_eq!(&p, &before),
                Ok(_) => { prop_assert!(accepted.insert((s, a))); }
                Err(_) => prop_assert_eq!(&p, &before),
            }
            prop_assert_eq!(p == SetupProgress::Complete, accepted.len() == 12);
        }
    }
}
