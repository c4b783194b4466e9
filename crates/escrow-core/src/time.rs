//! [`Timestamp`]: a point in time as unix seconds, passed in by the caller (this crate reads
//! no clock).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the unix epoch (UTC). The caller supplies "now"; escrow-core never reads a
/// clock, so every decision is reproducible in tests.
///
/// Serde writes the bare integer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The unix epoch (0 s).
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp `secs` seconds after the unix epoch.
    pub const fn from_unix_seconds(secs: u64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the unix epoch.
    pub const fn as_unix_seconds(self) -> u64 {
        self.0
    }

    /// `self + secs`, clamped at `u64::MAX` seconds (a deadline "never" rather than a wrap).
    pub const fn saturating_add_seconds(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}
