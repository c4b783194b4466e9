//! Shared application state handed to every handler: configuration, database, metrics, limiters,
//! and the [`EscrowContext`] the escrow routes share with the orchestrator.

use std::sync::Arc;

use escrow_core::Role;
use monero_rpc::{DaemonClient, DigestCredentials, RpcError, WalletClient};

use crate::auth::failed_logins::FailedLogins;
use crate::auth::gate::HashGate;
use crate::auth::rate_limit::{AccountRateLimiter, AuthRateLimiter};
use crate::config::Config;
use crate::db::Db;
use crate::escrow::EscrowContext;
use crate::escrow::lease::{Hosting, RunnerLease};
use crate::listing_cache::ListingPageCache;
use crate::metrics::Metrics;
use crate::ws::SessionEnds;

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
    hash_gate: HashGate,
    failed_logins: FailedLogins,
    order_limiter: AccountRateLimiter,
    wallets: Vec<(Role, WalletClient)>,
    daemon: Option<DaemonClient>,
    escrow: EscrowContext,
    runner: RunnerLease,
    listing_cache: ListingPageCache,
    session_ends: SessionEnds,
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
        crate::metrics::set_custody_cap(config.escrow.custody.cap.max());
        let auth_limiter =
            AuthRateLimiter::new(config.limits.rate_limit_per_minute, config.client_ip_source);
        let order_limiter = AccountRateLimiter::new(config.orders.per_minute);
        let hash_gate = HashGate::new(&config.auth);
        let failed_logins = FailedLogins::new(&config.auth);
        let wallets = wallet_clients(&config)?;
        let daemon = config
            .monerod_url
            .as_deref()
            .map(DaemonClient::new)
            .transpose()?;
        let escrow = EscrowContext::new(db.clone(), config.escrow)
            .with_wallet_archive(config.wallet_archive.clone());
        let hosting = if wallets.iter().any(|(role, _)| *role == Role::Arbiter) {
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
                hash_gate,
                failed_logins,
                order_limiter,
                wallets,
                daemon,
                escrow,
                runner,
                listing_cache,
                session_ends: SessionEnds::new(),
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

    /// The broadcast of logged-out sessions to the open WebSocket connections.
    pub fn session_ends(&self) -> &SessionEnds {
        &self.inner.session_ends
    }

    /// The login/register limiter.
    pub fn auth_limiter(&self) -> &AuthRateLimiter {
        &self.inner.auth_limiter
    }

    /// The bound on concurrent password hashing (every argon2id hash and verify goes through it).
    pub fn hash_gate(&self) -> &HashGate {
        &self.inner.hash_gate
    }

    /// Failed password checks per username.
    pub fn failed_logins(&self) -> &FailedLogins {
        &self.inner.failed_logins
    }

    /// The per-buyer order placement limiter (`MMKT_ORDERS_PER_MINUTE`).
    pub fn order_limiter(&self) -> &AccountRateLimiter {
        &self.inner.order_limiter
    }
}
