//! `backup tor` and `restore tor`: the `tor` service's onion-service keys, read from and
//! written into its container through `mmkt_stack` (works with a remote engine too).
//!
//! A backup reads the three files while tor runs (tor never changes them after making them).
//! A restore decrypts and checks the backup in memory first (a wrong identity or a tampered
//! file fails before anything live is touched), keeps the current keys as a regular tor
//! backup, stops tor, writes the keys (0700 directory, 0600 files, owned like tor's data
//! directory) with an empty `hostname`, starts tor, and checks that the address tor derived
//! from the restored secret key is the backup's.

use std::time::{Duration, Instant};

use mmkt_stack::tor::{KeysLookup, OnionLookup, TOR_SERVICE};
use mmkt_stack::{Engine, EngineConfig, StopOutcome};

use super::restore::{self, BackupChoice, Confirmed, RestorePlan, RestoreResult, choose};
use crate::crypto::Identities;
use crate::error::BackupError;
use crate::manifest::Series;
use crate::progress::{Progress, Step};
use crate::signing::BackupKeys;
use crate::store::{BackupDir, LocalBackup};
use crate::tor_keys::{open_keys, seal_keys};

/// Seconds tor gets to exit on SIGTERM before SIGKILL (it waits `ShutdownWaitLength`, 30 s
/// by default, only when it relays; an onion service exits at once).
const STOP_TIMEOUT_SECS: u32 = 30;

/// What a backup does when the project has no `tor` container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAbsent {
    /// Fail with [`BackupError::NoTorService`] (`backup tor`).
    Fail,
    /// Report [`Step::NoContainer`] and back up nothing (`backup all`: a stack without tor).
    Skip,
}

/// The onion-service keys to back up: the `tor` service of a compose project.
#[derive(Debug, Clone, Copy)]
pub struct TorSource<'a> {
    /// How to reach the Docker Engine.
    pub engine: &'a EngineConfig,
    /// Compose project name.
    pub project: &'a str,
    /// A stack without a tor container: an error or nothing to do.
    pub when_absent: WhenAbsent,
}

/// The `tor` container of `project` and the key set in it, or why there is none.
async fn container_keys(
    engine: &Engine,
    project: &str,
) -> Result<Option<(String, KeysLookup)>, BackupError> {
    let Some(id) = engine
        .find_service_container(project, TOR_SERVICE)
        .await?
        .and_then(|c| c.id)
    else {
        return Ok(None);
    };
    let keys = engine.hidden_service_keys(&id).await?;
    Ok(Some((id, keys)))
}

/// Backs up the tor service's keys (running or stopped), or nothing when the project has no
/// tor container and `source` says to skip it.
///
/// # Errors
/// [`BackupError::NoTorService`] (no container, [`WhenAbsent::Fail`]),
/// [`BackupError::OnionNotCreated`] (tor has not made its keys yet), [`BackupError::Docker`]
/// (engine failures, key files that are not one key set), and the sealing errors.
pub async fn backup_tor(
    dir: &BackupDir,
    keys: BackupKeys<'_>,
    source: &TorSource<'_>,
    progress: &dyn Progress,
) -> Result<Option<LocalBackup>, BackupError> {
    let engine = Engine::connect(source.engine).await?;
    let project = source.project;
    let found = container_keys(&engine, project).await?;
    let lookup = match (found, source.when_absent) {
        (Some((_, lookup)), _) => lookup,
        (None, WhenAbsent::Skip) => {
            progress.step(Step::NoContainer {
                project,
                service: TOR_SERVICE,
            });
            return Ok(None);
        }
        (None, WhenAbsent::Fail) => {
            return Err(BackupError::NoTorService {
                project: project.to_owned(),
            });
        }
    };
    let KeysLookup::Found(hidden_service) = lookup else {
        return Err(BackupError::OnionNotCreated {
            project: project.to_owned(),
        });
    };
    tokio::task::block_in_place(|| seal_keys(dir, keys, &hidden_service))
        .map(Some)
        .map_err(|e| e.context("backup of the onion-service keys failed"))
}

/// What `restore tor` does.
#[derive(Debug, Clone)]
pub struct TorRestoreRequest<'a> {
    /// Which backup.
    pub backup: BackupChoice<'a>,
    /// age identities that decrypt the backup.
    pub identities: &'a Identities,
    /// The configured recipients and signing key of the backup of the current keys taken
    /// before they are replaced (never the restored backup's recipients).
    pub keys: BackupKeys<'a>,
    /// How to reach the Docker Engine.
    pub engine: EngineConfig,
    /// Compose project name.
    pub project: String,
    /// How long to wait for the restarted tor to be healthy.
    pub ready_timeout: Duration,
}

/// A tor restore whose backup is chosen, waiting for the operator's confirmation (`run`).
pub type TorRestorePlan<'a> = RestorePlan<TorRestoreRequest<'a>>;

impl<'a> TorRestoreRequest<'a> {
    /// Finds (or downloads) the tor backup and checks its signature; nothing live is touched.
    /// Errors: those of [`super::restore::select_backup`].
    pub async fn plan(self, progress: &dyn Progress) -> Result<TorRestorePlan<'a>, BackupError> {
        let choice = self.backup;
        choose(self, &choice, Series::TOR, Instant::now(), progress).await
    }
}

impl TorRestorePlan<'_> {
    /// Runs the restore (see the module documentation for the order of the steps).
    ///
    /// # Errors
    /// Before anything live is touched: the backup's [`BackupError::Decrypt`],
    /// [`BackupError::Checksum`], [`BackupError::Mismatch`], [`BackupError::TorKeys`] (in
    /// [`BackupError::Context`]), [`BackupError::NoTorService`]. Afterwards:
    /// [`BackupError::Docker`] (stop, write, start, not healthy) and [`BackupError::TorKeys`]
    /// when the restarted tor shows another address than the backup's.
    pub async fn run(self, _confirmed: Confirmed, _progress: &dyn Progress) -> RestoreResult {
        let req = &self.target;
        let id = &self.backup.manifest.id;
        let restored = tokio::task::block_in_place(|| open_keys(&self.backup, req.identities))
            .map_err(|e| {
                e.context(format!(
                    "restore of {id} failed before touching the tor service"
                ))
            })?;
        let engine = Engine::connect(&req.engine).await?;
        let project = req.project.as_str();
        let (container, current) =
            container_keys(&engine, project)
                .await?
                .ok_or_else(|| BackupError::NoTorService {
                    project: project.to_owned(),
                })?;
        let previous_backup = match current {
            KeysLookup::Found(current) => Some(
                tokio::task::block_in_place(|| seal_keys(req.backup.dir, req.keys, &current))
                    .map_err(|e| {
                        e.context(
                            "cannot back up the current onion-service keys; nothing was restored",
                        )
                    })?
                    .manifest
                    .id
                    .to_string(),
            ),
            KeysLookup::NotCreated => None,
        };
        let stopped = engine
            .stop_service(project, TOR_SERVICE, STOP_TIMEOUT_SECS)
            .await?;
        let written = engine
            .write_hidden_service_keys(&container, &restored)
            .await;
        if stopped == StopOutcome::Stopped || written.is_ok() {
            restore::start_healthy(&engine, project, TOR_SERVICE, req.ready_timeout)
                .await
                .map_err(|e| e.context("tor did not become healthy after the restore"))?;
        }
        written.map_err(|e| {
            BackupError::from(e).context(format!("restore of {id} into the tor container failed"))
        })?;
        let expected = &restored.address;
        match engine.onion_address(project).await? {
            OnionLookup::Found(address) if &address == expected => {}
            OnionLookup::Found(address) => {
                return Err(BackupError::TorKeys(format!(
                    "after the restore tor shows {address}, the backup {id} holds {expected}"
                )));
            }
            other => {
                return Err(BackupError::TorKeys(format!(
                    "after the restore tor shows no onion address ({other:?}); the backup {id} holds {expected}"
                )));
            }
        }
        let target = restore::RestoredInto::TorContainer {
            service: TOR_SERVICE.to_owned(),
            address: expected.to_string(),
            previous_backup,
        };
        Ok(self.report(target, restore::Restart::Done))
    }
}
