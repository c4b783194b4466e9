//! Chain identifiers the escrow records: [`MoneroAddress`] (escrow, payout and refund
//! addresses) and [`TxHash`] (payout transactions).
//!
//! Only the syntax is checked here (base58 alphabet and length, 64 hex digits). Whether an
//! address belongs to the configured network is checked by the server with `monero-rpc`
//! (wallet-rpc `validate_address`) before it reaches the escrow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ParseAddressError, ParseTxHashError};

/// Monero's base58 alphabet (no `0`, `O`, `I`, `l`).
const BASE58_ALPHABET: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Length of a standard address or subaddress, in base58 characters.
pub const STANDARD_ADDRESS_LEN: usize = 95;
/// Length of an integrated address (address + 8-byte payment id), in base58 characters.
pub const INTEGRATED_ADDRESS_LEN: usize = 106;

/// A Monero address in base58 text form: standard (95 characters, e.g. a multisig escrow
/// address), subaddress (95) or integrated (106).
///
/// Serde writes the string; deserialization runs the same syntax check as [`FromStr`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MoneroAddress(String);

impl MoneroAddress {
    /// The address text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MoneroAddress {
    type Err = ParseAddressError;

    /// Checks the syntax: 95 or 106 characters from Monero's base58 alphabet.
    ///
    /// # Errors
    /// [`ParseAddressError::Length`] or [`ParseAddressError::InvalidCharacter`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let len = s.chars().count();
        if len != STANDARD_ADDRESS_LEN && len != INTEGRATED_ADDRESS_LEN {
            return Err(ParseAddressError::Length { found: len });
        }
        if let Some(c) = s.chars().find(|c| !BASE58_ALPHABET.contains(*c)) {
            return Err(ParseAddressError::InvalidCharacter { found: c });
        }
        Ok(MoneroAddress(s.to_owned()))
    }
}

impl TryFrom<String> for MoneroAddress {
    type Error = ParseAddressError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MoneroAddress> for String {
    fn from(a: MoneroAddress) -> String {
        a.0
    }
}

impl fmt::Display for MoneroAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MoneroAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MoneroAddress({})", self.0)
    }
}

/// A transaction hash: 32 bytes as 64 lowercase hex digits (wallet-rpc `tx_hash`,
/// `tx_hash_list`). Uppercase input is normalized to lowercase.
///
/// Serde writes the string; deserialization runs the same check as [`FromStr`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TxHash(String);

impl TxHash {
    /// The 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TxHash {
    type Err = ParseTxHashError;

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`ParseTxHashError::Length`] or [`ParseTxHashError::InvalidCharacter`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let len = s.chars().count();
        if len != 64 {
            return Err(ParseTxHashError::Length { found: len });
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(ParseTxHashError::InvalidCharacter { found: c });
        }
        Ok(TxHash(s.to_ascii_lowercase()))
    }
}

impl TryFrom<String> for TxHash {
    type Error = ParseTxHashError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TxHash> for String {
    fn from(h: TxHash) -> String {
        h.0
    }
}

impl fmt::Display for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxHash({})", self.0)
    }
}
