//! Server configuration: environment variables over an optional YAML file, per-environment limits, fail-fast checks.
//!
//! Sources, in increasing priority: built-in defaults for `MMKT_ENV`, the YAML file named by
//! `MMKT_CONFIG_FILE` (keys listed on [`FileConfig`]), then the `MMKT_*` environment variables.
//! [`Config::from_env`] validates everything before the server binds a socket: staging and production
//! refuse to start without a provisioned key file (never created there) on its own mount (not inside
//! the database's directory) and without the wallet-rpc digest login; production also without the
//! three wallet RPC URLs or with fewer than [`PRODUCTION_MIN_CONFIRMATIONS`] (see [`ConfigError`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod auth;

mod orders;

pub use orders::{OrderSettings, WalletArchiveSettings};

pub mod custody;
pub mod escrow_modes;

pub mod wallet_metrics;
pub mod web;

mod environment;
mod runner;
mod wallet_rpc;

pub use environment::{CookieSecurity, Environment, Limits, LogFormat};
pub use runner::{MAX_RUNNER_LEASE_TTL_SECS, MIN_RUNNER_LEASE_TTL_SECS, RunnerSettings};
pub use wallet_rpc::{RpcLogin, WalletRpcUrls};

/// One XMR in atomic units (piconero).
pub const ATOMIC_PER_XMR: u64 = 1_000_000_000_000;

/// Fewest `MMKT_ESCROW_CONFIRMATIONS` production accepts: Monero's spendable age (10 blocks,
/// [`escrow_core::SPENDABLE_AGE`]), so a funded escrow holds money the payout can spend.
pub const PRODUCTION_MIN_CONFIRMATIONS: u64 = escrow_core::SPENDABLE_AGE;

/// Where the client IP used for rate limiting comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIpSource {
    /// The TCP peer address (direct exposure, tests).
    PeerAddress,
    /// The `X-Real-IP` header set by the reverse proxy (nginx), falling back to the peer address.
    /// Only safe when the server is reachable through the proxy alone.
    XRealIpHeader,
}

/// Escrow settings: funding (the orchestrator watches with them; orders store them in the escrow
/// terms), polling, the address network and the WebSocket ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowSettings {
    /// Confirmations before an escrow counts as funded (`MMKT_ESCROW_CONFIRMATIONS`;
    /// default 1 in development, 10 in staging and production: Monero's spendable age; production
    /// refuses fewer than [`PRODUCTION_MIN_CONFIRMATIONS`]).
    pub required_confirmations: u64,
    /// Seconds the buyer has to fund once the address is shown (`MMKT_ESCROW_FUNDING_WINDOW_SECS`,
    /// default 86400).
    pub funding_window_secs: u64,
    /// How often the escrow orchestrator looks for work and polls funding
    /// (`MMKT_ESCROW_POLL_INTERVAL_MS`, default 5000 ms).
    pub poll_interval: Duration,
    /// How long an expired or cancelled escrow's address is still watched for late payments, which
    /// then go to an arbiter for a refund (`MMKT_ESCROW_LATE_FUNDING_GRACE_SECS`, default 30 days).
    pub late_funding_grace_secs: u64,
    /// Network of accepted payout/refund addresses (`MMKT_MONERO_NETWORK`: `mainnet` (also regtest),
    /// `testnet` or `stagenet`; default mainnet).
    pub network: monero_types::MoneroNetwork,
    /// Heartbeat of the escrow-event WebSocket `/ws`: a ping every interval, a connection that has
    /// not answered the previous ping is closed (`MMKT_WS_PING_INTERVAL_SECS`, default 30 s).
    pub ws_ping_interval: Duration,
    /// The most fee a payout may pay before the co-signer refuses to sign it: at most
    /// `MMKT_PAYOUT_MAX_FEE_PICONERO` (default [`DEFAULT_PAYOUT_MAX_FEE_PICONERO`], 0.005 XMR) and
    /// at most `MMKT_PAYOUT_MAX_FEE_BASIS_POINTS` of the escrow balance (default
    /// [`DEFAULT_PAYOUT_MAX_FEE_BASIS_POINTS`], 1 %).
    pub payout_fee: escrow_core::FeeLimit,
    /// The custody cap on open escrows and the terminal-wallet check interval
    /// (`MMKT_CUSTODY_CAP_XMR`, `MMKT_CUSTODY_CHECK_INTERVAL_SECS`; see [`custody`]).
    pub custody: custody::CustodySettings,
    /// Pause between sweeps of the wallet collector (`MMKT_WALLET_METRICS_INTERVAL_SECS`; see
    /// [`wallet_metrics`]).
    pub wallet_metrics_interval: wallet_metrics::WalletMetricsInterval,
    /// The escrow modes buyers may choose and the non-custodial round timeout
    /// (`MMKT_ESCROW_MODES`, `MMKT_ESCROW_ROUND_TIMEOUT_SECS`; see [`escrow_modes`]).
    pub modes: escrow_modes::EscrowModeSettings,
}

/// Default absolute payout fee cap, piconero: 0.005 XMR, about 50 times a normal-priority fee for
/// a multisig sweep of a few inputs, far below what a priority-4 (x1000) fee costs.
pub const DEFAULT_PAYOUT_MAX_FEE_PICONERO: u64 = 5_000_000_000;
/// Default relative payout fee cap: 100 basis points (1 %) of the escrow balance.
pub const DEFAULT_PAYOUT_MAX_FEE_BASIS_POINTS: u32 = 100;

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MMKT_ENV`.
    pub env: Environment,
    /// `MMKT_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `MMKT_DB_PATH`, default `./data/mmkt.db`.
    pub db_path: PathBuf,
    /// `MMKT_DB_KEY_FILE`; default `<db dir>/mmkt.key` in development only. Staging and
    /// production refuse a path inside the database's directory: the key lives on its own mount.
    pub db_key_file: PathBuf,
    /// What to do when the key file is missing.
    pub key_file_policy: KeyFilePolicy,
    /// Connections in the SQLCipher pool (`MMKT_DB_POOL_SIZE`, default 8).
    pub db_pool_size: u32,
    /// Wallet RPC endpoints.
    pub wallet_rpc: WalletRpcUrls,
    /// Digest login shared by the three wallet-rpc endpoints (`MMKT_WALLET_RPC_LOGIN`).
    pub wallet_rpc_login: Option<RpcLogin>,
    /// monerod RPC URL (`MMKT_MONEROD_URL`), checked by `/ready` when set.
    pub monerod_url: Option<String>,
    /// Limits for this environment.
    pub limits: Limits,
    /// Escrow funding settings.
    pub escrow: EscrowSettings,
    /// Client IP source for rate limiting (`MMKT_CLIENT_IP_SOURCE=peer|x-real-ip`, default `peer`).
    pub client_ip_source: ClientIpSource,
    /// The escrow runner lease (`MMKT_RUNNER_ID`, `MMKT_RUNNER_LEASE_TTL_SECS`).
    pub runner: RunnerSettings,
    /// Per-buyer order limits (`MMKT_ORDERS_*`).
    pub orders: OrderSettings,
    /// Password hashing and failed-login settings (`MMKT_AUTH_*`).
    pub auth: auth::AuthSettings,
    /// Wallet directories and the archive retention (`MMKT_WALLET_DIR_*`,
    /// `MMKT_WALLET_ARCHIVE_RETENTION_SECS`).
    pub wallet_archive: WalletArchiveSettings,
    /// Browser origins allowed to change state and open the WebSocket (`MMKT_WEB_ORIGINS`).
    pub web: web::WebSettings,
}

/// What the server does when the DB key file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFilePolicy {
    /// Generate a fresh random key with mode 0600 (development only).
    GenerateIfMissing,
    /// Refuse to start.
    MustExist,
}

/// Keys accepted in the YAML file named by `MMKT_CONFIG_FILE`. Unknown keys are refused.
/// Every key has the same meaning as the `MMKT_*` variable of the same name in upper case
/// (`env` is `MMKT_ENV`, `bind` is `MMKT_BIND`, ...); environment variables win.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `development`, `staging` or `production`.
    pub env: Option<Environment>,
    /// Listen address.
    pub bind: Option<String>,
    /// SQLCipher database file.
    pub db_path: Option<PathBuf>,
    /// Key file (64 hex chars, mode 0600).
    pub db_key_file: Option<PathBuf>,
    /// Pool size.
    pub db_pool_size: Option<u32>,
    /// Buyer wallet-rpc URL.
    pub wallet_rpc_buyer_url: Option<String>,
    /// Vendor wallet-rpc URL.
    pub wallet_rpc_vendor_url: Option<String>,
    /// Arbiter wallet-rpc URL.
    pub wallet_rpc_arbiter_url: Option<String>,
    /// monerod URL.
    pub monerod_url: Option<String>,
    /// `peer` or `x-real-ip`.
    pub client_ip_source: Option<String>,
    /// Confirmations before an escrow counts as funded.
    pub escrow_confirmations: Option<u64>,
    /// Funding window in seconds.
    pub escrow_funding_window_secs: Option<u64>,
}

/// Why the configuration was refused. Messages name the variable and say what to do; they never
/// contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable or file key has a value that does not parse.
    #[error("{name}: {message}")]
    InvalidValue {
        /// Variable name.
        name: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A variable required in this environment is unset.
    #[error("{name} must be set when MMKT_ENV={env}: {hint}")]
    Missing {
        /// Variable name.
        name: &'static str,
        /// The environment requiring it.
        env: Environment,
        /// What to set it to.
        hint: &'static str,
    },
    /// A secret is a known default or too weak for this environment.
    #[error("{name} is a default or weak secret, refused when MMKT_ENV={env}: {hint}")]
    WeakSecret {
        /// Variable name.
        name: &'static str,
        /// The environment refusing it.
        env: Environment,
        /// How to make a strong one.
        hint: &'static str,
    },
    /// The file named by `MMKT_CONFIG_FILE` cannot be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid YAML for [`FileConfig`].
    #[error("config file {path} is invalid: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Parser message (unknown key, wrong type, ...).
        message: String,
    },
    /// `MMKT_ESCROW_CONFIRMATIONS` is below the floor of this environment (production:
    /// [`PRODUCTION_MIN_CONFIRMATIONS`]).
    #[error(
        "MMKT_ESCROW_CONFIRMATIONS={found} is below {floor}, refused when MMKT_ENV={env}: funds count only once spendable ({floor} blocks deep); set it to {floor} or more, or unset it for the default"
    )]
    TooFewConfirmations {
        /// The configured confirmations.
        found: u64,
        /// The smallest accepted value.
        floor: u64,
        /// The environment refusing it.
        env: Environment,
    },
    /// The key file lies in the database's directory (on its volume), refused in staging and
    /// production ([`crate::db::key::is_inside_database_dir`]).
    #[error(
        "MMKT_DB_KEY_FILE {key_file} is inside the directory of MMKT_DB_PATH {db_path}, refused when MMKT_ENV={env}: mount the key on its own (a separate volume or a read-only secret file, e.g. the compose `server-key` volume at /app/key) and point MMKT_DB_KEY_FILE there, so the database volume and its copies never carry their key"
    )]
    KeyBesideDatabase {
        /// The key file.
        key_file: PathBuf,
        /// The database file.
        db_path: PathBuf,
        /// The environment refusing it.
        env: Environment,
    },
}

impl Config {
    /// Reads `MMKT_*` variables from the process environment (and `MMKT_CONFIG_FILE`) and validates them.
    ///
    /// # Errors
    /// [`ConfigError`] on any invalid or missing value; the server must not start.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("MMKT_"))
            .collect();
        Self::from_vars(&vars)
    }

    /// Same as [`Config::from_env`] over an explicit variable map (used by tests and `from_env`).
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let file = match get("MMKT_CONFIG_FILE") {
            Some(path) => read_file_config(Path::new(&path))?,
            None => FileConfig::default(),
        };

        let env = match get("MMKT_ENV") {
            Some(v) => v.parse()?,
            None => file.env.unwrap_or(Environment::Development),
        };
        let bind_text = get("MMKT_BIND")
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text.parse().map_err(|_| ConfigError::InvalidValue {
            name: "MMKT_BIND",
            message: format!("`{bind_text}` is not an IP:port socket address"),
        })?;
        let db_path = get("MMKT_DB_PATH")
            .map(PathBuf::from)
            .or(file.db_path)
            .unwrap_or_else(|| PathBuf::from("./data/mmkt.db"));
        let key_file = get("MMKT_DB_KEY_FILE")
            .map(PathBuf::from)
            .or(file.db_key_file);
        let (db_key_file, key_file_policy) = match (key_file, env) {
            (Some(path), Environment::Development) => (path, KeyFilePolicy::GenerateIfMissing),
            (Some(path), _) => (path, KeyFilePolicy::MustExist),
            (None, Environment::Development) => (
                db_path.parent().unwrap_or(Path::new(".")).join("mmkt.key"),
                KeyFilePolicy::GenerateIfMissing,
            ),
            (None, env) => {
                return Err(ConfigError::Missing {
                    name: "MMKT_DB_KEY_FILE",
                    env,
                    hint: "path to a 0600 file holding 64 hex chars (e.g. `openssl rand -hex 32`)",
                });
            }
        };
        let db_pool_size = match get("MMKT_DB_POOL_SIZE") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::InvalidValue {
                    name: "MMKT_DB_POOL_SIZE",
                    message: format!("`{v}` is not a positive integer"),
                })?,
            None => file.db_pool_size.unwrap_or(8),
        };
        let wallet_rpc = WalletRpcUrls {
            buyer: url_var(
                get("MMKT_WALLET_RPC_BUYER_URL").or(file.wallet_rpc_buyer_url),
                "MMKT_WALLET_RPC_BUYER_URL",
            )?,
            vendor: url_var(
                get("MMKT_WALLET_RPC_VENDOR_URL").or(file.wallet_rpc_vendor_url),
                "MMKT_WALLET_RPC_VENDOR_URL",
            )?,
            arbiter: url_var(
                get("MMKT_WALLET_RPC_ARBITER_URL").or(file.wallet_rpc_arbiter_url),
                "MMKT_WALLET_RPC_ARBITER_URL",
            )?,
        };
        let monerod_url = url_var(
            get("MMKT_MONEROD_URL").or(file.monerod_url),
            "MMKT_MONEROD_URL",
        )?;
        // The login is a secret: environment only, never the config file.
        let wallet_rpc_login = get("MMKT_WALLET_RPC_LOGIN")
            .map(|v| RpcLogin::parse(&v))
            .transpose()?;
        let client_ip_source = match get("MMKT_CLIENT_IP_SOURCE")
            .or(file.client_ip_source)
            .as_deref()
        {
            None | Some("peer") => ClientIpSource::PeerAddress,
            Some("x-real-ip") => ClientIpSource::XRealIpHeader,
            Some(other) => {
                return Err(ConfigError::InvalidValue {
                    name: "MMKT_CLIENT_IP_SOURCE",
                    message: format!("`{other}` is not one of peer, x-real-ip"),
                });
            }
        };

        let positive = |name: &'static str,
                        file_value: Option<u64>,
                        default: u64|
         -> Result<u64, ConfigError> {
            match get(name) {
                Some(v) => {
                    v.parse()
                        .ok()
                        .filter(|n: &u64| *n > 0)
                        .ok_or(ConfigError::InvalidValue {
                            name,
                            message: format!("`{v}` is not a positive integer"),
                        })
                }
                None => Ok(file_value.filter(|n| *n > 0).unwrap_or(default)),
            }
        };
        let escrow = EscrowSettings {
            required_confirmations: positive(
                "MMKT_ESCROW_CONFIRMATIONS",
                file.escrow_confirmations,
                if env == Environment::Development {
                    1
                } else {
                    10
                },
            )?,
            funding_window_secs: positive(
                "MMKT_ESCROW_FUNDING_WINDOW_SECS",
                file.escrow_funding_window_secs,
                86_400,
            )?,
            poll_interval: Duration::from_millis(positive(
                "MMKT_ESCROW_POLL_INTERVAL_MS",
                None,
                5_000,
            )?),
            late_funding_grace_secs: positive(
                "MMKT_ESCROW_LATE_FUNDING_GRACE_SECS",
                None,
                30 * 86_400,
            )?,
            network: match get("MMKT_MONERO_NETWORK") {
                Some(v) => v.parse().map_err(|e: monero_types::ParseNetworkError| {
                    ConfigError::InvalidValue {
                        name: "MMKT_MONERO_NETWORK",
                        message: e.to_string(),
                    }
                })?,
                None => monero_types::MoneroNetwork::Mainnet,
            },
            ws_ping_interval: Duration::from_secs(positive(
                "MMKT_WS_PING_INTERVAL_SECS",
                None,
                30,
            )?),
            payout_fee: payout_fee_limit(
                positive(
                    "MMKT_PAYOUT_MAX_FEE_PICONERO",
                    None,
                    DEFAULT_PAYOUT_MAX_FEE_PICONERO,
                )?,
                positive(
                    "MMKT_PAYOUT_MAX_FEE_BASIS_POINTS",
                    None,
                    u64::from(DEFAULT_PAYOUT_MAX_FEE_BASIS_POINTS),
                )?,
            )?,
            custody: custody::CustodySettings::parse(
                env,
                get("MMKT_CUSTODY_CAP_XMR").as_deref(),
                get("MMKT_CUSTODY_CHECK_INTERVAL_SECS").as_deref(),
            )?,
            wallet_metrics_interval: wallet_metrics::WalletMetricsInterval::parse(
                env,
                get("MMKT_WALLET_METRICS_INTERVAL_SECS").as_deref(),
            )?,
            modes: escrow_modes::EscrowModeSettings::parse(
                get("MMKT_ESCROW_MODES").as_deref(),
                get("MMKT_ESCROW_ROUND_TIMEOUT_SECS").as_deref(),
            )?,
        };
        let runner =
            RunnerSettings::parse(get("MMKT_RUNNER_ID"), get("MMKT_RUNNER_LEASE_TTL_SECS"))?;
        let config = Self {
            env,
            bind,
            db_path,
            db_key_file,
            key_file_policy,
            db_pool_size,
            wallet_rpc,
            wallet_rpc_login,
            monerod_url,
            limits: env.limits(),
            escrow,
            client_ip_source,
            runner,
            orders: OrderSettings::parse(env, &get)?,
            auth: auth::AuthSettings::parse(vars)?,
            wallet_archive: WalletArchiveSettings::parse(env, &get)?,
            web: web::WebSettings::parse(env, &get)?,
        };
        config.check_environment()?;
        Ok(config)
    }

    /// The staging and production fail-fast rules; they read only path metadata (the key file itself is
    /// checked by [`crate::db::key::load_or_create`]).
    fn check_environment(&self) -> Result<(), ConfigError> {
        if self.env == Environment::Development {
            return Ok(());
        }
        if self.env == Environment::Production {
            self.check_production_wallets()?;
        }
        self.check_wallet_login()?;
        if crate::db::key::is_inside_database_dir(&self.db_key_file, &self.db_path) {
            return Err(ConfigError::KeyBesideDatabase {
                key_file: self.db_key_file.clone(),
                db_path: self.db_path.clone(),
                env: self.env,
            });
        }
        Ok(())
    }

    /// Production only: enough confirmations to be spendable, and all three wallet RPC URLs.
    fn check_production_wallets(&self) -> Result<(), ConfigError> {
        let found = self.escrow.required_confirmations;
        if found < PRODUCTION_MIN_CONFIRMATIONS {
            return Err(ConfigError::TooFewConfirmations {
                found,
                floor: PRODUCTION_MIN_CONFIRMATIONS,
                env: self.env,
            });
        }
        let required = [
            ("MMKT_WALLET_RPC_BUYER_URL", &self.wallet_rpc.buyer),
            ("MMKT_WALLET_RPC_VENDOR_URL", &self.wallet_rpc.vendor),
            ("MMKT_WALLET_RPC_ARBITER_URL", &self.wallet_rpc.arbiter),
        ];
        for (name, value) in required {
            if value.is_none() {
                return Err(ConfigError::Missing {
                    name,
                    env: self.env,
                    hint: "the monero-wallet-rpc base URL for this escrow role, e.g. http://wallet-rpc-buyer:18083",
                });
            }
        }
        Ok(())
    }

    /// Staging and production: the wallet-rpc digest login is set and not weak.
    fn check_wallet_login(&self) -> Result<(), ConfigError> {
        let Some(login) = &self.wallet_rpc_login else {
            return Err(ConfigError::Missing {
                name: "MMKT_WALLET_RPC_LOGIN",
                env: self.env,
                hint: "`user:password` matching each wallet-rpc's --rpc-login (hosted escrow keys must not be reachable without auth)",
            });
        };
        if is_weak_password(login.password()) {
            return Err(ConfigError::WeakSecret {
                name: "MMKT_WALLET_RPC_LOGIN",
                env: self.env,
                hint: "use a random password of at least 16 characters, e.g. `openssl rand -hex 16`",
            });
        }
        Ok(())
    }
}

/// Words of example and default credentials; a secret containing one is refused in production.
const DEFAULT_SECRET_WORDS: &[&str] = &[
    "changeme",
    "change-me",
    "password",
    "passw0rd",
    "secret",
    "example",
    "default",
    "monero",
    "letmein",
    "123456",
    "qwerty",
];

/// A password is weak when it is shorter than 16 characters, has fewer than 6 distinct characters, or
/// contains a word of example/default credentials (`changemechangeme`, `monero-password-1`, ...).
pub fn is_weak_password(password: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = password.chars().collect();
    let lower = password.to_lowercase();
    password.chars().count() < 16
        || distinct.len() < 6
        || DEFAULT_SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// The payout fee limit from its two settings (both positive; the share at most 10 000 basis
/// points).
fn payout_fee_limit(
    max_piconero: u64,
    basis_points: u64,
) -> Result<escrow_core::FeeLimit, ConfigError> {
    let invalid = || ConfigError::InvalidValue {
        name: "MMKT_PAYOUT_MAX_FEE_BASIS_POINTS",
        message: format!(
            "`{basis_points}` is above 10000 (100 % of the escrow); use 1-10000, e.g. 100 for 1 %"
        ),
    };
    let basis_points = u32::try_from(basis_points).map_err(|_| invalid())?;
    escrow_core::FeeLimit::new(escrow_core::Amount::from_atomic(max_piconero), basis_points)
        .map_err(|_| invalid())
}

fn url_var(value: Option<String>, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let parsed = url::Url::parse(&value).map_err(|e| ConfigError::InvalidValue {
        name,
        message: format!("`{value}` is not a URL ({e}); expected e.g. http://127.0.0.1:18083"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidValue {
            name,
            message: format!("`{value}` must be http:// or https://"),
        });
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    serde_norway::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Builds the variable map `from_vars` and the group parsers take, for unit tests.
#[cfg(test)]
pub(crate) fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests;
