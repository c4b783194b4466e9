//! `mmctl drill`: a disaster-recovery rehearsal. Fresh backups are restored into scratch
//! locations and checked; the measured RTO and the RPO are reported. Live data is not touched.

use clap::Args;

use mmkt_backup::crypto::Identities;
use mmkt_backup::ops::drill::{DrillRequest, DrillWallets, drill};

use crate::args::{DatabaseArgs, IdentityArgs, RecipientArgs, RepoArgs, WalletSourceArgs};
use crate::exit::{Outcome, UsageError, classify_backup};
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
    pub identity: IdentityArgs,
    /// JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl drill`: exit 1 when a step fails, 2 when the wallets cannot be opened (no
/// password file) unless skipped.
pub async fn run(args: DrillArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let identities = Identities::from_file(args.identity.path()?)?;
    let recipients = args.recipients.load()?;
    let db = args.db.source()?;
    let probe = args.source.probe.probe()?;
    let location = args.source.location(docker_host);
    let wallets = match (args.skip_wallets, &probe) {
        (true, _) => DrillWallets::Skip,
        (false, Some(probe)) => DrillWallets::Check {
            location: &location,
            probe,
        },
        (false, None) => Err(UsageError(
            "the drill opens each restored wallet: set MMKT_WALLET_PASSWORD_FILE (or pass --skip-wallets)".into(),
        ))?,
    };
    let dir = args.repo.open()?;
    let request = DrillRequest {
        dir: &dir,
        recipients: &recipients,
        identities: &identities,
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
