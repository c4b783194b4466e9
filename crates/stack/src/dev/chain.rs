//! The regtest chain of the development stack, from this host: the faucet wallet (the `faucet`
//! service's wallet-rpc, wallet file `faucet`, which the miner mines to) and monerod's
//! unrestricted RPC (for `generateblocks`), both reached at their container's address on the
//! project's `daemon` network (the host routes to Docker bridge networks, internal ones
//! included; the engine must run on this host).

use std::time::Duration;

use monero_rpc::{
    Address, Amount, DaemonClient, Destination, RpcError, TransferOptions, TransferOutcome, TxHash,
    WalletClient, WalletName, WalletPassword,
};
use monero_types::MoneroNetwork;

use super::{DevError, FAUCET_SERVICE, require_development};
use crate::engine::Engine;
use crate::spec::scoped;
use crate::stack::Project;

/// The faucet's wallet file in its wallet-rpc's `--wallet-dir` (no password: regtest coins).
pub const FAUCET_WALLET: &str = "faucet";

/// monerod's unrestricted RPC port (deploy/images/monero/mmkt-monerod).
pub const UNRESTRICTED_PORT: u16 = 18085;

/// The wallet-rpc port of every wallet service.
pub const WALLET_RPC_PORT: u16 = 18083;

/// The network both RPCs listen on.
pub const DAEMON_NETWORK: &str = "daemon";

/// Seconds a faucet call may take (a refresh after many blocks, a transfer).
const FAUCET_TIMEOUT: Duration = Duration::from_secs(120);

/// Seconds `generateblocks` may take (80 blocks take about 15 s on 2 cores).
const MINING_TIMEOUT: Duration = Duration::from_secs(600);

/// A payment the faucet made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Payment {
    /// The transaction's hash.
    pub tx_hash: TxHash,
    /// Amount sent, piconero (serialized as the integer).
    pub amount: Amount,
    /// Fee paid on top, piconero.
    pub fee: Amount,
}

/// Blocks mined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mined {
    /// How many blocks were asked for and mined.
    pub blocks: u64,
    /// Height of the top block afterwards.
    pub height: u64,
    /// The address the coinbase paid (the faucet's).
    pub to: Address,
}

/// The faucet and the daemon of one running development stack.
#[derive(Debug, Clone)]
pub struct DevChain {
    faucet: WalletClient,
    daemon: DaemonClient,
}

impl DevChain {
    /// Finds the `faucet` and `monerod` containers of `project` and their addresses on the
    /// `daemon` network, after checking that the project is a development one.
    ///
    /// # Errors
    /// [`DevError::NotDevelopment`], [`DevError::NotRunning`], [`DevError::Engine`],
    /// [`DevError::Rpc`] (invalid URL).
    pub async fn connect(project: &Project, engine: &Engine) -> Result<DevChain, DevError> {
        require_development(project)?;
        let faucet_ip = daemon_ip(project, engine, FAUCET_SERVICE).await?;
        let monerod_ip = daemon_ip(project, engine, "monerod").await?;
        let faucet = WalletClient::new(&format!("http://{faucet_ip}:{WALLET_RPC_PORT}"))
            .map_err(rpc_error("the faucet's URL"))?
            .with_label("faucet")
            .with_timeout(FAUCET_TIMEOUT);
        let daemon = DaemonClient::new(&format!("http://{monerod_ip}:{UNRESTRICTED_PORT}"))
            .map_err(rpc_error("monerod's URL"))?
            .with_mining_timeout(MINING_TIMEOUT);
        Ok(DevChain { faucet, daemon })
    }

    /// The faucet's primary address, opening the faucet wallet first when it is not open
    /// (creating it on first use, as the miner does). Calls wallet-rpc `get_address`, and
    /// `open_wallet` (`create_wallet` when missing) when no wallet is open.
    ///
    /// # Errors
    /// [`DevError::Rpc`].
    pub async fn faucet_address(&self) -> Result<Address, DevError> {
        // The miner keeps the faucet wallet open; (re)open it only when it is not.
        match self.faucet.get_address(0).await {
            Ok(address) => return Ok(address),
            Err(RpcError::WalletNotOpen { .. }) => {}
            Err(e) => return Err(rpc_error("read the faucet's address")(e)),
        }
        let name: WalletName = FAUCET_WALLET.parse().expect("a valid wallet name");
        let password = WalletPassword::new("");
        match self.faucet.open_wallet(&name, &password).await {
            Ok(()) => {}
            Err(RpcError::WalletNotFound { .. }) => self
                .faucet
                .create_wallet(&name, &password)
                .await
                .map_err(rpc_error("create the faucet wallet"))?,
            Err(e) => return Err(rpc_error("open the faucet wallet")(e)),
        }
        self.faucet
            .get_address(0)
            .await
            .map_err(rpc_error("read the faucet's address"))
    }

    /// Mines `blocks` blocks to the faucet now. Calls monerod `generateblocks`.
    ///
    /// # Errors
    /// [`DevError::Invalid`] for 0 blocks; [`DevError::Rpc`].
    pub async fn mine(&self, blocks: u64) -> Result<Mined, DevError> {
        if blocks == 0 {
            return Err(DevError::Invalid(
                "mine at least 1 block (e.g. `mmctl dev mine 10`)".into(),
            ));
        }
        let to = self.faucet_address().await?;
        let mined = self
            .daemon
            .generate_blocks(blocks, &to)
            .await
            .map_err(rpc_error(&format!("mine {blocks} blocks")))?;
        Ok(Mined {
            blocks,
            height: mined.height,
            to,
        })
    }

    /// Pays `amount` (fee on top) from the faucet to `address`, which must be a valid
    /// mainnet/regtest address. Calls wallet-rpc `refresh`, `get_balance` and `transfer`.
    ///
    /// # Errors
    /// [`DevError::Invalid`] (bad address), [`DevError::FaucetShort`], [`DevError::Rpc`].
    pub async fn pay(&self, address: &str, amount: Amount) -> Result<Payment, DevError> {
        let (to, _) = Address::validate(address.trim(), MoneroNetwork::Mainnet).map_err(|e| {
            DevError::Invalid(format!(
                "{e}; pay a regtest address (it starts with 4 or 8, 95 characters)"
            ))
        })?;
        self.faucet_address().await?;
        self.faucet
            .refresh(None)
            .await
            .map_err(rpc_error("refresh the faucet"))?;
        let balance = self
            .faucet
            .get_balance(0)
            .await
            .map_err(rpc_error("read the faucet's balance"))?;
        if balance.unlocked_balance <= amount {
            return Err(DevError::FaucetShort {
                unlocked: balance.unlocked_balance,
                wanted: amount,
            });
        }
        let destination = Destination {
            amount,
            address: to,
        };
        let outcome = self
            .faucet
            .transfer(&[destination], TransferOptions::default())
            .await
            .map_err(|e| match e {
                RpcError::NotEnoughMoney { .. } => DevError::FaucetShort {
                    unlocked: balance.unlocked_balance,
                    wanted: amount,
                },
                other => rpc_error("pay from the faucet")(other),
            })?;
        match outcome {
            TransferOutcome::Submitted {
                tx_hash,
                amount,
                fee,
            } => Ok(Payment {
                tx_hash,
                amount,
                fee,
            }),
            _ => Err(DevError::Invalid(
                "the faucet wallet is a multisig wallet; remove the faucet-wallet volume".into(),
            )),
        }
    }
}

fn rpc_error(what: &str) -> impl FnOnce(RpcError) -> DevError {
    let what = what.to_string();
    move |source| DevError::Rpc { what, source }
}

/// The address of `service`'s running container on the project's daemon network.
async fn daemon_ip(project: &Project, engine: &Engine, service: &str) -> Result<String, DevError> {
    let not_running = || DevError::NotRunning {
        project: project.name.clone(),
        service: service.to_string(),
    };
    let Some(id) = engine
        .find_service_container(&project.name, service)
        .await?
        .and_then(|c| c.id)
    else {
        return Err(not_running());
    };
    let info = engine.inspect(&id).await?;
    let network = scoped(&project.name, DAEMON_NETWORK);
    info.network_settings
        .and_then(|n| n.networks)
        .and_then(|mut nets| nets.remove(&network))
        .and_then(|n| n.ip_address)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(not_running)
}
