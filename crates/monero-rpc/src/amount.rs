//! [`Amount`]: an exact amount of XMR in atomic units (piconero), with checked arithmetic
//! and exact decimal parsing and formatting.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of decimal places of one XMR: 1 XMR = 10^12 piconero.
pub const XMR_DECIMALS: u32 = 12;

/// Atomic units (piconero) in one XMR: 10^12.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// An amount of Monero in atomic units (piconero, 1 XMR = 10^12 piconero).
///
/// This is the only money type of the project. It is never converted through `f64`:
/// decimal strings are parsed and formatted exactly, and arithmetic is checked
/// (`None` on overflow or underflow instead of wrapping).
///
/// Serde reads and writes it as a JSON integer of atomic units, exactly like
/// monero-wallet-rpc's `amount`, `balance` and `fee` fields.
///
/// ```
/// use monero_rpc::Amount;
/// let a: Amount = "1.5".parse().unwrap();
/// assert_eq!(a.as_atomic(), 1_500_000_000_000);
/// assert_eq!(a.to_string(), "1.5");
/// assert_eq!(Amount::from_atomic(1).to_string(), "0.000000000001");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(u64);

impl Amount {
    /// Zero piconero.
    pub const ZERO: Amount = Amount(0);

    /// The largest representable amount: `u64::MAX` piconero (about 18.4 million XMR).
    pub const MAX: Amount = Amount(u64::MAX);

    /// An amount of `piconero` atomic units.
    pub const fn from_atomic(piconero: u64) -> Self {
        Amount(piconero)
    }

    /// A whole number of XMR, or `None` if `xmr * 10^12` overflows `u64`.
    pub const fn from_xmr(xmr: u64) -> Option<Self> {
        match xmr.checked_mul(PICONERO_PER_XMR) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// The amount in atomic units (piconero).
    pub const fn as_atomic(self) -> u64 {
        self.0
    }

    /// `true` when the amount is zero piconero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Amount) -> Option<Amount> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` if `rhs` is larger than `self`.
    pub const fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// `self * factor`, or `None` on overflow.
    pub const fn checked_mul(self, factor: u64) -> Option<Amount> {
        match self.0.checked_mul(factor) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// `self / divisor` rounded down, or `None` when `divisor` is zero.
    pub const fn checked_div(self, divisor: u64) -> Option<Amount> {
        match self.0.checked_div(divisor) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// The sum of `amounts`, or `None` on overflow.
    pub fn checked_sum<'a>(amounts: impl IntoIterator<Item = &'a Amount>) -> Option<Amount> {
        amounts
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(*a))
    }
}

impl fmt::Display for Amount {
    /// Formats as decimal XMR with no trailing zeros: `1500000000000` -> `"1.5"`,
    /// `1000000000000` -> `"1"`, `1` -> `"0.000000000001"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / PICONERO_PER_XMR;
        let frac = self.0 % PICONERO_PER_XMR;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:012}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({} piconero = {} XMR)", self.0, self)
    }
}

/// Why a decimal XMR string could not be parsed into an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountParseError {
    /// The input was empty (after nothing: whitespace is not trimmed).
    #[error("amount is empty: give a decimal XMR amount such as \"1.5\"")]
    Empty,
    /// The input started with `-`: amounts are never negative.
    #[error("amount {input:?} is negative: amounts must be zero or more")]
    Negative {
        /// The rejected input.
        input: String,
    },
    /// The input is not `DIGITS` or `DIGITS.DIGITS` (no sign, exponent, spaces or separators).
    #[error("amount {input:?} is not a decimal XMR amount such as \"1.5\"")]
    InvalidFormat {
        /// The rejected input.
        input: String,
    },
    /// More than 12 decimal places: finer than one piconero.
    #[error("amount {input:?} has more than 12 decimal places (1 piconero = 0.000000000001 XMR)")]
    TooPrecise {
        /// The rejected input.
        input: String,
    },
    /// The amount does not fit in a u64 of piconero (more than about 18.4 million XMR).
    #[error("amount {input:?} is too large (the maximum is 18446744.073709551615 XMR)")]
    Overflow {
        /// The rejected input.
        input: String,
    },
}

impl FromStr for Amount {
    type Err = AmountParseError;

    /// Parses decimal XMR exactly: `"1.5"` -> 1500000000000 piconero, `"0.000000000001"` -> 1.
    ///
    /// Accepted: one or more ASCII digits, optionally followed by `.` and 1 to 12 digits.
    ///
    /// # Errors
    /// [`AmountParseError`] for empty input, a sign, any other character, more than 12
    /// decimal places, or a value above `u64::MAX` piconero.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() {
            return Err(AmountParseError::Empty);
        }
        let owned = || input.to_owned();
        if input.starts_with('-') {
            return Err(AmountParseError::Negative { input: owned() });
        }
        let (whole, frac) = match input.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (input, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(AmountParseError::InvalidFormat { input: owned() });
        }
        let frac = frac.unwrap_or("");
        if frac.len() > XMR_DECIMALS as usize {
            return Err(AmountParseError::TooPrecise { input: owned() });
        }
        let overflow = || AmountParseError::Overflow { input: owned() };
        let whole_value: u64 = whole.parse().map_err(|_| overflow())?;
        let frac_value: u64 = if frac.is_empty() {
            0
        } else {
            let scale = 10u64.pow(XMR_DECIMALS - frac.len() as u32);
            // At most 12 digits: always fits in u64.
            frac.parse::<u64>().map_err(|_| overflow())? * scale
        };
        whole_value
            .checked_mul(PICONERO_PER_XMR)
            .and_then(|w| w.checked_add(frac_value))
            .map(Amount)
            .ok_or_else(overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Amount, AmountParseError> {
        s.parse()
    }

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(parse("1.5").unwrap().as_atomic(), 1_500_000_000_000);
        assert_eq!(parse("1").unwrap().as_atomic(), PICONERO_PER_XMR);
        assert_eq!(parse("0").unwrap(), Amount::ZERO);
        assert_eq!(parse("0.000000000001").unwrap().as_atomic(), 1);
        assert_eq!(parse("0.1").unwrap().as_atomic(), 100_000_000_000);
        assert_eq!(parse("007.250").unwrap().as_atomic(), 7_250_000_000_000);
        assert_eq!(parse("18446744.073709551615").unwrap(), Amount::MAX);
    }

    #[test]
    fn formats_without_trailing_zeros() {
        assert_eq!(Amount::from_atomic(1_500_000_000_000).to_string(), "1.5");
        assert_eq!(Amount::from_atomic(PICONERO_PER_XMR).to_string(), "1");
        assert_eq!(Amount::ZERO.to_string(), "0");
        assert_eq!(Amount::from_atomic(1).to_string(), "0.000000000001");
        assert_eq!(Amount::MAX.to_string(), "18446744.073709551615");
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        assert_eq!(parse(""), Err(AmountParseError::Empty));
        assert!(matches!(
            parse("-1"),
            Err(AmountParseError::Negative { .. })
        ));
        assert!(matches!(
            parse("1.0000000000001"),
            Err(AmountParseError::TooPrecise { .. })
        ));
        for bad in [
            "abc", "1.", ".5", "+1", " 1", "1 ", "1e3", "1,5", "1.2.3", "١",
        ] {
            assert!(
                matches!(parse(bad), Err(AmountParseError::InvalidFormat { .. })),
                "{bad:?} should be InvalidFormat, got {:?}",
                parse(bad)
            );
        }
        assert!(matches!(
            parse("18446744.073709551616"),
            Err(AmountParseError::Overflow { .. })
        ));
        assert!(matches!(
            parse("18446745"),
            Err(AmountParseError::Overflow { .. })
        ));
        assert!(matches!(
            parse("99999999999999999999999999"),
            Err(AmountParseError::Overflow { .. })
        ));
    }

    #[test]
    fn error_messages_name_the_input() {
        let err = parse("abc").unwrap_err().to_string();
        assert!(err.contains("\"abc\""), "{err}");
    }

    #[test]
    fn checked_arithmetic() {
        let one = Amount::from_xmr(1).unwrap();
        assert_eq!(one.checked_add(one), Amount::from_xmr(2));
        assert_eq!(Amount::MAX.checked_add(Amount::from_atomic(1)), None);
        assert_eq!(Amount::ZERO.checked_sub(Amount::from_atomic(1)), None);
        assert_eq!(one.checked_sub(one), Some(Amount::ZERO));
        assert_eq!(one.checked_mul(3), Amount::from_xmr(3));
        assert_eq!(Amount::MAX.checked_mul(2), None);
        assert_eq!(one.checked_div(0), None);
        assert_eq!(one.checked_div(4).unwrap().to_string(), "0.25");
        assert_eq!(Amount::from_xmr(u64::MAX), None);
        assert_eq!(Amount::checked_sum(&[one, one, one]), Amount::from_xmr(3));
        assert_eq!(Amount::checked_sum(&[Amount::MAX, one]), None);
    }

    #[test]
    fn serde_is_an_integer_of_piconero() {
        let a = Amount::from_atomic(1_500_000_000_000);
        assert_eq!(serde_json::to_string(&a).unwrap(), "1500000000000");
        assert_eq!(serde_json::from_str::<Amount>("1500000000000").unwrap(), a);
        assert!(serde_json::from_str::<Amount>("-1").is_err());
        assert!(serde_json::from_str::<Amount>("1.5").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(atomic in any::<u64>()) {
            let a = Amount::from_atomic(atomic);
            prop_assert_eq!(a.to_string().parse::<Amount>(), Ok(a));
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
    }
}
