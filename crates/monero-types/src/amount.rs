//! [`Amount`]: an exact amount of XMR in atomic units (piconero), with checked arithmetic
//! and exact decimal parsing and formatting.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseAmountError;

/// Number of decimal places of one XMR: 1 XMR = 10^12 piconero.
pub const XMR_DECIMALS: usize = 12;

/// Atomic units (piconero) in one XMR: 10^12.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// An amount of Monero in atomic units (piconero, 1 XMR = 10^12 piconero).
///
/// This is the only money type of the project. It is never converted through `f64`:
/// decimal strings are parsed and formatted exactly, and arithmetic is checked
/// (`None` on overflow or underflow instead of wrapping).
///
/// - [`Display`](fmt::Display) and [`FromStr`] use the exact decimal XMR form:
///   `"1.5"` <-> 1 500 000 000 000 piconero, `"0.000000000001"` <-> 1, `"2"` <-> 2 XMR.
/// - Serde reads and writes the bare JSON integer of piconero (`1500000000000`), exactly like
///   monero-wallet-rpc's `amount`, `balance` and `fee` fields, the API's `*_xmr` fields and the
///   SQL columns.
///
/// ```
/// use monero_types::Amount;
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
    /// One piconero, the smallest non-zero amount.
    pub const ONE_PICONERO: Amount = Amount(1);
    /// Exactly one XMR (10^12 piconero).
    pub const ONE_XMR: Amount = Amount(PICONERO_PER_XMR);
    /// The largest representable amount: `u64::MAX` piconero (about 18.4 million XMR).
    pub const MAX: Amount = Amount(u64::MAX);

    /// An amount of `piconero` atomic units.
    pub const fn from_atomic(piconero: u64) -> Self {
        Amount(piconero)
    }

    /// A whole number of XMR, or `None` if `xmr * 10^12` overflows `u64`.
    pub const fn from_xmr(xmr: u64) -> Option<Self> {
        Amount(PICONERO_PER_XMR).checked_mul(xmr)
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
        wrap(self.0.checked_add(rhs.0))
    }

    /// `self - rhs`, or `None` if `rhs` is larger than `self`.
    pub const fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        wrap(self.0.checked_sub(rhs.0))
    }

    /// `self * factor` (e.g. unit price × quantity), or `None` on overflow.
    pub const fn checked_mul(self, factor: u64) -> Option<Amount> {
        wrap(self.0.checked_mul(factor))
    }

    /// `self / divisor` rounded down, or `None` when `divisor` is zero.
    pub const fn checked_div(self, divisor: u64) -> Option<Amount> {
        wrap(self.0.checked_div(divisor))
    }

    /// `self - rhs`, or zero if `rhs > self` (e.g. "how much is still missing").
    pub const fn saturating_sub(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_sub(rhs.0))
    }

    /// The sum of `amounts`, or `None` if the total does not fit in a `u64` of piconero.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(amounts: I) -> Option<Amount> {
        amounts
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }
}

/// `Option<u64>` to `Option<Amount>` in a `const fn` (where `Option::map` is not available).
const fn wrap(piconero: Option<u64>) -> Option<Amount> {
    match piconero {
        Some(v) => Some(Amount(v)),
        None => None,
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
        let digits = format!("{frac:0width$}", width = XMR_DECIMALS);
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({} piconero = {} XMR)", self.0, self)
    }
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    /// Parses decimal XMR exactly: `"1.5"` -> 1500000000000 piconero, `"0.000000000001"` -> 1.
    ///
    /// Accepted: one or more ASCII digits, optionally followed by `.` and 1 to 12 digits.
    /// No sign, exponent, spaces or separators.
    ///
    /// # Errors
    /// [`ParseAmountError`]: empty input, a sign, a non-digit, a misplaced point, more than 12
    /// decimals, or a value above [`Amount::MAX`].
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() {
            return Err(ParseAmountError::Empty);
        }
        let owned = || input.to_owned();
        if input.starts_with('-') {
            return Err(ParseAmountError::Negative { input: owned() });
        }
        let (whole, frac) = input.split_once('.').unwrap_or((input, ""));
        if whole.is_empty() {
            return Err(ParseAmountError::MissingWholePart { input: owned() });
        }
        if let Some(found) = input.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            return Err(ParseAmountError::InvalidCharacter {
                input: owned(),
                found,
            });
        }
        if frac.contains('.') {
            return Err(ParseAmountError::InvalidCharacter {
                input: owned(),
                found: '.',
            });
        }
        if input.ends_with('.') {
            return Err(ParseAmountError::MissingFraction { input: owned() });
        }
        if frac.len() > XMR_DECIMALS {
            return Err(ParseAmountError::TooManyDecimals {
                input: owned(),
                max: XMR_DECIMALS,
                found: frac.len(),
            });
        }
        let overflow = || ParseAmountError::Overflow { input: owned() };
        // Only ASCII digits are left, so a failing parse means the value does not fit.
        let whole: u64 = whole.parse().map_err(|_| overflow())?;
        let frac_units: u64 = if frac.is_empty() {
            0
        } else {
            // At most 12 digits, padded to 12: always below 10^12.
            format!("{frac:0<width$}", width = XMR_DECIMALS)
                .parse()
                .map_err(|_| overflow())?
        };
        Amount::from_xmr(whole)
            .and_then(|w| w.checked_add(Amount(frac_units)))
            .ok_or_else(overflow)
    }
}
