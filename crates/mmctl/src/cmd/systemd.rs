//! `mmctl systemd install`: writes the hardened backup/prune/drill service and timer units.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use mmkt_backup::systemd::{DbSchedule, UnitConfig, install, units};

use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub struct SystemdArgs {
    #[command(subcommand)]
    pub command: SystemdCommand,
}

#[derive(Debug, Subcommand)]
pub enum SystemdCommand {
    /// Write mmctl-backup-db (every 6 h), mmctl-backup-wallets (02:00), mmctl-backup-prune
    /// (daily), mmctl-drill (monthly) and mmctl-tls-renew (twice daily) service + timer units.
    ///
    /// Example: mmctl systemd install && systemctl daemon-reload && systemctl enable --now mmctl-backup-db.timer
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Where to write the units.
    #[arg(long, default_value = "/etc/systemd/system")]
    pub dir: PathBuf,
    /// Absolute path of the mmctl binary the units run (default: this binary).
    #[arg(long)]
    pub mmctl_path: Option<PathBuf>,
    /// EnvironmentFile holding MMKT_* settings (DB path, key file, recipients, S3 bucket, ...).
    #[arg(long, default_value = "/etc/mmkt/mmctl.env")]
    pub env_file: PathBuf,
    /// Backup directory the services may write.
    #[arg(long, env = "MMKT_BACKUP_DIR", default_value = mmkt_backup::store::DEFAULT_DIR)]
    pub backup_dir: PathBuf,
    /// Other writable paths (the DB directory for SQLite's -shm file, Docker volumes). Repeatable.
    #[arg(long = "writable", default_values = ["/var/lib/docker/volumes"])]
    pub writable: Vec<PathBuf>,
    /// The database backup's schedule: `six-hourly` full backups, or `minutely` page deltas
    /// (a one-minute RPO: a delta when anything changed, nothing when nothing did, a full
    /// once a day unless the EnvironmentFile sets MMKT_BACKUP_DB_FULL_EVERY).
    #[arg(long, env = "MMKT_SYSTEMD_DB_SCHEDULE", value_enum, default_value_t = DbScheduleArg::SixHourly)]
    pub db_schedule: DbScheduleArg,
    /// Print the units to stdout instead of writing them.
    #[arg(long)]
    pub print: bool,
}

/// `--db-schedule` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DbScheduleArg {
    /// A full backup every 6 hours.
    SixHourly,
    /// A page delta every minute.
    Minutely,
}

/// Runs `mmctl systemd ...`.
pub fn run(args: SystemdArgs) -> anyhow::Result<Outcome> {
    let SystemdCommand::Install(args) = args.command;
    let mmctl = match args.mmctl_path {
        Some(p) => p,
        None => std::env::current_exe()
            .context("cannot find the path of this mmctl binary; pass --mmctl-path")?,
    };
    for (name, path) in [
        ("--mmctl-path", &mmctl),
        ("--env-file", &args.env_file),
        ("--backup-dir", &args.backup_dir),
    ] {
        if !path.is_absolute() {
            return Err(UsageError(format!(
                "{name} must be an absolute path (systemd requires it), got {}",
                path.display()
            ))
            .into());
        }
    }
    let config = UnitConfig {
        mmctl,
        env_file: args.env_file,
        backup_dir: args.backup_dir,
        writable: args.writable,
        db_schedule: match args.db_schedule {
            DbScheduleArg::SixHourly => DbSchedule::SixHourlyFull,
            DbScheduleArg::Minutely => DbSchedule::MinutelyDeltas,
        },
    };
    let units = units(&config);
    if args.print {
        for unit in &units {
            println!("# ---- {}\n{}", unit.name, unit.content);
        }
        return Ok(Outcome::Success);
    }
    let written = install(&args.dir, &units)
        .with_context(|| format!("cannot write units into {}", args.dir.display()))?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "next: systemctl daemon-reload && systemctl enable --now mmctl-backup-db.timer mmctl-backup-wallets.timer mmctl-backup-prune.timer mmctl-drill.timer mmctl-tls-renew.timer"
    );
    Ok(Outcome::Success)
}
