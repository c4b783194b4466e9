//! `restore wallet`: prove the backup's wallets open with their recorded addresses, keep the
//! current directory as a regular backup (encrypted to the configured recipients and signed
//! with the configured key, never to the recipients the restored backup's manifest names),
//! copy the backup's files in (files not in the backup are kept) and, in the stack, start the
//! wallet-rpc again and check the restored wallets in it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mmkt_stack::{Engine, EngineConfig, StopOutcome};

use super::restore::{
    BackupChoice, Confirmed, Restart, RestorePlan, RestoreResult, RestoredInto, choose,
    start_healthy,
};
use crate::crypto::Identities;
use crate::error::BackupError;
use crate::manifest::{BackupKind, Consistency, Series, WalletRole};
use crate::progress::{Progress, Step};
use crate::restore_wallet::{WalletCheck, check_wallets, extract_for_upload, merge_into_dir};
use crate::signing::BackupKeys;
use crate::wallet_rpc::WalletRpc;
use crate::wallet_source::AddressProbe;
use crate::wallet_stack::{
    CONTAINER_WALLET_DIR, STOP_TIMEOUT_SECS, archive_container_dir, dir_owner, service_name,
    upload_dir,
};
use crate::wallets::{ArchiveWriter, backup_wallet_dir};

/// The wallet-rpc that serves the restored directory, to open the restored wallets in.
#[derive(Debug, Clone)]
pub struct LiveWalletRpc {
    /// Its base URL.
    pub url: String,
    /// Its digest login `user:password`.
    pub login: Option<String>,
}

/// Where the wallets are restored.
#[derive(Debug, Clone)]
pub enum WalletTarget {
    /// A directory on this host whose wallet-rpc the operator stopped.
    Directory(PathBuf),
    /// The role's `wallet-rpc-<role>` container: stopped, written through the Engine API,
    /// started again.
    Container {
        /// How to reach the Docker Engine.
        engine: EngineConfig,
        /// Compose project name.
        project: String,
        /// How long to wait for the restarted wallet-rpc.
        ready_timeout: Duration,
        /// Where to open the restored wallets afterwards (with the probe's password).
        live: Option<LiveWalletRpc>,
    },
}

/// What `restore wallet` does.
#[derive(Debug, Clone)]
pub struct WalletRestoreRequest<'a> {
    /// Which backup.
    pub backup: BackupChoice<'a>,
    /// Which wallet-rpc.
    pub role: WalletRole,
    /// age identities that decrypt the backup.
    pub identities: &'a Identities,
    /// The configured recipients and signing key of the backup of the current directory
    /// taken before its files are replaced.
    pub keys: BackupKeys<'a>,
    /// Opens each wallet to compare its address with the manifest, when configured.
    pub probe: Option<&'a AddressProbe>,
    /// Where the files go.
    pub target: WalletTarget,
}

/// A wallet restore whose backup is known, waiting for the operator's confirmation (`run`).
pub type WalletRestorePlan<'a> = RestorePlan<WalletRestoreRequest<'a>>;

/// Finds (or downloads) the backup of the role. Nothing live is touched.
///
/// # Errors
/// The errors of [`super::restore::select_backup`].
pub async fn plan_wallet_restore<'a>(
    request: WalletRestoreRequest<'a>,
    progress: &dyn Progress,
) -> Result<WalletRestorePlan<'a>, BackupError> {
    let series = Series {
        kind: BackupKind::Wallets,
        role: Some(request.role),
    };
    let choice = request.backup;
    choose(request, &choice, series, Instant::now(), progress).await
}

impl WalletRestorePlan<'_> {
    /// Runs the restore (see the module documentation for the order of the steps).
    ///
    /// # Errors
    /// In [`BackupError::Context`]: a backup whose wallets do not open ("before touching the
    /// wallets"), a current directory that cannot be backed up ("nothing was restored"), a
    /// failed copy into the container, a wallet-rpc that does not become healthy. Also
    /// [`BackupError::Docker`], [`BackupError::LiveMismatch`], [`BackupError::WalletRpc`].
    pub async fn run(self, _confirmed: Confirmed, progress: &dyn Progress) -> RestoreResult {
        let (req, backup) = (&self.target, &self.backup);
        let dir = req.backup.dir;
        let id = backup.manifest.id.as_str();
        // 1. Prove the backup: its wallets open with their recorded addresses.
        let checks = check_wallets(backup, req.identities, req.probe, dir.path())
            .await
            .map_err(|e| {
                e.context(format!(
                    "restore of {id} failed before touching the wallets"
                ))
            })?;
        progress.step(Step::WalletsChecked {
            id,
            opened: req.probe.map(|_| checks.iter().filter(|c| c.ok).count()),
        });
        let (target, restart) = match &req.target {
            WalletTarget::Directory(live) => (
                self.restore_into_directory(live, progress)?,
                Restart::ByOperator,
            ),
            WalletTarget::Container {
                engine,
                project,
                ready_timeout,
                live,
            } => {
                let engine = Engine::connect(engine).await?;
                let target = self
                    .restore_into_container(&engine, project, *ready_timeout, progress)
                    .await?;
                check_live(live.as_ref(), req.probe, &checks, *ready_timeout, progress).await?;
                (target, Restart::Done)
            }
        };
        Ok(self.report(target, restart))
    }

    /// Steps 2 and 3 on this host: back up the current directory as a regular backup, then
    /// copy the files in.
    fn restore_into_directory(
        &self,
        live: &std::path::Path,
        progress: &dyn Progress,
    ) -> Result<RestoredInto, BackupError> {
        let req = &self.target;
        let dir = req.backup.dir;
        let snapshot = tokio::task::block_in_place(|| {
            backup_wallet_dir(dir, req.role, live, req.keys, Consistency::Quiescent, &[])
        })
        .map_err(|e| {
            e.context("cannot back up the current wallet directory; nothing was restored")
        })?;
        progress.step(Step::CurrentWalletsBackedUp {
            id: snapshot.manifest.id.as_str(),
        });
        let written = tokio::task::block_in_place(|| {
            merge_into_dir(&self.backup, req.identities, live, dir.path())
        })?;
        Ok(RestoredInto::WalletDirectory {
            path: live.to_owned(),
            files: written.len(),
            previous_backup: snapshot.manifest.id.to_string(),
        })
    }

    /// Steps 2 to 4 in a container: stop it and back up its directory, copy the files in,
    /// start it again whatever happened (unless it was already stopped and the copy failed).
    async fn restore_into_container(
        &self,
        engine: &Engine,
        project: &str,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<RestoredInto, BackupError> {
        let service = service_name(self.target.role);
        let container = engine.require_service_container(project, &service).await?;
        let stopped = engine
            .stop_service(project, &service, STOP_TIMEOUT_SECS)
            .await?;
        let result = self.replace_files(engine, &container, progress).await;
        if stopped == StopOutcome::Stopped || result.is_ok() {
            start_healthy(engine, project, &service, timeout)
                .await
                .map_err(|e| {
                    e.context("the wallet-rpc did not become healthy after the restore")
                })?;
        }
        let previous_backup = result.map_err(|e| {
            e.context(format!(
                "restore of {} into {service} failed",
                self.backup.manifest.id
            ))
        })?;
        Ok(RestoredInto::WalletContainer {
            service,
            previous_backup,
        })
    }

    /// Backs up the stopped container's directory, then uploads the backup's files into it
    /// owned like the directory; returns the id of the pre-restore backup.
    async fn replace_files(
        &self,
        engine: &Engine,
        container: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackupError> {
        let req = &self.target;
        let dir = req.backup.dir;
        let writer = ArchiveWriter::create(dir, req.role, req.keys)?;
        let writer = archive_container_dir(engine, container, CONTAINER_WALLET_DIR, writer).await?;
        let snapshot = tokio::task::block_in_place(|| {
            writer.finish(dir, req.keys, Consistency::ContainerStopped, &[])
        })?;
        progress.step(Step::CurrentWalletsBackedUp {
            id: snapshot.manifest.id.as_str(),
        });
        let owner = dir_owner(engine, container, CONTAINER_WALLET_DIR).await?;
        let (_scratch, extracted) =
            tokio::task::block_in_place(|| extract_for_upload(&self.backup, req.identities, dir))?;
        upload_dir(engine, container, &extracted, CONTAINER_WALLET_DIR, owner).await?;
        Ok(snapshot.manifest.id.to_string())
    }
}

/// After the restart, opens each restored wallet in the live wallet-rpc (when its URL is known
/// and the password configured) and compares its address with the manifest.
async fn check_live(
    live: Option<&LiveWalletRpc>,
    probe: Option<&AddressProbe>,
    checks: &[WalletCheck],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), BackupError> {
    let (Some(live), Some(probe)) = (live, probe) else {
        return Ok(());
    };
    let rpc = WalletRpc::new(&live.url, live.login.as_deref())?;
    rpc.wait_ready(timeout).await?;
    let mut compared = 0;
    for check in checks {
        let Some(expected) = &check.expected else {
            continue;
        };
        let Some(password) = probe.password_for(&check.name) else {
            continue;
        };
        let actual = rpc.wallet_address(&check.name, password).await?;
        if &actual != expected {
            return Err(BackupError::LiveMismatch {
                wallet: check.name.clone(),
                url: live.url.clone(),
                actual,
                expected: expected.clone(),
            });
        }
        compared += 1;
    }
    progress.step(Step::LiveWalletsChecked {
        url: &live.url,
        count: compared,
    });
    Ok(())
}
