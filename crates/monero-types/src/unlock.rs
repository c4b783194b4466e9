//! [`UnlockTime`]: a transaction's `unlock_time` field, read as Monero reads it (no lock, a block
//! height, or a Unix time).

use serde::{Deserialize, Serialize};

/// `unlock_time` values below this are block heights, values at or above it Unix times in
/// seconds (Monero's `CRYPTONOTE_MAX_BLOCK_NUMBER`, 500 000 000).
pub const UNLOCK_TIME_HEIGHT_LIMIT: u64 = 500_000_000;

/// The lock a sender put on a transaction's outputs: the `unlock_time` of the transaction
/// prefix, as wallet-rpc reports it in `get_transfers` / `get_transfer_by_txid` entries and
/// accepts in `transfer` / `sweep_all`.
///
/// Serde reads and writes the raw integer (`0`, a height, or Unix seconds); [`UnlockTime::from_raw`]
/// and [`UnlockTime::as_raw`] convert by hand. Whether a lock has passed at a given chain height
/// and time is a rule of the caller (escrow-core's funding rules), not of this type.
///
/// ```
/// use monero_types::UnlockTime;
/// assert_eq!(UnlockTime::from_raw(0), UnlockTime::None);
/// assert_eq!(UnlockTime::from_raw(1_500), UnlockTime::Height(1_500));
/// assert_eq!(UnlockTime::from_raw(1_700_000_000), UnlockTime::UnixTime(1_700_000_000));
/// assert_eq!(UnlockTime::UnixTime(1_700_000_000).as_raw(), 1_700_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u64", into = "u64")]
pub enum UnlockTime {
    /// `0`: spendable as soon as the outputs have the default spendable age.
    #[default]
    None,
    /// `1..500_000_000`: not spendable in a block below this height (block index).
    Height(u64),
    /// `>= 500_000_000`: not spendable before this Unix time, in seconds.
    UnixTime(u64),
}

impl UnlockTime {
    /// Reads a raw `unlock_time`: 0 is no lock, values below [`UNLOCK_TIME_HEIGHT_LIMIT`] are
    /// block heights, larger values Unix seconds.
    pub const fn from_raw(raw: u64) -> UnlockTime {
        match raw {
            0 => UnlockTime::None,
            h if h < UNLOCK_TIME_HEIGHT_LIMIT => UnlockTime::Height(h),
            t => UnlockTime::UnixTime(t),
        }
    }

    /// The raw `unlock_time` integer.
    pub const fn as_raw(self) -> u64 {
        match self {
            UnlockTime::None => 0,
            UnlockTime::Height(n) | UnlockTime::UnixTime(n) => n,
        }
    }
}

impl From<u64> for UnlockTime {
    fn from(raw: u64) -> Self {
        UnlockTime::from_raw(raw)
    }
}

impl From<UnlockTime> for u64 {
    fn from(lock: UnlockTime) -> u64 {
        lock.as_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_split_at_the_height_limit() {
        assert_eq!(UnlockTime::from_raw(0), UnlockTime::None);
        assert_eq!(UnlockTime::from_raw(1), UnlockTime::Height(1));
        assert_eq!(
            UnlockTime::from_raw(UNLOCK_TIME_HEIGHT_LIMIT - 1),
            UnlockTime::Height(499_999_999)
        );
        assert_eq!(
            UnlockTime::from_raw(UNLOCK_TIME_HEIGHT_LIMIT),
            UnlockTime::UnixTime(500_000_000)
        );
        assert_eq!(
            UnlockTime::from_raw(u64::MAX),
            UnlockTime::UnixTime(u64::MAX)
        );
        for raw in [0, 1, 499_999_999, 500_000_000, u64::MAX] {
            assert_eq!(UnlockTime::from_raw(raw).as_raw(), raw);
        }
    }

    #[test]
    fn serde_is_the_raw_integer() {
        let lock: UnlockTime = serde_json::from_str("1700000000").unwrap();
        assert_eq!(lock, UnlockTime::UnixTime(1_700_000_000));
        assert_eq!(
            serde_json::to_string(&UnlockTime::Height(42)).unwrap(),
            "42"
        );
        assert_eq!(serde_json::to_string(&UnlockTime::None).unwrap(), "0");
        assert!(serde_json::from_str::<UnlockTime>("-1").is_err());
    }
}
