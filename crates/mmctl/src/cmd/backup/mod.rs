//! `mmctl backup db|wallets|all|list|verify|prune|upload`: encrypted, verified backups with an
//! offsite copy and retention. Library code lives in `mmctl::backup`, `mmctl::s3`, `mmctl::retention`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use mmctl::backup::crypto::{Identities, Recipients};
use mmctl::backup::db::{DbBackupRequest, backup_db};
use mmctl::backup::keyfile::read_key_file;
use mmctl::backup::manifest::{Manifest, Series, WalletRole};
use mmctl::backup::store::{BackupDir, DEFAULT_DIR, LocalBackup};
use mmctl::backup::verify::{VerifyOutcome, verify_backup};
use mmctl::backup::wallet_source::{
    AddressProbe, WalletBackupRequest, WalletSource, backup_wallets,
};
use mmctl::retention::{Candidate, Policy, select_by_series};
use mmctl::s3::{DEFAULT_PART_SIZE, Offsite, S3Config};

use crate::exit::{Outcome, UsageError};

/// `mmctl backup ...`
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the SQLCipher database online (consistent snapshot; the server keeps serving).
    ///
    /// Example: mmctl backup db --db /srv/mmkt/data/mmkt.db --key-file /srv/mmkt/data/db.key --recipient age1...
    Db(DbBackupArgs),
    /// Back up wallet-rpc wallet directories (all roles, or one), with each wallet's address.
    ///
    /// With the compose stack, each wallet-rpc container is stopped for the seconds the archive
    /// takes (it stores its wallet on SIGTERM) and started again. Example: mmctl backup wallets buyer
    Wallets(WalletsBackupArgs),
    /// Back up the database and every wallet directory.
    All(AllBackupArgs),
    /// List complete backups (local, or in the S3 bucket with --remote).
    List(ListArgs),
    /// Decrypt and check backups: checksum, decompression, SQLCipher integrity / full archive read.
    ///
    /// Without ID, verifies the newest backup of each kind. Exit 1 if any check fails.
    Verify(VerifyArgs),
    /// Delete old backups locally and on S3 by retention policy (restic-style).
    ///
    /// Never deletes the newest backup, nor the newest verified backup, of each kind.
    Prune(PruneArgs),
    /// Upload local backups that are not in the S3 bucket yet (e.g. after an exit code 5).
    Upload(UploadArgs),
}

/// The local backup directory.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// Local backup directory (created with mode 0700 if missing).
    #[arg(long, env = "MMKT_BACKUP_DIR", default_value = DEFAULT_DIR)]
    pub backup_dir: PathBuf,
}

/// The live database file and its key file.
#[derive(Debug, Clone, Args)]
pub struct DbFileArgs {
    /// The server's SQLCipher database file.
    #[arg(long = "db", env = "MMKT_DB_PATH", default_value = "./data/mmkt.db")]
    pub db: PathBuf,
    /// The raw key file (64 hex chars, mode 0600).
    #[arg(long, env = "MMKT_DB_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl DbFileArgs {
    /// The key file path, or a usage error naming the flag and env var.
    pub fn key_file(&self) -> anyhow::Result<&PathBuf> {
        self.key_file.as_ref().ok_or_else(|| {
            UsageError("no DB key file: pass --key-file or set MMKT_DB_KEY_FILE".into()).into()
        })
    }
}

/// age recipients (public keys) to encrypt to.
#[derive(Debug, Clone, Args)]
pub struct RecipientArgs {
    /// age X25519 recipient (age1...); repeat for several. Env: comma-separated.
    #[arg(
        long = "recipient",
        env = "MMKT_BACKUP_RECIPIENTS",
        value_delimiter = ','
    )]
    pub recipients: Vec<String>,
    /// File with one recipient per line (like `age -R`).
    #[arg(long = "recipients-file", env = "MMKT_BACKUP_RECIPIENTS_FILE")]
    pub recipients_files: Vec<PathBuf>,
}

impl RecipientArgs {
    /// Parses the recipients; a missing or malformed recipient is a usage error (exit 2).
    pub fn load(&self) -> anyhow::Result<Recipients> {
        Recipients::collect(&self.recipients, &self.recipients_files)
            .map_err(|e| UsageError(e.to_string()).into())
    }
}

/// The age identity (private key) file, needed only to verify and restore.
#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    /// age identity file (from age-keygen); keep it off the backup host when possible.
    #[arg(long = "identity", env = "MMKT_BACKUP_IDENTITY_FILE")]
    pub identity: Option<PathBuf>,
}

impl IdentityArgs {
    /// Loads the identities; a missing flag is a usage error (exit 2).
    pub fn load(&self) -> anyhow::Result<Identities> {
        let path = self.identity.as_ref().ok_or_else(|| {
            UsageError(
                "no age identity: pass --identity FILE or set MMKT_BACKUP_IDENTITY_FILE".into(),
            )
        })?;
        Ok(Identities::from_file(path)?)
    }
}

/// Offsite (S3) settings. Credentials come from MMKT_S3_ACCESS_KEY_ID / MMKT_S3_SECRET_ACCESS_KEY
/// or the standard AWS chain (AWS_ACCESS_KEY_ID, ..., profiles), never from flags.
#[derive(Debug, Clone, Args)]
pub struct S3Args {
    /// S3 bucket; offsite copies are made only when it is set.
    #[arg(long = "s3-bucket", env = "MMKT_S3_BUCKET")]
    pub bucket: Option<String>,
    /// Endpoint URL of an S3-compatible store (omit for AWS).
    #[arg(long = "s3-endpoint", env = "MMKT_S3_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Key prefix inside the bucket.
    #[arg(long = "s3-prefix", env = "MMKT_S3_PREFIX", default_value = "mmkt/")]
    pub prefix: String,
    /// Region.
    #[arg(
        long = "s3-region",
        env = "MMKT_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,
    /// Storage class for uploads (e.g. STANDARD_IA).
    #[arg(long = "s3-storage-class", env = "MMKT_S3_STORAGE_CLASS")]
    pub storage_class: Option<String>,
    /// Path-style addressing (true for most self-hosted stores).
    #[arg(long = "s3-path-style", env = "MMKT_S3_PATH_STYLE", default_value_t = true, action = ArgAction::Set)]
    pub path_style: bool,
    /// Multipart part size in bytes (minimum 5 MiB); files above it are uploaded in parts.
    #[arg(long = "s3-part-size", env = "MMKT_S3_PART_SIZE", default_value_t = DEFAULT_PART_SIZE)]
    pub part_size: u64,
    /// Attempts per S3 request (exponential backoff between attempts).
    #[arg(
        long = "s3-max-attempts",
        env = "MMKT_S3_MAX_ATTEMPTS",
        default_value_t = 4
    )]
    pub max_attempts: u32,
}

impl S3Args {
    /// The offsite configuration, or `None` when no bucket is configured.
    pub fn config(&self) -> anyhow::Result<Option<S3Config>> {
        let Some(bucket) = self.bucket.clone().filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let config = S3Config {
            endpoint: self.endpoint.clone(),
            bucket,
            prefix: self.prefix.clone(),
            region: self.region.clone(),
            storage_class: self.storage_class.clone(),
            access_key_id: env("MMKT_S3_ACCESS_KEY_ID"),
            secret_access_key: env("MMKT_S3_SECRET_ACCESS_KEY"),
            path_style: self.path_style,
            part_size: self.part_size,
            max_attempts: self.max_attempts,
        };
        Ok(Some(
            config.validate().map_err(|e| UsageError(e.to_string()))?,
        ))
    }

    /// Connects to the configured bucket, or fails with a usage error when none is configured.
    pub async fn require(&self) -> anyhow::Result<Offsite> {
        let config = self.config()?.ok_or_else(|| {
            UsageError("no S3 bucket configured: set MMKT_S3_BUCKET or --s3-bucket".into())
        })?;
        Ok(Offsite::connect(config).await)
    }
}

/// Compression of database page streams.
#[derive(Debug, Clone, Args)]
pub struct CompressionArgs {
    /// gzip level 0-9 for the DB page stream: 1 is fast (default), 6-9 give ~15-20% smaller files.
    #[arg(long, env = "MMKT_BACKUP_GZIP_LEVEL", default_value_t = mmctl::backup::db::DEFAULT_GZIP_LEVEL,
          value_parser = clap::value_parser!(u32).range(0..=9))]
    pub gzip_level: u32,
}

#[derive(Debug, Args)]
pub struct DbBackupArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub compression: CompressionArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Do not upload, even if S3 is configured.
    #[arg(long)]
    pub no_offsite: bool,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How to reach the wallet directories.
#[derive(Debug, Clone, Args)]
pub struct WalletSourceArgs {
    /// Wallet directory on this host instead of the stack's wallets-ROLE volume (needs a ROLE).
    #[arg(long)]
    pub wallet_dir: Option<PathBuf>,
    /// Directory holding one wallet directory per role (buyer/, vendor/, arbiter/), for hosts
    /// that run wallet-rpc without Docker.
    #[arg(long, env = "MMKT_WALLET_ROOT")]
    pub wallet_root: Option<PathBuf>,
    /// wallet-rpc base URL asked to `store` before archiving --wallet-dir (with --wallet-root:
    /// MMKT_WALLET_RPC_<ROLE>_URL).
    #[arg(long)]
    pub wallet_rpc: Option<String>,
    /// Digest login user:password of the wallet-rpc (its --rpc-login).
    #[arg(long, env = "MMKT_WALLET_RPC_LOGIN", hide_env_values = true)]
    pub wallet_rpc_login: Option<String>,
    /// Compose project of the stack (containers labelled com.docker.compose.project).
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmctl::docker::DEFAULT_PROJECT)]
    pub project: String,
    #[command(flatten)]
    pub probe: WalletProbeArgs,
}

/// Opening wallets to read their addresses (backup manifests, restore and drill checks).
#[derive(Debug, Clone, Args)]
pub struct WalletProbeArgs {
    /// File holding the wallets' password; when set, each archived wallet is opened in a
    /// throwaway `monero-wallet-rpc --offline` and its address recorded / compared.
    #[arg(long, env = "MMKT_WALLET_PASSWORD_FILE")]
    pub wallet_password_file: Option<PathBuf>,
    /// The monero-wallet-rpc binary used for that.
    #[arg(long, env = "MMKT_WALLET_RPC_BIN", default_value = "monero-wallet-rpc")]
    pub wallet_rpc_bin: PathBuf,
}

impl WalletProbeArgs {
    /// The probe, when a password file is configured.
    pub fn probe(&self) -> anyhow::Result<Option<AddressProbe>> {
        let Some(path) = &self.wallet_password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the wallet password file {}", path.display()))?;
        let password = text.strip_suffix('\n').unwrap_or(&text).to_owned();
        Ok(Some(AddressProbe {
            wallet_rpc_bin: self.wallet_rpc_bin.clone(),
            password: monero_rpc::WalletPassword::new(password),
        }))
    }
}

impl WalletSourceArgs {
    /// Where the wallets of `role` are: --wallet-dir (one role), --wallet-root/ROLE, else the stack.
    pub async fn source(
        &self,
        role: WalletRole,
        roles: usize,
        docker_host: Option<&str>,
    ) -> anyhow::Result<WalletSource> {
        let login = self.wallet_rpc_login.clone().filter(|l| !l.is_empty());
        if let Some(dir) = &self.wallet_dir {
            if roles != 1 {
                return Err(UsageError(
                    "--wallet-dir names one directory: give a ROLE too, or use --wallet-root"
                        .into(),
                )
                .into());
            }
            return Ok(WalletSource::Directory {
                path: dir.clone(),
                rpc_url: self.wallet_rpc.clone(),
                rpc_login: login,
            });
        }
        if let Some(root) = &self.wallet_root {
            let rpc_url = std::env::var(format!(
                "MMKT_WALLET_RPC_{}_URL",
                role.as_str().to_uppercase()
            ))
            .ok()
            .filter(|u| !u.is_empty());
            return Ok(WalletSource::Directory {
                path: root.join(role.as_str()),
                rpc_url,
                rpc_login: login,
            });
        }
        let engine = crate::cmd::stack_common::connect(docker_host).await?;
        Ok(WalletSource::Stack {
            engine,
            project: self.project.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub struct WalletsBackupArgs {
    /// Only this role (default: buyer, vendor and arbiter).
    pub role: Option<WalletRole>,
    #[command(flatten)]
    pub source: WalletSourceArgs,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Do not upload, even if S3 is configured.
    #[arg(long)]
    pub no_offsite: bool,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AllBackupArgs {
    #[command(flatten)]
    pub db: DbFileArgs,
    #[command(flatten)]
    pub compression: CompressionArgs,
    #[command(flatten)]
    pub source: WalletSourceArgs,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Do not upload, even if S3 is configured.
    #[arg(long)]
    pub no_offsite: bool,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// List the backups in the S3 bucket instead of the local directory.
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub s3: S3Args,
    /// JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Backup id to verify (default: the newest of each kind).
    #[arg(conflicts_with = "all")]
    pub id: Option<String>,
    /// Verify every complete local backup.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// JSON array of results on stdout.
    #[arg(long)]
    pub json: bool,
}

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
}

impl PolicyArgs {
    fn policy(&self) -> Policy {
        Policy {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
        }
    }
}

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
    #[command(flatten)]
    pub s3: S3Args,
    /// JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Backup id (default: every complete local backup missing from the bucket).
    pub id: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Runs `mmctl backup ...`.
pub async fn run(args: BackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        BackupCommand::Db(a) => run_db(a).await,
        BackupCommand::Wallets(a) => run_wallets(a, docker_host).await,
        BackupCommand::All(a) => run_all(a, docker_host).await,
        BackupCommand::List(a) => run_list(a).await,
        BackupCommand::Verify(a) => run_verify(a),
        BackupCommand::Prune(a) => run_prune(a).await,
        BackupCommand::Upload(a) => run_upload(a).await,
    }
}

/// A byte progress bar on stderr when it is a terminal; hidden otherwise (cron, systemd, pipes).
pub fn progress_bar(total: Option<u64>, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}

/// Human size: 1.5 MiB.
pub fn human_bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

pub fn db_backup(
    dir: &BackupDir,
    db: &DbFileArgs,
    recipients: &Recipients,
    compression: &CompressionArgs,
) -> anyhow::Result<LocalBackup> {
    let key = read_key_file(db.key_file()?)?;
    let size = std::fs::metadata(&db.db).map(|m| m.len()).ok();
    let bar = progress_bar(size, "backup db");
    let progress = |done: u64| bar.set_position(done);
    let request = DbBackupRequest {
        gzip_level: compression.gzip_level,
        db_path: &db.db,
        key: &key,
        recipients,
        dir,
        progress: &progress,
    };
    let backup = tokio::task::block_in_place(|| backup_db(&request))
        .with_context(|| format!("backup of {} failed", db.db.display()))?;
    bar.finish_and_clear();
    Ok(backup)
}

fn print_created(backup: &LocalBackup) {
    let m = &backup.manifest;
    let integrity =
        m.db.as_ref()
            .map(|d| format!(", integrity_check {}", d.snapshot.integrity_check))
            .unwrap_or_default();
    let wallets = m
        .wallets
        .as_ref()
        .map(|w| {
            format!(
                ", {} wallet(s), consistency {:?}",
                w.wallets.len(),
                w.consistency
            )
        })
        .unwrap_or_default();
    println!(
        "backup {} written: {} plain -> {} encrypted in {:.1}s{integrity}{wallets}\n  {}\n  sha256 {}",
        m.id,
        human_bytes(m.plain_size),
        human_bytes(m.encrypted_size),
        m.duration_seconds,
        backup.data_path.display(),
        m.sha256
    );
}

/// Uploads fresh backups when S3 is configured; returns `OffsiteFailed` (exit 5) on failure,
/// keeping the local copies.
async fn offsite(
    s3: &S3Args,
    no_offsite: bool,
    backups: &[LocalBackup],
    quiet: bool,
) -> anyhow::Result<Outcome> {
    if no_offsite {
        return Ok(Outcome::Success);
    }
    let Some(config) = s3.config()? else {
        return Ok(Outcome::Success);
    };
    let offsite = Offsite::connect(config).await;
    let mut outcome = Outcome::Success;
    for backup in backups {
        match offsite.upload(backup).await {
            Ok(()) => {
                if !quiet {
                    println!(
                        "offsite copy of {} uploaded to s3://{}/{}",
                        backup.manifest.id,
                        offsite.config().bucket,
                        offsite.config().prefix
                    );
                }
            }
            Err(e) => {
                eprintln!(
                    "error: offsite copy of {} failed: {e}\n  the local backup is kept at {}; retry with `mmctl backup upload`",
                    backup.manifest.id,
                    backup.data_path.display()
                );
                outcome = Outcome::OffsiteFailed;
            }
        }
    }
    Ok(outcome)
}

async fn run_db(args: DbBackupArgs) -> anyhow::Result<Outcome> {
    let recipients = args.recipients.load()?;
    let s3_check = args.s3.config()?;
    drop(s3_check);
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let backup = db_backup(&dir, &args.db, &recipients, &args.compression)?;
    print_backups(std::slice::from_ref(&backup), args.json);
    offsite(
        &args.s3,
        args.no_offsite,
        std::slice::from_ref(&backup),
        args.json,
    )
    .await
}

fn print_backups(backups: &[LocalBackup], json: bool) {
    if json {
        let manifests: Vec<&Manifest> = backups.iter().map(|b| &b.manifest).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&manifests).expect("manifests serialize")
        );
        return;
    }
    backups.iter().for_each(print_created);
}

/// Backs up the wallets of one role or all roles.
pub async fn wallet_backups(
    role: Option<WalletRole>,
    source: &WalletSourceArgs,
    dir: &BackupDir,
    recipients: &Recipients,
    docker_host: Option<&str>,
) -> anyhow::Result<Vec<LocalBackup>> {
    let roles: Vec<WalletRole> = role
        .map(|r| vec![r])
        .unwrap_or_else(|| WalletRole::ALL.to_vec());
    let probe = source.probe.probe()?;
    let mut backups = Vec::new();
    for role in roles.iter().copied() {
        let request = WalletBackupRequest {
            role,
            source: source.source(role, roles.len(), docker_host).await?,
            recipients,
            dir,
            probe: probe.as_ref(),
        };
        let backup = backup_wallets(&request)
            .await
            .map_err(classify_backup)
            .with_context(|| format!("backup of the {role} wallets failed"))?;
        backups.push(backup);
    }
    Ok(backups)
}

/// Maps library errors to exit-code classes: an unreachable Docker daemon is exit 3.
pub fn classify_backup(err: mmctl::backup::BackupError) -> anyhow::Error {
    match err {
        mmctl::backup::BackupError::Docker(e) => crate::cmd::stack_common::classify(e),
        other => anyhow::Error::new(other),
    }
}

async fn run_wallets(
    args: WalletsBackupArgs,
    docker_host: Option<&str>,
) -> anyhow::Result<Outcome> {
    let recipients = args.recipients.load()?;
    args.s3.config()?;
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let backups = wallet_backups(args.role, &args.source, &dir, &recipients, docker_host).await?;
    print_backups(&backups, args.json);
    offsite(&args.s3, args.no_offsite, &backups, args.json).await
}

async fn run_all(args: AllBackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let recipients = args.recipients.load()?;
    args.s3.config()?;
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let mut backups = vec![db_backup(&dir, &args.db, &recipients, &args.compression)?];
    backups.extend(wallet_backups(None, &args.source, &dir, &recipients, docker_host).await?);
    print_backups(&backups, args.json);
    offsite(&args.s3, args.no_offsite, &backups, args.json).await
}

/// One row of `backup list`.
#[derive(Debug, Serialize)]
struct ListRow {
    id: String,
    kind: String,
    created_at: String,
    encrypted_size: u64,
    plain_size: u64,
    sha256: String,
    location: &'static str,
    verified: Option<bool>,
    verified_at: Option<String>,
    schema_version: Option<i64>,
    wallets: Vec<String>,
}

fn row(
    m: &Manifest,
    location: &'static str,
    verification: Option<&mmctl::backup::store::VerificationRecord>,
) -> ListRow {
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    ListRow {
        id: m.id.clone(),
        kind: m.series().to_string(),
        created_at: rfc(m.created_at),
        encrypted_size: m.encrypted_size,
        plain_size: m.plain_size,
        sha256: m.sha256.clone(),
        location,
        verified: verification.map(|v| v.ok),
        verified_at: verification.map(|v| rfc(v.verified_at)),
        schema_version: m.db.as_ref().map(|d| d.snapshot.schema_version),
        wallets: m
            .wallets
            .as_ref()
            .map(|w| w.wallets.iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default(),
    }
}

async fn run_list(args: ListArgs) -> anyhow::Result<Outcome> {
    let rows: Vec<ListRow> = if args.remote {
        let offsite = args.s3.require().await?;
        let remote = offsite.list().await.context("cannot list the S3 bucket")?;
        remote
            .iter()
            .map(|r| row(&r.manifest, "s3", None))
            .collect()
    } else {
        let dir = BackupDir::open(&args.repo.backup_dir)?;
        let (complete, incomplete) = dir.scan()?;
        for bad in &incomplete {
            eprintln!(
                "warning: ignoring incomplete backup {}: {}",
                bad.manifest_path.display(),
                bad.reason
            );
        }
        complete
            .iter()
            .map(|b| row(&b.manifest, "local", b.verification.as_ref()))
            .collect()
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Success);
    }
    if rows.is_empty() {
        println!("no complete backups");
        return Ok(Outcome::Success);
    }
    println!(
        "{:<44} {:<16} {:<21} {:>10} {:<9}",
        "ID", "KIND", "CREATED", "SIZE", "VERIFIED"
    );
    for r in &rows {
        let verified = match r.verified {
            Some(true) => "yes",
            Some(false) => "FAILED",
            None => "-",
        };
        println!(
            "{:<44} {:<16} {:<21} {:>10} {:<9}",
            r.id,
            r.kind,
            &r.created_at,
            human_bytes(r.encrypted_size),
            verified
        );
    }
    Ok(Outcome::Success)
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let identities = args.identity.load()?;
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let (complete, incomplete) = dir.scan()?;
    let targets: Vec<LocalBackup> = match (&args.id, args.all) {
        (Some(id), _) => {
            if let Some(b) = complete.iter().find(|b| &b.manifest.id == id) {
                vec![b.clone()]
            } else if let Some(bad) = incomplete.iter().find(|b| {
                b.manifest_path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == Manifest::file_name(id))
            }) {
                anyhow::bail!("backup {id} is incomplete: {}", bad.reason);
            } else {
                return Err(mmctl::backup::BackupError::NotFound(id.clone()).into());
            }
        }
        (None, true) => complete.clone(),
        (None, false) => {
            let mut newest: BTreeMap<Series, LocalBackup> = BTreeMap::new();
            for b in &complete {
                newest.insert(b.manifest.series(), b.clone());
            }
            newest.into_values().collect()
        }
    };
    if targets.is_empty() {
        anyhow::bail!("no complete backup to verify in {}", dir.path().display());
    }
    if !args.all && args.id.is_none() {
        for bad in &incomplete {
            eprintln!(
                "warning: incomplete backup {}: {}",
                bad.manifest_path.display(),
                bad.reason
            );
        }
    }
    let mut results: Vec<VerifyOutcome> = Vec::new();
    for backup in &targets {
        let bar = progress_bar(None, &format!("verify {}", backup.manifest.id));
        let outcome = tokio::task::block_in_place(|| verify_backup(&dir, backup, &identities));
        bar.finish_and_clear();
        if !args.json {
            if outcome.ok {
                println!("ok      {} ({})", outcome.id, outcome.checks.join(", "));
            } else {
                println!("FAILED  {}: {}", outcome.id, outcome.detail);
            }
        }
        results.push(outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} backup(s) failed verification",
            results.len()
        );
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}

/// Prune report entry.
#[derive(Debug, Serialize)]
struct PruneEntry {
    location: &'static str,
    id: String,
    kind: String,
    action: &'static str,
    reasons: Vec<mmctl::retention::KeepReason>,
}

impl PruneEntry {
    fn is_removal(&self) -> bool {
        self.action == "remove"
    }
}

/// The retention plan for the backups in one location ("local" or "s3"), as report entries.
fn prune_plan<'a>(
    location: &'static str,
    policy: &Policy,
    manifests: impl Iterator<Item = &'a Manifest>,
    verified: &BTreeSet<String>,
) -> Vec<PruneEntry> {
    let items = manifests.map(|m| {
        let candidate = Candidate {
            id: m.id.clone(),
            created_at: m.created_at,
            verified: verified.contains(&m.id),
        };
        (m.series(), candidate)
    });
    let mut entries = Vec::new();
    for (series, decision) in select_by_series(policy, items) {
        let kind = series.to_string();
        for (id, reasons) in decision.keep {
            entries.push(PruneEntry {
                location,
                id,
                kind: kind.clone(),
                action: "keep",
                reasons,
            });
        }
        for id in decision.remove {
            entries.push(PruneEntry {
                location,
                id,
                kind: kind.clone(),
                action: "remove",
                reasons: vec![],
            });
        }
    }
    entries
}

async fn run_prune(args: PruneArgs) -> anyhow::Result<Outcome> {
    let policy = args.policy.policy();
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let local = dir.list()?;
    let verified: BTreeSet<String> = local
        .iter()
        .filter(|b| b.verification.as_ref().is_some_and(|v| v.ok))
        .map(|b| b.manifest.id.clone())
        .collect();

    let mut report = prune_plan(
        "local",
        &policy,
        local.iter().map(|b| &b.manifest),
        &verified,
    );
    if !args.dry_run {
        for entry in report.iter().filter(|e| e.is_removal()) {
            let backup = local
                .iter()
                .find(|b| b.manifest.id == entry.id)
                .expect("id from the list");
            dir.remove(backup)?;
        }
        for path in dir.remove_stale_temp_files()? {
            eprintln!("removed leftover of an interrupted run: {}", path.display());
        }
    }

    let mut outcome = Outcome::Success;
    if !args.local_only
        && let Some(config) = args.s3.config()?
    {
        let offsite = Offsite::connect(config).await;
        match offsite.list().await {
            Ok(remote) => {
                let plan = prune_plan("s3", &policy, remote.iter().map(|r| &r.manifest), &verified);
                if !args.dry_run {
                    for entry in plan.iter().filter(|e| e.is_removal()) {
                        let r = remote
                            .iter()
                            .find(|r| r.manifest.id == entry.id)
                            .expect("id from the list");
                        offsite
                            .delete(r)
                            .await
                            .with_context(|| format!("cannot delete {} from S3", entry.id))?;
                    }
                }
                report.extend(plan);
            }
            Err(e) => {
                eprintln!("error: cannot prune S3: {e}; local pruning was done");
                outcome = Outcome::OffsiteFailed;
            }
        }
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(outcome);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for e in &report {
        if e.action == "keep" {
            let reasons: Vec<String> = e
                .reasons
                .iter()
                .map(|r| format!("{r:?}").to_lowercase())
                .collect();
            println!(
                "keep    {:<5} {} ({})",
                e.location,
                e.id,
                reasons.join(", ")
            );
        } else {
            println!("{verb} {:<5} {}", e.location, e.id);
        }
    }
    let removed = report.iter().filter(|e| e.is_removal()).count();
    println!(
        "{} backup(s) {verb}, {} kept",
        removed,
        report.len() - removed
    );
    Ok(outcome)
}

async fn run_upload(args: UploadArgs) -> anyhow::Result<Outcome> {
    let offsite = args.s3.require().await?;
    let dir = BackupDir::open(&args.repo.backup_dir)?;
    let local = dir.list()?;
    let targets: Vec<LocalBackup> = match &args.id {
        Some(id) => vec![
            local
                .into_iter()
                .find(|b| &b.manifest.id == id)
                .ok_or_else(|| mmctl::backup::BackupError::NotFound(id.clone()))?,
        ],
        None => {
            let remote: BTreeSet<String> = offsite
                .list()
                .await
                .context("cannot list the S3 bucket")?
                .into_iter()
                .map(|r| r.manifest.id)
                .collect();
            local
                .into_iter()
                .filter(|b| !remote.contains(&b.manifest.id))
                .collect()
        }
    };
    for backup in &targets {
        if let Err(e) = offsite.upload(backup).await {
            eprintln!(
                "error: upload of {} failed: {e}\n  the local backup is kept at {}",
                backup.manifest.id,
                backup.data_path.display()
            );
            return Ok(Outcome::OffsiteFailed);
        }
        println!("uploaded {}", backup.manifest.id);
    }
    if targets.is_empty() {
        println!("every local backup is already in the bucket");
    }
    Ok(Outcome::Success)
}
