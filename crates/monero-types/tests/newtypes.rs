//! Hashes, wallet names and the redacted secret newtypes.

use monero_types::{
    InvalidValue, MultisigInfo, MultisigTxset, ParseHashError, TxHash, WalletName, WalletPassword,
};

#[test]
fn tx_hash_is_64_hex_lowercased() {
    let h: TxHash = "AB".repeat(32).parse().unwrap();
    assert_eq!(h.as_str(), "ab".repeat(32));
    assert!("ab".parse::<TxHash>().is_err());
    assert!("zz".repeat(32).parse::<TxHash>().is_err());
    assert!("ab".repeat(31).parse::<TxHash>().is_err());
    assert_eq!(
        "zz".repeat(32).parse::<TxHash>(),
        Err(ParseHashError::InvalidCharacter { found: 'z' })
    );
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<TxHash>(&json).unwrap(), h);
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
