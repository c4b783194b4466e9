//! Where a role's wallet directory comes from and how it is made consistent before archiving:
//! a directory on this host (optionally `store`d through its wallet-rpc first), or the compose
//! stack's `wallet-rpc-<role>` container (stopped during the archive, read through the Engine API).

use std::path::PathBuf;

use super::error::BackupError;
use super::escrow_wallets::{EscrowWallets, WalletState};
use super::manifest::{Consistency, WalletRole};
use super::signing::BackupKeys;
use super::store::{BackupDir, LocalBackup};
use std::path::Path;

use monero_rpc::WalletPassword;

use super::verify::ScratchDir;
use super::wallet_rpc::{ThrowawayWalletRpc, WalletRpc};
use super::wallets::ArchiveWriter;

/// Where the wallets of one role are.
#[derive(Debug, Clone)]
pub enum WalletSource {
    /// A directory on this host (`--wallet-dir`, `--wallet-root/<role>`), with the URL of the
    /// wallet-rpc serving it, if any (asked to `store` before archiving).
    Directory {
        /// The wallet directory (the wallet-rpc's `--wallet-dir`).
        path: PathBuf,
        /// Base URL of its wallet-rpc, e.g. http://127.0.0.1:18083.
        rpc_url: Option<String>,
        /// Its digest login `user:password` (`--rpc-login`), if any.
        rpc_login: Option<String>,
    },
    /// The `wallet-rpc-<role>` service of a compose project, reached through the Engine API.
    Stack {
        /// Connected Docker Engine.
        engine: mmkt_stack::Engine,
        /// Compose project name.
        project: String,
    },
}

/// What `backup wallets` needs for one role.
pub struct WalletBackupRequest<'a> {
    /// Which wallet-rpc.
    pub role: WalletRole,
    /// Where its directory is.
    pub source: WalletSource,
    /// age recipients and the signing key.
    pub keys: BackupKeys<'a>,
    /// Backup directory.
    pub dir: &'a BackupDir,
    /// How to record each wallet's address by opening it (optional).
    pub probe: Option<&'a AddressProbe>,
}

/// Records wallet addresses by opening the archived wallets in a throwaway
/// `monero-wallet-rpc --offline`: an escrow wallet with its own password from the database
/// ([`EscrowWallets`]), any other wallet with the shared password, when one is configured.
#[derive(Debug)]
pub struct AddressProbe {
    /// The monero-wallet-rpc binary.
    pub wallet_rpc_bin: PathBuf,
    /// The password of wallets that are not escrow wallets (`MMKT_WALLET_PASSWORD_FILE`).
    pub password: Option<WalletPassword>,
    /// The escrow wallets and their own passwords, read from the database.
    pub escrow: EscrowWallets,
}

impl AddressProbe {
    /// The password wallet `name` opens with: its escrow password, else the shared one.
    pub fn password_for(&self, name: &str) -> Option<&WalletPassword> {
        self.escrow
            .get(name)
            .map(|w| &w.password)
            .or(self.password.as_ref())
    }

    /// Opens every `<name>.keys` wallet of `wallet_dir` and returns what each showed, by name.
    /// A wallet without a password, or that does not open, is skipped with a warning.
    ///
    /// # Errors
    /// [`BackupError::WalletRpc`] when the throwaway wallet-rpc cannot start.
    pub async fn inspect(
        &self,
        wallet_dir: &Path,
        work_dir: &Path,
    ) -> Result<Vec<(String, WalletState)>, BackupError> {
        let mut names: Vec<String> = std::fs::read_dir(wallet_dir)
            .map_err(BackupError::io(format!("read {}", wallet_dir.display())))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".keys")
                    .map(String::from)
            })
            .collect();
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let rpc = ThrowawayWalletRpc::start(&self.wallet_rpc_bin, wallet_dir, work_dir).await?;
        let mut found = Vec::new();
        for name in names {
            let Some(password) = self.password_for(&name) else {
                tracing::warn!(
                    "wallet {name} is not an escrow wallet of the database and no MMKT_WALLET_PASSWORD_FILE is set: its address is not recorded"
                );
                continue;
            };
            match rpc.rpc().inspect(&name, password).await {
                Ok(state) => found.push((name, state)),
                Err(e) => tracing::warn!("cannot open wallet {name} to record its address: {e}"),
            }
        }
        Ok(found)
    }

    /// [`AddressProbe::inspect`], keeping the (name, address) pairs.
    ///
    /// # Errors
    /// As [`AddressProbe::inspect`].
    pub async fn addresses(
        &self,
        wallet_dir: &Path,
        work_dir: &Path,
    ) -> Result<Vec<(String, String)>, BackupError> {
        let states = self.inspect(wallet_dir, work_dir).await?;
        Ok(states.into_iter().map(|(n, s)| (n, s.address)).collect())
    }
}

/// Backs up one role's wallet directory consistently.
///
/// # Errors
/// [`BackupError::WalletRpc`] when the wallet-rpc cannot `store`, [`BackupError::Wallet`] when
/// the directory or container is unusable, plus the archive errors.
pub async fn backup_wallets(req: &WalletBackupRequest<'_>) -> Result<LocalBackup, BackupError> {
    match &req.source {
        WalletSource::Directory {
            path,
            rpc_url,
            rpc_login,
        } => {
            let mut consistency = Consistency::Quiescent;
            let mut rpc_addresses = Vec::new();
            if let Some(url) = rpc_url {
                rpc_addresses = WalletRpc::new(url, rpc_login.as_deref())?
                    .store_open_wallet(path)
                    .await?;
                consistency = Consistency::RpcStore;
            }
            let mut writer = ArchiveWriter::create(req.dir, req.role, req.keys)?;
            let scratch = start_probe(req, &mut writer)?;
            tokio::task::block_in_place(|| writer.append_dir(path))?;
            let probed = probe(req, scratch.as_ref()).await?;
            rpc_addresses.extend(
                probed
                    .into_iter()
                    .filter(|(n, _)| !rpc_addresses.iter().any(|(m, _)| m == n))
                    .collect::<Vec<_>>(),
            );
            tokio::task::block_in_place(|| {
                writer.finish(req.dir, req.keys, consistency, &rpc_addresses)
            })
        }
        WalletSource::Stack { engine, project } => {
            let mut writer = ArchiveWriter::create(req.dir, req.role, req.keys)?;
            let scratch = start_probe(req, &mut writer)?;
            let (writer, consistency) =
                super::wallet_stack::archive_from_stack(engine, project, req.role, writer).await?;
            let addresses = probe(req, scratch.as_ref()).await?;
            tokio::task::block_in_place(|| {
                writer.finish(req.dir, req.keys, consistency, &addresses)
            })
        }
    }
}

fn start_probe(
    req: &WalletBackupRequest<'_>,
    writer: &mut ArchiveWriter,
) -> Result<Option<ScratchDir>, BackupError> {
    if req.probe.is_none() {
        return Ok(None);
    }
    let scratch = ScratchDir::create(req.dir.path(), &format!("wallets-{}", req.role))?;
    let wallets = scratch.path().join("wallets");
    std::fs::create_dir(&wallets)
        .map_err(BackupError::io(format!("create {}", wallets.display())))?;
    writer.tee_into(&wallets);
    Ok(Some(scratch))
}

async fn probe(
    req: &WalletBackupRequest<'_>,
    scratch: Option<&ScratchDir>,
) -> Result<Vec<(String, String)>, BackupError> {
    let (Some(probe), Some(scratch)) = (req.probe, scratch) else {
        return Ok(Vec::new());
    };
    probe
        .addresses(
            &scratch.path().join("wallets"),
            &scratch.path().join("work"),
        )
        .await
}
