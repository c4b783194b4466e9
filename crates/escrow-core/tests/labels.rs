//! Stable labels (SQL values, metric labels, JSON) and serde round trips of whole escrows.

mod common;

use common::*;
use escrow_core::{
    Actor, DisputeOutcome, Escrow, EscrowStateKind, EventKind, OrderStatus, PayoutReason, Role,
};

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        && !s.starts_with('_')
        && !s.ends_with('_')
}

#[test]
fn state_labels_are_stable_snake_case_and_round_trip() {
    let expected = [
        "awaiting_setup",
        "setup_failed",
        "awaiting_funding",
        "funded",
        "disputed",
        "releasing",
        "refunding",
        "released",
        "refunded",
        "expired",
        "cancelled",
    ];
    let labels: Vec<&str> = EscrowStateKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(labels, expected);
    for kind in EscrowStateKind::ALL {
        assert!(is_snake_case(kind.as_str()));
        assert_eq!(kind.as_str().parse::<EscrowStateKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
        assert_eq!(
            serde_json::to_string(&kind).expect("ser"),
            format!("\"{}\"", kind.as_str())
        );
    }
    let err = "Funded"
        .parse::<EscrowStateKind>()
        .expect_err("case matters");
    assert!(err.to_string().contains("escrow state"), "{err}");
}

#[test]
fn other_labels_round_trip() {
    for kind in EventKind::ALL {
        assert!(is_snake_case(kind.as_str()));
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
    }
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        assert_eq!(
            serde_json::to_string(&role).expect("ser"),
            format!("\"{role}\"")
        );
    }
    assert!(Role::Buyer.is_self_registrable());
    assert!(Role::Vendor.is_self_registrable());
    assert!(!Role::Arbiter.is_self_registrable());
    for actor in Actor::ALL {
        assert_eq!(actor.as_str().parse::<Actor>(), Ok(actor));
    }
    for status in OrderStatus::ALL {
        assert!(is_snake_case(status.as_str()));
    }
    assert_eq!(
        "refund".parse::<DisputeOutcome>(),
        Ok(DisputeOutcome::Refund)
    );
    assert_eq!(
        serde_json::from_str::<DisputeOutcome>("\"release\"").expect("de"),
        DisputeOutcome::Release
    );
    assert!("admin".parse::<Role>().is_err());
}

#[test]
fn payout_reason_labels_are_stable_and_match_serde() {
    let labels: Vec<&str> = PayoutReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        ["buyer_confirmed", "arbiter_decision", "vendor_refunded"]
    );
    for reason in PayoutReason::ALL {
        assert!(is_snake_case(reason.as_str()));
        assert_eq!(reason.as_str().parse::<PayoutReason>(), Ok(reason));
        assert_eq!(reason.to_string(), reason.as_str());
        assert_eq!(
            serde_json::to_string(&reason).expect("ser"),
            format!("\"{}\"", reason.as_str())
        );
    }
    assert!("VendorRefunded".parse::<PayoutReason>().is_err());
    assert_eq!(EventKind::RefundAgreed.as_str(), "refund_agreed");
}

#[test]
fn serialized_state_tag_matches_the_label() {
    for name in FIXTURES {
        let e = by_name(name);
        let json = serde_json::to_value(&e).expect("ser");
        assert_eq!(json["state"], e.state().as_str(), "{name}");
    }
}

#[test]
fn every_escrow_round_trips_through_json() {
    for name in FIXTURES {
        let e = by_name(name);
        let text = serde_json::to_string(&e).expect("ser");
        let back: Escrow = serde_json::from_str(&text).expect("de");
        assert_eq!(back, e, "{name}");
    }
}

#[test]
fn inconsistent_stored_escrows_are_refused() {
    // A "funded" record whose funding was zeroed out.
    let mut json = serde_json::to_value(funded()).expect("ser");
    json["funding"]["confirmed"] = 0.into();
    json["funding"]["received"] = 0.into();
    let err = serde_json::from_value::<Escrow>(json).expect_err("inconsistent");
    assert!(
        err.to_string().contains("funded has the amount confirmed"),
        "{err}"
    );

    // A "released" record paying more than was received.
    let mut json = serde_json::to_value(released()).expect("ser");
    json["payout"]["transaction"]["amount"] = 2_000_000_000_000u64.into();
    let err = serde_json::from_value::<Escrow>(json).expect_err("overpaid");
    assert!(
        err.to_string().contains("does not exceed the confirmed"),
        "{err}"
    );

    // An unknown state label.
    let mut json = serde_json::to_value(funded()).expect("ser");
    json["state"] = "paid_out".into();
    assert!(serde_json::from_value::<Escrow>(json).is_err());
}

#[test]
fn events_round_trip_with_their_label_as_tag() {
    for name in SAMPLE_EVENTS {
        let (event, _) = sample_event(name);
        let json = serde_json::to_value(&event).expect("ser");
        assert_eq!(json["event"], event.kind().as_str(), "{name}");
        let back: escrow_core::EscrowEvent = serde_json::from_value(json).expect("de");
        assert_eq!(back, event, "{name}");
    }
    // A dispute reason is validated on the way in, too.
    let blank = r#"{"event":"dispute_opened","reason":"   "}"#;
    assert!(serde_json::from_str::<escrow_core::EscrowEvent>(blank).is_err());
}

#[test]
fn stored_terms_are_validated() {
    use escrow_core::EscrowTerms;
    let ok = r#"{"amount":1,"required_confirmations":10,"funding_window_secs":60}"#;
    assert!(serde_json::from_str::<EscrowTerms>(ok).is_ok());
    let zero = r#"{"amount":1,"required_confirmations":0,"funding_window_secs":60}"#;
    let err = serde_json::from_str::<EscrowTerms>(zero).expect_err("zero confirmations");
    assert!(err.to_string().contains("confirmations"), "{err}");
}
