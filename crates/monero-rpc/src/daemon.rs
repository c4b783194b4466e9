//! [`DaemonClient`]: typed calls to monerod's JSON-RPC (`get_info`, `get_block_count`,
//! `generateblocks`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::RpcError;
use crate::transport::{Recording, Transport, client_transport_methods};
use monero_types::{Address, BlockHash};

/// Default timeout of the daemon's status calls (`get_info`, `get_block_count`): 10 s.
pub const DEFAULT_DAEMON_TIMEOUT: Duration = Duration::from_secs(10);

/// Default timeout of `generateblocks`: 300 s (mining 80 regtest blocks takes 11-14 s on two
/// cores; a few hundred can take minutes).
pub const DEFAULT_MINING_TIMEOUT: Duration = Duration::from_secs(300);

/// Label used as the `wallet` metric label and span field of daemon calls.
pub const DAEMON_LABEL: &str = "monerod";

/// A client for one monerod's JSON-RPC (`<base_url>/json_rpc`). Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), monero_rpc::RpcError> {
/// let daemon = monero_rpc::DaemonClient::new("http://127.0.0.1:18081")?;
/// let height = daemon.get_block_count().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DaemonClient {
    transport: Transport,
    mining_timeout: Duration,
}

/// Node status from monerod `get_info` (a subset of its fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DaemonInfo {
    /// Number of blocks in the chain (the next block's height).
    pub height: u64,
    /// Height the node is syncing towards; 0 when it knows no better peer.
    pub target_height: u64,
    /// Network type: `"mainnet"`, `"testnet"`, `"stagenet"`, or monerod's name for its local
    /// test chain when started with `--regtest`.
    pub nettype: String,
    /// `true` when started with `--offline`.
    pub offline: bool,
    /// `true` when the node considers itself synchronized.
    pub synchronized: bool,
    /// `true` while the node is busy syncing.
    pub busy_syncing: bool,
    /// Hash of the top block.
    pub top_block_hash: BlockHash,
    /// Number of transactions in the pool.
    pub tx_pool_size: u64,
    /// Daemon version string, e.g. `"0.18.0.0-unknown"`.
    pub version: String,
    /// `"OK"` on success.
    pub status: String,
}

/// Result of monerod `generateblocks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GeneratedBlocks {
    /// Height of the top block after mining (= block count - 1; monerod's `height`).
    pub height: u64,
    /// Hashes of the new blocks, oldest first.
    pub blocks: Vec<BlockHash>,
}

#[derive(Deserialize)]
struct BlockCount {
    count: u64,
    status: String,
}

#[derive(Deserialize)]
struct GenerateBlocksResponse {
    height: u64,
    blocks: Option<Vec<BlockHash>>,
    status: String,
}

#[derive(Serialize)]
struct GenerateBlocksParams<'a> {
    amount_of_blocks: u64,
    wallet_address: &'a Address,
}

/// The empty JSON object (`{}`) the status calls take as params.
#[derive(Serialize)]
struct NoParams {}

client_transport_methods!(
    DaemonClient,
    "the status calls (`get_info`, `get_block_count`)",
    "monerod",
    "http://127.0.0.1:18081/json_rpc"
);

impl DaemonClient {
    /// A client for the monerod at `base_url`, e.g. `"http://127.0.0.1:18081"` (the client
    /// appends `/json_rpc`). Status calls time out after [`DEFAULT_DAEMON_TIMEOUT`],
    /// `generateblocks` after [`DEFAULT_MINING_TIMEOUT`].
    ///
    /// # Errors
    /// [`RpcError::InvalidUrl`] if `base_url` is not an http(s) URL with a host and no
    /// credentials.
    pub fn new(base_url: &str) -> Result<Self, RpcError> {
        Ok(DaemonClient {
            transport: Transport::new(base_url, DAEMON_LABEL, DEFAULT_DAEMON_TIMEOUT)?,
            mining_timeout: DEFAULT_MINING_TIMEOUT,
        })
    }

    /// Node status. Calls monerod `get_info`.
    ///
    /// # Errors
    /// [`RpcError::Transport`]/[`RpcError::Timeout`] when monerod is down or slow,
    /// [`RpcError::Decode`] for an unexpected answer, [`RpcError::Rpc`] if `status` is not OK.
    pub async fn get_info(&self) -> Result<DaemonInfo, RpcError> {
        let status: fn(&DaemonInfo) -> &str = |r| &r.status;
        self.call("get_info", &NoParams {}, self.transport.timeout(), status)
            .await
    }

    /// Number of blocks in the chain (= height of the top block + 1). Calls monerod
    /// `get_block_count`.
    ///
    /// # Errors
    /// As [`DaemonClient::get_info`].
    pub async fn get_block_count(&self) -> Result<u64, RpcError> {
        let r = self
            .call(
                "get_block_count",
                &NoParams {},
                self.transport.timeout(),
                |r: &BlockCount| &r.status,
            )
            .await?;
        Ok(r.count)
    }

    /// Sets the timeout of `generateblocks`.
    #[must_use]
    pub fn with_mining_timeout(mut self, timeout: Duration) -> Self {
        self.mining_timeout = timeout;
        self
    }

    /// Mines `count` blocks whose coinbase pays `address`. Only works on a daemon started with
    /// `--regtest` (with `--fixed-difficulty 1` it is fast). Calls monerod `generateblocks`
    /// `{amount_of_blocks, wallet_address}`.
    ///
    /// Coinbase outputs unlock after 60 blocks.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] when the daemon refuses (not regtest, bad address); transport,
    /// timeout ([`DaemonClient::with_mining_timeout`]) and decode errors as usual.
    pub async fn generate_blocks(
        &self,
        count: u64,
        address: &Address,
    ) -> Result<GeneratedBlocks, RpcError> {
        let params = GenerateBlocksParams {
            amount_of_blocks: count,
            wallet_address: address,
        };
        let status: fn(&GenerateBlocksResponse) -> &str = |r| &r.status;
        let r = self
            .call("generateblocks", &params, self.mining_timeout, status)
            .await?;
        Ok(GeneratedBlocks {
            height: r.height,
            blocks: r.blocks.unwrap_or_default(),
        })
    }

    /// Calls `method` and checks that the answer's `status` (read by `status`) is `"OK"`.
    async fn call<P, R>(
        &self,
        method: &'static str,
        params: &P,
        timeout: Duration,
        status: fn(&R) -> &str,
    ) -> Result<R, RpcError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let answer: R = self
            .transport
            .call(method, params, timeout, Recording::Recorded)
            .await?;
        let status = status(&answer);
        if status != "OK" {
            return Err(RpcError::Rpc {
                method,
                code: 0,
                message: format!("daemon status {status:?}"),
            });
        }
        Ok(answer)
    }
}
