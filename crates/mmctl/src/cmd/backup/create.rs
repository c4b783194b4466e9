//! `mmctl backup db|wallets|all`: fresh encrypted, signed backups of the database and/or the
//! wallet directories, then their offsite copies (exit 5 when only an offsite copy failed, 3 when
//! the stack's engine is unreachable).

use clap::Args;

use mmkt_backup::manifest::WalletRole;
use mmkt_backup::ops::backup::{BackupRequest, WalletsSource};
use mmkt_backup::signing::BackupKeys;

use crate::args::{DatabaseArgs, DbFileArgs, NewBackupArgs, WalletSourceArgs, wallet_role};
use crate::exit::{Outcome, classify_backup};
use crate::output::{Format, backup_and_print};

/// `mmctl backup db`
#[derive(Debug, Args)]
pub struct DbBackupArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub out: NewBackupArgs,
}

/// `mmctl backup wallets`
#[derive(Debug, Args)]
pub struct WalletsBackupArgs {
    /// Only this role (default: buyer, vendor and arbiter).
    #[arg(value_parser = wallet_role())]
    pub role: Option<WalletRole>,
    #[command(flatten)]
    pub source: WalletSourceArgs,
    /// The server's database, read for the escrow wallets' own passwords (with its key file).
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub out: NewBackupArgs,
}

/// `mmctl backup all`
#[derive(Debug, Args)]
pub struct AllBackupArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub source: WalletSourceArgs,
    #[command(flatten)]
    pub out: NewBackupArgs,
}

/// The wallets of a backup: which roles, where they are, and the database of their passwords.
struct Wallets<'a> {
    roles: &'a [WalletRole],
    source: &'a WalletSourceArgs,
    db: &'a DbFileArgs,
    docker_host: Option<&'a str>,
}

/// Runs `mmctl backup db`.
pub async fn run_db(args: DbBackupArgs) -> anyhow::Result<Outcome> {
    run(&args.out, Some(&args.db), None).await
}

/// Runs `mmctl backup wallets`.
pub async fn run_wallets(
    args: WalletsBackupArgs,
    docker_host: Option<&str>,
) -> anyhow::Result<Outcome> {
    let roles: Vec<WalletRole> = match args.role {
        Some(role) => vec![role],
        None => WalletRole::ALL.to_vec(),
    };
    let wallets = Wallets {
        roles: &roles,
        source: &args.source,
        db: &args.db,
        docker_host,
    };
    run(&args.out, None, Some(wallets)).await
}

/// Runs `mmctl backup all`.
pub async fn run_all(args: AllBackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let wallets = Wallets {
        roles: &WalletRole::ALL,
        source: &args.source,
        db: &args.db.file,
        docker_host,
    };
    run(&args.out, Some(&args.db), Some(wallets)).await
}

/// Backs up the database (when given), then the wallets (when given), uploads, prints.
async fn run(
    out: &NewBackupArgs,
    db: Option<&DatabaseArgs>,
    wallets: Option<Wallets<'_>>,
) -> anyhow::Result<Outcome> {
    let recipients = out.recipients.load()?;
    let signer = out.signing.load(&out.repo.backup_dir)?;
    let offsite = out.offsite()?;
    let dir = out.repo.open()?;
    let db = db.map(DatabaseArgs::source).transpose()?;
    let probe = wallets
        .as_ref()
        .map(|w| w.source.probe.probe(Some(w.db)))
        .transpose()?;
    let location = wallets.as_ref().map(|w| w.source.location(w.docker_host));
    let wallets = wallets
        .zip(location.as_ref())
        .map(|(w, location)| WalletsSource {
            roles: w.roles,
            location,
            probe: probe.as_ref().and_then(Option::as_ref),
        });
    let request = BackupRequest {
        dir: &dir,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        db,
        wallets,
        offsite: offsite.as_ref(),
    };
    let format = if out.json { Format::Json } else { Format::Text };
    backup_and_print(&request, format)
        .await
        .map_err(classify_backup)
}
