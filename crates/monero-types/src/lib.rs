//! monero-types: the Monero vocabulary of mmkt, defined once and shared by `monero-rpc`,
//! `escrow-core` and the server. Pure values: no I/O, no async, no HTTP.
//!
//! - [`Amount`]: money in atomic units (piconero, `u64`), checked arithmetic, exact decimal
//!   XMR parsing and formatting, serde as the integer. Never `f64`.
//! - [`Address`]: base58 address text; parsing checks the shape, [`Address::validate`] also
//!   the block base58 encoding, the Keccak-256 checksum and the [`MoneroNetwork`] prefix
//!   (reporting the [`AddressKind`]).
//! - [`TxHash`], [`BlockHash`]: 32-byte hashes as 64 lowercase hex characters.
//! - [`WalletName`]: a wallet file name inside wallet-rpc's `--wallet-dir`.
//! - [`UnlockTime`]: a transaction's `unlock_time` (no lock, a block height or a Unix time).
//! - Secrets with redacted `Debug` and no `Display`: [`WalletPassword`], [`MultisigInfo`],
//!   [`MultisigSyncInfo`], [`MultisigTxset`].
//! - [`error`]: every error type (`#[non_exhaustive]`).
//!
//! ```
//! use monero_types::{Address, AddressKind, Amount, MoneroNetwork};
//! let price: Amount = "1.5".parse()?;
//! let total = price.checked_mul(2).expect("fits");
//! assert_eq!(total.to_string(), "3");
//! assert_eq!(total.as_atomic(), 3_000_000_000_000);
//!
//! // The Monero General Fund donation address (mainnet, standard).
//! let text = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
//! let (address, kind) = Address::validate(text, MoneroNetwork::Mainnet)?;
//! assert_eq!((address.as_str(), kind), (text, AddressKind::Standard));
//! assert!(Address::validate(text, MoneroNetwork::Stagenet).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod address;
mod amount;
mod base58;
pub mod error;
mod hash;
mod newtype;
mod secret;
mod unlock;
mod wallet;

pub use address::{
    Address, AddressKind, INTEGRATED_ADDRESS_LEN, MoneroNetwork, STANDARD_ADDRESS_LEN,
};
pub use amount::{Amount, PICONERO_PER_XMR, XMR_DECIMALS};
pub use error::{AddressError, InvalidValue, ParseAmountError, ParseHashError, ParseNetworkError};
pub use hash::{BlockHash, TxHash};
pub use secret::{MultisigInfo, MultisigSyncInfo, MultisigTxset, WalletPassword};
pub use unlock::{UNLOCK_TIME_HEIGHT_LIMIT, UnlockTime};
pub use wallet::WalletName;
