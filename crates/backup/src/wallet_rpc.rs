//! The wallet-rpc calls backups need (through `monero_rpc::WalletClient`): `store` before an
//! archive, `open_wallet` + `get_address` (+ `is_multisig`, `get_balance` for escrow wallets)
//! to prove a restored wallet, and a throwaway
//! `monero-wallet-rpc --offline` process on a free loopback port for drills and restores
//! outside Docker (killed by PID on drop).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use monero_rpc::{DigestCredentials, RpcError, WalletClient, WalletName, WalletPassword};

use super::error::BackupError;
use super::escrow_wallets::WalletState;

/// Connection settings for a wallet-rpc.
#[derive(Debug, Clone)]
pub struct WalletRpc {
    url: String,
    client: WalletClient,
}

fn rpc_error(url: &str, step: &str, e: RpcError) -> BackupError {
    BackupError::WalletRpc {
        url: url.to_owned(),
        reason: format!("{step}: {e}"),
    }
}

impl WalletRpc {
    /// A client for `url` (e.g. http://127.0.0.1:18083), with digest login `user:password`
    /// (the `--rpc-login` value, from `MMKT_WALLET_RPC_LOGIN`) when given.
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] for an unusable URL or login.
    pub fn new(url: &str, login: Option<&str>) -> Result<WalletRpc, BackupError> {
        let mut client = WalletClient::new(url)
            .map_err(|e| rpc_error(url, "connect", e))?
            .with_timeout(Duration::from_secs(120));
        if let Some(login) = login {
            let (user, password) = login
                .split_once(':')
                .ok_or_else(|| BackupError::WalletRpc {
                    url: url.to_owned(),
                    reason: "login must be user:password".into(),
                })?;
            client = client.with_credentials(DigestCredentials::new(user, password));
        }
        Ok(WalletRpc {
            url: url.to_owned(),
            client,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the wallet-rpc to `store` its open wallet, then identifies it by matching its
    /// `get_address` (account 0) with the `<name>.address.txt` files of `wallet_dir`.
    /// Returns `(wallet name, address)` for the open wallet, or nothing when no wallet is open.
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when `store` or `get_address` fails.
    pub async fn store_open_wallet(
        &self,
        wallet_dir: &Path,
    ) -> Result<Vec<(String, String)>, BackupError> {
        match self.client.store().await {
            Ok(()) => {}
            Err(RpcError::WalletNotOpen { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(rpc_error(&self.url, "store", e)),
        }
        let address = self.primary_address("get_address").await?;
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(wallet_dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(name) = file.strip_suffix(".address.txt") else {
                    continue;
                };
                if std::fs::read_to_string(entry.path()).is_ok_and(|t| t.trim() == address) {
                    found.push((name.to_owned(), address.clone()));
                }
            }
        }
        Ok(found)
    }

    /// Opens wallet `name` with `password` and returns its primary address (account 0).
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when the wallet does not open (missing files, wrong password)
    /// or `get_address` fails.
    pub async fn wallet_address(
        &self,
        name: &str,
        password: &WalletPassword,
    ) -> Result<String, BackupError> {
        self.client
            .open_wallet(&self.wallet_name(name)?, password)
            .await
            .map_err(|e| rpc_error(&self.url, &format!("open_wallet {name}"), e))?;
        self.primary_address(&format!("get_address of {name}"))
            .await
    }

    /// Opens wallet `name` with `password` and reads what an escrow check compares: its primary
    /// address (`get_address`, account 0), `is_multisig` and `get_balance` (account 0).
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when the wallet does not open or a call fails.
    pub async fn inspect(
        &self,
        name: &str,
        password: &WalletPassword,
    ) -> Result<WalletState, BackupError> {
        let address = self.wallet_address(name, password).await?;
        let multisig = self
            .client
            .is_multisig()
            .await
            .map_err(|e| rpc_error(&self.url, &format!("is_multisig of {name}"), e))?;
        let balance = self
            .client
            .get_balance(0)
            .await
            .map_err(|e| rpc_error(&self.url, &format!("get_balance of {name}"), e))?;
        Ok(WalletState {
            address,
            multisig,
            balance: balance.balance,
        })
    }

    /// Creates wallet `name` and returns its primary address (used by tests and drills).
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when `create_wallet` or `get_address` fails.
    pub async fn create_wallet(
        &self,
        name: &str,
        password: &WalletPassword,
    ) -> Result<String, BackupError> {
        self.client
            .create_wallet(&self.wallet_name(name)?, password)
            .await
            .map_err(|e| rpc_error(&self.url, &format!("create_wallet {name}"), e))?;
        let address = self.primary_address("get_address").await?;
        self.client
            .store()
            .await
            .map_err(|e| rpc_error(&self.url, "store", e))?;
        Ok(address)
    }

    /// Parses a wallet file name.
    fn wallet_name(&self, name: &str) -> Result<WalletName, BackupError> {
        WalletName::from_str(name).map_err(|e| BackupError::WalletRpc {
            url: self.url.clone(),
            reason: format!("wallet name {name:?}: {e}"),
        })
    }

    /// The open wallet's primary address (`get_address`, account 0); `step` names the call
    /// in errors.
    async fn primary_address(&self, step: &str) -> Result<String, BackupError> {
        self.client
            .get_address(0)
            .await
            .map(|address| address.to_string())
            .map_err(|e| rpc_error(&self.url, step, e))
    }

    /// Closes the open wallet (storing it).
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when `close_wallet` fails.
    pub async fn close_wallet(&self) -> Result<(), BackupError> {
        self.client
            .close_wallet()
            .await
            .map_err(|e| rpc_error(&self.url, "close_wallet", e))
    }

    /// Waits until `get_version` answers.
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), BackupError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.client.get_version().await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(rpc_error(&self.url, "wait for get_version", e));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

/// A `monero-wallet-rpc --offline` process serving a scratch wallet directory on a free
/// 127.0.0.1 port, with RPC login disabled (loopback only). Killed by PID on drop.
#[derive(Debug)]
pub struct ThrowawayWalletRpc {
    child: Child,
    rpc: WalletRpc,
    wallet_dir: PathBuf,
}

impl ThrowawayWalletRpc {
    /// Starts `binary` (monero-wallet-rpc) on `wallet_dir`; logs and ring DB go to `work_dir`.
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when it cannot be started or does not answer within 60 s.
    pub async fn start(
        binary: &Path,
        wallet_dir: &Path,
        work_dir: &Path,
    ) -> Result<ThrowawayWalletRpc, BackupError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(BackupError::io("find a free loopback port"))?
            .port();
        std::fs::create_dir_all(work_dir.join("ringdb"))
            .map_err(BackupError::io(format!("create {}", work_dir.display())))?;
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(binary)
            .arg("--offline")
            .arg("--wallet-dir")
            .arg(wallet_dir)
            .args([
                "--rpc-bind-ip",
                "127.0.0.1",
                "--rpc-bind-port",
                &port.to_string(),
                "--disable-rpc-login",
                "--rpc-ssl",
                "disabled",
            ])
            .arg("--shared-ringdb-dir")
            .arg(work_dir.join("ringdb"))
            .arg("--log-file")
            .arg(work_dir.join("wallet-rpc.log"))
            .arg("--non-interactive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BackupError::WalletRpc {
                url: url.clone(),
                reason: format!(
                    "cannot run {} ({e}); install monero-wallet-rpc or pass --wallet-rpc-bin",
                    binary.display()
                ),
            })?;
        let rpc = WalletRpc::new(&url, None)?;
        let throwaway = ThrowawayWalletRpc {
            child,
            rpc,
            wallet_dir: wallet_dir.to_owned(),
        };
        throwaway.rpc.wait_ready(Duration::from_secs(60)).await?;
        Ok(throwaway)
    }

    /// The client.
    pub fn rpc(&self) -> &WalletRpc {
        &self.rpc
    }

    /// The wallet directory it serves.
    pub fn wallet_dir(&self) -> &Path {
        &self.wallet_dir
    }
}

impl Drop for ThrowawayWalletRpc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
