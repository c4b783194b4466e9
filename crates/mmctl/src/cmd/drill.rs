//! `mmctl drill`: a disaster-recovery rehearsal that replaces test-backup-restore.sh. It takes
//! fresh backups, restores them into scratch locations (the DB into a scratch SQLCipher file
//! under a random key, each wallet directory into a throwaway `monero-wallet-rpc --offline`),
//! checks them, and reports the measured RTO and the RPO. It never writes to live data.

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use time::OffsetDateTime;

use mmctl::backup::db::restore_db_file;
use mmctl::backup::keyfile::{DbKey, read_key_file};
use mmctl::backup::manifest::{BackupKind, Series, WalletRole};
use mmctl::backup::restore_wallet::check_wallets;
use mmctl::backup::store::{BackupDir, LocalBackup, VerificationRecord};
use mmctl::backup::verify::ScratchDir;

use super::backup::{
    CompressionArgs, DbFileArgs, IdentityArgs, RecipientArgs, RepoArgs, WalletSourceArgs,
    db_backup, wallet_backups,
};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub compression: CompressionArgs,
    #[command(flatten)]
    pub source: WalletSourceArgs,
    /// Drill the database only (hosts without wallet-rpc).
    #[arg(long)]
    pub skip_wallets: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One step of the drill.
#[derive(Debug, Serialize)]
struct Step {
    name: String,
    ok: bool,
    seconds: f64,
    detail: String,
}

/// The drill report (`--json`).
#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    /// Measured recovery time: decrypt + rebuild + verify of every backup, in seconds.
    rto_seconds: f64,
    /// Recovery point before this drill: age of the newest existing backup of each kind at the
    /// start (what a disaster at that moment would have lost), in seconds; None when there was none.
    rpo_seconds: BTreeMap<String, Option<f64>>,
    /// Age of the fresh backups when their verification finished, in seconds.
    backup_age_seconds: f64,
    steps: Vec<Step>,
    backups: Vec<String>,
}

fn age(created: OffsetDateTime) -> f64 {
    (OffsetDateTime::now_utc() - created)
        .as_seconds_f64()
        .max(0.0)
}

fn record(dir: &BackupDir, backup: &LocalBackup, ok: bool, detail: &str) {
    let record = VerificationRecord {
        id: backup.manifest.id.clone(),
        verified_at: OffsetDateTime::now_utc(),
        ok,
        detail: detail.to_owned(),
    };
    if let Err(e) = dir.record_verification(&record) {
        tracing::warn!(
            "cannot record the drill result for {}: {e}",
            backup.manifest.id
        );
    }
}

/// Runs `mmctl drill`.
pub async fn run(args: DrillArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let identities = args.identity.load()?;
    let recipients = args.recipients.load()?;
    read_key_file(args.db.key_file()?)?;
    let probe = args.source.probe.probe()?;
    if !args.skip_wallets && probe.is_none() {
        return Err(UsageError("the drill opens each restored wallet: set MMKT_WALLET_PASSWORD_FILE (or pass --skip-wallets)".into()).into());
    }
    let dir = BackupDir::open(&args.repo.backup_dir)?;

    let mut rpo = BTreeMap::new();
    let existing = dir.list()?;
    let mut series = vec![Series {
        kind: BackupKind::Db,
        role: None,
    }];
    if !args.skip_wallets {
        series.extend(WalletRole::ALL.map(|r| Series {
            kind: BackupKind::Wallets,
            role: Some(r),
        }));
    }
    for s in &series {
        let newest = existing
            .iter()
            .rev()
            .find(|b| b.manifest.series() == *s)
            .map(|b| age(b.manifest.created_at));
        rpo.insert(s.to_string(), newest);
    }

    let mut steps = Vec::new();
    let mut fresh: Vec<LocalBackup> = Vec::new();

    // 1. Fresh backups.
    let t = Instant::now();
    match db_backup(&dir, &args.db, &recipients, &args.compression) {
        Ok(b) => {
            steps.push(Step {
                name: "backup db".into(),
                ok: true,
                seconds: t.elapsed().as_secs_f64(),
                detail: b.manifest.id.clone(),
            });
            fresh.push(b);
        }
        Err(e) => steps.push(Step {
            name: "backup db".into(),
            ok: false,
            seconds: t.elapsed().as_secs_f64(),
            detail: format!("{e:#}"),
        }),
    }
    if !args.skip_wallets {
        let t = Instant::now();
        match wallet_backups(None, &args.source, &dir, &recipients, docker_host).await {
            Ok(list) => {
                let ids: Vec<String> = list.iter().map(|b| b.manifest.id.clone()).collect();
                steps.push(Step {
                    name: "backup wallets".into(),
                    ok: true,
                    seconds: t.elapsed().as_secs_f64(),
                    detail: ids.join(", "),
                });
                fresh.extend(list);
            }
            Err(e) => steps.push(Step {
                name: "backup wallets".into(),
                ok: false,
                seconds: t.elapsed().as_secs_f64(),
                detail: format!("{e:#}"),
            }),
        }
    }

    // 2. Restore each into scratch and check it. RTO = the sum of these restore times.
    let mut rto = 0.0;
    for backup in &fresh {
        let t = Instant::now();
        let result: anyhow::Result<String> = match backup.manifest.kind {
            BackupKind::Db => {
                let scratch =
                    ScratchDir::create(dir.path(), &format!("drill-{}", backup.manifest.id))?;
                let dest = scratch.path().join("drill.db");
                tokio::task::block_in_place(|| {
                    restore_db_file(backup, &identities, &dest, &DbKey::generate(), &|_| {})
                })
                .map(|r| {
                    format!(
                        "{} pages, integrity ok, {} rows in {} tables",
                        r.pages,
                        r.row_counts.values().sum::<u64>(),
                        r.row_counts.len()
                    )
                })
                .map_err(anyhow::Error::new)
            }
            BackupKind::Wallets => check_wallets(backup, &identities, probe.as_ref(), dir.path())
                .await
                .map(|checks| {
                    let names: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
                    format!(
                        "{} wallet(s) open with their recorded addresses: {}",
                        checks.len(),
                        names.join(", ")
                    )
                })
                .map_err(anyhow::Error::new),
        };
        let seconds = t.elapsed().as_secs_f64();
        rto += seconds;
        let name = format!("restore {} to scratch", backup.manifest.series());
        match result {
            Ok(detail) => {
                record(&dir, backup, true, "ok (drill)");
                steps.push(Step {
                    name,
                    ok: true,
                    seconds,
                    detail,
                });
            }
            Err(e) => {
                record(&dir, backup, false, &format!("{e:#}"));
                steps.push(Step {
                    name,
                    ok: false,
                    seconds,
                    detail: format!("{e:#}"),
                });
            }
        }
    }
    let backup_age = fresh
        .iter()
        .map(|b| age(b.manifest.created_at))
        .fold(0.0, f64::max);
    let ok = steps.iter().all(|s| s.ok);
    let report = Report {
        ok,
        rto_seconds: rto,
        rpo_seconds: rpo,
        backup_age_seconds: backup_age,
        steps,
        backups: fresh.iter().map(|b| b.manifest.id.clone()).collect(),
    };

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for s in &report.steps {
            println!(
                "{:<6} {:<34} {:>7.1}s  {}",
                if s.ok { "ok" } else { "FAILED" },
                s.name,
                s.seconds,
                s.detail
            );
        }
        println!(
            "RTO (measured restore + verify): {:.1}s",
            report.rto_seconds
        );
        for (series, value) in &report.rpo_seconds {
            match value {
                Some(v) => println!(
                    "RPO {series}: newest backup before the drill was {:.0}s old",
                    v
                ),
                None => println!("RPO {series}: no backup existed before the drill"),
            }
        }
        println!(
            "fresh backups were {:.1}s old when verified",
            report.backup_age_seconds
        );
        println!("{}", if ok { "drill passed" } else { "drill FAILED" });
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}
