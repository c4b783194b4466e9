//! Typed async client for monerod and monero-wallet-rpc (JSON-RPC over HTTP), multisig
//! included, tested against Debian's monero 0.18.0.0 on a regtest chain.
//!
//! - [`DaemonClient`]: monerod `get_info`, `get_block_count`, `generateblocks`.
//! - [`WalletClient`]: one monero-wallet-rpc process: wallet lifecycle, funds and the 2-of-3
//!   multisig escrow flow (setup, export/import re-sync, build, co-sign, submit).
//! - [`Amount`]: money in atomic units (piconero, u64), exact decimal parse/format, checked
//!   arithmetic. Never `f64`.
//! - Newtypes for addresses, hashes, wallet names and (redacted) multisig blobs and passwords.
//! - [`RpcError`]: one error enum with named variants for the codes the escrow flow reacts to.
//!
//! Every call has a timeout, answers HTTP digest challenges when credentials are configured,
//! runs inside a `monero_rpc` tracing span (fields `method`, `wallet`, `duration_ms`) and
//! records through the `metrics` facade:
//! - histogram `monero_rpc_duration_seconds{method,wallet}` (seconds, every call);
//! - counter `monero_rpc_errors_total{method,error_type}` (failed calls; `error_type` is
//!   [`RpcError::error_type`]).
//!
//! Install a recorder (e.g. metrics-exporter-prometheus) in the binary to export them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), monero_rpc::RpcError> {
//! use monero_rpc::{Amount, Destination, TransferOptions, WalletClient};
//! let vendor = WalletClient::new("http://127.0.0.1:18084")?.with_label("vendor");
//! let to = vendor.get_address(0).await?;
//! let amount: Amount = "1.5".parse().expect("valid amount");
//! let outcome = vendor
//!     .transfer(&[Destination { amount, address: to }], TransferOptions::default())
//!     .await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod amount;
mod daemon;
mod error;
mod transport;
mod types;
mod wallet;

pub use amount::{Amount, AmountParseError, PICONERO_PER_XMR, XMR_DECIMALS};
pub use daemon::{
    DAEMON_LABEL, DEFAULT_DAEMON_TIMEOUT, DEFAULT_MINING_TIMEOUT, DaemonClient, DaemonInfo,
    GeneratedBlocks,
};
pub use error::RpcError;
pub use transport::{DigestCredentials, METRIC_DURATION, METRIC_ERRORS};
pub use types::{
    Address, BlockHash, InvalidValue, MultisigInfo, MultisigSyncInfo, MultisigTxset, TxHash,
    WalletName, WalletPassword,
};
pub use wallet::{
    Balance, DEFAULT_WALLET_LABEL, DEFAULT_WALLET_TIMEOUT, Destination, KeyExchangeRound,
    MultisigStatus, RefreshSummary, SignOutcome, SubaddressIndex, SweepOutcome,
    TransferDescription, TransferEntry, TransferFilter, TransferKind, TransferOptions,
    TransferOutcome, TransferPriority, Transfers, WalletClient, WalletVersion,
};
