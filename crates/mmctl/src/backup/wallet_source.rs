//! Where a role's wallet directory comes from and how it is made consistent before archiving:
//! a directory on this host (optionally `store`d through its wallet-rpc first), or the compose
//! stack's `wallet-rpc-<role>` container (stopped during the archive, read through the Engine API).

use std::path::PathBuf;

use super::crypto::Recipients;
use super::error::BackupError;
use super::manifest::{Consistency, WalletRole};
use super::store::{BackupDir, LocalBackup};
use super::wallets::backup_wallet_dir;

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
    },
    /// The `wallet-rpc-<role>` service of a compose project, reached through the Engine API.
    Stack {
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
    /// age recipients.
    pub recipients: &'a Recipients,
    /// Backup directory.
    pub dir: &'a BackupDir,
    /// Docker endpoint override (`--docker-host`), for [`WalletSource::Stack`].
    pub docker_host: Option<&'a str>,
}

/// Backs up one role's wallet directory consistently.
///
/// # Errors
/// [`BackupError::WalletRpc`] when the wallet-rpc cannot `store`, [`BackupError::Wallet`] when
/// the directory or container is unusable, plus the archive errors.
pub async fn backup_wallets(req: &WalletBackupRequest<'_>) -> Result<LocalBackup, BackupError> {
    match &req.source {
        WalletSource::Directory { path, rpc_url } => {
            let mut consistency = Consistency::Quiescent;
            let mut rpc_addresses = Vec::new();
            if let Some(url) = rpc_url {
                rpc_addresses = super::wallet_rpc::store_open_wallet(url, path).await?;
                consistency = Consistency::RpcStore;
            }
            let (dir, role, recipients) = (req.dir, req.role, req.recipients);
            tokio::task::block_in_place(|| backup_wallet_dir(dir, role, path, recipients, consistency, &rpc_addresses))
        }
        WalletSource::Stack { project } => super::wallet_stack::backup_from_stack(req, project).await,
    }
}
