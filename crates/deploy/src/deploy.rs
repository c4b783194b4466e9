//! `deploy`: lock, pre-deploy backup, image, then the blue/green [`Switch`], the schema
//! version before and after, and the history entry on the target host.

use std::path::Path;

use mmkt_backup::live_db::{ESCROW_EVENTS_TABLE, schema_version};
use mmkt_backup::ops::backup::{BackupRequest, backup};
use mmkt_backup::progress::NoProgress as NoBackupProgress;
use mmkt_stack::image::{load_images, short_id};
use mmkt_stack::spec::ContainerPlan;
use mmkt_stack::{Engine, Project};

use crate::error::DeployError;
use crate::history::{History, HistoryEntry};
use crate::lock::DeployLock;
use crate::report::{
    DeployOutcome, DeployProgress, DeployReport, Release, RunKind, SchemaChange, Step, StepStatus,
    Steps, now_rfc3339,
};
use crate::settings::DeploySettings;
use crate::switch::{BlueState, Switch};
use crate::target::{VERSION_VARIABLE, blue, plan_green, server_image, with_version};

/// The live database, for its schema version (and, on rollback, its escrow events).
#[derive(Debug, Clone, Copy)]
pub struct DbFile<'a> {
    /// The SQLCipher database file, as this host sees it.
    pub path: &'a Path,
    /// Its key file.
    pub key_file: &'a Path,
}

impl DbFile<'_> {
    /// `PRAGMA user_version`, or `None` when it cannot be read (the reason is not fatal: the
    /// history then says "unknown").
    pub(crate) fn schema(&self) -> Option<i64> {
        schema_version(self.path, self.key_file).ok()
    }
}

/// The pre-deploy backup: taken, or skipped with the operator's reason.
#[derive(Debug, Clone, Copy)]
pub enum PreDeployBackup<'a> {
    /// Back up the database (offsite too when the request has a bucket).
    Take(&'a BackupRequest<'a>),
    /// `--skip-backup --reason TEXT`.
    Skip {
        /// Why, recorded in the history.
        reason: &'a str,
    },
}

/// What `mmctl deploy` does.
#[derive(Clone, Copy)]
pub struct DeployRequest<'a> {
    /// The target engine.
    pub engine: &'a Engine,
    /// The compose project, loaded with the environment's env file.
    pub project: &'a Project,
    /// The environment's name (for the report and history).
    pub env: &'a str,
    /// The image tag to deploy; `None`: the environment's `MMKT_VERSION` (else `latest`).
    pub version: Option<&'a str>,
    /// An image archive to load first (air-gapped host); nothing is ever pulled.
    pub image_file: Option<&'a Path>,
    /// The pre-deploy backup.
    pub backup: PreDeployBackup<'a>,
    /// The live database, for the schema version before and after.
    pub database: Option<DbFile<'a>>,
    /// Timings and thresholds.
    pub settings: DeploySettings,
    /// Who deploys (`user@host`), shown to a second deploy that finds the lock.
    pub holder: &'a str,
}

/// A deploy or rollback that stopped with an error, with the report of what ran.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct DeployFailure {
    /// What ran, with outcome [`DeployOutcome::Failed`].
    pub report: Box<DeployReport>,
    /// Why it stopped.
    #[source]
    pub error: DeployError,
}

/// A fresh report for run `kind`.
pub(crate) fn new_report(kind: RunKind, env: &str, project: &str) -> DeployReport {
    let started_at = now_rfc3339();
    let stamp: String = started_at
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    DeployReport {
        id: format!("{stamp}-{suffix}"),
        kind,
        env: env.to_string(),
        project: project.to_string(),
        target: None,
        previous: None,
        backup_id: None,
        backup_skipped: None,
        schema: SchemaChange::default(),
        restored_db: None,
        steps: Vec::new(),
        outcome: DeployOutcome::Deployed,
        finished_at: String::new(),
        started_at,
    }
}

/// Runs a deploy; see the crate docs for the steps.
///
/// # Errors
/// [`DeployFailure`] with the report so far: [`DeployError::LockHeld`] (nothing done),
/// [`DeployError::BackupFailed`], [`DeployError::GreenNotReady`], [`DeployError::SmokeFailed`]
/// (green removed, blue serving), and the engine's, nginx's or history's errors.
pub async fn deploy(
    req: &DeployRequest<'_>,
    progress: &dyn DeployProgress,
) -> Result<DeployReport, DeployFailure> {
    let mut report = new_report(RunKind::Deploy, req.env, &req.project.name);
    let mut steps = Steps::new(progress);
    let version = req
        .version
        .map(str::to_string)
        .or_else(|| {
            req.project
                .compose
                .variables
                .get(VERSION_VARIABLE)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "latest".into());
    steps.start(Step::Lock);
    let action = format!("deploy {version}");
    let lock = match DeployLock::acquire(req.engine, &req.project.name, req.holder, &action).await {
        Ok(lock) => lock,
        Err(error) => return Err(failed_before_lock(report, steps, error)),
    };
    steps.end(StepStatus::Ok, format!("held by {}", req.holder));
    let mut escrow_events = None;
    let result = run(req, &version, &mut report, &mut steps, &mut escrow_events).await;
    finish(
        req.engine,
        lock,
        report,
        steps,
        result,
        escrow_events,
        req.database,
    )
    .await
}

/// Everything between taking and releasing the lock.
async fn run(
    req: &DeployRequest<'_>,
    version: &str,
    report: &mut DeployReport,
    steps: &mut Steps<'_>,
    escrow_events: &mut Option<u64>,
) -> Result<DeployOutcome, DeployError> {
    let engine = req.engine;
    let blue = blue(engine, &req.project.name).await?;
    report.previous = Some(blue.release.clone());

    steps.start(Step::Backup);
    match req.backup {
        PreDeployBackup::Take(request) => {
            let reports = backup(request, &NoBackupProgress)
                .await
                .map_err(|source| DeployError::BackupFailed { source })?;
            let Some(first) = reports.first() else {
                return Err(DeployError::Invalid(
                    "the backup request names no database".into(),
                ));
            };
            let manifest = &first.backup.manifest;
            *escrow_events = manifest.db.as_ref().map(|d| {
                d.snapshot
                    .row_counts
                    .get(ESCROW_EVENTS_TABLE)
                    .copied()
                    .unwrap_or(0)
            });
            report.backup_id = Some(manifest.id.to_string());
            steps.end(
                StepStatus::Ok,
                format!("{} ({:?})", manifest.id, first.offsite),
            );
        }
        PreDeployBackup::Skip { reason } => {
            report.backup_skipped = Some(reason.to_string());
            steps.end(StepStatus::Skipped, format!("--skip-backup: {reason}"));
        }
    }

    steps.start(Step::Image);
    let loaded = match req.image_file {
        Some(file) => format!(
            "loaded {} from {}; ",
            load_images(engine, file).await?.join(", "),
            file.display()
        ),
        None => String::new(),
    };
    let plan = green_plan(
        engine,
        req.project,
        version,
        req.database,
        &loaded,
        report,
        steps,
    )
    .await?;
    let switch = Switch {
        engine,
        project: &req.project.name,
        settings: &req.settings,
        blue: &blue,
        blue_state: BlueState::Serving,
        plan: &plan,
    };
    switch.run(steps).await
}

/// Ends the Image step (the image of `version` is local; `loaded` says what was loaded
/// first), names green as the report's target with the schema version before, and plans
/// green from the compose `server` service.
///
/// # Errors
/// [`DeployError::Invalid`] for an image that is not local, [`DeployError::Engine`].
pub(crate) async fn green_plan(
    engine: &Engine,
    project: &Project,
    version: &str,
    database: Option<DbFile<'_>>,
    loaded: &str,
    report: &mut DeployReport,
    steps: &mut Steps<'_>,
) -> Result<ContainerPlan, DeployError> {
    let target_project = with_version(project, version)?;
    let (reference, image_id) = server_image(engine, &target_project).await?;
    steps.end(
        StepStatus::Ok,
        format!(
            "{loaded}{reference} is {} (local, not pulled)",
            short_id(&image_id)
        ),
    );
    let name = format!("{}-server-{}", project.name, report.id);
    report.target = Some(Release {
        version: version.to_string(),
        image_id: image_id.clone(),
        container: name.clone(),
    });
    report.schema.before = database.and_then(|d| d.schema());
    plan_green(&target_project, &image_id, &name, version, &report.id)
}

/// Records the run in the history, releases the lock and builds the result.
pub(crate) async fn finish(
    engine: &Engine,
    lock: DeployLock,
    mut report: DeployReport,
    mut steps: Steps<'_>,
    result: Result<DeployOutcome, DeployError>,
    escrow_events: Option<u64>,
    database: Option<DbFile<'_>>,
) -> Result<DeployReport, DeployFailure> {
    let error = match result {
        Ok(outcome) => {
            report.outcome = outcome;
            None
        }
        Err(e) => {
            steps.fail_current(&e);
            report.outcome = DeployOutcome::Failed {
                error: e.to_string(),
            };
            Some(e)
        }
    };
    if report.schema.before.is_some() {
        report.schema.after = database.and_then(|d| d.schema());
    }
    report.finished_at = now_rfc3339();
    steps.start(Step::History);
    let image = report
        .target
        .as_ref()
        .or(report.previous.as_ref())
        .map(|r| r.image_id.clone());
    let recorded = match image {
        Some(image) => {
            let entry = HistoryEntry::from_report(&report, escrow_events);
            History::new(engine, &report.project, &image)
                .append(&entry)
                .await
        }
        None => Ok(()),
    };
    match &recorded {
        Ok(()) => steps.end(StepStatus::Ok, "recorded on the target host"),
        Err(e) => steps.end(StepStatus::Failed, e.to_string()),
    }
    let released = lock.release(engine).await;
    report.steps = std::mem::take(&mut steps.done);
    let error = error.or(recorded.err()).or(released.err());
    match error {
        None => Ok(report),
        Some(error) => Err(DeployFailure {
            report: Box::new(report),
            error,
        }),
    }
}

/// A failure before the lock was taken (nothing to record or release).
pub(crate) fn failed_before_lock(
    mut report: DeployReport,
    mut steps: Steps<'_>,
    error: DeployError,
) -> DeployFailure {
    steps.fail_current(&error);
    report.outcome = DeployOutcome::Failed {
        error: error.to_string(),
    };
    report.finished_at = now_rfc3339();
    report.steps = std::mem::take(&mut steps.done);
    DeployFailure {
        report: Box::new(report),
        error,
    }
}
