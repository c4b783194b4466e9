//! Multisig on the open wallet: setup (`prepare_multisig`, `make_multisig`,
//! `exchange_multisig_keys`, `is_multisig`), re-sync (`export_multisig_info`,
//! `import_multisig_info`) and spending (`describe_transfer`, `sign_multisig`,
//! `submit_multisig`).

use serde::{Deserialize, Serialize};

use super::{Empty, WalletClient, empty_as_none};
use crate::error::RpcError;
use crate::wallet::Destination;
use monero_types::Amount;
use monero_types::{
    Address, MultisigInfo, MultisigSyncInfo, MultisigTxset, TxHash, UnlockTime, WalletPassword,
};

/// Multisig state of the open wallet, from `is_multisig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MultisigStatus {
    /// `true` once `make_multisig` ran.
    pub multisig: bool,
    /// `true` once the key exchange finished: the wallet has its final address and can spend.
    pub ready: bool,
    /// Signatures needed to spend (M of M-of-N); 0 if not multisig.
    pub threshold: u32,
    /// Number of participants (N); 0 if not multisig.
    pub total: u32,
}

/// Result of one `exchange_multisig_keys` round.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyExchangeRound {
    /// The final multisig address once the exchange is complete; `None` while more rounds
    /// are needed.
    pub address: Option<Address>,
    /// This participant's message for the next round (give it to the others); `None` when
    /// wallet-rpc has nothing more to send.
    pub multisig_info: Option<MultisigInfo>,
}

/// What `sign_multisig` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOutcome {
    /// Enough signatures: submit `multisig_txset` with [`WalletClient::submit_multisig`].
    FullySigned {
        /// The signed transaction set.
        multisig_txset: MultisigTxset,
        /// Hashes the transactions will have once submitted.
        tx_hashes: Vec<TxHash>,
    },
    /// This signature was added but more are needed: pass `multisig_txset` to another signer.
    NeedsMoreSignatures {
        /// The transaction set with this signer's signature added.
        multisig_txset: MultisigTxset,
    },
}

impl SignOutcome {
    /// The transaction set after signing, whichever the outcome.
    pub fn multisig_txset(&self) -> &MultisigTxset {
        match self {
            SignOutcome::FullySigned { multisig_txset, .. }
            | SignOutcome::NeedsMoreSignatures { multisig_txset } => multisig_txset,
        }
    }
}

/// What one transaction of a transaction set does: one `desc[]` entry of wallet-rpc
/// `describe_transfer` (`COMMAND_RPC_DESCRIBE_TRANSFER::transfer_description`), as the wallet
/// asked decodes it. Amounts in atomic units (piconero). A co-signer checks this before signing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TransferDescription {
    /// Sum of the inputs spent (`amount_in`).
    pub amount_in: Amount,
    /// Sum of all outputs, recipients and change (`amount_out`): `amount_in - fee`.
    pub amount_out: Amount,
    /// Recipients and what each receives, change and zero-amount dummy outputs excluded
    /// (`recipients`; outputs to the same address are summed).
    #[serde(default)]
    pub recipients: Vec<Destination>,
    /// Change returned to the sending wallet (`change_amount`), 0 for none.
    #[serde(default)]
    pub change_amount: Amount,
    /// Where the change goes (`change_address`, the sending wallet's own address); `None`
    /// when there is no change.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub change_address: Option<Address>,
    /// Network fee (`fee`): `amount_in - amount_out`.
    pub fee: Amount,
    /// Lock on the outputs (`unlock_time`: 0, a block height, or Unix seconds).
    #[serde(default)]
    pub unlock_time: UnlockTime,
    /// Smallest ring size over the inputs (`ring_size`; 16 on 0.18).
    #[serde(default)]
    pub ring_size: u32,
    /// Payment id in hex (`payment_id`, 16 or 64 characters), `None` when there is none.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub payment_id: Option<String>,
    /// Outputs of amount 0 (`dummy_outputs`), added so a transaction has at least two.
    #[serde(default)]
    pub dummy_outputs: u32,
    /// The transaction's `extra` field in hex (`extra`: public keys, encrypted payment id).
    #[serde(default)]
    pub extra: String,
}

#[derive(Serialize)]
struct PrepareParams {
    enable_multisig_experimental: bool,
}

#[derive(Deserialize)]
struct InfoResponse {
    multisig_info: MultisigInfo,
}

#[derive(Serialize)]
struct MakeParams<'a> {
    multisig_info: &'a [MultisigInfo],
    threshold: u32,
    password: &'a str,
}

#[derive(Serialize)]
struct ExchangeParams<'a> {
    multisig_info: &'a [MultisigInfo],
    password: &'a str,
}

#[derive(Deserialize)]
struct ExchangeResponse {
    #[serde(default, deserialize_with = "empty_as_none")]
    address: Option<Address>,
    #[serde(default, deserialize_with = "empty_as_none")]
    multisig_info: Option<MultisigInfo>,
}

#[derive(Deserialize)]
struct ExportResponse {
    info: MultisigSyncInfo,
}

#[derive(Serialize)]
struct ImportParams<'a> {
    info: &'a [MultisigSyncInfo],
}

#[derive(Deserialize)]
struct ImportResponse {
    n_outputs: u64,
}

#[derive(Serialize)]
struct TxDataParams<'a> {
    tx_data_hex: &'a MultisigTxset,
}

#[derive(Deserialize)]
struct SignResponse {
    tx_data_hex: MultisigTxset,
    #[serde(default)]
    tx_hash_list: Vec<TxHash>,
}

#[derive(Deserialize)]
struct SubmitResponse {
    tx_hash_list: Vec<TxHash>,
}

#[derive(Serialize)]
struct DescribeParams<'a> {
    multisig_txset: &'a MultisigTxset,
}

#[derive(Deserialize)]
struct DescribeResponse {
    desc: Vec<TransferDescription>,
}

impl WalletClient {
    /// First step of multisig setup on a fresh, empty wallet: returns this participant's
    /// first key-exchange message. Always sends `enable_multisig_experimental: true`, which
    /// 0.18 needs (it put multisig behind that experimental flag); the flag is stored in the wallet's `.keys` file only once
    /// `make_multisig` runs in the same session, so after a reopen call this again first.
    /// Calls `prepare_multisig`.
    ///
    /// Never turn a funded wallet into a multisig wallet: wallet-rpc does not refuse, and the
    /// old balance disappears from view.
    ///
    /// # Errors
    /// [`RpcError::AlreadyMultisig`] (-28) if the wallet is already multisig;
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn prepare_multisig(&self) -> Result<MultisigInfo, RpcError> {
        let params = PrepareParams {
            enable_multisig_experimental: true,
        };
        let r: InfoResponse = self.call("prepare_multisig", &params).await?;
        Ok(r.multisig_info)
    }

    /// Second step: combines the other participants' `prepare_multisig` messages into an
    /// M-of-N wallet (`threshold` = M, N = others + 1) and returns the message for the first
    /// `exchange_multisig_keys` round. The address wallet-rpc returns here is a placeholder
    /// and is deliberately not exposed. Calls `make_multisig`.
    ///
    /// # Errors
    /// [`RpcError::AlreadyMultisig`] (-28); [`RpcError::Rpc`] for bad messages or threshold;
    /// transport errors.
    pub async fn make_multisig(
        &self,
        others: &[MultisigInfo],
        threshold: u32,
        password: &WalletPassword,
    ) -> Result<MultisigInfo, RpcError> {
        let params = MakeParams {
            multisig_info: others,
            threshold,
            password: password.expose_secret(),
        };
        let r: InfoResponse = self.call("make_multisig", &params).await?;
        Ok(r.multisig_info)
    }

    /// One key-exchange round, given the other participants' messages from the previous
    /// round (collect all of a round before starting the next). For 2-of-3 on 0.18 two rounds
    /// follow `make_multisig`; after the last one [`KeyExchangeRound::address`] is set and
    /// [`WalletClient::is_multisig`] reports `ready`. Calls `exchange_multisig_keys`.
    ///
    /// # Errors
    /// [`RpcError::AlreadyMultisig`] (-28 "already finalized") after the last round;
    /// [`RpcError::MultisigDisabled`] (-48) if the wallet was made multisig without the
    /// experimental flag; transport errors.
    pub async fn exchange_multisig_keys(
        &self,
        others: &[MultisigInfo],
        password: &WalletPassword,
    ) -> Result<KeyExchangeRound, RpcError> {
        let params = ExchangeParams {
            multisig_info: others,
            password: password.expose_secret(),
        };
        let r: ExchangeResponse = self.call("exchange_multisig_keys", &params).await?;
        Ok(KeyExchangeRound {
            address: r.address,
            multisig_info: r.multisig_info,
        })
    }

    /// Multisig state of the open wallet. Calls `is_multisig`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`]; transport errors.
    pub async fn is_multisig(&self) -> Result<MultisigStatus, RpcError> {
        self.call("is_multisig", &Empty {}).await
    }

    /// This signer's partial key images, for the other signers' `import_multisig_info`.
    /// Needed before every spend and after each spend is mined. Exporting again replaces the
    /// previous export: a transaction set built with the old one then fails to sign with
    /// [`RpcError::MultisigResyncNeeded`]. Calls `export_multisig_info`.
    ///
    /// # Errors
    /// [`RpcError::NotMultisig`] (-31) if the wallet is not a finished multisig wallet;
    /// [`RpcError::MultisigDisabled`] (-48); transport errors.
    pub async fn export_multisig_info(&self) -> Result<MultisigSyncInfo, RpcError> {
        let r: ExportResponse = self.call("export_multisig_info", &Empty {}).await?;
        Ok(r.info)
    }

    /// Imports the other signers' `export_multisig_info` data (not this wallet's own) and
    /// returns the number of outputs updated. Calls `import_multisig_info`.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] -1 "Wrong number of multisig sources" if fewer than threshold-1
    /// exports are given, -26 for malformed data; [`RpcError::NotMultisig`]; transport errors.
    pub async fn import_multisig_info(&self, others: &[MultisigSyncInfo]) -> Result<u64, RpcError> {
        let r: ImportResponse = self
            .call("import_multisig_info", &ImportParams { info: others })
            .await?;
        Ok(r.n_outputs)
    }

    /// Adds this signer's signature to `txset` (from `transfer`/`sweep_all` of another
    /// signer). Check it first with [`WalletClient::describe_transfer`]. Calls
    /// `sign_multisig`.
    ///
    /// # Errors
    /// [`RpcError::MultisigResyncNeeded`] (-35 "stale data") if multisig info was exported
    /// again after the set was built; [`RpcError::Rpc`] -35 if this signer already signed;
    /// [`RpcError::InvalidTxset`] (-34) for malformed data; transport errors.
    pub async fn sign_multisig(&self, txset: &MultisigTxset) -> Result<SignOutcome, RpcError> {
        let r: SignResponse = self
            .call("sign_multisig", &TxDataParams { tx_data_hex: txset })
            .await?;
        if r.tx_hash_list.is_empty() {
            return Ok(SignOutcome::NeedsMoreSignatures {
                multisig_txset: r.tx_data_hex,
            });
        }
        Ok(SignOutcome::FullySigned {
            multisig_txset: r.tx_data_hex,
            tx_hashes: r.tx_hash_list,
        })
    }

    /// Relays a fully signed transaction set through the wallet's daemon and returns the
    /// transaction hashes. Submitting the same set twice returns the same hashes.
    /// Calls `submit_multisig`.
    ///
    /// # Errors
    /// [`RpcError::NotEnoughSigners`] (-33) if it lacks signatures; [`RpcError::InvalidTxset`]
    /// (-34) for malformed data; [`RpcError::Rpc`] for a daemon rejection; transport errors.
    pub async fn submit_multisig(&self, txset: &MultisigTxset) -> Result<Vec<TxHash>, RpcError> {
        let r: SubmitResponse = self
            .call("submit_multisig", &TxDataParams { tx_data_hex: txset })
            .await?;
        Ok(r.tx_hash_list)
    }

    /// Decodes what a multisig transaction set would do, one [`TransferDescription`] per
    /// transaction (recipients, amounts in piconero, fee, change, unlock time), without signing
    /// it. Calls `describe_transfer` with `multisig_txset` (the response's `summary` is not
    /// returned: it is the sum of the descriptions).
    ///
    /// # Errors
    /// [`RpcError::InvalidTxset`] when wallet-rpc cannot decode the set: -34 "cannot load
    /// multisig_txset" (not a multisig set of this wallet), -26 (not hex), or -39 when the set
    /// claims change that no output pays ("Claimed change does not go to a paid address",
    /// "Change goes to more than one address"); a co-signer must not sign such a set. A
    /// wallet that is not multisig also answers -34. Transport errors.
    pub async fn describe_transfer(
        &self,
        txset: &MultisigTxset,
    ) -> Result<Vec<TransferDescription>, RpcError> {
        let r: DescribeResponse = self
            .call(
                "describe_transfer",
                &DescribeParams {
                    multisig_txset: txset,
                },
            )
            .await?;
        Ok(r.desc)
    }
}
