//! 32-byte hashes as 64 hexadecimal characters: [`TxHash`] and [`BlockHash`].

use crate::error::ParseHashError;
use crate::newtype::validated_text;

validated_text!(
    /// A transaction hash (txid): 32 bytes as 64 lowercase hex characters, as in wallet-rpc's
    /// `tx_hash`, `tx_hash_list` and `txid` fields. Uppercase input is stored lowercase.
    ///
    /// Parsing (`FromStr`, `TryFrom<String>`, serde) accepts 64 hex digits of either case and
    /// returns [`ParseHashError`] for anything else.
    TxHash,
    ParseHashError,
    check_hash
);

validated_text!(
    /// A block hash: 32 bytes as 64 lowercase hex characters, as returned by the daemon's
    /// `generateblocks`. Parsed like [`TxHash`].
    BlockHash,
    ParseHashError,
    check_hash
);

/// 64 hexadecimal digits (either case), returned lowercase.
fn check_hash(s: &str) -> Result<String, ParseHashError> {
    let found = s.chars().count();
    if found != 64 {
        return Err(ParseHashError::Length { found });
    }
    if let Some(found) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(ParseHashError::InvalidCharacter { found });
    }
    Ok(s.to_ascii_lowercase())
}
