//! Money: [`Amount`], an exact count of piconero (atomic units), and [`EscrowCap`], the
//! per-environment ceiling on one escrow.
//!
//! escrow-core deliberately does not depend on `monero-rpc` (that crate carries an HTTP client,
//! and this one must stay pure). The server converts at the boundary without loss:
//! `monero_rpc::Amount::from_atomic(a.as_atomic())` and
//! `escrow_core::Amount::from_atomic(b.as_atomic())`; both count piconero in a `u64`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CapExceeded, ParseAmountError};

/// Piconero (atomic units) in one XMR: 10^12.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// Number of decimal places of one XMR written in piconero.
pub const XMR_DECIMALS: usize = 12;

/// An amount of Monero in piconero (atomic units, 10^-12 XMR), never a float.
///
/// - Arithmetic is checked (`checked_*` return `None` on overflow/underflow), never wrapping.
/// - [`Display`](fmt::Display) and [`FromStr`] use the exact decimal XMR form:
///   `"1.5"` <-> 1 500 000 000 000 piconero, `"0.000000000001"` <-> 1, `"2"` <-> 2 XMR.
/// - Serde writes the bare integer count of piconero (`1500000000000`), which is what the API's
///   `price_xmr` and the SQL columns carry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(u64);

impl Amount {
    /// Zero piconero.
    pub const ZERO: Amount = Amount(0);
    /// One piconero, the smallest non-zero amount.
    pub const ONE_PICONERO: Amount = Amount(1);
    /// Exactly one XMR (10^12 piconero).
    pub const ONE_XMR: Amount = Amount(PICONERO_PER_XMR);
    /// The largest representable amount (`u64::MAX` piconero, about 18 446 744 XMR).
    pub const MAX: Amount = Amount(u64::MAX);

    /// Wraps a count of piconero (atomic units).
    pub const fn from_atomic(piconero: u64) -> Self {
        Amount(piconero)
    }

    /// The count of piconero (atomic units).
    pub const fn as_atomic(self) -> u64 {
        self.0
    }

    /// `whole` XMR, or `None` if it does not fit in a `u64` of piconero.
    pub const fn from_xmr(whole: u64) -> Option<Self> {
        match whole.checked_mul(PICONERO_PER_XMR) {
            Some(p) => Some(Amount(p)),
            None => None,
        }
    }

    /// True for zero piconero.
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

    /// `self - rhs`, or `None` if `rhs > self`.
    pub const fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// `self × factor` (e.g. unit price × quantity), or `None` on overflow.
    pub const fn checked_mul(self, factor: u64) -> Option<Amount> {
        match self.0.checked_mul(factor) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// `self - rhs`, or zero if `rhs > self` (e.g. "how much is still missing").
    pub const fn saturating_sub(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_sub(rhs.0))
    }

    /// Sums amounts with overflow checking; `None` if the total does not fit.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(items: I) -> Option<Amount> {
        items
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }
}

impl fmt::Display for Amount {
    /// Exact decimal XMR without trailing zeros: `1.5`, `0.000000000001`, `10`, `0`.
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
        write!(f, "Amount({} XMR)", self)
    }
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    /// Parses exact decimal XMR: digits, optionally `.` and 1 to 12 more digits
    /// (`"1.5"`, `"0.000000000001"`, `"10"`). No sign, exponent, spaces or separators.
    ///
    /// # Errors
    /// [`ParseAmountError`]: empty input, a sign, a non-digit, a misplaced point, more than 12
    /// decimals, or a value above [`Amount::MAX`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseAmountError::Empty);
        }
        if s.starts_with('-') {
            return Err(ParseAmountError::Negative);
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        if whole.is_empty() {
            return Err(ParseAmountError::MissingWholePart);
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            return Err(ParseAmountError::InvalidCharacter { found: c });
        }
        let frac = frac.unwrap_or("");
        if frac.contains('.') {
            return Err(ParseAmountError::InvalidCharacter { found: '.' });
        }
        if s.ends_with('.') {
            return Err(ParseAmountError::MissingFraction);
        }
        if frac.len() > XMR_DECIMALS {
            return Err(ParseAmountError::TooManyDecimals {
                max: XMR_DECIMALS,
                found: frac.len(),
            });
        }
        let whole: u64 = whole.parse().map_err(|_| ParseAmountError::Overflow)?;
        let frac_units: u64 = if frac.is_empty() {
            0
        } else {
            let padded = format!("{frac:0<width$}", width = XMR_DECIMALS);
            padded.parse().map_err(|_| ParseAmountError::Overflow)?
        };
        whole
            .checked_mul(PICONERO_PER_XMR)
            .and_then(|w| w.checked_add(frac_units))
            .map(Amount)
            .ok_or(ParseAmountError::Overflow)
    }
}

/// The largest total one escrow may hold, set per environment (issue 3: development 10 XMR,
/// staging 1 XMR, production 5 XMR).
///
/// The server owns the environment setting and picks the matching constant (or an operator
/// override through [`EscrowCap::new`]); this crate only enforces it. The cap limits what a
/// semi-trusted arbiter and a hot hosted wallet can lose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EscrowCap(Amount);

impl EscrowCap {
    /// Development cap: 10 XMR.
    pub const DEVELOPMENT: EscrowCap = EscrowCap(Amount(10 * PICONERO_PER_XMR));
    /// Staging cap: 1 XMR.
    pub const STAGING: EscrowCap = EscrowCap(Amount(PICONERO_PER_XMR));
    /// Production cap: 5 XMR.
    pub const PRODUCTION: EscrowCap = EscrowCap(Amount(5 * PICONERO_PER_XMR));

    /// A cap of `max` (inclusive: a total equal to the cap is allowed).
    pub const fn new(max: Amount) -> Self {
        EscrowCap(max)
    }

    /// The largest allowed escrow total, inclusive.
    pub const fn max(&self) -> Amount {
        self.0
    }

    /// Checks one escrow total against the cap.
    ///
    /// # Errors
    /// [`CapExceeded`] when `total` is above the cap.
    pub fn check(&self, total: Amount) -> Result<(), CapExceeded> {
        if total > self.0 {
            return Err(CapExceeded { total, cap: self.0 });
        }
        Ok(())
    }
}
