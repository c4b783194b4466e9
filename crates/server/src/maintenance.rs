//! Background maintenance while serving: expired-session purge, escrow gauge refresh, wallet-rpc probe.

use std::time::Duration;

use escrow_core::escrow::EscrowStateKind;
use tokio::task::JoinHandle;

use crate::db::{self, Db, DbError};
use crate::metrics;
use crate::state::AppState;

/// How often expired sessions are deleted.
pub const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How often `escrow_total` and `escrow_oldest_last_update_timestamp_seconds` are re-read from the DB
/// (the monitoring contract asks for at least every 60 s).
pub const ESCROW_GAUGE_INTERVAL: Duration = Duration::from_secs(30);
/// How often each wallet-rpc gets a `get_version` probe for `wallet_rpc_up` (contract: at least every 30 s).
pub const WALLET_PROBE_INTERVAL: Duration = Duration::from_secs(15);
/// Timeout of one wallet probe.
pub const WALLET_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets `escrow_total{state}` (0 for empty states) and `escrow_oldest_last_update_timestamp_seconds{state}`
/// from one `GROUP BY state` query, and `escrow_value_piconero{state}` (0 for empty states). Call after escrow writes; also runs every [`ESCROW_GAUGE_INTERVAL`].
///
/// # Errors
/// Storage failures.
pub async fn refresh_escrow_gauges(db: &Db) -> Result<(), DbError> {
    let summary = db
        .run("select", "escrows", |conn| db::escrows::state_summary(conn))
        .await?;
    for kind in EscrowStateKind::ALL {
        let row = summary.iter().find(|(s, _, _)| s == kind.as_str());
        metrics::set_escrow_total(kind.as_str(), row.map_or(0, |(_, n, _)| *n));
        if let Some((_, _, oldest)) = row {
            metrics::set_escrow_oldest_update(kind.as_str(), *oldest);
        }
    }
    let values = db
        .run("select", "escrows", |conn| {
            db::escrows::money::value_by_state(conn)
        })
        .await?;
    for (kind, total) in values {
        metrics::set_escrow_value(kind.as_str(), total);
    }
    Ok(())
}

/// Registers every legal `escrow_state_transitions_total{from_state,to_state}` series at 0 so that
/// rate() queries and dashboards see them before the first transition.
pub fn register_transition_series() {
    for kind in EscrowStateKind::ALL {
        for to in kind.successors() {
            ::metrics::counter!("escrow_state_transitions_total", "from_state" => kind.as_str(), "to_state" => to.as_str())
                .absolute(0);
        }
    }
}

/// Handles of the maintenance tasks; [`Maintenance::abort`] stops them.
#[derive(Debug)]
pub struct Maintenance {
    tasks: Vec<JoinHandle<()>>,
}

impl Maintenance {
    /// Stops every task.
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the maintenance tasks on the current runtime.
pub fn spawn(state: &AppState) -> Maintenance {
    let purge_db = state.db().clone();
    let purge = tokio::spawn(async move {
        let mut interval = tokio::time::interval(SESSION_PURGE_INTERVAL);
        loop {
            interval.tick().await;
            let now = db::now_unix();
            match purge_db
                .run("delete", "sessions", move |conn| {
                    db::sessions::purge_expired(conn, now)
                })
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired sessions deleted"),
                Err(e) => {
                    tracing::warn!(error = %e, "expired-session purge failed; retrying next interval")
                }
            }
        }
    });
    let gauge_db = state.db().clone();
    let gauges = tokio::spawn(async move {
        let mut interval = tokio::time::interval(ESCROW_GAUGE_INTERVAL);
        loop {
            interval.tick().await;
            if let Err(e) = refresh_escrow_gauges(&gauge_db).await {
                tracing::warn!(error = %e, "escrow gauge refresh failed; retrying next interval");
            }
        }
    });
    // The probe's own clients (own digest state), built from the same config as AppState's.
    let wallets = crate::state::wallet_clients(state.config()).unwrap_or_default();
    let probe = tokio::spawn(async move {
        let mut interval = tokio::time::interval(WALLET_PROBE_INTERVAL);
        loop {
            interval.tick().await;
            for (role, client) in &wallets {
                let up = matches!(
                    tokio::time::timeout(WALLET_PROBE_TIMEOUT, client.get_version()).await,
                    Ok(Ok(_))
                );
                metrics::set_wallet_rpc_up(*role, up);
            }
        }
    });
    Maintenance {
        tasks: vec![purge, gauges, probe],
    }
}
