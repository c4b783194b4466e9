//! What a decided payout waits for before it can be built ([`WaitingFor`]), kept in memory by
//! the server that runs escrow jobs ([`PayoutWaits`]) and shown by the API as `waiting_for`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Why a releasing or refunding escrow's payout is not built yet. Not a failure: the payout
/// goes ahead on its own once the wait is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitingFor {
    /// The escrow's money is not spendable yet: a Monero output unlocks 10 blocks after the
    /// block that includes it (wallet-rpc `get_balance`: `unlocked_balance` 0 while `balance`
    /// is not).
    Unlock {
        /// Blocks until the whole balance unlocks (wallet-rpc `get_balance`
        /// `blocks_to_unlock`); `None` when the wallet tells no count (0).
        blocks_left: Option<u64>,
    },
}

impl WaitingFor {
    /// [`WaitingFor::Unlock`] from `get_balance`'s `blocks_to_unlock` (0: no count told).
    pub const fn unlock(blocks_to_unlock: u64) -> Self {
        WaitingFor::Unlock {
            blocks_left: match blocks_to_unlock {
                0 => None,
                n => Some(n),
            },
        }
    }

    /// The stable label the API shows (`unlock`).
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitingFor::Unlock { .. } => "unlock",
        }
    }

    /// Blocks left before the wait ends, when the wallet tells.
    pub const fn blocks_left(self) -> Option<u64> {
        match self {
            WaitingFor::Unlock { blocks_left } => blocks_left,
        }
    }
}

/// The current wait of each escrow whose payout waits, by escrow id. Written by the payout step
/// of this server's orchestrator, read by the escrow routes; empty on a server that does not
/// run escrow jobs. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct PayoutWaits(Arc<Mutex<HashMap<i64, WaitingFor>>>);

impl PayoutWaits {
    /// Records that escrow `escrow_id`'s payout waits for `waiting`.
    pub fn set(&self, escrow_id: i64, waiting: WaitingFor) {
        self.map().insert(escrow_id, waiting);
    }

    /// Forgets escrow `escrow_id`'s wait (its payout was built, refused or moved on).
    pub fn clear(&self, escrow_id: i64) {
        self.map().remove(&escrow_id);
    }

    /// What escrow `escrow_id`'s payout waits for, if anything.
    pub fn get(&self, escrow_id: i64) -> Option<WaitingFor> {
        self.map().get(&escrow_id).copied()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, WaitingFor>> {
        // The map holds plain values: a panic elsewhere cannot leave it half-written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_set_read_and_cleared_per_escrow() {
        let waits = PayoutWaits::default();
        assert_eq!(waits.get(1), None);
        waits.set(1, WaitingFor::unlock(9));
        waits.clone().set(2, WaitingFor::unlock(0));
        assert_eq!(waits.get(1).and_then(WaitingFor::blocks_left), Some(9));
        assert_eq!(waits.get(2), Some(WaitingFor::Unlock { blocks_left: None }));
        assert_eq!(waits.get(1).map(WaitingFor::as_str), Some("unlock"));
        waits.clear(1);
        assert_eq!(waits.get(1), None);
        assert!(waits.get(2).is_some());
    }
}
