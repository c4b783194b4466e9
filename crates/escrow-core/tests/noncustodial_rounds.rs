//! Non-custodial mode, domain rules: escrow modes and the allowed-modes setting, the round
//! protocol (who submits what next, every refusal, deadlines before and after funding), and the
//! payout signing pairs with the second signer's check.

mod common;

use common::{addr, escrow_address, fresh, payout_address, refund_address};
use escrow_core::{
    Accepted, Actor, AllowedModes, Amount, DisputeStatus, Escrow, EscrowMode, ExpectedPayout,
    FeeLimit, ModeError, NewEscrow, NewOrder, NextStep, PaidOutput, PayloadKind, PayoutKind,
    PayoutPlan, PayoutReason, PayoutRefusal, PayoutRound, PayoutSigning, Round, RoundRefusal,
    RoundTimeout, Rounds, RoundsStatus, SetupStage, SignerRefusal, SigningPair, Submission,
    Timestamp, TxDescription, UnlockTime, payout_options_without, required_signers,
};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000;
const ROUND_SECS: u64 = 600;
const PARTIES: [Actor; 3] = [Actor::Buyer, Actor::Vendor, Actor::Arbiter];

fn at(offset: u64) -> Timestamp {
    Timestamp::from_unix_seconds(T0 + offset)
}

fn timeout() -> RoundTimeout {
    RoundTimeout::from_secs(ROUND_SECS).expect("positive timeout")
}

fn setup() -> Rounds {
    Rounds::setup(at(0), timeout())
}

fn stage(s: SetupStage) -> Round {
    Round::Setup(s)
}

fn payout_round(r: PayoutRound) -> Round {
    Round::Payout(r)
}

/// The submission a round takes, with `address` for the address round.
fn payload(round: Round, address: &escrow_core::Address) -> Submission {
    match round.payload_kind() {
        PayloadKind::MultisigInfo => Submission::MultisigInfo,
        PayloadKind::Address => Submission::Address(address.clone()),
        PayloadKind::MultisigSyncInfo => Submission::MultisigSyncInfo,
        PayloadKind::PartialTxset => Submission::PartialTxset,
        PayloadKind::SignedTxset => Submission::SignedTxset,
    }
}

/// Submits all three setup rounds before the address round, one second apart.
fn through_key_exchange(rounds: &mut Rounds) {
    let mut t = 1;
    for s in [
        SetupStage::Prepare,
        SetupStage::Make,
        SetupStage::ExchangeRound1,
    ] {
        for party in PARTIES {
            accept(rounds, party, stage(s), &Submission::MultisigInfo, t);
            t += 1;
        }
    }
}

/// Submits and asserts it is accepted.
fn accept(rounds: &mut Rounds, party: Actor, round: Round, sub: &Submission, t: u64) -> Accepted {
    rounds
        .submit(party, round, sub, at(t))
        .expect("in-turn submission is accepted")
}

/// Asserts that `submit` refuses with `code` and leaves the rounds unchanged.
fn refused(rounds: &mut Rounds, party: Actor, round: Round, sub: &Submission, t: u64) -> String {
    let before = rounds.clone();
    let err = rounds
        .submit(party, round, sub, at(t))
        .expect_err("refused submission");
    assert_eq!(rounds, &before, "a refusal changes nothing");
    err.code().to_owned()
}

// ----- modes -----

#[test]
fn modes_have_stable_labels() {
    for mode in EscrowMode::ALL {
        assert_eq!(mode.as_str().parse::<EscrowMode>(), Ok(mode));
        assert_eq!(
            serde_json::to_string(&mode).expect("ser"),
            format!("\"{mode}\"")
        );
    }
    assert_eq!(EscrowMode::Hosted.as_str(), "hosted");
    assert_eq!(EscrowMode::NonCustodial.as_str(), "non_custodial");
    assert!("Hosted".parse::<EscrowMode>().is_err());
}

#[test]
fn allowed_modes_parse_from_a_comma_list() {
    let both: AllowedModes = " non_custodial , hosted,hosted"
        .parse()
        .expect("valid list");
    assert_eq!(both, AllowedModes::ALL);
    assert_eq!(both.to_string(), "hosted,non_custodial");
    assert_eq!(
        "hosted".parse::<AllowedModes>(),
        Ok(AllowedModes::HOSTED_ONLY)
    );
    let only_nc: AllowedModes = "non_custodial".parse().expect("valid list");
    assert_eq!(only_nc.modes(), [EscrowMode::NonCustodial]);

    for empty in ["", " ", ",", " , ,"] {
        let err = empty.parse::<AllowedModes>().expect_err("empty list");
        assert_eq!(err, ModeError::Empty, "{empty:?}");
        assert_eq!(err.code(), "empty_mode_list");
    }
    for unknown in ["custodial", "hosted,foo", "HOSTED", "hosted;non_custodial"] {
        let err = unknown.parse::<AllowedModes>().expect_err("unknown label");
        assert!(matches!(err, ModeError::Unknown { .. }), "{unknown:?}");
        assert_eq!(err.code(), "unknown_mode");
        assert!(err.to_string().contains("hosted or non_custodial"));
    }
}

#[test]
fn only_an_allowed_mode_is_admitted() {
    let hosted = AllowedModes::HOSTED_ONLY;
    assert_eq!(hosted.admit(EscrowMode::Hosted), Ok(EscrowMode::Hosted));
    let err = hosted
        .admit(EscrowMode::NonCustodial)
        .expect_err("not offered");
    assert_eq!(err.code(), "mode_not_allowed");
    assert_eq!(
        err.to_string(),
        "escrow mode non_custodial is not offered here; choose one of hosted"
    );
    for mode in EscrowMode::ALL {
        assert_eq!(AllowedModes::ALL.admit(mode), Ok(mode));
    }
}

#[test]
fn escrows_and_orders_carry_their_mode() {
    assert_eq!(fresh().mode(), EscrowMode::Hosted);
    let e = fresh();
    let params = NewEscrow {
        id: e.id(),
        order_id: e.order_id(),
        buyer_id: e.buyer_id(),
        vendor_id: e.vendor_id(),
        terms: *e.terms(),
        payout_address: None,
        refund_address: None,
        created_at: e.created_at(),
    };
    let nc = Escrow::new_in_mode(params, EscrowMode::NonCustodial).expect("valid escrow");
    assert_eq!(nc.mode(), EscrowMode::NonCustodial);
    let json = serde_json::to_string(&nc).expect("ser");
    assert!(json.contains(r#""mode":"non_custodial""#), "{json}");
    assert_eq!(serde_json::from_str::<Escrow>(&json).expect("de"), nc);
    // A record stored before modes existed loads as hosted.
    let hosted_json = serde_json::to_string(&fresh()).expect("ser");
    let old = hosted_json.replace(r#""mode":"hosted","#, "");
    assert_ne!(old, hosted_json);
    let loaded = serde_json::from_str::<Escrow>(&old).expect("old record");
    assert_eq!(loaded.mode(), EscrowMode::Hosted);

    let line = NewOrder::from_stored(
        escrow_core::ListingId::new(1),
        e.buyer_id(),
        e.vendor_id(),
        2,
        Amount::ONE_XMR,
    )
    .expect("valid order");
    assert_eq!(line.escrow_mode(), EscrowMode::Hosted);
    let line = line.with_escrow_mode(EscrowMode::NonCustodial);
    assert_eq!(line.escrow_mode(), EscrowMode::NonCustodial);
    let order = escrow_core::Order::new(escrow_core::OrderId::new(1), line, at(0));
    assert_eq!(order.escrow_mode(), EscrowMode::NonCustodial);
    let json = serde_json::to_string(&order).expect("ser");
    let old = json.replace(r#","escrow_mode":"non_custodial""#, "");
    assert_ne!(old, json);
    let loaded: escrow_core::Order = serde_json::from_str(&old).expect("old order");
    assert_eq!(loaded.escrow_mode(), EscrowMode::Hosted);
}

// ----- setup rounds -----

#[test]
fn setup_happy_path_shows_the_address_only_after_three_equal_reports() {
    let mut rounds = setup();
    assert_eq!(rounds.current_round(), Some(stage(SetupStage::Prepare)));
    assert_eq!(rounds.waiting_for(), PARTIES);
    assert_eq!(
        rounds.expected_from(Actor::Vendor),
        Some((stage(SetupStage::Prepare), PayloadKind::MultisigInfo))
    );
    assert_eq!(
        accept(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &Submission::MultisigInfo,
            1
        ),
        Accepted::Recorded {
            waiting_for: vec![Actor::Buyer, Actor::Arbiter]
        }
    );
    assert_eq!(rounds.expected_from(Actor::Vendor), None);
    accept(
        &mut rounds,
        Actor::Arbiter,
        stage(SetupStage::Prepare),
        &Submission::MultisigInfo,
        2,
    );
    assert_eq!(
        accept(
            &mut rounds,
            Actor::Buyer,
            stage(SetupStage::Prepare),
            &Submission::MultisigInfo,
            3
        ),
        Accepted::RoundComplete {
            completed: stage(SetupStage::Prepare),
            next: stage(SetupStage::Make),
            deadline: at(3 + ROUND_SECS),
        }
    );
    assert_eq!(rounds.deadline(), at(3 + ROUND_SECS));
    for party in PARTIES {
        accept(
            &mut rounds,
            party,
            stage(SetupStage::Make),
            &Submission::MultisigInfo,
            4,
        );
    }
    for party in PARTIES {
        accept(
            &mut rounds,
            party,
            stage(SetupStage::ExchangeRound1),
            &Submission::MultisigInfo,
            5,
        );
    }
    assert_eq!(
        rounds.expected_from(Actor::Buyer),
        Some((stage(SetupStage::ExchangeRound2), PayloadKind::Address))
    );
    let address = escrow_address();
    for party in [Actor::Buyer, Actor::Arbiter] {
        accept(
            &mut rounds,
            party,
            stage(SetupStage::ExchangeRound2),
            &Submission::Address(address.clone()),
            6,
        );
        assert_eq!(rounds.status(), &RoundsStatus::Open);
    }
    assert_eq!(
        accept(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::ExchangeRound2),
            &Submission::Address(address.clone()),
            7
        ),
        Accepted::AddressReady {
            address: address.clone()
        }
    );
    assert_eq!(rounds.status(), &RoundsStatus::AddressReady(address));
    assert_eq!(rounds.current_round(), None);
    assert!(rounds.waiting_for().is_empty());
}

#[test]
fn differing_address_reports_fail_the_setup() {
    for odd_one in PARTIES {
        let mut rounds = setup();
        through_key_exchange(&mut rounds);
        let mut last = None;
        for party in PARTIES {
            let address = if party == odd_one {
                addr('C')
            } else {
                escrow_address()
            };
            last = Some(accept(
                &mut rounds,
                party,
                stage(SetupStage::ExchangeRound2),
                &Submission::Address(address),
                20,
            ));
        }
        assert_eq!(last, Some(Accepted::AddressesDisagree));
        assert_eq!(rounds.status(), &RoundsStatus::AddressesDisagree);
        let code = refused(
            &mut rounds,
            Actor::Buyer,
            stage(SetupStage::ExchangeRound2),
            &Submission::Address(escrow_address()),
            21,
        );
        assert_eq!(code, "rounds_closed");
    }
}

#[test]
fn every_setup_refusal_has_its_code_and_changes_nothing() {
    let mut rounds = setup();
    let info = Submission::MultisigInfo;
    accept(
        &mut rounds,
        Actor::Buyer,
        stage(SetupStage::Prepare),
        &info,
        1,
    );

    // The system is no party.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::System,
            stage(SetupStage::Prepare),
            &info,
            2
        ),
        "unknown_party"
    );
    // The buyer again in the same round.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Buyer,
            stage(SetupStage::Prepare),
            &info,
            2
        ),
        "repeated"
    );
    // The buyer ahead of the others.
    assert_eq!(
        refused(&mut rounds, Actor::Buyer, stage(SetupStage::Make), &info, 2),
        "out_of_turn"
    );
    // A payout round during setup.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            payout_round(PayoutRound::ExportSync),
            &Submission::MultisigSyncInfo,
            2
        ),
        "wrong_round"
    );
    // Malformed: an address in a multisig_info round, a txset.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &Submission::Address(escrow_address()),
            2
        ),
        "wrong_payload"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &Submission::PartialTxset,
            2
        ),
        "wrong_payload"
    );

    for party in [Actor::Vendor, Actor::Arbiter] {
        accept(&mut rounds, party, stage(SetupStage::Prepare), &info, 2);
    }
    // A past round.
    let err = rounds
        .clone()
        .submit(Actor::Vendor, stage(SetupStage::Prepare), &info, at(3))
        .expect_err("past round");
    assert_eq!(
        err,
        RoundRefusal::WrongRound {
            expected: stage(SetupStage::Make),
            found: stage(SetupStage::Prepare)
        }
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &info,
            3
        ),
        "wrong_round"
    );
    // A multisig_info in the address round is malformed too.
    let mut late = setup();
    through_key_exchange(&mut late);
    assert_eq!(
        refused(
            &mut late,
            Actor::Buyer,
            stage(SetupStage::ExchangeRound2),
            &info,
            30
        ),
        "wrong_payload"
    );
}

#[test]
fn refusal_labels_are_stable() {
    let r = stage(SetupStage::Make);
    let cases = [
        (RoundRefusal::Closed { status: "open" }, "rounds_closed"),
        (
            RoundRefusal::DeadlinePassed { deadline: at(0) },
            "deadline_passed",
        ),
        (
            RoundRefusal::UnknownParty {
                party: Actor::System,
            },
            "unknown_party",
        ),
        (
            RoundRefusal::WrongRound {
                expected: r,
                found: r,
            },
            "wrong_round",
        ),
        (
            RoundRefusal::OutOfTurn {
                party: Actor::Buyer,
                round: r,
            },
            "out_of_turn",
        ),
        (
            RoundRefusal::Repeated {
                party: Actor::Buyer,
                round: r,
            },
            "repeated",
        ),
        (
            RoundRefusal::WrongPayload {
                round: r,
                expected: PayloadKind::MultisigInfo,
                found: PayloadKind::Address,
            },
            "wrong_payload",
        ),
    ];
    for (refusal, code) in cases {
        assert_eq!(refusal.code(), code);
    }
    for round in Round::ALL {
        assert_eq!(round.as_str().parse::<Round>(), Ok(round));
    }
    for kind in PayloadKind::ALL {
        assert_eq!(kind.as_str().parse::<PayloadKind>(), Ok(kind));
    }
    assert!(RoundTimeout::from_secs(0).is_err());
}

#[test]
fn a_setup_round_past_its_deadline_times_out_with_cancel() {
    let mut rounds = setup();
    accept(
        &mut rounds,
        Actor::Buyer,
        stage(SetupStage::Prepare),
        &Submission::MultisigInfo,
        1,
    );
    accept(
        &mut rounds,
        Actor::Arbiter,
        stage(SetupStage::Prepare),
        &Submission::MultisigInfo,
        2,
    );
    assert_eq!(rounds.check_deadline(at(ROUND_SECS - 1)), None);
    assert_eq!(rounds.status(), &RoundsStatus::Open);
    // At the deadline a submission is refused, and the round times out.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &Submission::MultisigInfo,
            ROUND_SECS
        ),
        "deadline_passed"
    );
    let timed_out = rounds.check_deadline(at(ROUND_SECS)).expect("timed out");
    assert_eq!(timed_out.round, stage(SetupStage::Prepare));
    assert_eq!(timed_out.missing, [Actor::Vendor]);
    assert_eq!(timed_out.deadline, at(ROUND_SECS));
    assert_eq!(timed_out.next_step, NextStep::Cancel);
    assert_eq!(rounds.status(), &RoundsStatus::TimedOut(timed_out));
    assert_eq!(rounds.check_deadline(at(ROUND_SECS + 1)), None);
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Prepare),
            &Submission::MultisigInfo,
            1
        ),
        "rounds_closed"
    );
}

#[test]
fn each_round_gets_its_own_deadline() {
    let mut rounds = setup();
    for party in PARTIES {
        accept(
            &mut rounds,
            party,
            stage(SetupStage::Prepare),
            &Submission::MultisigInfo,
            ROUND_SECS - 1,
        );
    }
    // The make round started at ROUND_SECS - 1: still open well past the first deadline.
    assert_eq!(rounds.check_deadline(at(ROUND_SECS + 100)), None);
    accept(
        &mut rounds,
        Actor::Vendor,
        stage(SetupStage::Make),
        &Submission::MultisigInfo,
        ROUND_SECS + 100,
    );
    let timed_out = rounds
        .check_deadline(at(2 * ROUND_SECS - 1))
        .expect("make timed out");
    assert_eq!(timed_out.missing, [Actor::Buyer, Actor::Arbiter]);
    assert_eq!(timed_out.next_step, NextStep::Cancel);
}

// ----- payout signing -----

fn signing(
    kind: PayoutKind,
    disputed: DisputeStatus,
    first: Actor,
    second: Actor,
) -> PayoutSigning {
    PayoutSigning::new(kind, disputed, first, second).expect("allowed pair")
}

/// Runs the three payout rounds for `s`; returns the last answer.
fn pay_out(s: PayoutSigning) -> (Rounds, Accepted) {
    let mut rounds = Rounds::payout(s, at(0), timeout());
    let pair = s.pair();
    let mut sync_parties = vec![pair.first, pair.second];
    sync_parties.sort();
    assert_eq!(rounds.waiting_for(), sync_parties);
    for party in [pair.second, pair.first] {
        accept(
            &mut rounds,
            party,
            payout_round(PayoutRound::ExportSync),
            &Submission::MultisigSyncInfo,
            1,
        );
    }
    assert_eq!(
        rounds.expected_from(pair.first),
        Some((
            payout_round(PayoutRound::BuildTxset),
            PayloadKind::PartialTxset
        ))
    );
    assert_eq!(rounds.expected_from(pair.second), None);
    accept(
        &mut rounds,
        pair.first,
        payout_round(PayoutRound::BuildTxset),
        &Submission::PartialTxset,
        2,
    );
    let last = rounds
        .submit(
            pair.second,
            payout_round(PayoutRound::SignTxset),
            &Submission::SignedTxset,
            at(3),
        )
        .expect("signed txset");
    (rounds, last)
}

#[test]
fn the_signing_pairs_follow_the_payout_rules() {
    let pairs = |kind, disputed| -> Vec<(Actor, Actor)> {
        required_signers(kind, disputed)
            .iter()
            .map(|p| (p.first, p.second))
            .collect()
    };
    use Actor::{Arbiter as A, Buyer as B, Vendor as V};
    assert_eq!(
        pairs(PayoutKind::Release, DisputeStatus::Undisputed),
        [(V, B), (B, V)]
    );
    assert_eq!(
        pairs(PayoutKind::Refund, DisputeStatus::Undisputed),
        [(V, B), (B, V)]
    );
    assert_eq!(
        pairs(PayoutKind::Release, DisputeStatus::Disputed),
        [(A, V), (V, A)]
    );
    assert_eq!(
        pairs(PayoutKind::Refund, DisputeStatus::Disputed),
        [(A, B), (B, A)]
    );

    // Hosted mode's fixed plans are among the allowed pairs.
    for (kind, reason) in [
        (PayoutKind::Release, PayoutReason::BuyerConfirmed),
        (PayoutKind::Release, PayoutReason::ArbiterDecision),
        (PayoutKind::Refund, PayoutReason::ArbiterDecision),
        (PayoutKind::Refund, PayoutReason::VendorRefunded),
    ] {
        let (first, second) = PayoutPlan::signers(kind, reason);
        assert!(
            required_signers(kind, DisputeStatus::of(reason))
                .contains(&SigningPair { first, second })
        );
    }
}

#[test]
fn signer_orders_outside_the_rules_are_refused() {
    let cases = [
        (
            PayoutKind::Release,
            DisputeStatus::Undisputed,
            Actor::Arbiter,
            Actor::Vendor,
            "pair_not_allowed",
        ),
        (
            PayoutKind::Release,
            DisputeStatus::Disputed,
            Actor::Arbiter,
            Actor::Buyer,
            "pair_not_allowed",
        ),
        (
            PayoutKind::Refund,
            DisputeStatus::Disputed,
            Actor::Vendor,
            Actor::Arbiter,
            "pair_not_allowed",
        ),
        (
            PayoutKind::Refund,
            DisputeStatus::Undisputed,
            Actor::Buyer,
            Actor::Arbiter,
            "pair_not_allowed",
        ),
        (
            PayoutKind::Release,
            DisputeStatus::Undisputed,
            Actor::Buyer,
            Actor::Buyer,
            "same_signer",
        ),
        (
            PayoutKind::Refund,
            DisputeStatus::Disputed,
            Actor::System,
            Actor::Buyer,
            "not_a_signer",
        ),
        (
            PayoutKind::Refund,
            DisputeStatus::Disputed,
            Actor::Buyer,
            Actor::System,
            "not_a_signer",
        ),
    ];
    for (kind, disputed, first, second, code) in cases {
        let err = PayoutSigning::new(kind, disputed, first, second).expect_err("refused order");
        assert_eq!(err.code(), code, "{kind:?} {disputed:?} {first} {second}");
    }
    let err = PayoutSigning::new(
        PayoutKind::Release,
        DisputeStatus::Disputed,
        Actor::Arbiter,
        Actor::Buyer,
    )
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "arbiter then buyer may not sign a disputed release payout; see the allowed signers"
    );
}

#[test]
fn every_payout_happy_path_ends_fully_signed() {
    for kind in [PayoutKind::Release, PayoutKind::Refund] {
        for disputed in DisputeStatus::ALL {
            for pair in required_signers(kind, disputed) {
                let s = signing(kind, disputed, pair.first, pair.second);
                let (rounds, last) = pay_out(s);
                assert_eq!(last, Accepted::FullySigned, "{s:?}");
                assert_eq!(rounds.status(), &RoundsStatus::FullySigned);
                assert_eq!(rounds.current_round(), None);
            }
        }
    }
}

#[test]
fn every_payout_refusal_has_its_code_and_changes_nothing() {
    // Undisputed release: vendor builds, buyer signs second.
    let s = signing(
        PayoutKind::Release,
        DisputeStatus::Undisputed,
        Actor::Vendor,
        Actor::Buyer,
    );
    let mut rounds = Rounds::payout(s, at(0), timeout());
    let sync = Submission::MultisigSyncInfo;
    let export = payout_round(PayoutRound::ExportSync);
    let build = payout_round(PayoutRound::BuildTxset);
    let sign = payout_round(PayoutRound::SignTxset);
    assert_eq!(
        refused(&mut rounds, Actor::Arbiter, export, &sync, 1),
        "unknown_party"
    );
    assert_eq!(
        refused(&mut rounds, Actor::System, export, &sync, 1),
        "unknown_party"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            build,
            &Submission::PartialTxset,
            1
        ),
        "out_of_turn"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            export,
            &Submission::MultisigInfo,
            1
        ),
        "wrong_payload"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            stage(SetupStage::Make),
            &Submission::MultisigInfo,
            1
        ),
        "wrong_round"
    );
    accept(&mut rounds, Actor::Vendor, export, &sync, 1);
    assert_eq!(
        refused(&mut rounds, Actor::Vendor, export, &sync, 2),
        "repeated"
    );
    accept(&mut rounds, Actor::Buyer, export, &sync, 2);
    // Now the vendor builds: the buyer may not, and may not sign before it.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Buyer,
            build,
            &Submission::PartialTxset,
            3
        ),
        "out_of_turn"
    );
    assert_eq!(
        refused(&mut rounds, Actor::Buyer, sign, &Submission::SignedTxset, 3),
        "out_of_turn"
    );
    assert_eq!(
        refused(&mut rounds, Actor::Buyer, export, &sync, 3),
        "wrong_round"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            build,
            &Submission::SignedTxset,
            3
        ),
        "wrong_payload"
    );
    accept(
        &mut rounds,
        Actor::Vendor,
        build,
        &Submission::PartialTxset,
        3,
    );
    // The first signer cannot also sign second.
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            sign,
            &Submission::SignedTxset,
            4
        ),
        "out_of_turn"
    );
    assert_eq!(
        refused(
            &mut rounds,
            Actor::Vendor,
            build,
            &Submission::PartialTxset,
            4
        ),
        "wrong_round"
    );
    accept(&mut rounds, Actor::Buyer, sign, &Submission::SignedTxset, 4);
    assert_eq!(
        refused(&mut rounds, Actor::Buyer, sign, &Submission::SignedTxset, 5),
        "rounds_closed"
    );
}

fn expected_release() -> ExpectedPayout {
    ExpectedPayout {
        destination: payout_address(),
        escrow_address: escrow_address(),
        unlocked_balance: Amount::from_atomic(1_000_000),
        fee_limit: FeeLimit::new(Amount::from_atomic(10_000), 100).expect("limit"),
    }
}

fn sweep_to(destination: escrow_core::Address) -> TxDescription {
    TxDescription {
        amount_in: Amount::from_atomic(1_000_000),
        amount_out: Amount::from_atomic(995_000),
        recipients: vec![PaidOutput {
            address: destination,
            amount: Amount::from_atomic(995_000),
        }],
        change_amount: Amount::ZERO,
        change_address: None,
        fee: Amount::from_atomic(5_000),
        unlock_time: UnlockTime::None,
    }
}

#[test]
fn the_second_signer_checks_the_set_with_the_payout_rules() {
    let s = signing(
        PayoutKind::Release,
        DisputeStatus::Disputed,
        Actor::Vendor,
        Actor::Arbiter,
    );
    let good = [sweep_to(payout_address())];
    let checked = s
        .check_second_signature(Actor::Arbiter, &good, &expected_release())
        .expect("a whole sweep to the vendor passes");
    assert_eq!(checked.amount, Amount::from_atomic(995_000));
    assert_eq!(checked.fee, Amount::from_atomic(5_000));

    let err = s
        .check_second_signature(Actor::Vendor, &good, &expected_release())
        .expect_err("the first signer does not check");
    assert_eq!(err.code(), "not_second_signer");

    let elsewhere = [sweep_to(refund_address())];
    let err = s
        .check_second_signature(Actor::Arbiter, &elsewhere, &expected_release())
        .expect_err("wrong destination");
    assert!(matches!(
        err,
        SignerRefusal::Payout(PayoutRefusal::WrongDestination { .. })
    ));
    assert_eq!(err.code(), "wrong_destination");

    let mut locked = sweep_to(payout_address());
    locked.unlock_time = UnlockTime::from_raw(10);
    let err = s
        .check_second_signature(Actor::Arbiter, &[locked], &expected_release())
        .expect_err("locked");
    assert_eq!(err.code(), "unlock_time");

    let mut greedy = sweep_to(payout_address());
    greedy.fee = Amount::from_atomic(50_000);
    greedy.amount_out = Amount::from_atomic(950_000);
    greedy.recipients[0].amount = Amount::from_atomic(950_000);
    let err = s
        .check_second_signature(Actor::Arbiter, &[greedy], &expected_release())
        .expect_err("fee above the bound");
    assert_eq!(err.code(), "fee_too_high");
}

#[test]
fn a_payout_round_past_its_deadline_leaves_the_pairs_without_the_missing_party() {
    // Buyer confirmed receipt, vendor built, the buyer never signs.
    let s = signing(
        PayoutKind::Release,
        DisputeStatus::Undisputed,
        Actor::Vendor,
        Actor::Buyer,
    );
    let mut rounds = Rounds::payout(s, at(0), timeout());
    for party in [Actor::Buyer, Actor::Vendor] {
        accept(
            &mut rounds,
            party,
            payout_round(PayoutRound::ExportSync),
            &Submission::MultisigSyncInfo,
            1,
        );
    }
    accept(
        &mut rounds,
        Actor::Vendor,
        payout_round(PayoutRound::BuildTxset),
        &Submission::PartialTxset,
        2,
    );
    assert_eq!(rounds.check_deadline(at(2 + ROUND_SECS - 1)), None);
    let timed_out = rounds
        .check_deadline(at(2 + ROUND_SECS))
        .expect("timed out");
    assert_eq!(timed_out.round, payout_round(PayoutRound::SignTxset));
    assert_eq!(timed_out.missing, [Actor::Buyer]);
    let NextStep::PayOutWith(options) = &timed_out.next_step else {
        panic!(
            "after funding the next step is a payout, got {:?}",
            timed_out.next_step
        );
    };
    assert_eq!(
        options,
        &[
            signing(
                PayoutKind::Release,
                DisputeStatus::Disputed,
                Actor::Arbiter,
                Actor::Vendor
            ),
            signing(
                PayoutKind::Release,
                DisputeStatus::Disputed,
                Actor::Vendor,
                Actor::Arbiter
            ),
        ]
    );

    // Both signers silent in the sync round of an arbiter refund: nobody is left to pair.
    let s = signing(
        PayoutKind::Refund,
        DisputeStatus::Disputed,
        Actor::Arbiter,
        Actor::Buyer,
    );
    let mut rounds = Rounds::payout(s, at(0), timeout());
    let timed_out = rounds.check_deadline(at(ROUND_SECS)).expect("timed out");
    assert_eq!(timed_out.missing, [Actor::Buyer, Actor::Arbiter]);
    assert_eq!(timed_out.next_step, NextStep::PayOutWith(Vec::new()));

    // A vendor who stops answering leaves the arbiter and the buyer: a disputed refund.
    let options = payout_options_without(&[Actor::Vendor]);
    assert!(!options.is_empty());
    assert!(options.iter().all(|o| o.kind() == PayoutKind::Refund
        && o.disputed() == DisputeStatus::Disputed
        && !o.pair().includes(Actor::Vendor)));
}

// ----- properties -----

fn any_round() -> impl Strategy<Value = Round> {
    (0usize..Round::ALL.len()).prop_map(|i| Round::ALL[i])
}

fn any_submission() -> impl Strategy<Value = Submission> {
    prop_oneof![
        Just(Submission::MultisigInfo),
        prop::sample::select(vec!['A', 'C']).prop_map(|c| Submission::Address(addr(c))),
        Just(Submission::MultisigSyncInfo),
        Just(Submission::PartialTxset),
        Just(Submission::SignedTxset),
    ]
}

proptest! {
    /// No sequence of submissions (in or out of turn, any payload, any time) reaches
    /// `AddressReady` without three accepted, identical address reports, one per party; and a
    /// refused submission never changes anything.
    #[test]
    fn address_ready_needs_three_identical_reports(
        steps in prop::collection::vec(
            (0usize..4, any::<bool>(), any_round(), any_submission(), 0u64..(ROUND_SECS / 8)),
            0..160,
        ),
        letters in prop::collection::vec(prop::sample::select(vec!['A', 'C']), 4),
    ) {
        let mut rounds = setup();
        let mut now = 0;
        let mut reports: Vec<(Actor, escrow_core::Address)> = Vec::new();
        for (who, in_turn, round, submission, wait) in steps {
            let party = Actor::ALL[who];
            now += wait;
            // Half the steps submit what the protocol expects from the party (the address one
            // of two, chosen per party), so complete setups are common; the rest are arbitrary.
            let (round, submission) = match rounds.expected_from(party).filter(|_| in_turn) {
                Some((r, _)) => (r, payload(r, &addr(letters[who]))),
                None => (round, submission),
            };
            let before = rounds.clone();
            match rounds.submit(party, round, &submission, at(now)) {
                Ok(_) => {
                    if let Submission::Address(a) = &submission {
                        reports.push((party, a.clone()));
                    }
                }
                Err(_) => prop_assert_eq!(&rounds, &before),
            }
            if let RoundsStatus::AddressReady(address) = rounds.status() {
                prop_assert_eq!(reports.len(), 3);
                for p in PARTIES {
                    prop_assert!(reports.contains(&(p, address.clone())));
                }
            }
            if reports.len() == 3 && reports.iter().all(|(_, a)| a == &reports[0].1) {
                prop_assert!(matches!(rounds.status(), RoundsStatus::AddressReady(_)));
            }
            rounds.check_deadline(at(now));
        }
    }

    /// A complete, in-turn setup in any submission order reaches `AddressReady` exactly when all
    /// three report the same address.
    #[test]
    fn in_turn_setups_agree_exactly_when_the_reports_do(
        order in Just(PARTIES.to_vec()).prop_shuffle(),
        letters in prop::collection::vec(prop::sample::select(vec!['A', 'C']), 3),
    ) {
        let mut rounds = setup();
        let mut last = None;
        for s in SetupStage::ALL {
            for (i, party) in order.iter().enumerate() {
                let sub = payload(stage(s), &addr(letters[i]));
                last = Some(rounds.submit(*party, stage(s), &sub, at(1)).expect("in turn"));
            }
        }
        let agree = letters.iter().all(|l| *l == letters[0]);
        prop_assert_eq!(
            matches!(last, Some(Accepted::AddressReady { .. })),
            agree
        );
        prop_assert_eq!(matches!(rounds.status(), RoundsStatus::AddressReady(_)), agree);
    }
}
