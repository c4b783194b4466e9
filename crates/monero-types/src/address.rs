//! [`Address`]: a Monero address in base58 text, checked for shape when parsed and, through
//! [`Address::validate`], for the block base58 encoding, the Keccak-256 checksum and the
//! [`MoneroNetwork`] prefix.
//!
//! Decoded form (Monero `cryptonote::get_account_address_from_str`):
//! `varint(prefix) || public spend key (32) || public view key (32) || [payment id (8)] ||
//! checksum (4)`, where the checksum is the first 4 bytes of Keccak-256 over everything before
//! it. Regtest (monerod `--regtest`) uses mainnet prefixes, so addresses start with 4
//! (standard) or 8 (subaddress).

use std::fmt;
use std::str::FromStr;

use sha3::{Digest, Keccak256};

use crate::base58;
use crate::error::{AddressError, ParseNetworkError};
use crate::newtype::validated_text;

/// Length of a standard address or subaddress, in base58 characters.
pub const STANDARD_ADDRESS_LEN: usize = 95;
/// Length of an integrated address (address + 8-byte payment id), in base58 characters.
pub const INTEGRATED_ADDRESS_LEN: usize = 106;

const CHECKSUM_BYTES: usize = 4;
const KEYS_BYTES: usize = 64;
const PAYMENT_ID_BYTES: usize = 8;

/// The Monero network whose addresses are accepted (the server's `MMKT_MONERO_NETWORK`).
/// Regtest uses [`MoneroNetwork::Mainnet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoneroNetwork {
    /// Mainnet and regtest: prefixes 18 (standard, "4..."), 19 (integrated), 42 (subaddress, "8...").
    Mainnet,
    /// Testnet: prefixes 53, 54, 63.
    Testnet,
    /// Stagenet: prefixes 24, 25, 36.
    Stagenet,
}

impl MoneroNetwork {
    /// Lowercase name (`mainnet`, `testnet`, `stagenet`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MoneroNetwork::Mainnet => "mainnet",
            MoneroNetwork::Testnet => "testnet",
            MoneroNetwork::Stagenet => "stagenet",
        }
    }

    /// `(standard, integrated, subaddress)` address prefixes (Monero `cryptonote_config.h`).
    const fn prefixes(self) -> (u64, u64, u64) {
        match self {
            MoneroNetwork::Mainnet => (18, 19, 42),
            MoneroNetwork::Testnet => (53, 54, 63),
            MoneroNetwork::Stagenet => (24, 25, 36),
        }
    }
}

impl FromStr for MoneroNetwork {
    type Err = ParseNetworkError;

    /// Parses `mainnet`, `regtest` (= mainnet), `testnet` or `stagenet`.
    ///
    /// # Errors
    /// [`ParseNetworkError`] for any other text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mainnet" | "regtest" => Ok(MoneroNetwork::Mainnet),
            "testnet" => Ok(MoneroNetwork::Testnet),
            "stagenet" => Ok(MoneroNetwork::Stagenet),
            other => Err(ParseNetworkError {
                found: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for MoneroNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of address [`Address::validate`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// Primary address (95 characters).
    Standard,
    /// Primary address with an 8-byte payment id (106 characters).
    Integrated,
    /// Subaddress (95 characters).
    Subaddress,
}

validated_text!(
    /// A Monero address in base58 text form: standard (95 characters, e.g. a multisig escrow
    /// address or what wallet-rpc's `get_address` prints), subaddress (95) or integrated (106).
    ///
    /// Parsing (`FromStr`, `TryFrom<String>`, serde) checks only the shape: 95 or 106
    /// characters of Monero's base58 alphabet, which is enough for addresses that come from
    /// wallet-rpc or from storage (wallet-rpc verifies the checksum and network when an address
    /// is used). Addresses typed by people go through [`Address::validate`], which also checks
    /// the encoding, the checksum and the network.
    Address,
    AddressError,
    check_shape
);

impl Address {
    /// Validates `text` as an address of `network`: length, alphabet, block base58 encoding,
    /// Keccak-256 checksum and network prefix, and returns it with its kind.
    ///
    /// # Errors
    /// An [`AddressError`] saying what is wrong (messages quote no part of the address).
    pub fn validate(
        text: &str,
        network: MoneroNetwork,
    ) -> Result<(Address, AddressKind), AddressError> {
        let address: Address = text.parse()?;
        let data = base58::decode(text.as_bytes()).ok_or(AddressError::Encoding)?;
        if data.len() < CHECKSUM_BYTES + 1 {
            return Err(AddressError::Encoding);
        }
        let (body, checksum) = data.split_at(data.len() - CHECKSUM_BYTES);
        let digest = Keccak256::digest(body);
        if digest[..CHECKSUM_BYTES] != *checksum {
            return Err(AddressError::Checksum);
        }
        let (prefix, used) = base58::read_varint(body).ok_or(AddressError::Encoding)?;
        let rest = body.len() - used;
        let (standard, integrated, sub) = network.prefixes();
        let kind = match prefix {
            p if p == standard && rest == KEYS_BYTES => AddressKind::Standard,
            p if p == sub && rest == KEYS_BYTES => AddressKind::Subaddress,
            p if p == integrated && rest == KEYS_BYTES + PAYMENT_ID_BYTES => {
                AddressKind::Integrated
            }
            p if p == standard || p == sub || p == integrated => {
                return Err(AddressError::Encoding);
            }
            p => return Err(AddressError::WrongNetwork { network, prefix: p }),
        };
        Ok((address, kind))
    }
}

/// The shape check of [`Address`]'s parsing: 95 or 106 characters of Monero's base58 alphabet.
fn check_shape(s: &str) -> Result<String, AddressError> {
    let found = s.chars().count();
    if found != STANDARD_ADDRESS_LEN && found != INTEGRATED_ADDRESS_LEN {
        return Err(AddressError::Length { found });
    }
    if let Some(found) = s.chars().find(|c| !base58::is_base58(*c)) {
        return Err(AddressError::Alphabet { found });
    }
    Ok(s.to_owned())
}
