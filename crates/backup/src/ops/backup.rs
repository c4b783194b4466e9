//! `backup db|wallets|tor|all`: fresh encrypted, signed backups of the database, wallet
//! directories and/or onion-service keys, each followed by its offsite copy when S3 is configured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mmkt_stack::{Engine, EngineConfig};

use crate::chain::{ChainMode, DbBackupOutcome};
use crate::db::{DbBackupRequest, backup_db};
use crate::error::BackupError;
use crate::manifest::WalletRole;
use crate::progress::{Progress, transfer};
use crate::s3::{Offsite, S3Config};
use crate::signing::BackupKeys;
use crate::store::{BackupDir, LocalBackup};
use crate::wallet_source::{AddressProbe, WalletBackupRequest, WalletSource, backup_wallets};

use super::tor::{TorSource, backup_tor};

/// The database to back up.
#[derive(Debug, Clone, Copy)]
pub struct DbSource<'a> {
    /// The live SQLCipher database file.
    pub db_path: &'a Path,
    /// Its key file (read when the backup starts; see `mmkt_sqlcipher::read_key_file`).
    pub key_file: &'a Path,
    /// zstd level 1-19 of the page stream ([`crate::db::DEFAULT_LEVEL`] by default).
    pub compression_level: u32,
    /// A standalone full backup, or the next link of the directory's chain.
    pub chain: ChainMode,
}

/// Where the wallet directories of the roles are.
#[derive(Debug, Clone)]
pub enum WalletLocation {
    /// Directories on this host.
    Host(HostWallets),
    /// The `wallet-rpc-<role>` containers of a compose project (stopped during the archive).
    Stack {
        /// How to reach the Docker Engine.
        engine: EngineConfig,
        /// Compose project name.
        project: String,
    },
}

/// Wallet directories on this host.
#[derive(Debug, Clone)]
pub enum HostWallets {
    /// One directory, for exactly one role, with the wallet-rpc serving it (asked to `store`
    /// first) when known.
    Directory {
        /// The wallet directory (the wallet-rpc's `--wallet-dir`).
        path: PathBuf,
        /// Base URL of its wallet-rpc.
        rpc_url: Option<String>,
        /// Its digest login `user:password`.
        rpc_login: Option<String>,
    },
    /// `<root>/<role>` for every role (wallet-rpc run without Docker).
    Root {
        /// The directory holding `buyer/`, `vendor/`, `arbiter/`.
        root: PathBuf,
        /// Base URL of each role's wallet-rpc, for the roles that have a known one.
        rpc_urls: BTreeMap<WalletRole, String>,
        /// Their digest login `user:password`.
        rpc_login: Option<String>,
    },
}

impl HostWallets {
    /// The directory of one role.
    fn source(&self, role: WalletRole) -> WalletSource {
        match self {
            HostWallets::Directory {
                path,
                rpc_url,
                rpc_login,
            } => WalletSource::Directory {
                path: path.clone(),
                rpc_url: rpc_url.clone(),
                rpc_login: rpc_login.clone(),
            },
            HostWallets::Root {
                root,
                rpc_urls,
                rpc_login,
            } => WalletSource::Directory {
                path: root.join(role.as_str()),
                rpc_url: rpc_urls.get(&role).cloned(),
                rpc_login: rpc_login.clone(),
            },
        }
    }
}

/// The wallets to back up.
#[derive(Debug, Clone, Copy)]
pub struct WalletsSource<'a> {
    /// The roles, in order.
    pub roles: &'a [WalletRole],
    /// Where their directories are.
    pub location: &'a WalletLocation,
    /// Opens each archived wallet to record its address, when a password is configured.
    pub probe: Option<&'a AddressProbe>,
}

/// What `backup db|wallets|all` does.
#[derive(Debug, Clone, Copy)]
pub struct BackupRequest<'a> {
    /// The local backup directory.
    pub dir: &'a BackupDir,
    /// age recipients to encrypt to, and the key that signs every manifest.
    pub keys: BackupKeys<'a>,
    /// The database, when it is backed up.
    pub db: Option<DbSource<'a>>,
    /// The wallets, when they are backed up (after the database).
    pub wallets: Option<WalletsSource<'a>>,
    /// The tor service's onion-service keys, when they are backed up (after the wallets).
    pub tor: Option<TorSource<'a>>,
    /// Where the offsite copies go; `None` when offsite copies are not configured or not wanted.
    pub offsite: Option<&'a S3Config>,
}

/// What happened to the offsite copy of one fresh backup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsiteOutcome {
    /// No bucket was configured (or the request asked for no offsite copy).
    NotConfigured,
    /// Data file and manifest are in the bucket.
    Uploaded {
        /// Bucket.
        bucket: String,
        /// Key prefix, ending with '/' (or empty).
        prefix: String,
    },
    /// The upload failed after retries; the local backup is complete and kept.
    Failed {
        /// The S3 error.
        reason: String,
    },
    /// Nothing was written (the database did not change since the chain's head), so there
    /// was nothing new to upload.
    NothingNew,
}

/// One fresh backup and its offsite copy.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The complete local backup (manifest written), or the chain's head when `fresh` is
    /// [`Fresh::Unchanged`].
    pub backup: LocalBackup,
    /// Whether `backup` was written by this run.
    pub fresh: Fresh,
    /// Its offsite copy.
    pub offsite: OffsiteOutcome,
}

/// Whether a [`BackupReport`]'s backup was written by this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fresh {
    /// Written now.
    Written,
    /// The database did not change since this chain head: nothing was written.
    Unchanged,
}

/// Backs up the database, then the wallets of each role, then the onion-service keys, then
/// uploads every fresh backup.
/// A failed upload does not fail the call: it is in [`BackupReport::offsite`].
///
/// # Errors
/// The first failing backup's [`BackupError`] (nothing is uploaded then); backups written
/// before it stay complete in the directory.
pub async fn backup(
    req: &BackupRequest<'_>,
    progress: &dyn Progress,
) -> Result<Vec<BackupReport>, BackupError> {
    let mut backups = Vec::new();
    let mut unchanged = None;
    if let Some(db) = &req.db {
        match backup_database(req.dir, req.keys, db, progress)? {
            DbBackupOutcome::Written(backup) => backups.push(backup),
            DbBackupOutcome::Unchanged(head) => unchanged = Some(head),
        }
    }
    if let Some(wallets) = &req.wallets {
        backups.extend(backup_wallet_roles(req.dir, req.keys, wallets).await?);
    }
    if let Some(tor) = &req.tor {
        backups.extend(backup_tor(req.dir, req.keys, tor, progress).await?);
    }
    let mut reports: Vec<BackupReport> = unchanged
        .into_iter()
        .map(|backup| BackupReport {
            backup,
            fresh: Fresh::Unchanged,
            offsite: OffsiteOutcome::NothingNew,
        })
        .collect();
    let Some(config) = req.offsite else {
        reports.extend(backups.into_iter().map(|backup| BackupReport {
            backup,
            fresh: Fresh::Written,
            offsite: OffsiteOutcome::NotConfigured,
        }));
        return Ok(reports);
    };
    let offsite = Offsite::connect(config.clone()).await;
    for backup in backups {
        let outcome = match offsite.upload(&backup).await {
            Ok(()) => OffsiteOutcome::Uploaded {
                bucket: config.bucket.clone(),
                prefix: config.prefix.clone(),
            },
            Err(e) => OffsiteOutcome::Failed {
                reason: e.to_string(),
            },
        };
        reports.push(BackupReport {
            backup,
            fresh: Fresh::Written,
            offsite: outcome,
        });
    }
    Ok(reports)
}

/// Backs up the database online (see [`backup_db`]: a new backup, or the unchanged chain
/// head), reporting the plaintext bytes streamed against the file size. Blocks the calling thread (use from `block_in_place` or a
/// multi-threaded runtime worker).
///
/// # Errors
/// [`BackupError::KeyFile`] for the key file; otherwise the backup's error wrapped in
/// [`BackupError::Context`] ("backup of <db> failed").
pub fn backup_database(
    dir: &BackupDir,
    keys: BackupKeys<'_>,
    db: &DbSource<'_>,
    progress: &dyn Progress,
) -> Result<DbBackupOutcome, BackupError> {
    let key = mmkt_sqlcipher::read_key_file(db.key_file)?;
    let size = std::fs::metadata(db.db_path).map(|m| m.len()).ok();
    transfer(progress, "backup db", size, |bytes| {
        let request = DbBackupRequest {
            level: db.compression_level,
            chain: db.chain,
            db_path: db.db_path,
            key: &key,
            keys,
            dir,
            progress: bytes,
        };
        tokio::task::block_in_place(|| backup_db(&request))
    })
    .map_err(|e| e.context(format!("backup of {} failed", db.db_path.display())))
}

/// Backs up the wallet directory of each role in turn (see [`backup_wallets`]).
///
/// # Errors
/// [`BackupError::InvalidRequest`] for one directory with several roles,
/// [`BackupError::Docker`] when the engine is unreachable, and the first role's failure
/// wrapped in [`BackupError::Context`] ("backup of the <role> wallets failed").
pub async fn backup_wallet_roles(
    dir: &BackupDir,
    keys: BackupKeys<'_>,
    wallets: &WalletsSource<'_>,
) -> Result<Vec<LocalBackup>, BackupError> {
    let connected = match wallets.location {
        WalletLocation::Host(HostWallets::Directory { .. }) if wallets.roles.len() != 1 => {
            return Err(BackupError::InvalidRequest(
                "--wallet-dir names one directory: give a ROLE too, or use --wallet-root".into(),
            ));
        }
        WalletLocation::Host(host) => Connected::Host(host),
        WalletLocation::Stack { engine, project } => {
            Connected::Stack(Engine::connect(engine).await?, project)
        }
    };
    let mut backups = Vec::new();
    for role in wallets.roles.iter().copied() {
        let source = match &connected {
            Connected::Host(host) => host.source(role),
            Connected::Stack(engine, project) => WalletSource::Stack {
                engine: engine.clone(),
                project: (*project).clone(),
            },
        };
        let request = WalletBackupRequest {
            role,
            source,
            keys,
            dir,
            probe: wallets.probe,
        };
        let backup = backup_wallets(&request)
            .await
            .map_err(|e| e.context(format!("backup of the {role} wallets failed")))?;
        backups.push(backup);
    }
    Ok(backups)
}

/// A [`WalletLocation`] with its engine connected.
enum Connected<'a> {
    Host(&'a HostWallets),
    Stack(Engine, &'a String),
}
