//! Network-aware Monero address validation for payout and refund addresses: Monero's block
//! base58, the network prefix byte and the Keccak-256 checksum.
//!
//! Format (Monero `cryptonote::get_account_address_from_str`): base58 in 8-byte blocks (11
//! characters each, a shorter last block), decoding to
//! `varint(prefix) || public spend key (32) || public view key (32) || [payment id (8)] ||
//! checksum (4)`, where the checksum is the first 4 bytes of Keccak-256 over everything before it.
//! Regtest (monerod `--regtest`) uses mainnet prefixes, so addresses start with 4 (standard) or
//! 8 (subaddress).

use std::fmt;
use std::str::FromStr;

use escrow_core::MoneroAddress;
use sha3::{Digest, Keccak256};

/// Monero's base58 alphabet.
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Encoded length of a block of `i` bytes (index = bytes, value = characters).
const ENCODED_BLOCK_SIZES: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];
const FULL_BLOCK_CHARS: usize = 11;
const FULL_BLOCK_BYTES: usize = 8;
const CHECKSUM_BYTES: usize = 4;
const KEYS_BYTES: usize = 64;
const PAYMENT_ID_BYTES: usize = 8;

/// The Monero network whose addresses the server accepts (`MMKT_MONERO_NETWORK`). Regtest uses
/// [`MoneroNetwork::Mainnet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mainnet" | "regtest" => Ok(MoneroNetwork::Mainnet),
            "testnet" => Ok(MoneroNetwork::Testnet),
            "stagenet" => Ok(MoneroNetwork::Stagenet),
            other => Err(format!(
                "`{other}` is not one of mainnet, regtest, testnet, stagenet"
            )),
        }
    }
}

impl fmt::Display for MoneroNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of address was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Primary address (95 characters).
    Standard,
    /// Primary address with an 8-byte payment id (106 characters).
    Integrated,
    /// Subaddress (95 characters).
    Subaddress,
}

/// Why an address was refused. Messages quote no more than the address's first characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not 95 or 106 characters.
    #[error(
        "a Monero address has 95 (standard, subaddress) or 106 (integrated) characters, found {found}"
    )]
    Length {
        /// Characters found.
        found: usize,
    },
    /// A character outside Monero's base58 alphabet.
    #[error("character {found:?} is not in Monero's base58 alphabet")]
    Alphabet {
        /// The offending character.
        found: char,
    },
    /// The base58 blocks do not decode (overflowing block).
    #[error("the address is not valid Monero base58")]
    Encoding,
    /// The checksum does not match (a typo or a truncated copy).
    #[error("the address checksum does not match: check for a typo")]
    Checksum,
    /// A valid address of another network.
    #[error(
        "the address is not a {network} address (prefix {prefix}); use an address of the network this marketplace runs on"
    )]
    WrongNetwork {
        /// The configured network.
        network: MoneroNetwork,
        /// The decoded prefix.
        prefix: u64,
    },
}

/// Validates `text` as an address of `network`: length, alphabet, base58 blocks, checksum and
/// network prefix, and returns it as escrow-core's [`MoneroAddress`] with its kind.
///
/// # Errors
/// An [`AddressError`] saying what is wrong.
pub fn validate(
    text: &str,
    network: MoneroNetwork,
) -> Result<(MoneroAddress, AddressKind), AddressError> {
    let chars = text.chars().count();
    if chars != 95 && chars != 106 {
        return Err(AddressError::Length { found: chars });
    }
    if let Some(c) = text
        .chars()
        .find(|c| !c.is_ascii() || !ALPHABET.contains(&(*c as u8)))
    {
        return Err(AddressError::Alphabet { found: c });
    }
    let data = decode(text.as_bytes())?;
    if data.len() < CHECKSUM_BYTES + 1 {
        return Err(AddressError::Encoding);
    }
    let (body, checksum) = data.split_at(data.len() - CHECKSUM_BYTES);
    let digest = Keccak256::digest(body);
    if digest[..CHECKSUM_BYTES] != *checksum {
        return Err(AddressError::Checksum);
    }
    let (prefix, used) = read_varint(body).ok_or(AddressError::Encoding)?;
    let rest = body.len() - used;
    let (standard, integrated, sub) = network.prefixes();
    let kind = match prefix {
        p if p == standard && rest == KEYS_BYTES => AddressKind::Standard,
        p if p == sub && rest == KEYS_BYTES => AddressKind::Subaddress,
        p if p == integrated && rest == KEYS_BYTES + PAYMENT_ID_BYTES => AddressKind::Integrated,
        p if p == standard || p == sub || p == integrated => return Err(AddressError::Encoding),
        p => return Err(AddressError::WrongNetwork { network, prefix: p }),
    };
    let address = text
        .parse::<MoneroAddress>()
        .map_err(|_| AddressError::Encoding)?;
    Ok((address, kind))
}

fn decode(text: &[u8]) -> Result<Vec<u8>, AddressError> {
    let mut out = Vec::with_capacity(text.len() * FULL_BLOCK_BYTES / FULL_BLOCK_CHARS + 1);
    for block in text.chunks(FULL_BLOCK_CHARS) {
        let bytes = ENCODED_BLOCK_SIZES
            .iter()
            .position(|&n| n == block.len())
            .ok_or(AddressError::Encoding)?;
        let mut value: u128 = 0;
        for &c in block {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or(AddressError::Encoding)? as u128;
            value = value * 58 + digit;
        }
        if bytes < 16 && value >> (8 * bytes) != 0 {
            return Err(AddressError::Encoding);
        }
        let be = value.to_be_bytes();
        out.extend_from_slice(&be[16 - bytes..]);
    }
    Ok(out)
}

/// Reads a LEB128 varint (Monero's `tools::read_varint`); returns the value and bytes used.
fn read_varint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Monero General Fund donation address (mainnet, standard).
    const GENERAL_FUND: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

    #[test]
    fn accepts_a_real_mainnet_address() {
        let (addr, kind) = validate(GENERAL_FUND, MoneroNetwork::Mainnet).unwrap();
        assert_eq!(addr.as_str(), GENERAL_FUND);
        assert_eq!(kind, AddressKind::Standard);
    }

    #[test]
    fn refuses_other_networks_typos_and_garbage() {
        assert!(matches!(
            validate(GENERAL_FUND, MoneroNetwork::Stagenet),
            Err(AddressError::WrongNetwork { prefix: 18, .. })
        ));
        // One character changed: checksum mismatch.
        let mut typo = GENERAL_FUND.to_owned();
        typo.replace_range(
            10..11,
            if &GENERAL_FUND[10..11] == "a" {
                "b"
            } else {
                "a"
            },
        );
        assert_eq!(
            validate(&typo, MoneroNetwork::Mainnet),
            Err(AddressError::Checksum)
        );
        assert!(matches!(
            validate("4abc", MoneroNetwork::Mainnet),
            Err(AddressError::Length { found: 4 })
        ));
        let zero = format!("0{}", &GENERAL_FUND[1..]);
        assert_eq!(
            validate(&zero, MoneroNetwork::Mainnet),
            Err(AddressError::Alphabet { found: '0' })
        );
        let overflow = format!("{}{}", "z".repeat(11), &GENERAL_FUND[11..]);
        assert!(validate(&overflow, MoneroNetwork::Mainnet).is_err());
    }

    #[test]
    fn network_names_parse() {
        assert_eq!(
            "regtest".parse::<MoneroNetwork>().unwrap(),
            MoneroNetwork::Mainnet
        );
        assert_eq!(
            "stagenet".parse::<MoneroNetwork>().unwrap(),
            MoneroNetwork::Stagenet
        );
        assert!("moon".parse::<MoneroNetwork>().is_err());
    }
}
