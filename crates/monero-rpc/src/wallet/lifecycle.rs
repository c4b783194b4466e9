//! Wallet lifecycle on a wallet-rpc process: `get_version`, `create_wallet`, `open_wallet`,
//! `close_wallet`, `store`.

use serde::{Deserialize, Serialize};

use super::{Empty, WalletClient};
use crate::error::{CODE_UNKNOWN, RpcError};
use crate::transport::Recording;
use monero_types::{WalletName, WalletPassword};

/// wallet-rpc's RPC interface version from `get_version`: `major << 16 | minor`
/// (0.18.0.0 reports 65561 = 1.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WalletVersion {
    /// The packed version number.
    pub version: u32,
    /// `true` for a tagged release build (Debian's package reports `false`).
    pub release: bool,
}

impl WalletVersion {
    /// Major RPC version (`version >> 16`).
    pub fn major(&self) -> u32 {
        self.version >> 16
    }

    /// Minor RPC version (`version & 0xffff`).
    pub fn minor(&self) -> u32 {
        self.version & 0xffff
    }
}

/// `open_wallet`'s params, also part of `create_wallet`'s.
#[derive(Serialize)]
struct WalletFileParams<'a> {
    filename: &'a WalletName,
    password: &'a str,
}

impl<'a> WalletFileParams<'a> {
    fn new(name: &'a WalletName, password: &'a WalletPassword) -> Self {
        WalletFileParams {
            filename: name,
            password: password.expose_secret(),
        }
    }
}

#[derive(Serialize)]
struct CreateWalletParams<'a> {
    #[serde(flatten)]
    file: WalletFileParams<'a>,
    language: &'static str,
}

#[derive(Serialize)]
struct ExistenceProbeParams<'a> {
    filename: &'a WalletName,
    seed: &'static str,
    password: &'static str,
}

/// wallet-rpc 0.18's message for any open_wallet failure (missing file or wrong password).
const FAILED_TO_OPEN: &str = "Failed to open wallet";
/// The probe's answer when the wallet file exists.
const ALREADY_EXISTS_MESSAGE: &str = "Wallet already exists.";
/// The probe's answer when it does not (the probe seed never verifies, so nothing is created).
const BAD_SEED_MESSAGE: &str = "Electrum-style word list failed verification";

impl WalletClient {
    /// The wallet-rpc RPC interface version; works with no wallet open, so it doubles as a
    /// liveness check. Calls `get_version`.
    ///
    /// # Errors
    /// [`RpcError::Transport`]/[`RpcError::Timeout`] when wallet-rpc is down or hung,
    /// [`RpcError::Unauthorized`] on a digest-auth failure.
    pub async fn get_version(&self) -> Result<WalletVersion, RpcError> {
        self.call("get_version", &Empty {}).await
    }

    /// Creates wallet file `name` (English seed language) in wallet-rpc's `--wallet-dir`,
    /// encrypted with `password`, and opens it (closing and storing the previously open one).
    /// Takes 2-5 s on 0.18. Calls `create_wallet`.
    ///
    /// # Errors
    /// [`RpcError::WalletAlreadyExists`] (code -21) if the file exists; transport errors.
    pub async fn create_wallet(
        &self,
        name: &WalletName,
        password: &WalletPassword,
    ) -> Result<(), RpcError> {
        let params = CreateWalletParams {
            file: WalletFileParams::new(name, password),
            language: "English",
        };
        let _: Empty = self.call("create_wallet", &params).await?;
        Ok(())
    }

    /// Opens wallet file `name` from `--wallet-dir`, closing and storing the previously open
    /// one on success (on failure the previous wallet stays open). Takes 2-5 s on 0.18.
    /// Calls `open_wallet`. The wallet is not refreshed: call [`WalletClient::refresh`] before
    /// reading balances (wallet-rpc only auto-refreshes every 20 s).
    ///
    /// wallet-rpc 0.18 answers both a missing file and a wrong password with code -1 "Failed
    /// to open wallet". To tell them apart, this method then sends `restore_deterministic_wallet`
    /// with the same file name and a seed that never verifies: wallet-rpc checks whether the
    /// file exists before it checks the seed, and creates nothing.
    ///
    /// # Errors
    /// [`RpcError::WalletNotFound`] if no such wallet file exists, [`RpcError::WrongPassword`]
    /// if it exists but cannot be decrypted with `password`; transport errors.
    pub async fn open_wallet(
        &self,
        name: &WalletName,
        password: &WalletPassword,
    ) -> Result<(), RpcError> {
        let params = WalletFileParams::new(name, password);
        let error = match self.call::<_, Empty>("open_wallet", &params).await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let RpcError::Rpc {
            code: CODE_UNKNOWN,
            message,
            ..
        } = &error
        else {
            return Err(error);
        };
        if message != FAILED_TO_OPEN {
            return Err(error);
        }
        match self.wallet_file_exists(name).await {
            Some(true) => Err(RpcError::WrongPassword {
                method: "open_wallet",
                wallet: name.clone(),
            }),
            Some(false) => Err(RpcError::WalletNotFound {
                method: "open_wallet",
                wallet: name.clone(),
            }),
            None => Err(error),
        }
    }

    /// `Some(exists)` from the side-effect-free `restore_deterministic_wallet` probe, `None`
    /// if its answer is not one of the two known ones.
    async fn wallet_file_exists(&self, name: &WalletName) -> Option<bool> {
        let params = ExistenceProbeParams {
            filename: name,
            seed: "mmkt-existence-probe",
            password: "",
        };
        let answer = self
            .transport
            .call::<_, Empty>(
                "restore_deterministic_wallet",
                &params,
                self.transport.timeout(),
                Recording::Unrecorded,
            )
            .await;
        match answer {
            Err(RpcError::Rpc { message, .. }) if message == ALREADY_EXISTS_MESSAGE => Some(true),
            Err(RpcError::WalletAlreadyExists { .. }) => Some(true),
            Err(RpcError::Rpc { message, .. }) if message == BAD_SEED_MESSAGE => Some(false),
            _ => None,
        }
    }

    /// Stores and closes the open wallet. Calls `close_wallet`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`] (code -13) if no wallet is open; transport errors.
    pub async fn close_wallet(&self) -> Result<(), RpcError> {
        let _: Empty = self.call("close_wallet", &Empty {}).await?;
        Ok(())
    }

    /// Writes the open wallet's state to disk. Calls `store`.
    ///
    /// # Errors
    /// [`RpcError::WalletNotOpen`] (code -13) if no wallet is open; transport errors.
    pub async fn store(&self) -> Result<(), RpcError> {
        let _: Empty = self.call("store", &Empty {}).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_unpacks() {
        let v = WalletVersion {
            version: 65561,
            release: false,
        };
        assert_eq!((v.major(), v.minor()), (1, 25));
    }
}
