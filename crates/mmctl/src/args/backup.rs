//! The backup-side argument groups: the repository, the database file, new backups, restores,
//! compression and chains, S3, the wallet sources and probes, services and confirmations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ArgAction;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use mmkt_backup::escrow_wallets::EscrowWallets;
use mmkt_backup::manifest::{BackupId, Selector, WalletRole};
use mmkt_backup::ops::backup::{DbSource, HostWallets, WalletLocation};
use mmkt_backup::ops::restore::{BackupChoice, BackupOrigin};
use mmkt_backup::s3::{DEFAULT_PART_SIZE, S3Config};
use mmkt_backup::signing::TrustedKeys;
use mmkt_backup::store::{BackupDir, DEFAULT_DIR};
use mmkt_backup::wallet_source::AddressProbe;
use mmkt_stack::EngineConfig;

use super::{ReadKeyArgs, RecipientArgs, SigningKeyArgs};
use crate::exit::UsageError;

/// The clap parser of a wallet role argument: `buyer`, `vendor` or `arbiter` (listed in help
/// and completions).
pub fn wallet_role() -> impl TypedValueParser<Value = WalletRole> {
    PossibleValuesParser::new(WalletRole::ALL.map(WalletRole::as_str))
        .try_map(|name| name.parse::<WalletRole>())
}

/// A backup id from the command line, checked against the id pattern before it is used (a
/// usage error, exit 2, otherwise).
pub fn backup_id(text: &str) -> Result<BackupId, UsageError> {
    BackupId::parse(text).map_err(|e| UsageError(e.to_string()))
}

/// The local backup directory.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// Local backup directory (created with mode 0700 if missing).
    #[arg(long, env = "MMKT_BACKUP_DIR", default_value = DEFAULT_DIR)]
    pub backup_dir: PathBuf,
}

impl RepoArgs {
    /// Opens (creating) the backup directory.
    ///
    /// # Errors
    /// [`mmkt_backup::BackupError::Io`] when it cannot be created.
    pub fn open(&self) -> Result<BackupDir, mmkt_backup::BackupError> {
        BackupDir::open(&self.backup_dir)
    }
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
    pub fn key_file(&self) -> Result<&Path, UsageError> {
        self.key_file.as_deref().ok_or_else(|| {
            UsageError("no DB key file: pass --key-file or set MMKT_DB_KEY_FILE".into())
        })
    }

    /// The database to back up, compressed at `compression`'s level.
    pub fn source(&self, compression: &CompressionArgs) -> Result<DbSource<'_>, UsageError> {
        Ok(DbSource {
            db_path: &self.db,
            key_file: self.key_file()?,
            compression_level: compression.compression_level,
            chain: mmkt_backup::chain::ChainMode::Standalone,
        })
    }
}

/// The database to back up: its file, key file and compression.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    #[command(flatten)]
    pub file: DbFileArgs,
    #[command(flatten)]
    pub compression: CompressionArgs,
}

impl DatabaseArgs {
    /// The database to back up, or a usage error when no key file is given.
    pub fn source(&self) -> Result<DbSource<'_>, UsageError> {
        self.file.source(&self.compression)
    }
}

/// Where fresh backups go (directory, recipients, offsite copy) and how they are printed.
#[derive(Debug, Clone, Args)]
pub struct NewBackupArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub signing: SigningKeyArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Do not upload, even if S3 is configured.
    #[arg(long)]
    pub no_offsite: bool,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
}

impl NewBackupArgs {
    /// The offsite configuration to use: `None` with --no-offsite or without a bucket. An
    /// invalid configuration is a usage error also with --no-offsite.
    pub fn offsite(&self) -> Result<Option<S3Config>, UsageError> {
        let config = self.s3.config()?;
        Ok(config.filter(|_| !self.no_offsite))
    }
}

/// What both restores take: which backup, where it is, the operator's confirmation, and
/// where the service runs.
#[derive(Debug, Clone, Args)]
pub struct RestoreCommonArgs {
    /// Backup id, or "latest".
    #[arg(default_value = "latest")]
    pub id: String,
    /// Take the backup from the S3 bucket (downloaded into the backup directory first).
    #[arg(long)]
    pub from_s3: bool,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub keys: ReadKeyArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub service: ServiceArgs,
}

impl RestoreCommonArgs {
    /// The bucket to take the backup from with --from-s3 (a usage error without a bucket).
    pub fn bucket(&self) -> Result<Option<S3Config>, UsageError> {
        match self.from_s3 {
            true => self.s3.require().map(Some),
            false => Ok(None),
        }
    }

    /// The backup named by ID: "latest" or an id of the id pattern (a usage error otherwise).
    pub fn selector(&self) -> Result<Selector, UsageError> {
        Selector::parse(&self.id).map_err(|e| UsageError(e.to_string()))
    }

    /// The backup choice of `selector` in `dir`, from `bucket` when given, signed by one of
    /// `trusted`.
    pub fn choice<'a>(
        &'a self,
        dir: &'a BackupDir,
        selector: &'a Selector,
        bucket: Option<&'a S3Config>,
        trusted: &'a TrustedKeys,
    ) -> BackupChoice<'a> {
        BackupChoice {
            dir,
            selector,
            origin: bucket.map_or(BackupOrigin::Local, BackupOrigin::S3),
            trusted,
        }
    }
}

/// Compression of database page streams.
#[derive(Debug, Clone, Args)]
pub struct CompressionArgs {
    /// zstd level 1-19 for the DB page stream: 1 is fast (default); 3-9 give 3-5% smaller
    /// files for 2-10x the time. `--gzip-level` is the name of older versions.
    #[arg(long, aliases = ["level", "gzip-level"], env = "MMKT_BACKUP_COMPRESSION_LEVEL", default_value_t = mmkt_backup::db::DEFAULT_LEVEL,
          value_parser = clap::value_parser!(u32).range(1..=19))]
    pub compression_level: u32,
}

/// Whether `backup db` extends a chain of page deltas (docs/BACKUP.md, "Incremental backups"),
/// and how often it runs.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// Write page deltas, with a new full backup once the chain's full one is this old (e.g.
    /// 24h, 90m, 3600s). Unset: every backup is a standalone full backup.
    #[arg(long, env = "MMKT_BACKUP_DB_FULL_EVERY", value_parser = mmkt_backup::chain::parse_interval)]
    pub full_every: Option<std::time::Duration>,
    /// Deltas a chain holds at most before the next full backup.
    #[arg(long, env = "MMKT_BACKUP_DB_MAX_DELTAS", default_value_t = mmkt_backup::chain::DEFAULT_MAX_DEPTH)]
    pub max_deltas: u32,
    /// Keep running: one backup every DURATION (e.g. 60s), until SIGTERM or SIGINT; with
    /// --full-every, a run with no change writes nothing.
    #[arg(long, env = "MMKT_BACKUP_DB_EVERY", value_parser = mmkt_backup::chain::parse_interval)]
    pub every: Option<std::time::Duration>,
}

impl ChainArgs {
    /// The chain mode these flags ask for.
    pub fn mode(&self) -> mmkt_backup::chain::ChainMode {
        use mmkt_backup::chain::{ChainMode, ChainPolicy};
        match self.full_every {
            None => ChainMode::Standalone,
            Some(full_every) => ChainMode::Chained(ChainPolicy {
                full_every,
                max_depth: self.max_deltas,
            }),
        }
    }
}

/// Offsite (S3) settings. Credentials come from MMKT_S3_ACCESS_KEY_ID / MMKT_S3_SECRET_ACCESS_KEY
/// (the process environment, else the environment's secrets file) or the standard AWS chain
/// (AWS_ACCESS_KEY_ID, ..., profiles), never from flags.
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
    /// The validated offsite configuration, or `None` when no bucket is configured. An
    /// invalid configuration is a usage error (exit 2).
    pub fn config(&self) -> Result<Option<S3Config>, UsageError> {
        let Some(bucket) = self.bucket.clone().filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        // The process environment, else the environment's secrets file.
        let env = crate::secrets::offsite_key;
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
        config
            .validate()
            .map(Some)
            .map_err(|e| UsageError(e.to_string()))
    }

    /// The configuration, or a usage error when no bucket is configured.
    pub fn require(&self) -> Result<S3Config, UsageError> {
        self.config()?.ok_or_else(|| {
            UsageError("no S3 bucket configured: set MMKT_S3_BUCKET or --s3-bucket".into())
        })
    }
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
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
    #[command(flatten)]
    pub probe: WalletProbeArgs,
}

impl WalletSourceArgs {
    /// Where the wallets are: --wallet-dir, --wallet-root/ROLE (each role's wallet-rpc from
    /// MMKT_WALLET_RPC_<ROLE>_URL), else the stack reached at `docker_host`.
    pub fn location(&self, docker_host: Option<&str>) -> WalletLocation {
        let rpc_login = non_empty(self.wallet_rpc_login.clone());
        if let Some(path) = &self.wallet_dir {
            return WalletLocation::Host(HostWallets::Directory {
                path: path.clone(),
                rpc_url: self.wallet_rpc.clone(),
                rpc_login,
            });
        }
        if let Some(root) = &self.wallet_root {
            let rpc_urls: BTreeMap<WalletRole, String> = WalletRole::ALL
                .into_iter()
                .filter_map(|role| wallet_rpc_url_env(role).map(|url| (role, url)))
                .collect();
            return WalletLocation::Host(HostWallets::Root {
                root: root.clone(),
                rpc_urls,
                rpc_login,
            });
        }
        WalletLocation::Stack {
            engine: EngineConfig::from_host_and_env(docker_host),
            project: self.project.clone(),
        }
    }
}

/// `MMKT_WALLET_RPC_<ROLE>_URL`, when set and not empty.
pub fn wallet_rpc_url_env(role: WalletRole) -> Option<String> {
    non_empty(
        std::env::var(format!(
            "MMKT_WALLET_RPC_{}_URL",
            role.as_str().to_uppercase()
        ))
        .ok(),
    )
}

/// The value, unless it is absent or empty.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Opening wallets to read their addresses (backup manifests, restore and drill checks).
#[derive(Debug, Clone, Args)]
pub struct WalletProbeArgs {
    /// File holding the password of the wallets that are not escrow wallets (escrow wallets
    /// open with their own passwords from the database). Each wallet with a password is opened
    /// in a throwaway `monero-wallet-rpc --offline` and its address recorded / compared.
    #[arg(long, env = "MMKT_WALLET_PASSWORD_FILE")]
    pub wallet_password_file: Option<PathBuf>,
    /// The monero-wallet-rpc binary used for that.
    #[arg(long, env = "MMKT_WALLET_RPC_BIN", default_value = "monero-wallet-rpc")]
    pub wallet_rpc_bin: PathBuf,
}

/// The wallet password file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the wallet password file {path}")]
pub struct PasswordFileError {
    /// The password file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

impl WalletProbeArgs {
    /// The probe that opens wallets: escrow wallets with their own passwords from the database
    /// `db` (read when its key file is given), other wallets with the password file's content
    /// (without the final newline); `None` when neither is configured. An unreadable password
    /// file or database is exit 1, with what failed; a database file that does not exist is a
    /// warning (no escrow wallet is opened).
    pub fn probe(&self, db: Option<&DbFileArgs>) -> anyhow::Result<Option<AddressProbe>> {
        let password = match &self.wallet_password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| PasswordFileError {
                    path: path.clone(),
                    source,
                })?;
                let password = text.strip_suffix('\n').unwrap_or(&text).to_owned();
                Some(monero_rpc::WalletPassword::new(password))
            }
            None => None,
        };
        let db = db.and_then(|d| d.key_file.as_deref().map(|k| (&d.db, k)));
        let db = db.filter(|(path, _)| {
            let found = path.exists();
            if !found {
                eprintln!(
                    "warning: no database at {}: escrow wallets are not opened (set MMKT_DB_PATH to the server's database)",
                    path.display()
                );
            }
            found
        });
        let escrow = match db {
            Some((path, key_file)) => EscrowWallets::read_with_key_file(path, key_file)
                .with_context(|| {
                    format!(
                        "cannot read the escrow wallets' passwords from the database {} (set MMKT_DB_PATH and MMKT_DB_KEY_FILE to the server's database and key)",
                        path.display()
                    )
                })?,
            None if password.is_none() => return Ok(None),
            None => EscrowWallets::default(),
        };
        Ok(Some(AddressProbe {
            wallet_rpc_bin: self.wallet_rpc_bin.clone(),
            password,
            escrow,
        }))
    }
}

/// Where the service of a restore runs.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// The service is not a container of the compose stack (host-run server / wallet-rpc): it
    /// must be stopped by hand first; mmctl refuses if --server-url still answers.
    #[arg(long)]
    pub no_docker: bool,
    /// Compose project of the stack.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
    /// Seconds to wait for the restarted service to be healthy / ready.
    #[arg(long, default_value_t = 180)]
    pub ready_timeout: u64,
}

/// The operator's confirmation of a restore.
#[derive(Debug, Clone, Args)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}
