//! Every error this crate returns. All are `#[non_exhaustive]`; messages say what failed and
//! what to do, and never contain a secret (addresses, hashes, amounts and wallet names are
//! public; address errors quote no part of the address).

use thiserror::Error;

use crate::address::MoneroNetwork;

/// Text that is not a decimal XMR amount ([`Amount`](crate::Amount)'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseAmountError {
    /// The text is empty (whitespace is not trimmed, so `" "` is an invalid character).
    #[error("amount is empty; write XMR as digits, e.g. 1.5")]
    Empty,
    /// The text starts with `-`: amounts are never negative.
    #[error("amount {input:?} is negative; amounts are zero or more XMR")]
    Negative {
        /// The rejected text.
        input: String,
    },
    /// The text starts with the decimal point (`.5`).
    #[error("amount {input:?} has no digits before the decimal point; write 0.5, not .5")]
    MissingWholePart {
        /// The rejected text.
        input: String,
    },
    /// The text ends with the decimal point (`1.`).
    #[error("amount {input:?} ends with a decimal point; write 1 or 1.0")]
    MissingFraction {
        /// The rejected text.
        input: String,
    },
    /// A character other than an ASCII digit or one decimal point (a sign, an exponent, a
    /// space, a separator, a second point).
    #[error("amount {input:?} contains {found:?}; use only digits and one decimal point")]
    InvalidCharacter {
        /// The rejected text.
        input: String,
        /// The first offending character.
        found: char,
    },
    /// More than 12 digits after the point: finer than one piconero.
    #[error(
        "amount {input:?} has {found} decimals; XMR has at most {max} (1 piconero = 0.000000000001 XMR)"
    )]
    TooManyDecimals {
        /// The rejected text.
        input: String,
        /// The maximum, 12.
        max: usize,
        /// Decimals found.
        found: usize,
    },
    /// The value exceeds `u64::MAX` piconero (more than about 18.4 million XMR).
    #[error("amount {input:?} is too large; the maximum is 18446744.073709551615 XMR")]
    Overflow {
        /// The rejected text.
        input: String,
    },
}

/// Text that is not a Monero address ([`Address`](crate::Address)'s `FromStr` checks
/// `Length` and `Alphabet`; [`Address::validate`](crate::Address::validate) all of them).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
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
    /// The base58 blocks do not decode (an overflowing block), or the decoded bytes have the
    /// wrong length for the prefix.
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
        /// The network the address was checked against.
        network: MoneroNetwork,
        /// The decoded prefix.
        prefix: u64,
    },
}

/// Text that is not a network name ([`MoneroNetwork`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{found}` is not one of mainnet, regtest, testnet, stagenet")]
#[non_exhaustive]
pub struct ParseNetworkError {
    /// The rejected text.
    pub found: String,
}

/// Text that is not a 32-byte hash in hex ([`TxHash`](crate::TxHash) and
/// [`BlockHash`](crate::BlockHash) parsing).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// Not 64 characters.
    #[error("hash has {found} characters; expected 64 hex digits")]
    Length {
        /// Characters found.
        found: usize,
    },
    /// A non-hex character.
    #[error("hash contains {found:?}; expected hex digits 0-9a-f")]
    InvalidCharacter {
        /// The offending character.
        found: char,
    },
}

/// A value refused by [`WalletName`](crate::WalletName)'s parsing or by the `new` of a
/// multisig blob ([`MultisigInfo`](crate::MultisigInfo), ...).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// Not a bare wallet file name (empty, too long, a path, or `.`/`..`).
    #[error(
        "{input:?} is not a wallet file name: use 1-255 characters without '/', '\\\\' or NUL, not '.' or '..'"
    )]
    WalletName {
        /// The rejected input (wallet names are not secret).
        input: String,
    },
    /// An empty multisig blob (multisig_info, sync info or multisig_txset).
    #[error("{what} is empty")]
    EmptyBlob {
        /// Which blob was empty, e.g. "multisig_info".
        what: &'static str,
    },
}
