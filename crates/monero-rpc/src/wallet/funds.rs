//! Funds of the open wallet: `get_address`, `get_balance`, `get_height`, `refresh`, `transfer`, `sweep_all`,
//! `get_transfer_by_txid`, `get_transfers`.

use serde::{Deserialize, Serialize};

use super::{Empty, WalletClient, empty_as_none};
use crate::error::RpcError;
use crate::transport::Recording;
use monero_types::Amount;
use monero_types::{Address, MultisigTxset, TxHash, UnlockTime};

/// Balance of one account, from `get_balance`. All amounts in atomic units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Balance {
    /// Total balance, including outputs still locked.
    pub balance: Amount,
    /// Spendable now (outputs with at least 10 confirmations, coinbase after 60).
    pub unlocked_balance: Amount,
    /// Multisig wallets only: `true` when the balance may be wrong until the signers exchange
    /// fresh multisig info (export/import). Spends fail until then.
    #[serde(default)]
    pub multisig_import_needed: bool,
    /// Blocks until the whole balance is unlocked.
    #[serde(default)]
    pub blocks_to_unlock: u64,
    /// Unspent outputs of the account: the sum of `num_unspent_outputs` over the answer's
    /// `per_subaddress` entries (0 when the wallet holds nothing).
    #[serde(
        default,
        rename = "per_subaddress",
        deserialize_with = "sum_unspent_outputs"
    )]
    pub num_unspent_outputs: u64,
}

/// One `per_subaddress` entry of `get_balance`, as far as [`Balance`] reads it.
#[derive(Deserialize)]
struct SubaddressBalance {
    #[serde(default)]
    num_unspent_outputs: u64,
}

fn sum_unspent_outputs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let entries = Vec::<SubaddressBalance>::deserialize(d)?;
    Ok(entries
        .iter()
        .fold(0u64, |n, e| n.saturating_add(e.num_unspent_outputs)))
}

/// Result of `refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RefreshSummary {
    /// Number of blocks scanned.
    pub blocks_fetched: u64,
    /// `true` if new incoming money was found.
    pub received_money: bool,
}

/// One payment: `amount` atomic units to `address` (the RPC's destination object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Amount in atomic units.
    pub amount: Amount,
    /// Recipient address.
    pub address: Address,
}

/// Fee priority of `transfer`/`sweep_all` (the RPC's `priority`, 0-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferPriority {
    /// 0: the wallet's default priority (set in the wallet, normally adjusted to the pool).
    #[default]
    Default,
    /// 1: lowest fee.
    Unimportant,
    /// 2: normal fee.
    Normal,
    /// 3: higher fee.
    Elevated,
    /// 4: highest fee.
    Priority,
}

impl Serialize for TransferPriority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n: u32 = match self {
            TransferPriority::Default => 0,
            TransferPriority::Unimportant => 1,
            TransferPriority::Normal => 2,
            TransferPriority::Elevated => 3,
            TransferPriority::Priority => 4,
        };
        s.serialize_u32(n)
    }
}

/// Options of [`WalletClient::transfer`] and [`WalletClient::sweep_all`]; serializes as the
/// RPC's `account_index`, `priority` and `unlock_time`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Account to spend from (the RPC's `account_index`); 0 by default.
    pub account_index: u32,
    /// Fee priority.
    pub priority: TransferPriority,
    /// Lock on the created outputs (the RPC's `unlock_time`: 0, a block height, or Unix
    /// seconds); [`UnlockTime::None`] by default. The receiver cannot spend them before it.
    pub unlock_time: UnlockTime,
}

impl TransferOptions {
    /// Spends from `account_index` instead of account 0.
    #[must_use]
    pub fn with_account(mut self, account_index: u32) -> Self {
        self.account_index = account_index;
        self
    }

    /// Uses fee `priority`.
    #[must_use]
    pub fn with_priority(mut self, priority: TransferPriority) -> Self {
        self.priority = priority;
        self
    }

    /// Locks the created outputs until `unlock_time` (a block height or a Unix time).
    #[must_use]
    pub fn with_unlock_time(mut self, unlock_time: UnlockTime) -> Self {
        self.unlock_time = unlock_time;
        self
    }
}

/// What `transfer` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferOutcome {
    /// A normal wallet signed and relayed the transaction.
    Submitted {
        /// The transaction's hash.
        tx_hash: TxHash,
        /// Amount sent (without fee), atomic units.
        amount: Amount,
        /// Fee paid, atomic units.
        fee: Amount,
    },
    /// A multisig wallet built a transaction set carrying this signer's signature; it needs
    /// more signatures ([`WalletClient::sign_multisig`]) before
    /// [`WalletClient::submit_multisig`].
    MultisigPending {
        /// The partially signed transaction set.
        multisig_txset: MultisigTxset,
        /// Amount to send (without fee), atomic units.
        amount: Amount,
        /// Fee, atomic units.
        fee: Amount,
    },
}

/// What `sweep_all` produced (a sweep may need several transactions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SweepOutcome {
    /// A normal wallet signed and relayed the transactions.
    Submitted {
        /// Hashes of the transactions.
        tx_hashes: Vec<TxHash>,
        /// Amount of each transaction (without fee), atomic units.
        amounts: Vec<Amount>,
        /// Fee of each transaction, atomic units.
        fees: Vec<Amount>,
    },
    /// A multisig wallet built a transaction set that needs more signatures.
    MultisigPending {
        /// The partially signed transaction set.
        multisig_txset: MultisigTxset,
        /// Amount of each transaction (without fee), atomic units.
        amounts: Vec<Amount>,
        /// Fee of each transaction, atomic units.
        fees: Vec<Amount>,
    },
}

/// Direction/state of a wallet transfer (the RPC's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransferKind {
    /// Incoming, in a block.
    In,
    /// Outgoing, in a block.
    Out,
    /// Outgoing, not yet in a block.
    Pending,
    /// Outgoing, failed (rejected by the daemon).
    Failed,
    /// Incoming, in the transaction pool.
    Pool,
    /// Coinbase reward of a block mined to this wallet.
    Block,
    /// A kind this client does not know.
    #[serde(other)]
    Other,
}

/// A subaddress position: account (`major`) and index within it (`minor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct SubaddressIndex {
    /// Account index.
    pub major: u32,
    /// Subaddress index within the account.
    pub minor: u32,
}

/// One transfer seen by the wallet (from `get_transfers` / `get_transfer_by_txid`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TransferEntry {
    /// Transaction hash.
    pub txid: TxHash,
    /// Direction/state.
    #[serde(rename = "type")]
    pub kind: TransferKind,
    /// Amount received (in) or sent without change and fee (out), atomic units.
    pub amount: Amount,
    /// Fee paid by the transaction, atomic units.
    #[serde(default)]
    pub fee: Amount,
    /// Block height; 0 while unconfirmed.
    pub height: u64,
    /// Confirmations so far (0 while unconfirmed).
    #[serde(default)]
    pub confirmations: u64,
    /// wallet-rpc's own spendability verdict (the RPC's `locked`): `true` while the outputs
    /// cannot be spent yet, which in wallet-rpc 0.18 means any of: still in the pool, fewer
    /// than 10 confirmations (the default spendable age), or [`TransferEntry::unlock_time`]
    /// not reached.
    #[serde(default)]
    pub locked: bool,
    /// The sender's lock on the transaction's outputs (the RPC's `unlock_time`): 0 for none,
    /// below 500 000 000 a block height, otherwise a Unix time in seconds.
    #[serde(default)]
    pub unlock_time: UnlockTime,
    /// `true` if the daemon saw a double spend of this transaction.
    #[serde(default)]
    pub double_spend_seen: bool,
    /// Block (or pool) timestamp, Unix seconds.
    #[serde(default)]
    pub timestamp: u64,
    /// The wallet's own address involved (receiving subaddress for "in").
    pub address: Address,
    /// Subaddress of `address`.
    pub subaddr_index: SubaddressIndex,
    /// Recipients, for outgoing transfers made by this wallet; empty otherwise.
    #[serde(default)]
    pub destinations: Vec<Destination>,
}

/// Which lists [`WalletClient::get_transfers`] returns (each flag is one RPC parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TransferFilter {
    /// Incoming transfers in blocks (`in`).
    #[serde(rename = "in")]
    pub incoming: bool,
    /// Outgoing transfers in blocks (`out`).
    #[serde(rename = "out")]
    pub outgoing: bool,
    /// Outgoing transfers not in a block yet (`pending`).
    pub pending: bool,
    /// Failed outgoing transfers (`failed`).
    pub failed: bool,
    /// Incoming transfers in the pool (`pool`).
    pub pool: bool,
}

impl TransferFilter {
    /// Every list.
    pub const ALL: TransferFilter = TransferFilter {
        incoming: true,
        outgoing: true,
        pending: true,
        failed: true,
        pool: true,
    };
}

/// The lists returned by `get_transfers` (a list not asked for, or empty, is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Transfers {
    /// Incoming, confirmed.
    #[serde(rename = "in", default)]
    pub incoming: Vec<TransferEntry>,
    /// Outgoing, confirmed.
    #[serde(rename = "out", default)]
    pub outgoing: Vec<TransferEntry>,
    /// Outgoing, unconfirmed.
    #[serde(default)]
    pub pending: Vec<TransferEntry>,
    /// Outgoing, failed.
    #[serde(default)]
    pub failed: Vec<TransferEntry>,
    /// Incoming, in the pool.
    #[serde(default)]
    pub pool: Vec<TransferEntry>,
}

#[derive(Serialize)]
struct AccountParams {
    account_index: u32,
}

#[derive(Deserialize)]
struct AddressResponse {
    address: Address,
}

#[derive(Deserialize)]
struct HeightResponse {
    height: u64,
}

#[derive(Serialize)]
struct RefreshParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    start_height: Option<u64>,
}

#[derive(Serialize)]
struct TransferParams<'a> {
    destinations: &'a [Destination],
    #[serde(flatten)]
    options: TransferOptions,
}

#[derive(Deserialize)]
struct TransferResponse {
    amount: Amount,
    fee: Amount,
    #[serde(default, deserialize_with = "empty_as_none")]
    tx_hash: Option<TxHash>,
    #[serde(default, deserialize_with = "empty_as_none")]
    multisig_txset: Option<MultisigTxset>,
}

#[derive(Serialize)]
struct SweepParams<'a> {
    address: &'a Address,
    #[serde(flatten)]
    options: TransferOptions,
}

#[derive(Deserialize)]
struct SweepResponse {
    #[serde(default)]
    tx_hash_list: Vec<TxHash>,
    #[serde(default)]
    amount_list: Vec<Amount>,
    #[serde(default)]
    fee_list: Vec<Amount>,
    #[serde(default, deserialize_with = "empty_as_none")]
    multisig_txset: Option<MultisigTxset>,
}

#[derive(Serialize)]
struct TxidParams<'a> {
    txid: &'a TxHash,
}

#[derive(Deserialize)]
struct TransferByTxidResponse {
    transfer: TransferEntry,
    #[serde(default)]
    transfers: Vec<TransferEntry>,
}

impl TransferByTxidResponse {
    /// Every entry: `transfers` when the answer has them, else the single `transfer`.
    fn entries(self) -> Vec<TransferEntry> {
        if self.transfers.is_empty() {
            return vec![self.transfer];
        }
        self.transfers
    }
}

impl WalletClient {
    /// Primary address of account `account_index` (0 for the wallet's main address; for a
    /// finished multisig wallet, the shared escrow address). Calls `get_address`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn get_address(&self, account_index: u32) -> Result<Address, RpcError> {
        let r: AddressResponse = self
            .call("get_address", &AccountParams { account_index })
            .await?;
        Ok(r.address)
    }

    /// Balance of account `account_index` as of the wallet's last refresh. Calls
    /// `get_balance`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn get_balance(&self, account_index: u32) -> Result<Balance, RpcError> {
        self.call("get_balance", &AccountParams { account_index })
            .await
    }

    /// The wallet's height: one more than the last block it has scanned (the chain height it
    /// has caught up to). Calls `get_height`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn get_height(&self) -> Result<u64, RpcError> {
        let r: HeightResponse = self.call("get_height", &Empty {}).await?;
        Ok(r.height)
    }

    /// Scans new blocks from the daemon now (from `start_height` if given). Calls `refresh`.
    /// wallet-rpc also refreshes by itself every 20 s, but not right after `open_wallet`.
    /// A scan of many blocks can outlast the per-call timeout: use a clone with a longer one,
    /// e.g. `wallet.clone().with_timeout(Duration::from_secs(600)).refresh(None)`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; [`RpcError::Rpc`] if the daemon is unreachable from
    /// wallet-rpc; transport errors.
    pub async fn refresh(&self, start_height: Option<u64>) -> Result<RefreshSummary, RpcError> {
        self.call("refresh", &RefreshParams { start_height }).await
    }

    /// Sends to `destinations` (fee on top of their sum). Calls `transfer`.
    ///
    /// On a normal wallet the transaction is signed and relayed
    /// ([`TransferOutcome::Submitted`]); on a multisig wallet it returns a transaction set
    /// to co-sign ([`TransferOutcome::MultisigPending`]). To empty an escrow, use
    /// [`WalletClient::sweep_all`].
    ///
    /// # Errors
    /// [`RpcError::NotEnoughMoney`] (-17) when the unlocked balance does not cover amount plus
    /// fee; [`RpcError::NoTransactionCreated`] (-16) on a multisig wallet whose signers have
    /// not exchanged fresh multisig info ([`RpcError::is_resync_needed`]);
    /// [`RpcError::Rpc`] for an invalid address or zero amount; transport errors.
    pub async fn transfer(
        &self,
        destinations: &[Destination],
        options: TransferOptions,
    ) -> Result<TransferOutcome, RpcError> {
        let params = TransferParams {
            destinations,
            options,
        };
        let r: TransferResponse = self.call("transfer", &params).await?;
        match (r.multisig_txset, r.tx_hash) {
            (Some(multisig_txset), _) => Ok(TransferOutcome::MultisigPending {
                multisig_txset,
                amount: r.amount,
                fee: r.fee,
            }),
            (None, Some(tx_hash)) => Ok(TransferOutcome::Submitted {
                tx_hash,
                amount: r.amount,
                fee: r.fee,
            }),
            (None, None) => Err(RpcError::Decode {
                method: "transfer",
                detail: "neither tx_hash nor multisig_txset in the answer (watch-only wallets are not supported)".to_owned(),
            }),
        }
    }

    /// Sends the whole unlocked balance of account `options.account_index` to `address`, fee
    /// deducted from it. Calls `sweep_all`.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] code -4 "No unlocked balance in the specified subaddress(es)" when
    /// nothing is spendable (on multisig wallets also when an import is needed: check
    /// [`Balance::multisig_import_needed`]); [`RpcError::NoTransactionCreated`]; transport
    /// errors.
    pub async fn sweep_all(
        &self,
        address: &Address,
        options: TransferOptions,
    ) -> Result<SweepOutcome, RpcError> {
        let params = SweepParams { address, options };
        let r: SweepResponse = self.call("sweep_all", &params).await?;
        if let Some(multisig_txset) = r.multisig_txset {
            return Ok(SweepOutcome::MultisigPending {
                multisig_txset,
                amounts: r.amount_list,
                fees: r.fee_list,
            });
        }
        if r.tx_hash_list.is_empty() {
            return Err(RpcError::Decode {
                method: "sweep_all",
                detail: "neither tx_hash_list nor multisig_txset in the answer".to_owned(),
            });
        }
        Ok(SweepOutcome::Submitted {
            tx_hashes: r.tx_hash_list,
            amounts: r.amount_list,
            fees: r.fee_list,
        })
    }

    /// Every entry this wallet has for transaction `txid` (usually one; a transaction that
    /// both spends from and pays this wallet has an "out" and an "in" entry). Calls
    /// `get_transfer_by_txid`.
    ///
    /// # Errors
    /// [`RpcError::TransactionNotFound`] (-8) if the wallet has not seen it (refresh first);
    /// transport errors.
    pub async fn get_transfer_by_txid(
        &self,
        txid: &TxHash,
    ) -> Result<Vec<TransferEntry>, RpcError> {
        let r: TransferByTxidResponse = self
            .call("get_transfer_by_txid", &TxidParams { txid })
            .await?;
        Ok(r.entries())
    }

    /// Whether this wallet has seen transaction `txid`: `Some` of its entries (as
    /// [`WalletClient::get_transfer_by_txid`]), or `None` when it has not (wallet-rpc error -8,
    /// "Transaction not found"). Calls `get_transfer_by_txid`. For lookups where "not seen" is
    /// an expected answer (before a submission): that answer is not counted in
    /// `monero_rpc_errors_total` nor logged as a failure.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn find_transfer_by_txid(
        &self,
        txid: &TxHash,
    ) -> Result<Option<Vec<TransferEntry>>, RpcError> {
        let not_found = |e: &RpcError| matches!(e, RpcError::TransactionNotFound { .. });
        let answer: Result<TransferByTxidResponse, RpcError> = self
            .call_recording(
                "get_transfer_by_txid",
                &TxidParams { txid },
                Recording::Expecting(not_found),
            )
            .await;
        match answer {
            Ok(r) => Ok(Some(r.entries())),
            Err(RpcError::TransactionNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The wallet's transfers of the kinds selected by `filter`, account 0. Calls
    /// `get_transfers`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn get_transfers(&self, filter: TransferFilter) -> Result<Transfers, RpcError> {
        self.call("get_transfers", &filter).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_sums_unspent_outputs_over_subaddresses() {
        let text = r#"{"balance": 30, "unlocked_balance": 10, "blocks_to_unlock": 3,
            "per_subaddress": [{"address_index": 0, "num_unspent_outputs": 2},
                               {"address_index": 1, "num_unspent_outputs": 1}]}"#;
        let b: Balance = serde_json::from_str(text).unwrap();
        assert_eq!(b.num_unspent_outputs, 3);
        assert_eq!(b.balance, Amount::from_atomic(30));
        let empty: Balance =
            serde_json::from_str(r#"{"balance": 0, "unlocked_balance": 0}"#).unwrap();
        assert_eq!(empty.num_unspent_outputs, 0);
        let bad = serde_json::from_str::<Balance>(
            r#"{"balance": 0, "unlocked_balance": 0, "per_subaddress": [{"num_unspent_outputs": -1}]}"#,
        );
        assert!(bad.is_err(), "a negative output count is refused");
    }
}
