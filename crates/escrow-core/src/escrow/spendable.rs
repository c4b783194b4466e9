//! When an incoming transfer is spendable money: the sender's `unlock_time` has passed at a
//! chain height and time the caller supplies, and the wallet does not still report it locked.
//! Only spendable transfers count toward an escrow's funding ([`Spendability`] on
//! [`IncomingTransfer`](super::IncomingTransfer)).

use monero_types::UnlockTime;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Confirmations after which wallet-rpc stops reporting a transfer `locked` for its age alone
/// (Monero's `CRYPTONOTE_DEFAULT_TX_SPENDABLE_AGE`, 10 blocks). From this age on, a `locked`
/// flag means something else holds the outputs, so it is obeyed.
pub const SPENDABLE_AGE: u64 = 10;

/// The chain position and clock a spendability decision is made at (escrow-core reads no clock
/// and no chain: the caller passes both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// Blocks in the chain as the wallet sees it (top block index + 1, wallet-rpc's
    /// `get_height`; for a `get_transfers` entry in a block, its `height + confirmations`).
    /// The next block has this index.
    pub height: u64,
    /// Now, Unix seconds.
    pub time: Timestamp,
}

/// wallet-rpc's `locked` flag of a transfer, as a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalletLock {
    /// `locked: false`: the wallet could spend the outputs now.
    Unlocked,
    /// `locked: true`: in the pool, younger than [`SPENDABLE_AGE`], or held by `unlock_time`.
    Locked,
}

/// Whether an incoming transfer is spendable money, hence counts toward funding.
///
/// Serde: `{"status": "spendable"}`, `{"status": "time_locked", "unlock_time": N}`,
/// `{"status": "wallet_locked"}`; a transfer recorded without it reads as spendable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Spendability {
    /// No lock, or the lock has passed: counts once it has the required confirmations.
    #[default]
    Spendable,
    /// The sender's `unlock_time` has not passed yet: never counts while it holds.
    TimeLocked {
        /// The lock (a block height or a Unix time).
        unlock_time: UnlockTime,
    },
    /// Old enough and past its `unlock_time` by this rule, yet the wallet still reports it
    /// locked: the wallet's verdict wins.
    WalletLocked,
}

impl Spendability {
    /// Decides for one transfer at `tip`: [`Spendability::TimeLocked`] while
    /// [`unlock_time_passed`] is false, [`Spendability::WalletLocked`] when the wallet reports
    /// it locked although it has [`SPENDABLE_AGE`] confirmations, else spendable.
    ///
    /// Below [`SPENDABLE_AGE`] confirmations the wallet flag is `true` for every transfer, so it
    /// says nothing about a lock; the escrow's required confirmations govern that age instead.
    pub fn of(
        unlock_time: UnlockTime,
        wallet: WalletLock,
        confirmations: u64,
        tip: ChainTip,
    ) -> Spendability {
        if !unlock_time_passed(unlock_time, tip) {
            return Spendability::TimeLocked { unlock_time };
        }
        if wallet == WalletLock::Locked && confirmations >= SPENDABLE_AGE {
            return Spendability::WalletLocked;
        }
        Spendability::Spendable
    }
}

/// Whether `unlock_time` no longer holds the outputs at `tip`.
///
/// - No lock ([`UnlockTime::None`]): always.
/// - A height `h` ([`UnlockTime::Height`]): once `tip.height >= h`, i.e. the next block (index
///   `tip.height`) may spend them (Monero's consensus rule).
/// - A Unix time `t` ([`UnlockTime::UnixTime`]): once `tip.time >= t` seconds. Monero grants a 120 s leeway;
///   funding does not, so a time lock counts a little later than the chain would allow,
///   never earlier.
pub fn unlock_time_passed(unlock_time: UnlockTime, tip: ChainTip) -> bool {
    match unlock_time {
        UnlockTime::None => true,
        UnlockTime::Height(height) => tip.height >= height,
        UnlockTime::UnixTime(secs) => tip.time.as_unix_seconds() >= secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(height: u64, time: u64) -> ChainTip {
        ChainTip {
            height,
            time: Timestamp::from_unix_seconds(time),
        }
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn no_lock_has_always_passed() {
        assert!(unlock_time_passed(UnlockTime::None, tip(0, 0)));
        assert!(unlock_time_passed(UnlockTime::from_raw(0), tip(5, NOW)));
    }

    #[test]
    fn height_locks_pass_at_the_height() {
        let lock = UnlockTime::Height(1_000);
        assert!(!unlock_time_passed(lock, tip(0, NOW)));
        assert!(!unlock_time_passed(lock, tip(999, NOW)));
        assert!(unlock_time_passed(lock, tip(1_000, NOW)));
        assert!(unlock_time_passed(lock, tip(1_001, NOW)));
        // The clock is irrelevant to a height lock, however late it is.
        assert!(!unlock_time_passed(lock, tip(999, u64::MAX)));
        // The largest height lock.
        let top = UnlockTime::from_raw(499_999_999);
        assert!(!unlock_time_passed(top, tip(499_999_998, u64::MAX)));
        assert!(unlock_time_passed(top, tip(499_999_999, 0)));
    }

    #[test]
    fn time_locks_pass_at_the_second() {
        let lock = UnlockTime::UnixTime(NOW);
        assert!(!unlock_time_passed(lock, tip(10_000_000, NOW - 1)));
        assert!(unlock_time_passed(lock, tip(0, NOW)));
        assert!(unlock_time_passed(lock, tip(0, NOW + 1)));
        // The smallest time lock (500 000 000 s, in 1985) has passed for any current clock,
        // whatever the height.
        let first = UnlockTime::from_raw(500_000_000);
        assert_eq!(first, UnlockTime::UnixTime(500_000_000));
        assert!(unlock_time_passed(first, tip(0, NOW)));
        assert!(!unlock_time_passed(first, tip(u64::MAX, 499_999_999)));
        assert!(!unlock_time_passed(
            UnlockTime::UnixTime(u64::MAX),
            tip(u64::MAX, u64::MAX - 1)
        ));
    }

    #[test]
    fn spendability_combines_the_lock_and_the_wallet_flag() {
        let at = tip(2_000, NOW);
        let locked = UnlockTime::Height(2_001);
        assert_eq!(
            Spendability::of(locked, WalletLock::Locked, 30, at),
            Spendability::TimeLocked {
                unlock_time: locked
            }
        );
        // A wallet saying "unlocked" does not override a lock this rule sees holding.
        assert_eq!(
            Spendability::of(locked, WalletLock::Unlocked, 30, at),
            Spendability::TimeLocked {
                unlock_time: locked
            }
        );
        let future = UnlockTime::UnixTime(NOW + 3_600);
        assert_eq!(
            Spendability::of(future, WalletLock::Locked, 1, at),
            Spendability::TimeLocked {
                unlock_time: future
            }
        );
        // Young transfers are always `locked` in wallet-rpc: the age is the confirmations' job.
        for confirmations in [0, 1, SPENDABLE_AGE - 1] {
            assert_eq!(
                Spendability::of(UnlockTime::None, WalletLock::Locked, confirmations, at),
                Spendability::Spendable,
                "{confirmations}"
            );
        }
        // From the spendable age on, a `locked` flag is obeyed.
        assert_eq!(
            Spendability::of(UnlockTime::None, WalletLock::Locked, SPENDABLE_AGE, at),
            Spendability::WalletLocked
        );
        assert_eq!(
            Spendability::of(UnlockTime::Height(2_000), WalletLock::Unlocked, 10, at),
            Spendability::Spendable
        );
    }

    #[test]
    fn spendability_serde_defaults_to_spendable() {
        let locked = Spendability::TimeLocked {
            unlock_time: UnlockTime::Height(7),
        };
        let json = serde_json::to_string(&locked).unwrap();
        assert_eq!(json, r#"{"status":"time_locked","unlock_time":7}"#);
        assert_eq!(serde_json::from_str::<Spendability>(&json).unwrap(), locked);
        assert_eq!(Spendability::default(), Spendability::Spendable);
    }
}
