//! The wallet collector's gauges: `monero_wallet_balance_piconero{role}`,
//! `monero_wallet_unlocked_balance_piconero{role}`, `monero_wallet_height{role}`,
//! `monero_wallet_num_unspent_outputs{role}`, `escrow_observed_piconero` and
//! `escrow_balance_mismatch` (the open escrows the collector found disagreeing with their record
//! plus the terminal escrows the terminal-wallet check found holding money).

use std::sync::atomic::{AtomicU64, Ordering};

use escrow_core::{Actor, Amount};
use metrics::{describe_gauge, gauge};

/// Open escrows whose observed funds disagree with the record, at the last collector sweep.
static OPEN_MISMATCHES: AtomicU64 = AtomicU64::new(0);
/// Terminal escrows whose wallet held money, at the last terminal-wallet check.
static TERMINAL_MISMATCHES: AtomicU64 = AtomicU64::new(0);

/// The roles that have a wallet-rpc, in label order.
pub const WALLET_ROLES: [Actor; 3] = [Actor::Buyer, Actor::Vendor, Actor::Arbiter];

/// One role's wallets summed over the open escrows (see [`set_wallet_metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalletReading {
    /// Sum of `get_balance` `balance`, piconero (saturating).
    pub balance: Amount,
    /// Sum of `get_balance` `unlocked_balance`, piconero (saturating).
    pub unlocked: Amount,
    /// The largest `get_height` seen, blocks.
    pub height: u64,
    /// Sum of the unspent outputs (`get_balance` `per_subaddress[].num_unspent_outputs`).
    pub unspent_outputs: u64,
}

impl WalletReading {
    /// Adds one wallet's reading: sums the amounts and outputs, keeps the larger height.
    pub fn add(&mut self, other: WalletReading) {
        self.balance = self
            .balance
            .checked_add(other.balance)
            .unwrap_or(Amount::MAX);
        self.unlocked = self
            .unlocked
            .checked_add(other.unlocked)
            .unwrap_or(Amount::MAX);
        self.height = self.height.max(other.height);
        self.unspent_outputs = self.unspent_outputs.saturating_add(other.unspent_outputs);
    }
}

/// Describes the collector gauges and registers them at 0.
pub(super) fn describe_wallet_metrics() {
    describe_gauge!(
        "monero_wallet_balance_piconero",
        "Balance, piconero, of a role's wallet-rpc: the sum over the open escrows' wallets of that role at the last wallet collector sweep"
    );
    describe_gauge!(
        "monero_wallet_unlocked_balance_piconero",
        "Unlocked balance, piconero, of a role's wallet-rpc summed over the open escrows' wallets of that role"
    );
    describe_gauge!(
        "monero_wallet_height",
        "Largest wallet height (blocks) among the open escrows' wallets of a role"
    );
    describe_gauge!(
        "monero_wallet_num_unspent_outputs",
        "Unspent outputs of a role's wallet-rpc summed over the open escrows' wallets of that role"
    );
    describe_gauge!(
        "escrow_observed_piconero",
        "Piconero observed on the chain at the open escrows' addresses (per escrow the largest balance of its wallets, summed)"
    );
    describe_gauge!(
        "escrow_balance_mismatch",
        "Escrows whose observed funds disagree with the record: funded escrows holding less than their amount plus released or refunded escrows whose wallet still holds money (EscrowBalanceMismatch alert)"
    );
    clear_wallet_metrics();
}

/// Publishes one completed collector sweep: the per-role readings (a role missing from
/// `roles` reads 0), the observed total and the open escrows that disagree with their record.
/// A Prometheus sample is a float, exact up to 2^53 piconero (about 9007 XMR).
pub fn set_wallet_metrics(
    roles: &[(Actor, WalletReading)],
    observed: Amount,
    open_mismatches: u64,
) {
    for role in WALLET_ROLES {
        let reading = roles
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, reading)| *reading)
            .unwrap_or_default();
        let label = role.as_str();
        gauge!("monero_wallet_balance_piconero", "role" => label)
            .set(reading.balance.as_atomic() as f64);
        gauge!("monero_wallet_unlocked_balance_piconero", "role" => label)
            .set(reading.unlocked.as_atomic() as f64);
        gauge!("monero_wallet_height", "role" => label).set(reading.height as f64);
        gauge!("monero_wallet_num_unspent_outputs", "role" => label)
            .set(reading.unspent_outputs as f64);
    }
    gauge!("escrow_observed_piconero").set(observed.as_atomic() as f64);
    OPEN_MISMATCHES.store(open_mismatches, Ordering::Relaxed);
    publish_mismatch();
}

/// Sets every collector gauge to 0 (at start, and once this server no longer holds the runner
/// lease: only the holder reports).
pub fn clear_wallet_metrics() {
    set_wallet_metrics(&[], Amount::ZERO, 0);
}

/// Records the terminal-wallet check's count of finished escrows holding money.
pub(super) fn set_terminal_mismatches(wallets: u64) {
    TERMINAL_MISMATCHES.store(wallets, Ordering::Relaxed);
    publish_mismatch();
}

fn publish_mismatch() {
    let total = OPEN_MISMATCHES
        .load(Ordering::Relaxed)
        .saturating_add(TERMINAL_MISMATCHES.load(Ordering::Relaxed));
    gauge!("escrow_balance_mismatch").set(total as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_sum_amounts_and_keep_the_largest_height() {
        let mut total = WalletReading::default();
        total.add(WalletReading {
            balance: Amount::from_atomic(5),
            unlocked: Amount::from_atomic(2),
            height: 120,
            unspent_outputs: 1,
        });
        total.add(WalletReading {
            balance: Amount::MAX,
            unlocked: Amount::from_atomic(3),
            height: 80,
            unspent_outputs: 2,
        });
        assert_eq!(
            total,
            WalletReading {
                balance: Amount::MAX,
                unlocked: Amount::from_atomic(5),
                height: 120,
                unspent_outputs: 3,
            }
        );
    }
}
