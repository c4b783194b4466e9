//! The wallet-rpc endpoints of hosted mode and their digest login (`MMKT_WALLET_RPC_*`).

use std::fmt;

use escrow_core::Role;

use super::ConfigError;

/// Digest credentials for monero-wallet-rpc (`--rpc-login user:password`). Debug redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcLogin {
    username: String,
    password: String,
}

impl RpcLogin {
    /// Parses `user:password` (the wallet-rpc `--rpc-login` syntax).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] when there is no `:` or either side is empty.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.split_once(':') {
            Some((user, pass)) if !user.is_empty() && !pass.is_empty() => Ok(Self {
                username: user.to_owned(),
                password: pass.to_owned(),
            }),
            _ => Err(ConfigError::InvalidValue {
                name: "MMKT_WALLET_RPC_LOGIN",
                message: "expected `username:password` (the wallet-rpc --rpc-login value)".into(),
            }),
        }
    }

    /// The digest username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The digest password. Never log it.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for RpcLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcLogin")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The wallet-rpc endpoints the server drives, one per escrow role (hosted mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletRpcUrls {
    /// `MMKT_WALLET_RPC_BUYER_URL`, e.g. `http://127.0.0.1:18083`.
    pub buyer: Option<String>,
    /// `MMKT_WALLET_RPC_VENDOR_URL`.
    pub vendor: Option<String>,
    /// `MMKT_WALLET_RPC_ARBITER_URL`.
    pub arbiter: Option<String>,
}

impl WalletRpcUrls {
    /// The configured endpoints as `(role, url)` pairs, in buyer, vendor, arbiter order.
    pub fn configured(&self) -> Vec<(Role, &str)> {
        [
            (Role::Buyer, &self.buyer),
            (Role::Vendor, &self.vendor),
            (Role::Arbiter, &self.arbiter),
        ]
        .into_iter()
        .filter_map(|(role, url)| url.as_deref().map(|u| (role, u)))
        .collect()
    }
}
