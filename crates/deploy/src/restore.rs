//! The database restore of a `--restore-db` rollback: the pre-deploy backup is chosen and its
//! signed manifest verified while blue still serves, then blue is stopped, the escrow events
//! are counted again, and `mmkt_backup`'s restore swaps the backup in (keeping the current
//! database as a pre-restore copy). A failure once blue stopped puts that copy back, starts
//! blue again and pins nginx to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mmkt_backup::crypto::Identities;
use mmkt_backup::live_db::escrow_events_after;
use mmkt_backup::manifest::Selector;
use mmkt_backup::ops::restore::{BackupChoice, BackupOrigin, Confirmed, RestoredInto};
use mmkt_backup::ops::restore_db::{
    DbRestorePlan, DbRestoreRequest, KeyFileUse, ServerControl, plan_db_restore,
};
use mmkt_backup::progress::NoProgress;
use mmkt_backup::signing::TrustedKeys;
use mmkt_backup::store::BackupDir;
use mmkt_stack::Engine;

use crate::deploy::DbFile;
use crate::error::DeployError;
use crate::pin::pin_running_server;
use crate::report::{Step, StepStatus, Steps};
use crate::target::{Running, SERVER, running_servers, wait_ready};

/// Seconds blue gets to exit on SIGTERM before SIGKILL when it is stopped for a restore.
pub const BLUE_STOP_TIMEOUT_SECS: u32 = 30;

/// What a `--restore-db` rollback reads the pre-deploy backup with.
#[derive(Debug, Clone, Copy)]
pub struct RestoreKeys<'a> {
    /// The local backup directory holding the pre-deploy backup.
    pub dir: &'a BackupDir,
    /// The age identities that decrypt it.
    pub identities: &'a Identities,
    /// The keys one of which must have signed its manifest.
    pub trusted: &'a TrustedKeys,
}

/// The restore of one rollback, between choosing the backup and starting the old version.
pub(crate) struct RollbackRestore<'a> {
    pub engine: &'a Engine,
    pub project: &'a str,
    pub blue: &'a Running,
    pub db: DbFile<'a>,
    /// Escrow events in the pre-deploy backup.
    pub kept: u64,
    /// Seconds blue may take to answer `/ready` when it is started again.
    pub ready_timeout_secs: u64,
}

/// The live database after a finished restore: its pre-restore copy (`None`: there was no
/// live file).
pub(crate) struct Restored {
    pub previous: Option<PathBuf>,
}

/// Chooses the backup `selector` names and checks its signature; nothing live is touched.
///
/// # Errors
/// [`DeployError::Database`] (missing backup or key file, unsigned or forged manifest).
pub(crate) async fn plan<'a>(
    keys: RestoreKeys<'a>,
    selector: &'a Selector,
    db: DbFile<'a>,
) -> Result<DbRestorePlan<'a>, DeployError> {
    let request = DbRestoreRequest {
        backup: BackupChoice {
            dir: keys.dir,
            selector,
            origin: BackupOrigin::Local,
            trusted: keys.trusted,
        },
        live_db: db.path,
        key_file: db.key_file,
        key_file_use: KeyFileUse::Existing,
        identities: keys.identities,
        // Blue is stopped by the rollback itself, and the old version started as green.
        server: ServerControl::Manual { server_url: None },
    };
    Ok(plan_db_restore(request, &NoProgress).await?)
}

impl RollbackRestore<'_> {
    /// Stops blue, counts the escrow events again and restores `plan`. On a refusal or a
    /// failed restore blue is started again on its database before the error is returned.
    ///
    /// # Errors
    /// [`DeployError::RollbackRefused`] when escrow events were written after the backup
    /// meanwhile; [`DeployError::Database`], [`DeployError::Engine`].
    pub async fn stop_and_restore(
        &self,
        plan: DbRestorePlan<'_>,
        steps: &mut Steps<'_>,
    ) -> Result<Restored, DeployError> {
        steps.start(Step::StopBlue);
        let blue = &self.blue.release.container;
        self.engine
            .stop_container(&self.blue.id, BLUE_STOP_TIMEOUT_SECS)
            .await?;
        steps.end(
            StepStatus::Ok,
            format!("{blue} stopped: nothing writes the database"),
        );
        steps.start(Step::Restore);
        let restored = self.recheck_and_restore(plan).await;
        if restored.is_err() {
            self.bring_blue_back(None).await;
        }
        let restored = restored?;
        let kept = restored.previous.as_deref().map_or_else(
            || "no previous database".to_string(),
            |p| format!("previous database kept as {}", p.display()),
        );
        steps.end(StepStatus::Ok, kept);
        Ok(restored)
    }

    async fn recheck_and_restore(&self, plan: DbRestorePlan<'_>) -> Result<Restored, DeployError> {
        let after = escrow_events_after(self.db.path, self.db.key_file, self.kept)?;
        if after.total > 0 {
            return Err(DeployError::RollbackRefused {
                reason: format!(
                    "{} escrow event(s) were written after the pre-deploy backup while blue was stopping; blue was started again on its database. Deploy a fixed version instead (`mmctl deploy --version NEW`)",
                    after.total
                ),
            });
        }
        let report = plan.run(Confirmed::by_operator(), &NoProgress).await?;
        let previous = match report.target {
            RestoredInto::Database { previous, .. } => previous,
            _ => None,
        };
        Ok(Restored { previous })
    }

    /// After a failure once blue stopped: unless a server runs (green took over), puts the
    /// pre-restore copy back when the restore finished, starts blue, waits for `/ready` and
    /// pins nginx to blue's new address (best effort; returns what happened, for the report).
    pub async fn bring_blue_back(&self, restored: Option<&Restored>) -> String {
        match running_servers(self.engine, self.project).await {
            Ok(running) if !running.is_empty() => {
                return format!("{} serves; blue left stopped", running[0].release.container);
            }
            _ => {}
        }
        if let Some(Restored {
            previous: Some(copy),
        }) = restored
            && let Err(e) = put_back(copy, self.db.path)
        {
            return e.to_string();
        }
        let blue = &self.blue.release.container;
        if let Err(e) = self.engine.start_service(self.project, SERVER).await {
            return format!("starting {blue} failed: {e}; start it with `mmctl up`");
        }
        let timeout = Duration::from_secs(self.ready_timeout_secs);
        if let Err(e) = wait_ready(self.engine, &self.blue.id, blue, timeout).await {
            return e.to_string();
        }
        // Blue came back with a new address; whatever the failed switch left in the pin files
        // (the service name, or green's address when putting blue's back failed) is replaced.
        match pin_running_server(self.engine, self.project).await {
            Ok(pin) => format!(
                "{blue} serves again on its database; nginx {}",
                pin.describe()
            ),
            Err(e) => format!(
                "{blue} serves again on its database, but pinning nginx to it failed ({e}): run `mmctl up`"
            ),
        }
    }
}

/// Puts the pre-restore copy `copy` (and its `-wal`) back over `live`, dropping the restored
/// file's `-wal`/`-shm` first. Blue stopped cleanly before the copy was made, so it is complete.
///
/// # Errors
/// [`DeployError::PutBack`] naming the copy to move back by hand.
pub(crate) fn put_back(copy: &Path, live: &Path) -> Result<(), DeployError> {
    let failed = |source| DeployError::PutBack {
        copy: copy.to_owned(),
        live: live.to_owned(),
        source,
    };
    let side = |p: &Path, suffix: &str| {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    for suffix in ["-wal", "-shm"] {
        match std::fs::remove_file(side(live, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
            _ => {}
        }
    }
    if side(copy, "-wal").exists() {
        std::fs::rename(side(copy, "-wal"), side(live, "-wal")).map_err(failed)?;
    }
    std::fs::rename(copy, live).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_back_replaces_the_restored_file_and_drops_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("mmkt.db");
        let copy = dir.path().join("mmkt.db.pre-restore-1");
        std::fs::write(&live, "restored").unwrap();
        std::fs::write(dir.path().join("mmkt.db-wal"), "green's writes").unwrap();
        std::fs::write(&copy, "blue's").unwrap();
        put_back(&copy, &live).unwrap();
        assert_eq!(std::fs::read_to_string(&live).unwrap(), "blue's");
        assert!(!dir.path().join("mmkt.db-wal").exists());
        assert!(!copy.exists());
        let err = put_back(&copy, &live).unwrap_err().to_string();
        assert!(err.contains("pre-restore-1"), "{err}");
    }
}
