//! [`WalletName`]: the file name of a wallet inside wallet-rpc's `--wallet-dir`.

use crate::error::InvalidValue;
use crate::newtype::validated_text;

/// Longest wallet file name, in bytes (the usual file-system limit).
const MAX_WALLET_NAME_BYTES: usize = 255;

validated_text!(
    /// The file name of a wallet inside wallet-rpc's `--wallet-dir` (the RPC's `filename`),
    /// e.g. `"escrow-42-buyer"`. Never a path.
    ///
    /// Parsing (`FromStr`, `TryFrom<String>`, serde) returns [`InvalidValue::WalletName`] if
    /// the text is empty, longer than 255 bytes, `.`/`..`, or contains `/`, `\` or NUL.
    WalletName,
    InvalidValue,
    check_wallet_name
);

fn check_wallet_name(s: &str) -> Result<String, InvalidValue> {
    let bad = s.is_empty()
        || s.len() > MAX_WALLET_NAME_BYTES
        || s == "."
        || s == ".."
        || s.contains(['/', '\\', '\0']);
    if bad {
        return Err(InvalidValue::WalletName {
            input: s.to_owned(),
        });
    }
    Ok(s.to_owned())
}
