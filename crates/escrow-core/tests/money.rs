//! Amount parsing/formatting edge cases, checked arithmetic, serde, and the escrow cap.

use escrow_core::{Amount, CapExceeded, EscrowCap, PICONERO_PER_XMR, ParseAmountError};
use proptest::prelude::*;

#[test]
fn parses_exact_decimal_xmr() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("1", PICONERO_PER_XMR),
        ("1.5", 1_500_000_000_000),
        ("0.5", 500_000_000_000),
        ("0.000000000001", 1),
        ("1.000000000000", PICONERO_PER_XMR),
        ("10", 10 * PICONERO_PER_XMR),
        ("007.25", 7_250_000_000_000),
        ("18446744.073709551615", u64::MAX),
        ("123.456789012345", 123_456_789_012_345),
    ];
    for &(text, atomic) in cases {
        assert_eq!(
            text.parse::<Amount>(),
            Ok(Amount::from_atomic(atomic)),
            "{text}"
        );
    }
}

#[test]
fn refuses_malformed_amounts() {
    let cases: &[(&str, ParseAmountError)] = &[
        ("", ParseAmountError::Empty),
        ("-1", ParseAmountError::Negative),
        ("-0.5", ParseAmountError::Negative),
        ("+1", ParseAmountError::InvalidCharacter { found: '+' }),
        (".5", ParseAmountError::MissingWholePart),
        ("1.", ParseAmountError::MissingFraction),
        ("1.2.3", ParseAmountError::InvalidCharacter { found: '.' }),
        ("1,5", ParseAmountError::InvalidCharacter { found: ',' }),
        (" 1", ParseAmountError::InvalidCharacter { found: ' ' }),
        ("1 ", ParseAmountError::InvalidCharacter { found: ' ' }),
        ("1e3", ParseAmountError::InvalidCharacter { found: 'e' }),
        ("NaN", ParseAmountError::InvalidCharacter { found: 'N' }),
        ("١", ParseAmountError::InvalidCharacter { found: '١' }),
        (
            "0.0000000000001",
            ParseAmountError::TooManyDecimals { max: 12, found: 13 },
        ),
        ("18446744.073709551616", ParseAmountError::Overflow),
        ("18446745", ParseAmountError::Overflow),
        ("99999999999999999999999", ParseAmountError::Overflow),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<Amount>().as_ref(), Err(expected), "{text:?}");
    }
}

#[test]
fn formats_without_trailing_zeros() {
    let cases: &[(u64, &str)] = &[
        (0, "0"),
        (1, "0.000000000001"),
        (PICONERO_PER_XMR, "1"),
        (1_500_000_000_000, "1.5"),
        (10 * PICONERO_PER_XMR, "10"),
        (1_000_000_000_010, "1.00000000001"),
        (u64::MAX, "18446744.073709551615"),
    ];
    for &(atomic, text) in cases {
        assert_eq!(Amount::from_atomic(atomic).to_string(), text);
    }
}

#[test]
fn arithmetic_is_checked() {
    assert_eq!(Amount::MAX.checked_add(Amount::ONE_PICONERO), None);
    assert_eq!(Amount::ZERO.checked_sub(Amount::ONE_PICONERO), None);
    assert_eq!(Amount::MAX.checked_mul(2), None);
    assert_eq!(Amount::ONE_XMR.checked_mul(3), Amount::from_xmr(3));
    assert_eq!(Amount::from_xmr(18_446_745), None);
    assert_eq!(Amount::ZERO.saturating_sub(Amount::ONE_XMR), Amount::ZERO);
    assert_eq!(
        Amount::checked_sum([Amount::MAX, Amount::ONE_PICONERO]),
        None
    );
    assert_eq!(Amount::checked_sum([]), Some(Amount::ZERO));
}

#[test]
fn serde_is_the_bare_piconero_integer() {
    let json = serde_json::to_string(&Amount::from_atomic(1_500_000_000_000)).expect("ser");
    assert_eq!(json, "1500000000000");
    let back: Amount = serde_json::from_str("1500000000000").expect("de");
    assert_eq!(back, Amount::from_atomic(1_500_000_000_000));
    assert!(serde_json::from_str::<Amount>("-1").is_err());
    assert!(serde_json::from_str::<Amount>("1.5").is_err());
    assert!(serde_json::from_str::<Amount>("\"1\"").is_err());
    assert!(serde_json::from_str::<Amount>("18446744073709551616").is_err());
}

#[test]
fn escrow_caps_per_environment() {
    assert_eq!(
        EscrowCap::DEVELOPMENT.max(),
        Amount::from_xmr(10).expect("fits")
    );
    assert_eq!(EscrowCap::STAGING.max(), Amount::from_xmr(1).expect("fits"));
    assert_eq!(
        EscrowCap::PRODUCTION.max(),
        Amount::from_xmr(5).expect("fits")
    );

    let cap = EscrowCap::PRODUCTION;
    assert_eq!(cap.check(cap.max()), Ok(()), "the cap itself is allowed");
    let over = cap.max().checked_add(Amount::ONE_PICONERO).expect("fits");
    let err = cap.check(over).expect_err("one piconero over");
    assert_eq!(
        err,
        CapExceeded {
            total: over,
            cap: cap.max()
        }
    );
    assert!(err.to_string().contains("5 XMR"), "{err}");
}

proptest! {
    #[test]
    fn display_and_parse_round_trip(atomic in any::<u64>()) {
        let a = Amount::from_atomic(atomic);
        prop_assert_eq!(a.to_string().parse::<Amount>(), Ok(a));
    }

    #[test]
    fn parse_matches_integer_arithmetic(whole in 0u64..18_446_744, frac in 0u64..PICONERO_PER_XMR) {
        let text = format!("{whole}.{frac:012}");
        let expected = whole * PICONERO_PER_XMR + frac;
        prop_assert_eq!(text.parse::<Amount>(), Ok(Amount::from_atomic(expected)));
    }

    #[test]
    fn checked_ops_agree_with_u128(a in any::<u64>(), b in any::<u64>()) {
        let (x, y) = (Amount::from_atomic(a), Amount::from_atomic(b));
        let sum = u128::from(a) + u128::from(b);
        prop_assert_eq!(x.checked_add(y).map(Amount::as_atomic).map(u128::from), (sum <= u128::from(u64::MAX)).then_some(sum));
        prop_assert_eq!(x.checked_sub(y).is_some(), a >= b);
        let product = u128::from(a) * u128::from(b);
        prop_assert_eq!(x.checked_mul(b).map(Amount::as_atomic).map(u128::from), (product <= u128::from(u64::MAX)).then_some(product));
    }
}
