//! `mmctl backup prune`: restic-style retention, locally and on S3, and the newest N pre-restore
//! copies of the database kept.

use clap::Args;

use mmkt_backup::ops::prune::{
    OffsitePrune, PreRestoreRetention, PruneAction, PruneMode, PruneRequest, prune,
};
use mmkt_backup::retention::Policy;

use crate::args::{DbFileArgs, RepoArgs, S3Args};
use crate::exit::{Outcome, classify_backup};

/// Retention policy flags (restic's names).
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Keep the N most recent backups of each kind.
    #[arg(long, env = "MMKT_BACKUP_KEEP_LAST", default_value_t = 4)]
    pub keep_last: u32,
    /// Keep the newest backup of each of the last N hours.
    #[arg(long, env = "MMKT_BACKUP_KEEP_HOURLY", default_value_t = 0)]
    pub keep_hourly: u32,
    /// Keep the newest backup of each of the last N days.
    #[arg(long, env = "MMKT_BACKUP_KEEP_DAILY", default_value_t = 7)]
    pub keep_daily: u32,
    /// Keep the newest backup of each of the last N ISO weeks.
    #[arg(long, env = "MMKT_BACKUP_KEEP_WEEKLY", default_value_t = 4)]
    pub keep_weekly: u32,
    /// Keep the newest backup of each of the last N months.
    #[arg(long, env = "MMKT_BACKUP_KEEP_MONTHLY", default_value_t = 12)]
    pub keep_monthly: u32,
    /// Keep the N newest pre-restore copies of the database (`<db>.pre-restore-<time>`, left
    /// by `mmctl restore db`); at least 1.
    #[arg(long, env = "MMKT_BACKUP_KEEP_PRE_RESTORE",
          default_value_t = mmkt_backup::pre_restore::DEFAULT_KEEP,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_pre_restore: u32,
}

/// `mmctl backup prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Show what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Prune only the local directory, not S3.
    #[arg(long)]
    pub local_only: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The live database whose pre-restore copies are pruned (its key file is not read).
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl backup prune`: exit 5 when the bucket could not be pruned (the local directory was).
pub async fn run(args: PruneArgs) -> anyhow::Result<Outcome> {
    let p = &args.policy;
    let policy = Policy {
        keep_last: p.keep_last,
        keep_hourly: p.keep_hourly,
        keep_daily: p.keep_daily,
        keep_weekly: p.keep_weekly,
        keep_monthly: p.keep_monthly,
    };
    let offsite = match args.local_only {
        true => None,
        false => args.s3.config()?,
    };
    let dir = args.repo.open()?;
    let mode = match args.dry_run {
        true => PruneMode::DryRun,
        false => PruneMode::Delete,
    };
    let request = PruneRequest {
        dir: &dir,
        policy,
        mode,
        offsite: offsite.as_ref(),
        pre_restore: Some(PreRestoreRetention {
            live_db: &args.db.db,
            keep: p.keep_pre_restore,
        }),
    };
    let plan = prune(&request).await.map_err(classify_backup)?;
    for path in &plan.leftovers_removed {
        eprintln!("removed leftover of an interrupted run: {}", path.display());
    }
    let mut outcome = Outcome::Success;
    if let OffsitePrune::Failed { reason } = &plan.offsite {
        eprintln!("error: cannot prune S3: {reason}; local pruning was done");
        outcome = Outcome::OffsiteFailed;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan.entries)?);
        return Ok(outcome);
    }
    let verb = match mode {
        PruneMode::DryRun => "would remove",
        PruneMode::Delete => "removed",
    };
    for e in &plan.entries {
        let location = e.location.as_str();
        match &e.action {
            PruneAction::Keep(reasons) => {
                let reasons: Vec<String> = reasons
                    .iter()
                    .map(|r| format!("{r:?}").to_lowercase())
                    .collect();
                println!("keep    {location:<5} {} ({})", e.id, reasons.join(", "));
            }
            PruneAction::Remove => println!("{verb} {location:<5} {}", e.id),
        }
    }
    let removed = plan.removed();
    println!(
        "{removed} backup(s) {verb}, {} kept",
        plan.entries.len() - removed
    );
    Ok(outcome)
}
