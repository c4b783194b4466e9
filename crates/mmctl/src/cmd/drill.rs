//! `mmctl drill`: a disaster-recovery rehearsal. The existing backups' signatures are checked,
//! fresh signed backups are restored into scratch locations and checked; the measured RTO and
//! the RPO are reported. Live data is not touched.

use clap::Args;

use mmkt_backup::ops::drill::{DrillRequest, DrillWallets, drill};
use mmkt_backup::signing::BackupKeys;

use crate::args::{
    DatabaseArgs, ReadKeyArgs, RecipientArgs, RepoArgs, SigningKeyArgs, WalletSourceArgs,
};
use crate::exit::{Outcome, classify_backup};
use crate::output::TerminalProgress;

/// `mmctl drill`
#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
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
    pub keys: ReadKeyArgs,
    #[command(flatten)]
    pub signing: SigningKeyArgs,
    /// JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl drill`: exit 1 when a step fails (an existing or fresh backup that no trusted
/// key signed included, a restored escrow wallet that differs from the restored database), 2
/// without a key file, signing or verify key. Escrow wallets open with their passwords from
/// the database, other wallets with MMKT_WALLET_PASSWORD_FILE.
pub async fn run(args: DrillArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let keys = args.keys.load()?;
    let recipients = args.recipients.load()?;
    let signer = args.signing.load(&args.repo.backup_dir)?;
    let db = args.db.source()?;
    let location = args.source.location(docker_host);
    let probe = match args.skip_wallets {
        true => None,
        false => args.source.probe.probe(Some(&args.db.file))?,
    };
    let wallets = match &probe {
        None => DrillWallets::Skip,
        Some(probe) => DrillWallets::Check {
            location: &location,
            probe,
        },
    };
    let dir = args.repo.open()?;
    let request = DrillRequest {
        dir: &dir,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        verify: keys.verify_keys(),
        db,
        wallets,
    };
    let report = drill(&request, &TerminalProgress::default())
        .await
        .map_err(classify_backup)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for s in &report.steps {
            let status = if s.ok { "ok" } else { "FAILED" };
            println!(
                "{status:<6} {:<34} {:>7.1}s  {}",
                s.name, s.seconds, s.detail
            );
        }
        println!(
            "RTO (measured restore + verify): {:.1}s",
            report.rto_seconds
        );
        for (series, value) in &report.rpo_seconds {
            match value {
                Some(v) => println!("RPO {series}: newest backup before the drill was {v:.0}s old"),
                None => println!("RPO {series}: no backup existed before the drill"),
            }
        }
        let c = &report.chain_rpo;
        match (c.newest_point_age_seconds, c.largest_gap_seconds) {
            (Some(age), Some(gap)) => println!(
                "RPO db chain: newest restorable point {age:.0}s old; largest gap {gap:.0}s over the last 24 h ({} points)",
                c.points_last_24h
            ),
            (Some(age), None) => println!(
                "RPO db chain: newest restorable point {age:.0}s old (none in the last 24 h)"
            ),
            _ => println!("RPO db chain: no restorable DB backup existed before the drill"),
        }
        println!(
            "fresh backups were {:.1}s old when verified",
            report.backup_age_seconds
        );
        println!(
            "{}",
            if report.ok {
                "drill passed"
            } else {
                "drill FAILED"
            }
        );
    }
    Ok(match report.ok {
        true => Outcome::Success,
        false => Outcome::CheckFailed,
    })
}
