//! The money rules of one escrow: [`EscrowCap`], the per-environment ceiling on an escrow's
//! total. Amounts themselves are `monero_types::Amount` (u64 piconero, checked arithmetic),
//! re-exported at the crate root; checked order totals are in [`crate::order`].

use monero_types::{Amount, PICONERO_PER_XMR};
use serde::{Deserialize, Serialize};

use crate::error::CapExceeded;

/// The largest total one escrow may hold, set per environment (development 10 XMR,
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
    pub const DEVELOPMENT: EscrowCap = EscrowCap(Amount::from_atomic(10 * PICONERO_PER_XMR));
    /// Staging cap: 1 XMR.
    pub const STAGING: EscrowCap = EscrowCap(Amount::ONE_XMR);
    /// Production cap: 5 XMR.
    pub const PRODUCTION: EscrowCap = EscrowCap(Amount::from_atomic(5 * PICONERO_PER_XMR));

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
