//! What the restores share: the operator's confirmation, choosing the backup (locally or
//! from the bucket) and checking its signature, restarting a service, and the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mmkt_stack::Engine;

use crate::error::BackupError;
use crate::manifest::{Manifest, Selector, Series};
use crate::progress::{Progress, Step};
use crate::s3::{Offsite, RemoteBackup, S3Config, S3Error};
use crate::signing::{AuthenticBackup, TrustedKeys, authenticate};
use crate::store::BackupDir;

/// The operator's explicit go-ahead for a restore, obtained after showing which backup
/// replaces what (a prompt answered "yes", or `--yes`). Restores take one by value.
#[derive(Debug, Clone, Copy)]
pub struct Confirmed(());

impl Confirmed {
    /// The operator confirmed.
    pub fn by_operator() -> Confirmed {
        Confirmed(())
    }
}

/// Where the backup to restore comes from.
#[derive(Debug, Clone, Copy)]
pub enum BackupOrigin<'a> {
    /// The local backup directory.
    Local,
    /// The S3 bucket: downloaded into the local directory first (unless already there).
    S3(&'a S3Config),
}

/// Which backup a restore uses.
#[derive(Debug, Clone, Copy)]
pub struct BackupChoice<'a> {
    /// The local backup directory (downloads from S3 land here; scratch space and the
    /// pre-restore backup of wallets go here too).
    pub dir: &'a BackupDir,
    /// A backup id, or the latest.
    pub selector: &'a Selector,
    /// Local directory or S3 bucket.
    pub origin: BackupOrigin<'a>,
    /// The keys one of which must have signed the backup's manifest.
    pub trusted: &'a TrustedKeys,
}

/// A restore whose backup is chosen, waiting for the operator's confirmation: show
/// [`RestorePlan::backup`], then call the target's `run` with [`Confirmed`].
#[derive(Debug)]
pub struct RestorePlan<T> {
    pub(crate) target: T,
    pub(crate) backup: AuthenticBackup,
    pub(crate) started: Instant,
}

impl<T> RestorePlan<T> {
    /// The backup that will be restored (its signature verified).
    pub fn backup(&self) -> &AuthenticBackup {
        &self.backup
    }

    /// The report of the finished restore.
    pub(crate) fn report(&self, target: RestoredInto, restart: Restart) -> RestoreReport {
        RestoreReport {
            backup_id: self.backup.manifest.id.to_string(),
            target,
            restart,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// What a restore returns.
pub type RestoreResult = Result<RestoreReport, BackupError>;

/// Chooses the backup of `series` for `target` (see [`select_backup`]); `started` is when the
/// restore began.
pub(crate) async fn choose<T>(
    target: T,
    choice: &BackupChoice<'_>,
    series: Series,
    started: Instant,
    progress: &dyn Progress,
) -> Result<RestorePlan<T>, BackupError> {
    let backup = select_backup(choice, series, progress).await?;
    Ok(RestorePlan {
        target,
        backup,
        started,
    })
}

/// Whether the service was restarted by the restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The restore started the service again and it is healthy (and the server ready).
    Done,
    /// The service runs outside the stack (or has no container): the operator starts it.
    ByOperator,
}

/// What was restored where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoredInto {
    /// The live database file was replaced.
    Database {
        /// The live database.
        path: PathBuf,
        /// The replaced database, kept as `<db>.pre-restore-<stamp>` (`None`: there was none).
        previous: Option<PathBuf>,
    },
    /// Files were copied into a wallet directory on this host.
    WalletDirectory {
        /// The live wallet directory.
        path: PathBuf,
        /// Files written.
        files: usize,
        /// Id of the backup of the directory taken just before.
        previous_backup: String,
    },
    /// Files were copied into a wallet-rpc container.
    WalletContainer {
        /// The compose service, `wallet-rpc-<role>`.
        service: String,
        /// Id of the backup of the directory taken just before.
        previous_backup: String,
    },
    /// Onion-service keys were written into the tor container, which shows their address.
    TorContainer {
        /// The compose service, `tor`.
        service: String,
        /// The onion address tor shows after the restart (the backup's).
        address: String,
        /// Id of the backup of the keys it had before (`None`: it had none yet).
        previous_backup: Option<String>,
    },
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreReport {
    /// The backup restored.
    pub backup_id: String,
    /// What it replaced.
    pub target: RestoredInto,
    /// Whether the service is running again.
    pub restart: Restart,
    /// Seconds from the start of the restore (planning included) to its end.
    pub seconds: f64,
}

/// Finds the chosen backup (an id or the latest) of `series`, downloading it from the bucket
/// into the directory when the choice says so and it is not there yet, and checks that a
/// trusted key signed it (a remote backup before its data is downloaded).
///
/// # Errors
/// [`BackupError::NotFound`] / [`BackupError::Incomplete`] locally; from S3, the listing or
/// download error in [`BackupError::Context`], or [`S3Error::NotFound`] in
/// [`BackupError::Offsite`]; [`BackupError::Unsigned`] / [`BackupError::BadSignature`] for a
/// backup no trusted key signed (nothing is restored then).
pub async fn select_backup(
    choice: &BackupChoice<'_>,
    series: Series,
    progress: &dyn Progress,
) -> Result<AuthenticBackup, BackupError> {
    let BackupChoice {
        dir,
        selector,
        origin,
        trusted,
    } = *choice;
    let BackupOrigin::S3(config) = origin else {
        return authenticate(&dir.find(selector, series)?, trusted);
    };
    let offsite = Offsite::connect(config.clone()).await;
    let remote = super::remote_backups(&offsite).await?;
    let chosen = remote
        .iter()
        .rfind(|r| {
            r.manifest.series() == series
                && match selector {
                    Selector::Latest => true,
                    Selector::Id(id) => &r.manifest.id == id,
                    Selector::At(at) => r.manifest.created_at <= *at,
                }
        })
        .ok_or_else(|| S3Error::NotFound(format!("{selector} ({series})")))?;
    let fetch = S3Fetch {
        offsite: &offsite,
        config,
        dir,
        trusted,
        progress,
    };
    let backup = match dir.find(&Selector::Id(chosen.manifest.id.clone()), series) {
        Ok(local) => authenticate(&local, trusted)?,
        Err(_) => fetch.download(chosen).await?,
    };
    fetch.parents(&remote, &backup, series).await?;
    Ok(backup)
}

/// Downloads signed S3 copies into the local backup directory.
struct S3Fetch<'a> {
    offsite: &'a Offsite,
    config: &'a S3Config,
    dir: &'a BackupDir,
    trusted: &'a TrustedKeys,
    progress: &'a dyn Progress,
}

impl S3Fetch<'_> {
    /// Checks the signature of `remote`, then downloads it.
    async fn download(&self, remote: &RemoteBackup) -> Result<AuthenticBackup, BackupError> {
        self.offsite
            .check_signature(remote, self.trusted)
            .await
            .map_err(|e| e.context(format!("refusing the S3 copy of {}", remote.manifest.id)))?;
        self.progress.step(Step::Downloading {
            id: remote.manifest.id.as_str(),
            bytes: remote.manifest.encrypted_size,
            bucket: &self.config.bucket,
            key: &remote.data_key,
        });
        let local = self
            .offsite
            .download(remote, self.dir)
            .await
            .map_err(|e| BackupError::from(e).context("download from S3 failed"))?;
        authenticate(&local, self.trusted)
    }

    /// Downloads the links of `head`'s chain (a delta's parents down to its full backup) that
    /// are not in the local directory but are in `remote`. A link in neither is left for the
    /// chain check, which names it.
    async fn parents(
        &self,
        remote: &[RemoteBackup],
        head: &AuthenticBackup,
        series: Series,
    ) -> Result<(), BackupError> {
        let parent_of = |m: &Manifest| {
            m.db.as_ref()
                .and_then(|d| d.chain.as_ref())
                .map(|c| c.parent.clone())
        };
        let mut next = parent_of(&head.manifest);
        // A chain is at most as long as the bucket's listing (bounds a forged cycle).
        for _ in 0..=remote.len() {
            let Some(id) = next else {
                return Ok(());
            };
            let manifest = match self.dir.find(&Selector::Id(id.clone()), series) {
                Ok(local) => local.manifest,
                Err(_) => match remote.iter().find(|r| r.manifest.id == id) {
                    Some(r) => self.download(r).await?.manifest.clone(),
                    None => return Ok(()),
                },
            };
            next = parent_of(&manifest);
        }
        Ok(())
    }
}

/// Starts a service's container and waits until it is healthy.
///
/// # Errors
/// [`BackupError::Docker`]: no container, Engine API failure, not healthy within `timeout`.
pub(crate) async fn start_healthy(
    engine: &Engine,
    project: &str,
    service: &str,
    timeout: Duration,
) -> Result<(), BackupError> {
    engine.start_service(project, service).await?;
    let id = engine.require_service_container(project, service).await?;
    Ok(engine.wait_healthy(service, &id, timeout).await?)
}
