//! Amount parsing/formatting edge cases, checked arithmetic and serde.

use monero_types::{Amount, PICONERO_PER_XMR, ParseAmountError};
use proptest::prelude::*;

fn parse(s: &str) -> Result<Amount, ParseAmountError> {
    s.parse()
}

#[test]
fn parses_exact_decimal_xmr() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("1", PICONERO_PER_XMR),
        ("1.5", 1_500_000_000_000),
        ("0.5", 500_000_000_000),
        ("0.1", 100_000_000_000),
        ("0.000000000001", 1),
        ("1.000000000000", PICONERO_PER_XMR),
        ("10", 10 * PICONERO_PER_XMR),
        ("007.25", 7_250_000_000_000),
        ("007.250", 7_250_000_000_000),
        ("18446744.073709551615", u64::MAX),
        ("123.456789012345", 123_456_789_012_345),
    ];
    for &(text, atomic) in cases {
        assert_eq!(parse(text), Ok(Amount::from_atomic(atomic)), "{text}");
    }
    assert_eq!(parse("0").unwrap(), Amount::ZERO);
    assert_eq!(parse("18446744.073709551615").unwrap(), Amount::MAX);
}

#[test]
fn refuses_malformed_amounts() {
    let invalid = |input: &str, found| ParseAmountError::InvalidCharacter {
        input: input.into(),
        found,
    };
    let cases: &[(&str, ParseAmountError)] = &[
        ("", ParseAmountError::Empty),
        ("-1", ParseAmountError::Negative { input: "-1".into() }),
        (
            "-0.5",
            ParseAmountError::Negative {
                input: "-0.5".into(),
            },
        ),
        ("+1", invalid("+1", '+')),
        (
            ".5",
            ParseAmountError::MissingWholePart { input: ".5".into() },
        ),
        (
            "1.",
            ParseAmountError::MissingFraction { input: "1.".into() },
        ),
        ("1.2.3", invalid("1.2.3", '.')),
        ("1,5", invalid("1,5", ',')),
        (" 1", invalid(" 1", ' ')),
        ("1 ", invalid("1 ", ' ')),
        ("1e3", invalid("1e3", 'e')),
        ("abc", invalid("abc", 'a')),
        ("NaN", invalid("NaN", 'N')),
        ("١", invalid("١", '١')),
        (
            "0.0000000000001",
            ParseAmountError::TooManyDecimals {
                input: "0.0000000000001".into(),
                max: 12,
                found: 13,
            },
        ),
        (
            "1.0000000000001",
            ParseAmountError::TooManyDecimals {
                input: "1.0000000000001".into(),
                max: 12,
                found: 13,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).as_ref(), Err(expected), "{text:?}");
    }
    for text in [
        "18446744.073709551616",
        "18446745",
        "99999999999999999999999",
        "99999999999999999999999999",
    ] {
        let expected = ParseAmountError::Overflow { input: text.into() };
        assert_eq!(parse(text), Err(expected), "{text:?}");
    }
}

#[test]
fn error_messages_name_the_input() {
    let err = parse("abc").unwrap_err().to_string();
    assert!(err.contains("\"abc\""), "{err}");
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
    assert_eq!(Amount::ZERO.to_string(), "0");
    assert_eq!(Amount::MAX.to_string(), "18446744.073709551615");
}

#[test]
fn arithmetic_is_checked() {
    let one = Amount::from_xmr(1).unwrap();
    assert_eq!(one, Amount::ONE_XMR);
    assert_eq!(one.checked_add(one), Amount::from_xmr(2));
    assert_eq!(one.checked_sub(one), Some(Amount::ZERO));
    assert_eq!(Amount::MAX.checked_add(Amount::ONE_PICONERO), None);
    assert_eq!(Amount::ZERO.checked_sub(Amount::ONE_PICONERO), None);
    assert_eq!(Amount::MAX.checked_mul(2), None);
    assert_eq!(Amount::ONE_XMR.checked_mul(3), Amount::from_xmr(3));
    assert_eq!(one.checked_div(0), None);
    assert_eq!(one.checked_div(4).unwrap().to_string(), "0.25");
    assert_eq!(Amount::from_xmr(18_446_745), None);
    assert_eq!(Amount::from_xmr(u64::MAX), None);
    assert_eq!(Amount::ZERO.saturating_sub(Amount::ONE_XMR), Amount::ZERO);
    assert_eq!(Amount::checked_sum([one, one, one]), Amount::from_xmr(3));
    assert_eq!(Amount::checked_sum([Amount::MAX, one]), None);
    assert_eq!(
        Amount::checked_sum([Amount::MAX, Amount::ONE_PICONERO]),
        None
    );
    assert_eq!(Amount::checked_sum([]), Some(Amount::ZERO));
    assert!(Amount::ZERO.is_zero() && !one.is_zero());
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
fn debug_shows_piconero_and_xmr() {
    let a = Amount::from_atomic(1_500_000_000_000);
    assert_eq!(format!("{a:?}"), "Amount(1500000000000 piconero = 1.5 XMR)");
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
    fn parse_then_display_round_trips(whole in 0u64..18_446_744, frac in 0u64..PICONERO_PER_XMR) {
        let text = if frac == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{frac:012}").trim_end_matches('0'))
        };
        let a: Amount = text.parse().unwrap();
        prop_assert_eq!(a.as_atomic(), whole * PICONERO_PER_XMR + frac);
        prop_assert_eq!(a.to_string(), text);
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
