//! Arguments shared by several subcommands (clap `Args` groups), so each is defined once:
//! the global options, which stack to act on, and the backup-side argument groups.

use std::path::PathBuf;

use clap::Args;
use mmkt_stack::{Engine, EngineConfig, Project};

use crate::exit::classify_stack;

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Docker Engine endpoint: unix:///var/run/docker.sock, tcp://host:2376 (TLS via
    /// DOCKER_CERT_PATH) or ssh://user@host. Overrides the environment's MMKT_DOCKER_HOST,
    /// which overrides DOCKER_HOST.
    #[arg(long, global = true)]
    pub docker_host: Option<String>,
    /// Log verbosity for mmctl's own diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, env = "MMCTL_LOG", default_value = "warn")]
    pub log: String,
    /// node-exporter's textfile directory for the freshness metrics of backup, drill and deploy
    /// runs (mmctl_<job>.prom). Default: the config file's metrics_textfile_dir, else the running
    /// stack's node-textfile volume on a local engine, else not written (said on stderr).
    #[arg(long, global = true, env = "MMKT_METRICS_TEXTFILE_DIR")]
    pub metrics_textfile_dir: Option<PathBuf>,
}

impl GlobalArgs {
    /// The engine a command acting on `stack` uses: --docker-host, else the environment's
    /// MMKT_DOCKER_HOST (process environment, then the env file); `None` leaves the choice to
    /// DOCKER_HOST, then the default socket ([`EngineConfig::from_host_and_env`]). An ignored
    /// DOCKER_HOST is named on stderr. An unreadable env file is a usage error (exit 2).
    pub fn engine_host(&self, stack: Option<&StackArgs>) -> anyhow::Result<Option<String>> {
        if let Some(host) = non_empty(self.docker_host.clone()) {
            return Ok(Some(host));
        }
        let Some(stack) = stack else {
            return Ok(None);
        };
        let env_file = stack.env_file().filter(|f| f.is_file());
        let named =
            mmkt_stack::engine::environment_host(env_file.as_deref()).map_err(classify_stack)?;
        if let (Some(host), Some(ambient)) = (&named, non_empty(std::env::var("DOCKER_HOST").ok()))
            && host != &ambient
        {
            eprintln!(
                "note: using the environment's engine {host} ({}); DOCKER_HOST={ambient} is ignored (pass --docker-host to override)",
                mmkt_stack::engine::HOST_VARIABLE
            );
        }
        Ok(named)
    }
}

/// Connects to the engine named by `docker_host` (see [`GlobalArgs::engine_host`]), else
/// DOCKER_HOST, else the platform default socket. Errors carry the exit-code marker of
/// [`classify_stack`] (unreachable daemon, refused certificate, ssh failure: 3).
pub async fn connect(docker_host: Option<&str>) -> anyhow::Result<Engine> {
    Engine::connect(&EngineConfig::from_host_and_env(docker_host))
        .await
        .map_err(classify_stack)
}

/// Environment used when --env is not given.
pub const DEFAULT_ENV: &str = "development";

/// Which stack to act on.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// Compose file (the single source of truth for the stack).
    #[arg(long = "file", default_value = mmkt_stack::DEFAULT_COMPOSE_FILE, env = "MMCTL_COMPOSE_FILE")]
    pub file: PathBuf,
    /// Environment: reads <compose dir>/env/NAME.env (development, staging, production) for
    /// ${VARIABLE} values; the process environment overrides it. Default: development (when
    /// that file exists; a compose file without env/ then uses its own defaults).
    #[arg(long, env = "MMCTL_ENV")]
    pub env: Option<String>,
    /// Compose project name: prefix of container, network and volume names, and the
    /// com.docker.compose.project label.
    #[arg(long, short = 'p', env = "COMPOSE_PROJECT_NAME", default_value = mmkt_stack::DEFAULT_PROJECT)]
    pub project: String,
    /// Enable services of this profile too (repeatable), e.g. --profile observability.
    #[arg(long = "profile", env = "COMPOSE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<String>,
}

impl StackArgs {
    /// Loads and validates the compose project (no Docker access). A bad file is a usage error.
    pub fn load(&self) -> anyhow::Result<Project> {
        mmkt_stack::load_project(
            &self.file,
            self.env_name().as_deref(),
            &self.project,
            &self.profiles,
        )
        .map_err(classify_stack)
    }

    /// Loads the project and checks that it defines `service` (unknown service: usage error).
    pub fn load_with_service(&self, service: &str) -> anyhow::Result<Project> {
        let project = self.load()?;
        project
            .compose
            .file
            .service(service)
            .map_err(classify_stack)?;
        Ok(project)
    }

    /// The env file of the environment in effect, if any (it may not exist: [`StackArgs::load`]
    /// reports an unknown environment).
    pub fn env_file(&self) -> Option<PathBuf> {
        self.env_name()
            .map(|name| mmkt_stack::env_file_path(&self.file, &name))
    }

    /// The environment in effect: the one asked for, else `development` when its file exists.
    pub fn env_name(&self) -> Option<String> {
        if let Some(e) = &self.env {
            return Some(e.clone());
        }
        let default = mmkt_stack::env_file_path(&self.file, DEFAULT_ENV);
        default.is_file().then(|| DEFAULT_ENV.to_string())
    }
}

// Backup-side argument groups (repository, database file, recipients, identities, signing
// and verify keys, S3).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use clap::ArgAction;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use mmkt_backup::crypto::{Identities, Recipients};
use mmkt_backup::escrow_wallets::EscrowWallets;
use mmkt_backup::manifest::{BackupId, Selector, WalletRole};
use mmkt_backup::ops::backup::{DbSource, HostWallets, WalletLocation};
use mmkt_backup::ops::restore::{BackupChoice, BackupOrigin};
use mmkt_backup::ops::verify::VerifyKeys;
use mmkt_backup::s3::{DEFAULT_PART_SIZE, S3Config};
use mmkt_backup::signing::{SigningKey, TrustedKeys};
use mmkt_backup::store::{BackupDir, DEFAULT_DIR};
use mmkt_backup::wallet_source::AddressProbe;

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
    pub fn load(&self) -> Result<Recipients, UsageError> {
        Recipients::collect(&self.recipients, &self.recipients_files)
            .map_err(|e| UsageError(e.to_string()))
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
    /// The identity file, or a usage error (exit 2) when none is given.
    pub fn path(&self) -> Result<&Path, UsageError> {
        self.identity.as_deref().ok_or_else(|| {
            UsageError(
                "no age identity: pass --identity FILE or set MMKT_BACKUP_IDENTITY_FILE".into(),
            )
        })
    }
}

/// The key that signs the manifests of new backups (`mmctl backup keygen` makes one).
#[derive(Debug, Clone, Args)]
pub struct SigningKeyArgs {
    /// Ed25519 signing key file (mode 0600), kept off the backup store: every manifest is signed
    /// with it, and verify, restore and drill refuse backups without a trusted signature.
    #[arg(long = "signing-key", env = "MMKT_BACKUP_SIGNING_KEY_FILE")]
    pub signing_key: Option<PathBuf>,
}

impl SigningKeyArgs {
    /// Reads the signing key: a usage error (exit 2) when none is given or when it lies inside
    /// `backup_dir` (whoever can write the store must not hold the key); a bad file is exit 1.
    pub fn load(&self, backup_dir: &Path) -> anyhow::Result<SigningKey> {
        let path = self.signing_key.as_deref().ok_or_else(|| {
            UsageError(
                "no backup signing key: pass --signing-key FILE or set MMKT_BACKUP_SIGNING_KEY_FILE (make one with `mmctl backup keygen --out FILE`)".into(),
            )
        })?;
        let inside = |p: &Path| std::fs::canonicalize(p).ok();
        if let (Some(key), Some(dir)) = (inside(path), inside(backup_dir))
            && key.starts_with(&dir)
        {
            return Err(UsageError(format!(
                "the signing key {} is inside the backup directory {}; keep it off the backup store",
                path.display(),
                backup_dir.display()
            ))
            .into());
        }
        Ok(SigningKey::from_file(path)?)
    }
}

/// The public keys trusted to have signed backups.
#[derive(Debug, Clone, Args)]
pub struct VerifyKeyArgs {
    /// Trusted Ed25519 public key (base64, as `mmctl backup keygen` prints it) or a file of
    /// them, one per line; repeat for several. Env: comma-separated.
    #[arg(long = "verify-key", value_delimiter = ',')]
    #[arg(env = "MMKT_BACKUP_VERIFY_KEYS")]
    pub verify_keys: Vec<String>,
}

impl VerifyKeyArgs {
    /// The trusted keys; none or a malformed one is a usage error (exit 2).
    pub fn load(&self) -> Result<TrustedKeys, UsageError> {
        TrustedKeys::collect(&self.verify_keys).map_err(|e| UsageError(e.to_string()))
    }
}

/// The keys verify, restore and drill read backups with (flattened into their arguments).
#[derive(Debug, Clone, Args)]
pub struct ReadKeyArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub verify: VerifyKeyArgs,
}

impl ReadKeyArgs {
    /// Loads both (trusted keys first: a missing one is a usage error before any file is read).
    pub fn load(&self) -> anyhow::Result<ReadKeys> {
        let trusted = self.verify.load()?;
        let identities = Identities::from_file(self.identity.path()?)?;
        Ok(ReadKeys {
            identities,
            trusted,
        })
    }
}

/// What verify, restore and drill read a backup with: the age identity and the trusted keys.
pub struct ReadKeys {
    /// Decrypts the data files.
    pub identities: Identities,
    /// Verify the manifests' signatures.
    pub trusted: TrustedKeys,
}

impl ReadKeys {
    /// The pair as the library takes it.
    pub fn verify_keys(&self) -> VerifyKeys<'_> {
        VerifyKeys {
            identities: &self.identities,
            trusted: &self.trusted,
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
