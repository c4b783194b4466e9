//! Typed async client for monerod and monero-wallet-rpc (JSON-RPC over HTTP), multisig
//! included, tested against Debian's monero 0.18.0.0 on a regtest chain.
//!
//! - [`DaemonClient`]: monerod `get_info`, `get_block_count`, `generateblocks`.
//! - [`WalletClient`]: one monero-wallet-rpc process: wallet lifecycle, funds and the 2-of-3
//!   multisig escrow flow (setup, export/import re-sync, build, co-sign, submit).
//! - The Monero vocabulary comes from `monero-types` and is re-exported here: [`Amount`]
//!   (piconero, u64, exact decimal parse/format, checked arithmetic, never `f64`) and the
//!   newtypes for addresses, hashes, wallet names and (redacted) multisig blobs and passwords.
//! - [`RpcError`]: one error enum with named variants for the codes the escrow flow reacts to.
//!
//! Every call has a timeout, answers HTTP digest challenges when credentials are configured,
//! runs inside a `monero_rpc` tracing span (fields `method`, `wallet`, `duration_ms`) and
//! records through the `metrics` facade:
//! - histogram `monero_rpc_duration_seconds{method,wallet}` (seconds, every call);
//! - counter `monero_rpc_errors_total{method,error_type}` (failed calls; `error_type` is
//!   [`RpcError::error_type`]). An expected answer is not a failure and is not counted: the
//!   `None` of [`WalletClient::find_transfer_by_txid`] (wallet-rpc's "Transaction not found").
//!
//! Install a recorder (e.g. metrics-exporter-prometheus) in the binary to export them.
//!
//! # monero-wallet-rpc 0.18 behaviour this crate relies on
//!
//! Measured against Debian's 0.18.0.0 (RPC version 1.25) and covered by the regtest tests:
//!
//! - **Digest auth is per TCP connection.** epee keeps the digest nonce and its count in the
//!   connection handler: a new connection's first request always gets a 401 with a fresh
//!   nonce, a request is accepted only with that connection's nonce and the next `nc` in
//!   sequence, and any other (another connection's nonce, an `nc` out of step, a wrong
//!   password, no `Authorization`) replaces the connection's nonce. The client therefore
//!   opens its own keep-alive connections (at most 8 per client and its clones, below
//!   wallet-rpc's 25 per local address), keeps each connection's challenge and count with it,
//!   and sends the one retry after a 401 on that same connection. The wallet-rpc 0.18 401
//!   carries no `opaque`; `WWW-authenticate` comes twice (MD5 and MD5-sess, `qop="auth"`) and
//!   the client answers the MD5 one.
//! - **`open_wallet` does not tell a missing file from a wrong password** (both are -1 "Failed
//!   to open wallet"). [`WalletClient::open_wallet`] asks `restore_deterministic_wallet` with
//!   an invalid seed, which checks file existence first and creates nothing, and returns
//!   [`RpcError::WalletNotFound`] or [`RpcError::WrongPassword`]. A failed open leaves the
//!   previous wallet open. An opened wallet is not refreshed: call `refresh`.
//! - **Multisig needs `enable_multisig_experimental`** (sent by
//!   [`WalletClient::prepare_multisig`]). `make_multisig` does not check the gate: a wallet
//!   made without it fails later, on `exchange_multisig_keys` and spending calls, with -48.
//!   The flag reaches the `.keys` file only when `make_multisig` runs in the same session as
//!   `prepare_multisig`: a wallet closed and reopened between the two loses it and refuses
//!   every later multisig call with -48. Call `prepare_multisig` again in the new session
//!   first (the earlier output stays valid for the other participants). After
//!   `make_multisig` the flag survives close/open.
//! - **2-of-3 setup** is `prepare_multisig`, `make_multisig`, then two
//!   `exchange_multisig_keys` rounds; the address returned by `make_multisig` is a
//!   placeholder.
//! - **Re-sync before spending.** After a deposit or a spend is mined, `transfer` fails with
//!   -16 until every signer has exported and imported multisig info; `get_balance` then reports
//!   `multisig_import_needed`. `sweep_all` in that state fails with -4 "No unlocked balance".
//!   If a signer exports again after a transaction set was built, its `sign_multisig` fails
//!   with -35 "stale data" ([`RpcError::MultisigResyncNeeded`]): re-sync and rebuild.
//! - `submit_multisig` with one signature: -33; submitting the same signed set twice returns
//!   the same hashes; signing twice with the same key: -35 "already signed".
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

mod daemon;
mod error;
mod transport;
mod wallet;

pub use daemon::{
    DAEMON_LABEL, DEFAULT_DAEMON_TIMEOUT, DEFAULT_MINING_TIMEOUT, DaemonClient, DaemonInfo,
    GeneratedBlocks,
};
pub use error::{HttpError, RpcError};
pub use monero_types::{
    Address, Amount, BlockHash, InvalidValue, MultisigInfo, MultisigSyncInfo, MultisigTxset,
    PICONERO_PER_XMR, ParseAmountError, TxHash, UnlockTime, WalletName, WalletPassword,
    XMR_DECIMALS,
};
pub use transport::{DigestCredentials, METRIC_DURATION, METRIC_ERRORS};
pub use wallet::{
    Balance, DEFAULT_WALLET_LABEL, DEFAULT_WALLET_TIMEOUT, Destination, KeyExchangeRound,
    MultisigStatus, RefreshSummary, SignOutcome, SubaddressIndex, SweepOutcome,
    TransferDescription, TransferEntry, TransferFilter, TransferKind, TransferOptions,
    TransferOutcome, TransferPriority, Transfers, WalletClient, WalletVersion,
};
