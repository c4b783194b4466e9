//! `rollback`: the same blue/green switch back to the previous (or a named) version's local
//! image, with no pull. A rollback across a schema change needs the pre-deploy backup
//! restored, which is refused while escrow events written after that backup exist; with
//! `--restore-db` blue is stopped, the events counted again, the backup restored
//! ([`crate::restore`]) and the old version started as green on it.

use mmkt_backup::live_db::escrow_events_after;
use mmkt_backup::manifest::Selector;
use mmkt_stack::{Engine, Project};

use crate::deploy::{DbFile, DeployFailure, failed_before_lock, finish, green_plan, new_report};
use crate::error::DeployError;
use crate::history::{History, HistoryEntry, current};
use crate::lock::DeployLock;
use crate::report::{
    DeployOutcome, DeployProgress, DeployReport, RunKind, Step, StepStatus, Steps,
};
use crate::restore::{RestoreKeys, RollbackRestore, plan as plan_restore};
use crate::settings::DeploySettings;
use crate::switch::{BlueState, Switch};
use crate::target::blue;

/// Whether the rollback restores the pre-deploy backup of the deploy it undoes.
#[derive(Debug, Clone, Copy)]
pub enum RestoreDb<'a> {
    /// Keep the database (the old version must read the current schema).
    Keep,
    /// `--restore-db`: restore the pre-deploy backup (refused when escrow events came after
    /// it), read with these keys from the local backup directory.
    Restore(RestoreKeys<'a>),
}

/// What `mmctl rollback` does.
#[derive(Clone, Copy)]
pub struct RollbackRequest<'a> {
    /// The target engine.
    pub engine: &'a Engine,
    /// The compose project, loaded with the environment's env file.
    pub project: &'a Project,
    /// The environment's name.
    pub env: &'a str,
    /// The version to go back to; `None`: the one the last deploy replaced.
    pub to: Option<&'a str>,
    /// Whether to restore the pre-deploy backup.
    pub restore_db: RestoreDb<'a>,
    /// The live database (needed with [`RestoreDb::Restore`]).
    pub database: Option<DbFile<'a>>,
    /// Timings and thresholds.
    pub settings: DeploySettings,
    /// Who rolls back (`user@host`).
    pub holder: &'a str,
}

/// Runs a rollback.
///
/// # Errors
/// [`DeployFailure`] with [`DeployError::LockHeld`], [`DeployError::RollbackRefused`] (nothing
/// changed; also when escrow events appear while blue stops, which starts blue again),
/// [`DeployError::Invalid`] (no recorded deploy and no `--to`, image not local),
/// [`DeployError::Database`] (backup missing or not signed by a trusted key: nothing changed;
/// restore failed: blue started again on its database), and the switch's errors (blue keeps
/// serving, or with `--restore-db` is started again on its database, put back first).
pub async fn rollback(
    req: &RollbackRequest<'_>,
    progress: &dyn DeployProgress,
) -> Result<DeployReport, DeployFailure> {
    let mut report = new_report(RunKind::Rollback, req.env, &req.project.name);
    let mut steps = Steps::new(progress);
    steps.start(Step::Lock);
    let action = format!("rollback to {}", req.to.unwrap_or("the previous version"));
    let lock = match DeployLock::acquire(req.engine, &req.project.name, req.holder, &action).await {
        Ok(lock) => lock,
        Err(error) => return Err(failed_before_lock(report, steps, error)),
    };
    steps.end(StepStatus::Ok, format!("held by {}", req.holder));
    let result = run(req, &mut report, &mut steps).await;
    finish(req.engine, lock, report, steps, result, None, req.database).await
}

async fn run(
    req: &RollbackRequest<'_>,
    report: &mut DeployReport,
    steps: &mut Steps<'_>,
) -> Result<DeployOutcome, DeployError> {
    let engine = req.engine;
    let blue = blue(engine, &req.project.name).await?;
    report.previous = Some(blue.release.clone());
    let entries = History::new(engine, &req.project.name, &blue.release.image_id)
        .entries()
        .await?;
    let last = current(&entries);
    let version = match (req.to, last.and_then(|e| e.previous.as_ref())) {
        (Some(to), _) => to.to_string(),
        (None, Some(previous)) => previous.version.clone(),
        (None, None) => {
            return Err(DeployError::Invalid(
                "the deploy history records no earlier version to go back to; name it with --to VERSION".into(),
            ));
        }
    };

    steps.start(Step::RestoreDb);
    let check = check_restore(req, last)?;
    let restore = match check {
        Check::Keep(detail) => {
            steps.end(StepStatus::Skipped, detail);
            None
        }
        Check::Restore { backup, kept, db } => {
            steps.end(
                StepStatus::Ok,
                format!("no escrow event postdates backup {backup}: it will be restored"),
            );
            Some((backup, kept, db))
        }
    };

    steps.start(Step::Image);
    let plan = green_plan(
        engine,
        req.project,
        &version,
        req.database,
        "",
        report,
        steps,
    )
    .await?;
    let mut switch = Switch {
        engine,
        project: &req.project.name,
        settings: &req.settings,
        blue: &blue,
        blue_state: BlueState::Serving,
        plan: &plan,
    };
    let (RestoreDb::Restore(keys), Some((backup, kept, db))) = (req.restore_db, restore) else {
        return switch.run(steps).await;
    };
    // The backup and its signature are checked while blue still serves.
    let selector = Selector::parse(&backup)?;
    let restore_plan = plan_restore(keys, &selector, db).await?;
    let restore = RollbackRestore {
        engine,
        project: &req.project.name,
        blue: &blue,
        db,
        kept,
        ready_timeout_secs: req.settings.ready_timeout_secs,
    };
    let restored = restore.stop_and_restore(restore_plan, steps).await?;
    report.schema.before = db.schema();
    switch.blue_state = BlueState::Stopped;
    let result = switch.run(steps).await;
    if let Err(e) = &result {
        steps.fail_current(e);
        steps.start(Step::Rollback);
        let detail = restore.bring_blue_back(Some(&restored)).await;
        steps.end(StepStatus::Ok, detail);
    } else {
        report.restored_db = Some(backup);
    }
    result
}

/// What [`check_restore`] allows.
enum Check<'a> {
    /// The database is kept (the detail says why that is fine).
    Keep(String),
    /// The pre-deploy backup `backup`, holding `kept` escrow events, is restored into `db`.
    Restore {
        backup: String,
        kept: u64,
        db: DbFile<'a>,
    },
}

/// Whether the rollback may go ahead as asked: without `--restore-db` the deploy being undone
/// must not have migrated the schema; with it, no escrow event may postdate its backup.
///
/// # Errors
/// [`DeployError::RollbackRefused`] saying why and what to do instead.
fn check_restore<'a>(
    req: &RollbackRequest<'a>,
    last: Option<&HistoryEntry>,
) -> Result<Check<'a>, DeployError> {
    let refused = |reason: String| Err(DeployError::RollbackRefused { reason });
    let migrated = last.and_then(|e| e.migrated) == Some(true);
    let schema = last.map(|e| e.schema).unwrap_or_default();
    if let RestoreDb::Keep = req.restore_db {
        if migrated {
            return refused(format!(
                "the last deploy migrated the schema from version {} to {}; the previous version cannot run on it. Roll back with --restore-db (restores pre-deploy backup {}), or deploy a fixed version instead",
                schema.before.unwrap_or_default(),
                schema.after.unwrap_or_default(),
                last.and_then(|e| e.backup_id.as_deref()).unwrap_or("none")
            ));
        }
        return Ok(Check::Keep(
            "database kept (the last deploy did not migrate the schema)".into(),
        ));
    }
    let Some(entry) = last else {
        return refused(
            "--restore-db: the deploy history records no deploy whose backup could be restored"
                .into(),
        );
    };
    let (Some(backup_id), Some(kept)) = (entry.backup_id.as_deref(), entry.backup_escrow_events)
    else {
        return refused(format!(
            "--restore-db: deploy {} took no pre-deploy backup ({}); restore by hand with `mmctl restore db ID` after checking the escrows",
            entry.id,
            entry.backup_skipped.as_deref().unwrap_or("skipped")
        ));
    };
    let Some(db) = req.database else {
        return Err(DeployError::Invalid(
            "--restore-db needs the live database: pass --db and --key-file (or MMKT_DB_PATH and MMKT_DB_KEY_FILE)".into(),
        ));
    };
    let after = escrow_events_after(db.path, db.key_file, kept)?;
    if after.total > 0 {
        let escrows: Vec<String> = after
            .by_escrow
            .iter()
            .map(|(id, n)| format!("escrow {id} ({n})"))
            .collect();
        return refused(format!(
            "{} escrow event(s) were written after pre-deploy backup {backup_id}: {}. Restoring it would forget payouts, funding or disputes that really happened. Instead: roll back without --restore-db if the old version reads the new schema (expand/contract), or deploy a fixed version (`mmctl deploy --version NEW`)",
            after.total,
            escrows.join(", ")
        ));
    }
    Ok(Check::Restore {
        backup: backup_id.to_string(),
        kept,
        db,
    })
}
