//! [`WalletClient`]: typed calls to one monero-wallet-rpc process, split by theme into
//! wallet lifecycle, funds and multisig.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::RpcError;
use crate::transport::{Recording, Transport, client_transport_methods};

mod funds;
mod lifecycle;
mod multisig;

pub use funds::{
    Balance, Destination, RefreshSummary, SubaddressIndex, SweepOutcome, TransferEntry,
    TransferFilter, TransferKind, TransferOptions, TransferOutcome, TransferPriority, Transfers,
};
pub use lifecycle::WalletVersion;
pub use multisig::{KeyExchangeRound, MultisigStatus, SignOutcome, TransferDescription};

/// Default per-call timeout of wallet-rpc calls: 30 s. `create_wallet`/`open_wallet` take
/// 2-5 s on 0.18 (an RSA certificate is generated per load); `refresh` of a long chain can
/// take longer, raise it with [`WalletClient::with_timeout`] for that.
pub const DEFAULT_WALLET_TIMEOUT: Duration = Duration::from_secs(30);

/// Default wallet label (span field and `wallet` metric label) until
/// [`WalletClient::with_label`] is called.
pub const DEFAULT_WALLET_LABEL: &str = "wallet";

/// A client for one monero-wallet-rpc process (`<base_url>/json_rpc`). Cheap to clone; clones
/// share the digest-auth state.
///
/// A wallet-rpc process has at most one open wallet: lifecycle calls (`create_wallet`,
/// `open_wallet`, `close_wallet`) switch it, every other call acts on the open one and fails
/// with [`RpcError::WalletNotOpen`] when there is none.
///
/// ```no_run
/// # async fn demo() -> Result<(), monero_rpc::RpcError> {
/// use std::time::Duration;
/// use monero_rpc::{DigestCredentials, WalletClient};
/// let buyer = WalletClient::new("http://127.0.0.1:18083")?
///     .with_label("buyer")
///     .with_credentials(DigestCredentials::new("mmkt", "rpc-password"))
///     .with_timeout(Duration::from_secs(60));
/// let version = buyer.get_version().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WalletClient {
    transport: Transport,
}

client_transport_methods!(
    WalletClient,
    "every call",
    "wallet-rpc",
    "http://127.0.0.1:18083/json_rpc"
);

impl WalletClient {
    /// A client for the wallet-rpc at `base_url`, e.g. `"http://127.0.0.1:18083"` (the client
    /// appends `/json_rpc`), with label [`DEFAULT_WALLET_LABEL`], no credentials and a
    /// [`DEFAULT_WALLET_TIMEOUT`] per call.
    ///
    /// # Errors
    /// [`RpcError::InvalidUrl`] if `base_url` is not an http(s) URL with a host, or contains
    /// credentials (use [`WalletClient::with_credentials`]).
    pub fn new(base_url: &str) -> Result<Self, RpcError> {
        Ok(WalletClient {
            transport: Transport::new(base_url, DEFAULT_WALLET_LABEL, DEFAULT_WALLET_TIMEOUT)?,
        })
    }

    /// Sets the label recorded as the `wallet` metric label and span field, e.g. `"buyer"`.
    /// Use a small fixed set of labels (roles), never per-escrow names, to bound metric
    /// cardinality.
    #[must_use]
    pub fn with_label(mut self, label: &str) -> Self {
        self.transport.set_label(label);
        self
    }

    /// The label given with [`WalletClient::with_label`].
    pub fn label(&self) -> &str {
        self.transport.label()
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.transport.timeout()
    }

    async fn call<P, R>(&self, method: &'static str, params: &P) -> Result<R, RpcError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call_recording(method, params, Recording::Recorded)
            .await
    }

    /// [`WalletClient::call`] with its own [`Recording`] (e.g. an expected error left out of
    /// the error counter).
    async fn call_recording<P, R>(
        &self,
        method: &'static str,
        params: &P,
        recording: Recording,
    ) -> Result<R, RpcError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.transport
            .call(method, params, self.transport.timeout(), recording)
            .await
    }
}

/// The empty JSON object some methods take as params or return as result.
#[derive(Serialize, Deserialize)]
struct Empty {}

/// Deserializes `""` (wallet-rpc's "nothing") as `None` and anything else with `T::try_from`.
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let s = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    if s.is_empty() {
        return Ok(None);
    }
    T::try_from(s).map(Some).map_err(serde::de::Error::custom)
}
