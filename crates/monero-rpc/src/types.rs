//! Identifier and secret newtypes (addresses, hashes, wallet names, multisig blobs) that keep
//! the RPC's many strings from being mixed up or logged.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string was rejected by one of this module's constructors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// Not a Monero address: standard and subaddresses are 95 base58 characters,
    /// integrated addresses 106.
    #[error("{input:?} is not a Monero address (expected 95 or 106 base58 characters)")]
    Address {
        /// The rejected input (addresses are public).
        input: String,
    },
    /// Not a 32-byte hash written as 64 hexadecimal characters.
    #[error("{input:?} is not a 32-byte hash (expected 64 hexadecimal characters)")]
    Hash {
        /// The rejected input (hashes are public).
        input: String,
    },
    /// Not a bare wallet file name (empty, too long, a path, or `.`/`..`).
    #[error(
        "{input:?} is not a wallet file name: use 1-255 characters without '/', '\\\\' or NUL, not '.' or '..'"
    )]
    WalletName {
        /// The rejected input.
        input: String,
    },
    /// An empty multisig blob (multisig_info, sync info or multisig_txset).
    #[error("{what} is empty")]
    EmptyBlob {
        /// Which blob was empty, e.g. "multisig_info".
        what: &'static str,
    },
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A Monero address in base58 (standard, subaddress or integrated), as printed by
/// `get_address`. On regtest the daemon runs a local test chain and wallet-rpc runs in mainnet mode,
/// so addresses start with `4` (or `8` for subaddresses).
///
/// Only the shape is checked (length 95 or 106, base58 alphabet), not the checksum:
/// monero-wallet-rpc verifies the checksum and network when the address is used.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address(String);

impl Address {
    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Address {
    type Err = InvalidValue;

    /// # Errors
    /// [`InvalidValue::Address`] if the length is not 95/106 or a character is not base58.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape_ok = matches!(s.len(), 95 | 106) && s.bytes().all(|b| BASE58.contains(&b));
        if !shape_ok {
            return Err(InvalidValue::Address {
                input: s.to_owned(),
            });
        }
        Ok(Address(s.to_owned()))
    }
}

impl TryFrom<String> for Address {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0)
    }
}

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The hash as 64 lowercase hexadecimal characters.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            /// Accepts 64 hexadecimal characters (either case; stored lowercase).
            ///
            /// # Errors
            /// [`InvalidValue::Hash`] for any other input.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(InvalidValue::Hash { input: s.to_owned() });
                }
                Ok($name(s.to_ascii_lowercase()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(h: $name) -> String {
                h.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

hash_newtype!(
    /// A transaction hash (txid): 32 bytes as 64 hex characters, as in wallet-rpc's `tx_hash`,
    /// `tx_hash_list` and `txid` fields.
    TxHash
);

hash_newtype!(
    /// A block hash: 32 bytes as 64 hex characters, as returned by the daemon's `generateblocks`.
    BlockHash
);

/// The file name of a wallet inside wallet-rpc's `--wallet-dir` (the RPC's `filename`),
/// e.g. `"escrow-42-buyer"`. Never a path.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WalletName(String);

impl WalletName {
    /// The file name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WalletName {
    type Err = InvalidValue;

    /// # Errors
    /// [`InvalidValue::WalletName`] if empty, longer than 255 bytes, `.`/`..`, or containing
    /// `/`, `\` or NUL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            s.is_empty() || s.len() > 255 || s == "." || s == ".." || s.contains(['/', '\\', '\0']);
        if bad {
            return Err(InvalidValue::WalletName {
                input: s.to_owned(),
            });
        }
        Ok(WalletName(s.to_owned()))
    }
}

impl TryFrom<String> for WalletName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WalletName> for String {
    fn from(w: WalletName) -> String {
        w.0
    }
}

impl fmt::Display for WalletName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WalletName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WalletName({})", self.0)
    }
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` prints only the length; there is no `Display`, so it cannot end up in a log
        /// line by accident. Serde reads and writes the plain string.
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The secret content. Do not log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Length of the content in bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// `true` if the content is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(<redacted, {} bytes>)", stringify!($name), self.0.len())
            }
        }
    };
}

macro_rules! non_empty_blob {
    ($name:ident, $what:literal) => {
        impl $name {
            /// Wraps `value` (as received from another participant or from storage).
            ///
            /// # Errors
            /// [`InvalidValue::EmptyBlob`] if `value` is empty.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                if value.is_empty() {
                    return Err(InvalidValue::EmptyBlob { what: $what });
                }
                Ok($name(value))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::new(value)
            }
        }
    };
}

secret_newtype!(
    /// A wallet password (the RPC's `password` for `create_wallet`, `open_wallet`,
    /// `make_multisig` and `exchange_multisig_keys`). May be empty.
    WalletPassword
);

impl WalletPassword {
    /// Wraps `value`; an empty password is allowed (wallet-rpc accepts it).
    pub fn new(value: impl Into<String>) -> Self {
        WalletPassword(value.into())
    }
}

secret_newtype!(
    /// A key-exchange message of multisig setup (the RPC's `multisig_info`, text starting with
    /// `MultisigxV2`), returned by `prepare_multisig`, `make_multisig` and
    /// `exchange_multisig_keys` and given to the other participants' next round.
    ///
    /// Not to be confused with [`MultisigSyncInfo`], which re-syncs an already-built wallet.
    MultisigInfo
);
non_empty_blob!(MultisigInfo, "multisig_info");

secret_newtype!(
    /// Partial key-image data of a finished multisig wallet (hex), returned by
    /// `export_multisig_info` and given to the other signers' `import_multisig_info`
    /// before every spend and after each spend is mined.
    MultisigSyncInfo
);
non_empty_blob!(MultisigSyncInfo, "multisig sync info");

secret_newtype!(
    /// A multisig transaction set in hex (the RPC's `multisig_txset`, or `tx_data_hex` for
    /// `sign_multisig`/`submit_multisig`): a spend being built and co-signed.
    MultisigTxset
);
non_empty_blob!(MultisigTxset, "multisig_txset");

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: &str = "44PZicHfrtSPUBjtcaMnAfX7CABmRib8FP4TLDXakGNTQDSt77FAoi8ere7egpipaQjS3VnkaniDwjmmu5f2yaVGTeidt4p";

    #[test]
    fn address_shape_is_checked() {
        let a: Address = ADDR.parse().unwrap();
        assert_eq!(a.as_str(), ADDR);
        assert!("4abc".parse::<Address>().is_err());
        // '0' is not in the base58 alphabet.
        let zero = format!("0{}", &ADDR[1..]);
        assert!(zero.parse::<Address>().is_err());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Address>("\"4abc\"").is_err());
    }

    #[test]
    fn tx_hash_is_64_hex_lowercased() {
        let h: TxHash = "AB".repeat(32).parse().unwrap();
        assert_eq!(h.as_str(), "ab".repeat(32));
        assert!("ab".parse::<TxHash>().is_err());
        assert!("zz".repeat(32).parse::<TxHash>().is_err());
    }

    #[test]
    fn wallet_names_are_bare_file_names() {
        assert!("escrow-1-buyer".parse::<WalletName>().is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\0b"] {
            assert!(bad.parse::<WalletName>().is_err(), "{bad:?}");
        }
        assert!("x".repeat(256).parse::<WalletName>().is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let p = WalletPassword::new("hunter2");
        assert_eq!(format!("{p:?}"), "WalletPassword(<redacted, 7 bytes>)");
        let t = MultisigTxset::new("deadbeef").unwrap();
        assert!(!format!("{t:?}").contains("deadbeef"));
        let i = MultisigInfo::new("MultisigxV2R1abc").unwrap();
        assert!(!format!("{i:?}").contains("abc"));
        assert!(WalletPassword::new("").is_empty());
        assert_eq!(
            MultisigTxset::new(""),
            Err(InvalidValue::EmptyBlob {
                what: "multisig_txset"
            })
        );
    }
}
