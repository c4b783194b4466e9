//! Secret-bearing newtypes (wallet passwords and multisig blobs) whose `Debug` is redacted and
//! that have no `Display`, so they never end up in a log line or an error message.

use crate::newtype::secret_text;

secret_text!(
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

secret_text!(
    /// A key-exchange message of multisig setup (the RPC's `multisig_info`, text starting with
    /// `MultisigxV2`), returned by `prepare_multisig`, `make_multisig` and
    /// `exchange_multisig_keys` and given to the other participants' next round.
    ///
    /// Not to be confused with [`MultisigSyncInfo`], which re-syncs an already-built wallet.
    MultisigInfo,
    non_empty = "multisig_info"
);

secret_text!(
    /// Partial key-image data of a finished multisig wallet (hex), returned by
    /// `export_multisig_info` and given to the other signers' `import_multisig_info`
    /// before every spend and after each spend is mined.
    MultisigSyncInfo,
    non_empty = "multisig sync info"
);

secret_text!(
    /// A multisig transaction set in hex (the RPC's `multisig_txset`, or `tx_data_hex` for
    /// `sign_multisig`/`submit_multisig`): a spend being built and co-signed.
    MultisigTxset,
    non_empty = "multisig_txset"
);
