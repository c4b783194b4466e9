//! Shared application state handed to every handler: configuration, database, metrics, limiters,
//! and the [`EscrowContext`] the escrow routes share with the orchestrator.

use std::sync::Arc;

use escrow_core::Role;
use monero_rpc::{DaemonClient, DigestCredentials, RpcError, WalletClient};

use crate::auth::rate_limit::AuthRateLimiter;
use crate::config::Config;
use crate::db::Db;
use crate::escrow::EscrowContext;
use crate::escrow::lease::{Hosting, RunnerLease};
use crate::listing_cache::ListingPageCache;
use crate::metrics::Metrics;

/// Builds one [`WalletClient`] per configured wallet-rpc URL as `(role, client)`: label = role, digest
/// login from the config. Each call gives clients with their own connection pool and digest state
/// (epee binds a digest nonce to one TCP connection, so concurrent calls on one client can be refused
/// with 401; independent probes use their own clients).
///
/// # Errors
/// [`RpcError::InvalidUrl`] if a configured URL is not usable by monero-rpc.
pub fn wallet_clients(config: &Config) -> Result<Vec<(Role, WalletClient)>, RpcError> {
    let mut wallets = Vec::new();
    for (role, url) in config.wallet_rpc.configured() {
        let mut client = WalletClient::new(url)?.with_label(role.as_str());
        if let Some(login) = &config.wallet_rpc_login {
            client =
                client.with_credentials(DigestCredentials::new(login.username(), login.password()));
        }
        wallets.push((role, client));
    }
    Ok(wallets)
}

/// Cheap-to-clone handle on everything a request needs.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    db: Db,
    metrics: Metrics,
    auth_limiter: AuthRateLimiter,
    wallets: Vec<(Role, WalletClient)>,
    daemon: Option<DaemonClient>,
    escrow: EscrowContext,
    runner: RunnerLease,
    listing_cache: ListingPageCache,
}

impl AppState {
    /// Builds the state from a validated config and an opened database: installs the global metrics
    /// recorder if it is not installed yet, and builds one [`WalletClient`] per configured wallet-rpc
    /// URL (label = role, digest login from the config) plus a [`DaemonClient`] if `monerod_url` is set,
    /// and the escrow runner lease (a candidate only with all three wallet-rpc endpoints).
    ///
    /// # Errors
    /// [`RpcError::InvalidUrl`] if a configured URL is not usable by monero-rpc.
    pub fn new(config: Config, db: Db) -> Result<Self, RpcError> {
        let metrics = Metrics::install();
        let auth_limiter =
            AuthRateLimiter::new(config.limits.rate_limit_per_minute, config.client_ip_source);
        let wallets = wallet_clients(&config)?;
        let daemon = config
            .monerod_url
            .as_deref()
            .map(DaemonClient::new)
            .transpose()?;
        let escrow = EscrowContext::new(db.clone(), config.escrow);
        let hosting = if wallets.len() == 3 {
            Hosting::Hosted
        } else {
            Hosting::NoWallets
        };
        let runner = RunnerLease::new(db.clone(), &config.runner, hosting);
        let listing_cache = ListingPageCache::default();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                db,
                metrics,
                auth_limiter,
                wallets,
                daemon,
                escrow,
                runner,
                listing_cache,
            }),
        })
    }

    /// The configured wallet-rpc clients as `(role, client)`; the escrow orchestrator drives them.
    pub fn wallets(&self) -> &[(Role, WalletClient)] {
        &self.inner.wallets
    }

    /// The monerod client, if `MMKT_MONEROD_URL` is set.
    pub fn daemon(&self) -> Option<&DaemonClient> {
        self.inner.daemon.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The metrics renderer.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// What the escrow routes share with the orchestrator: database, wake-up and WebSocket notice
    /// hub, escrow settings.
    pub fn escrow(&self) -> &EscrowContext {
        &self.inner.escrow
    }

    /// This process's escrow runner lease: only its holder runs escrow jobs.
    pub fn runner(&self) -> &RunnerLease {
        &self.inner.runner
    }

    /// The front-page cache of `GET /api/listings`; invalidate it after every committed write that
    /// changes listings or stock.
    pub fn listing_cache(&self) -> &ListingPageCache {
        &self.inner.listing_cache
    }

    /// The login/register limiter.
    pub fn auth_limiter(&self) -> &AuthRateLimiter {
        &self.inner.auth_limiter
    }
}
