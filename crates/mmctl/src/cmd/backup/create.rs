//! `mmctl backup db|wallets|tor|all`: fresh encrypted, signed backups of the database, the
//! wallet directories and/or the onion-service keys, then their offsite copies (exit 5 when only
//! an offsite copy failed, 3 when the stack's engine is unreachable, 45/46 without tor keys).

use clap::Args;

use mmkt_backup::chain::ChainMode;
use mmkt_backup::manifest::WalletRole;
use mmkt_backup::ops::backup::{BackupRequest, DbSource, WalletLocation, WalletsSource};
use mmkt_backup::ops::tor::{TorSource, WhenAbsent};
use mmkt_backup::signing::BackupKeys;
use mmkt_stack::EngineConfig;

use crate::args::{
    ChainArgs, DatabaseArgs, DbFileArgs, NewBackupArgs, WalletSourceArgs, wallet_role,
};
use crate::exit::{Outcome, classify_backup};
use crate::output::{Format, backup_and_print};

/// `mmctl backup db`
#[derive(Debug, Args)]
pub struct DbBackupArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
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

/// `mmctl backup tor`
#[derive(Debug, Args)]
pub struct TorBackupArgs {
    /// Compose project of the stack (its `tor` container holds the keys).
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
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

/// The onion-service keys of a backup: none, the stack's (a missing tor container fails), or
/// the stack's when the wallets come from the stack and it has a tor container.
enum Tor<'a> {
    None,
    Stack(&'a str, &'a EngineConfig),
    WithStackWallets,
}

/// Runs `mmctl backup db` once (`--every` is looped by the caller).
pub async fn run_db(args: &DbBackupArgs) -> anyhow::Result<Outcome> {
    let db = (&args.db, args.chain.mode());
    run(&args.out, Some(db), None, Tor::None).await
}

/// Runs `mmctl backup tor`.
pub async fn run_tor(args: TorBackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let engine = EngineConfig::from_host_and_env(docker_host);
    run(&args.out, None, None, Tor::Stack(&args.project, &engine)).await
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
    run(&args.out, None, Some(wallets), Tor::None).await
}

/// Runs `mmctl backup all`.
pub async fn run_all(args: AllBackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let wallets = Wallets {
        roles: &WalletRole::ALL,
        source: &args.source,
        db: &args.db.file,
        docker_host,
    };
    let db = (&args.db, ChainMode::Standalone);
    run(&args.out, Some(db), Some(wallets), Tor::WithStackWallets).await
}

/// Backs up the database (when given), then the wallets (when given), then the onion-service
/// keys (when asked), uploads, prints.
async fn run(
    out: &NewBackupArgs,
    db: Option<(&DatabaseArgs, ChainMode)>,
    wallets: Option<Wallets<'_>>,
    tor: Tor<'_>,
) -> anyhow::Result<Outcome> {
    let recipients = out.recipients.load()?;
    let signer = out.signing.load(&out.repo.backup_dir)?;
    let offsite = out.offsite()?;
    let dir = out.repo.open()?;
    let db = db
        .map(|(args, chain)| args.source().map(|s| DbSource { chain, ..s }))
        .transpose()?;
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
    let tor = match (tor, location.as_ref()) {
        (Tor::Stack(project, engine), _) => Some(TorSource {
            engine,
            project,
            when_absent: WhenAbsent::Fail,
        }),
        (Tor::WithStackWallets, Some(WalletLocation::Stack { engine, project })) => {
            Some(TorSource {
                engine,
                project,
                when_absent: WhenAbsent::Skip,
            })
        }
        _ => None,
    };
    let request = BackupRequest {
        dir: &dir,
        keys: BackupKeys {
            recipients: &recipients,
            signer: &signer,
        },
        db,
        wallets,
        tor,
        offsite: offsite.as_ref(),
    };
    let format = if out.json { Format::Json } else { Format::Text };
    backup_and_print(&request, format)
        .await
        .map_err(classify_backup)
}
