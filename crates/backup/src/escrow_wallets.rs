//! The escrow wallets as the server's database records them: each wallet file's own random
//! password (to open it in a backup or drill) and what its escrow says the wallet must show
//! (multisig address, readiness, money held), read from a database snapshot with the
//! SQLCipher key the operator already provides.
//!
//! Schema coupling: mmctl never links the server, so the columns are read here by name. They
//! are the server's `escrow_wallets (escrow_id, role, attempt, wallet_name, password,
//! archived_at, removed_at)` and `escrows (id, state, address, amount_atomic)` tables
//! (`crates/server/migrations/0001_init.sql`, `0002_escrow_orchestration.sql`,
//! `0005_order_jams.sql`); a migration that renames or drops one of them must change this
//! file too (`crates/mmctl/tests/backup_escrow_drill.rs` applies the server's migrations and
//! fails otherwise). A database without the tables holds no escrow wallets.

use std::collections::BTreeMap;
use std::path::Path;

use mmkt_sqlcipher::{Access, DbKey};
use monero_rpc::{Amount, MultisigStatus, WalletPassword};
use serde::Serialize;

use crate::error::BackupError;
use crate::manifest::WalletRole;
use crate::pages::open_keyed;

/// One escrow wallet file as the database records it.
#[derive(Debug, Clone)]
pub struct EscrowWallet {
    /// `escrows.id`.
    pub escrow_id: i64,
    /// Whose wallet-rpc holds it.
    pub role: WalletRole,
    /// Whether it is the wallet of the escrow's current setup attempt (an earlier attempt's
    /// wallet is only opened, never compared with the escrow).
    pub current: bool,
    /// The wallet's own password (`escrow_wallets.password`). Never logged.
    pub password: WalletPassword,
    /// The escrow's state label (`escrows.state`, e.g. `funded`).
    pub state: String,
    /// The 2-of-3 multisig address once setup completed (`escrows.address`).
    pub address: Option<String>,
    /// The escrow's amount, piconero (`escrows.amount_atomic`).
    pub amount: Amount,
}

/// What an opened wallet showed: `get_address` (account 0), `is_multisig` and `get_balance`
/// (account 0, total including locked outputs, piconero), as cached in the wallet file (the
/// wallet-rpc that opens it runs `--offline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalletState {
    /// Primary address.
    pub address: String,
    /// Multisig status.
    #[serde(skip)]
    pub multisig: MultisigStatus,
    /// Total balance, piconero.
    pub balance: Amount,
}

/// How an escrow's state bounds what its wallets hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Money {
    /// Not funded yet: no wallet shows the escrow's full amount.
    NotYetFunded,
    /// The escrow holds the money: at least one wallet shows the full amount (the wallets that
    /// did not refresh since the funding may show less).
    Held,
    /// Paid out or closed: not checked (a wallet that did not sign the payout does not know
    /// its outputs are spent).
    Unchecked,
}

fn money(state: &str) -> Money {
    match state {
        "awaiting_setup" | "setup_failed" | "awaiting_funding" => Money::NotYetFunded,
        "funded" | "disputed" | "releasing" | "refunding" => Money::Held,
        _ => Money::Unchecked,
    }
}

impl EscrowWallet {
    /// Compares one opened wallet of the escrow's current attempt with the record: with a
    /// recorded address, the wallet is a ready 2-of-3 multisig wallet showing that address;
    /// without one, it is not ready; before funding it does not hold the full amount.
    ///
    /// # Errors
    /// A description of the first difference (no secret).
    pub fn check(&self, name: &str, seen: &WalletState) -> Result<(), String> {
        let status = &seen.multisig;
        let escrow = self.escrow_id;
        match &self.address {
            Some(address) if !(status.ready && status.threshold == 2 && status.total == 3) => {
                return Err(format!(
                    "escrow {escrow} wallet {name} is not a ready 2-of-3 multisig wallet (ready {}, {}/{}), the database says setup completed",
                    status.ready, status.threshold, status.total
                ));
            }
            Some(address) if &seen.address != address => {
                return Err(format!(
                    "escrow {escrow} wallet {name} shows address {}, the database records {address}",
                    seen.address
                ));
            }
            None if status.ready => {
                return Err(format!(
                    "escrow {escrow} wallet {name} is a ready multisig wallet, the database says setup did not complete"
                ));
            }
            _ => {}
        }
        if money(&self.state) == Money::NotYetFunded && seen.balance >= self.amount {
            return Err(format!(
                "escrow {escrow} wallet {name} holds {} piconero, the full amount, but the escrow is {}",
                seen.balance.as_atomic(),
                self.state
            ));
        }
        Ok(())
    }

    /// Whether the escrow holds its money (state `funded`, `disputed`, `releasing`,
    /// `refunding`): then one of its wallets must show the full amount.
    pub fn holds_money(&self) -> bool {
        money(&self.state) == Money::Held
    }
}

/// The escrow wallets of a database, by wallet file name.
#[derive(Debug, Clone, Default)]
pub struct EscrowWallets {
    by_name: BTreeMap<String, EscrowWallet>,
}

impl EscrowWallets {
    /// Reads the wallets whose files are still in their wallet directory (not archived or
    /// removed) from the database at `db`, opened read-only with `key`, in one read.
    ///
    /// # Errors
    /// [`BackupError::WrongDbKey`], [`BackupError::Io`] (no such file), [`BackupError::Sqlite`]
    /// (a table without the expected columns, a role or amount out of range).
    pub fn read(db: &Path, key: &DbKey) -> Result<EscrowWallets, BackupError> {
        let conn = open_keyed(db, key, Access::ReadOnly)?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('escrows', 'escrow_wallets')",
                [],
                |r| r.get(0),
            )
            .map_err(BackupError::sqlite("look for the escrow tables"))?;
        if tables < 2 {
            return Ok(EscrowWallets::default());
        }
        let context = "read escrow_wallets joined with escrows";
        let mut stmt = conn
            .prepare(
                "SELECT w.wallet_name, w.escrow_id, w.role, w.password, e.state, e.address, e.amount_atomic,
                        w.attempt = (SELECT max(attempt) FROM escrow_wallets m
                                      WHERE m.escrow_id = w.escrow_id AND m.role = w.role)
                   FROM escrow_wallets w JOIN escrows e ON e.id = w.escrow_id
                  WHERE w.archived_at IS NULL AND w.removed_at IS NULL",
            )
            .map_err(BackupError::sqlite(context))?;
        let rows = stmt
            .query_map([], |r| {
                let role: String = r.get(2)?;
                let role = role.parse::<WalletRole>().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                let amount: i64 = r.get(6)?;
                let amount = u64::try_from(amount).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        6,
                        rusqlite::types::Type::Integer,
                        e.into(),
                    )
                })?;
                let wallet = EscrowWallet {
                    escrow_id: r.get(1)?,
                    role,
                    current: r.get(7)?,
                    password: WalletPassword::new(r.get::<_, String>(3)?),
                    state: r.get(4)?,
                    address: r.get(5)?,
                    amount: Amount::from_atomic(amount),
                };
                Ok((r.get::<_, String>(0)?, wallet))
            })
            .map_err(BackupError::sqlite(context))?;
        let mut by_name = BTreeMap::new();
        for row in rows {
            let (name, wallet) = row.map_err(BackupError::sqlite(context))?;
            by_name.insert(name, wallet);
        }
        Ok(EscrowWallets { by_name })
    }

    /// [`EscrowWallets::read`] with the key read from `key_file` (see
    /// `mmkt_sqlcipher::read_key_file`).
    ///
    /// # Errors
    /// [`BackupError::KeyFile`], then as [`EscrowWallets::read`].
    pub fn read_with_key_file(db: &Path, key_file: &Path) -> Result<EscrowWallets, BackupError> {
        let key = mmkt_sqlcipher::read_key_file(key_file)?;
        EscrowWallets::read(db, &key)
    }

    /// The wallet named `name`, if it is an escrow wallet.
    pub fn get(&self, name: &str) -> Option<&EscrowWallet> {
        self.by_name.get(name)
    }

    /// Every wallet, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &EscrowWallet)> {
        self.by_name.iter()
    }

    /// How many wallets.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Compares what the wallets of every escrow showed (`seen`, by wallet name, from the restored
/// wallet backups) with the restored database's records: each current-attempt wallet is
/// present and passes [`EscrowWallet::check`], and an escrow that holds money has a wallet
/// showing the full amount. Returns how many wallets and escrows were proven.
///
/// # Errors
/// Every difference found, joined with "; ".
pub fn prove(
    records: &EscrowWallets,
    seen: &BTreeMap<String, WalletState>,
) -> Result<(usize, usize), String> {
    let mut problems = Vec::new();
    let mut held: BTreeMap<i64, bool> = BTreeMap::new();
    let mut wallets = 0;
    for (name, record) in records.iter().filter(|(_, r)| r.current) {
        let Some(state) = seen.get(name) else {
            problems.push(format!(
                "escrow {} wallet {name} ({}) is in the database but in no wallet backup",
                record.escrow_id, record.role
            ));
            continue;
        };
        match record.check(name, state) {
            Ok(()) => wallets += 1,
            Err(problem) => problems.push(problem),
        }
        if record.holds_money() {
            *held.entry(record.escrow_id).or_default() |= state.balance >= record.amount;
        }
    }
    for (escrow, found) in &held {
        if !found {
            problems.push(format!(
                "escrow {escrow} holds its money according to the database, but none of its wallets shows the full amount"
            ));
        }
    }
    let escrows = records
        .iter()
        .filter(|(_, r)| r.current)
        .map(|(_, r)| r.escrow_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    match problems.is_empty() {
        true => Ok((wallets, escrows)),
        false => Err(problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESCROW_ADDRESS: &str = "escrow-address";

    fn record(state: &str, address: Option<&str>, current: bool) -> EscrowWallet {
        EscrowWallet {
            escrow_id: 7,
            role: WalletRole::Buyer,
            current,
            password: WalletPassword::new("pw"),
            state: state.into(),
            address: address.map(str::to_owned),
            amount: Amount::from_atomic(1_000),
        }
    }

    fn seen(address: &str, ready: bool, balance: u64) -> WalletState {
        let (threshold, total) = if ready { (2, 3) } else { (0, 0) };
        WalletState {
            address: address.into(),
            multisig: serde_json::from_value(serde_json::json!({
                "multisig": ready, "ready": ready, "threshold": threshold, "total": total
            }))
            .unwrap(),
            balance: Amount::from_atomic(balance),
        }
    }

    fn records(list: Vec<(&str, EscrowWallet)>) -> EscrowWallets {
        EscrowWallets {
            by_name: list.into_iter().map(|(n, r)| (n.to_owned(), r)).collect(),
        }
    }

    #[test]
    fn a_wallet_that_matches_its_record_passes() {
        let funded = record("funded", Some(ESCROW_ADDRESS), true);
        assert_eq!(
            funded.check("w", &seen(ESCROW_ADDRESS, true, 1_000)),
            Ok(())
        );
        let fresh = record("awaiting_setup", None, true);
        assert_eq!(fresh.check("w", &seen("own-address", false, 0)), Ok(()));
    }

    #[test]
    fn address_readiness_and_balance_differences_are_named() {
        let waiting = record("awaiting_funding", Some(ESCROW_ADDRESS), true);
        let other = waiting.check("w", &seen("other", true, 0)).unwrap_err();
        assert!(other.contains("shows address other"), "{other}");
        let not_ready = waiting
            .check("w", &seen(ESCROW_ADDRESS, false, 0))
            .unwrap_err();
        assert!(not_ready.contains("not a ready 2-of-3"), "{not_ready}");
        let full = waiting
            .check("w", &seen(ESCROW_ADDRESS, true, 1_000))
            .unwrap_err();
        assert!(
            full.contains("but the escrow is awaiting_funding"),
            "{full}"
        );
        let fresh = record("awaiting_setup", None, true);
        let ready = fresh
            .check("w", &seen(ESCROW_ADDRESS, true, 0))
            .unwrap_err();
        assert!(ready.contains("setup did not complete"), "{ready}");
    }

    #[test]
    fn prove_needs_every_current_wallet_and_the_held_money() {
        let list = records(vec![
            ("a", record("funded", Some(ESCROW_ADDRESS), true)),
            ("b", record("funded", Some(ESCROW_ADDRESS), true)),
            ("old", record("funded", None, false)),
        ]);
        let mut shown = BTreeMap::new();
        shown.insert("a".to_owned(), seen(ESCROW_ADDRESS, true, 0));
        let missing = prove(&list, &shown).unwrap_err();
        assert!(missing.contains("wallet b"), "{missing}");
        assert!(
            missing.contains("none of its wallets shows the full amount"),
            "{missing}"
        );
        shown.insert("b".to_owned(), seen(ESCROW_ADDRESS, true, 1_000));
        assert_eq!(prove(&list, &shown), Ok((2, 1)));
    }
}
