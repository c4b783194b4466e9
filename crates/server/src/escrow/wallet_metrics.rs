//! The wallet collector: a periodic, low-priority escrow job that reads every wallet of every
//! open escrow whose address may hold money and publishes the per-role wallet gauges
//! (`monero_wallet_*{role}`), the total observed on the chain (`escrow_observed_piconero`) and
//! the open escrows whose observed funds disagree with their record (part of
//! `escrow_balance_mismatch`).
//!
//! Each role's wallet-rpc holds one wallet per escrow, so a role's value is the sum over that
//! role's wallets of the open escrows (height: the largest seen). An escrow's observed funds are
//! the largest balance among its wallets (the three watch the same multisig address); a `funded`
//! escrow observed holding less than its amount is a mismatch.
//!
//! Like the terminal-wallet check it runs only while this server holds the runner lease, one
//! [`JobGuard`] per wallet read, through the role's [`WalletWorker`] at [`Priority::Background`]
//! (`refresh`, `get_balance`, `get_height`), and pauses `MMKT_WALLET_METRICS_INTERVAL_SECS`
//! between sweeps. A server that stops holding the lease sets the gauges back to 0.
//!
//! [`JobGuard`]: super::lease::JobGuard
//! [`WalletWorker`]: super::worker::WalletWorker

use escrow_core::{Actor, Amount, EscrowStateKind};

use super::engine::{Engine, StepError};
use super::terminal_wallets::{PeriodicJob, pause_while_runner, wait_for_lease};
use super::worker::{OpenMode, Priority, WorkerError};
use crate::db::escrows::custody::{self, OpenEscrowWallets};
use crate::db::escrows::wallets::WalletRow;
use crate::metrics::{self, WalletReading};

/// The running collector; dropping it stops the task.
pub type WalletCollector = PeriodicJob;

/// Starts the collector for `engine` (it stays idle without hosted wallet-rpcs).
pub fn spawn(engine: Engine) -> WalletCollector {
    PeriodicJob(tokio::spawn(run(engine)))
}

/// What one completed sweep found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collected {
    /// Per role, its wallets of the open escrows summed (roles without wallets are absent).
    pub roles: Vec<(Actor, WalletReading)>,
    /// Sum over the open escrows of the largest balance among each one's wallets, piconero.
    pub observed: Amount,
    /// `funded` escrows observed holding less than their amount.
    pub mismatches: u64,
    /// Wallets that could not be read (logged; retried next sweep).
    pub unreadable: u64,
}

async fn run(engine: Engine) {
    if !engine.is_hosted() {
        return;
    }
    let interval = engine.context().settings().wallet_metrics_interval.0;
    let mut reporting = false;
    loop {
        wait_for_lease(&engine, &mut reporting, metrics::clear_wallet_metrics).await;
        match collect(&engine).await {
            Ok(Some(found)) => {
                metrics::set_wallet_metrics(&found.roles, found.observed, found.mismatches);
                reporting = true;
                tracing::debug!(
                    observed_piconero = found.observed.as_atomic(),
                    mismatches = found.mismatches,
                    unreadable = found.unreadable,
                    "open escrow wallets collected"
                );
            }
            Ok(None) => tracing::debug!("wallet collector left to the next runner lease holder"),
            Err(e) => {
                tracing::warn!(error = %e, "wallet collector failed; retrying after the interval");
            }
        }
        pause_while_runner(&engine, interval).await;
    }
}

/// Reads every wallet of every open escrow once; `None` when the runner lease stopped accepting
/// jobs part-way (nothing is published then).
///
/// # Errors
/// [`StepError::Db`] when the open escrows cannot be listed. A wallet that cannot be read is
/// logged and counted in [`Collected::unreadable`], and its escrow is not judged a mismatch.
pub async fn collect(engine: &Engine) -> Result<Option<Collected>, StepError> {
    let escrows = engine
        .context()
        .db()
        .run("select", "escrows", |conn| custody::open_wallets(conn))
        .await?;
    let mut found = Collected::default();
    for escrow in escrows {
        let Some(readings) = read_escrow(engine, &escrow, &mut found.unreadable).await else {
            return Ok(None);
        };
        add_escrow(&mut found, &escrow, &readings);
    }
    Ok(Some(found))
}

/// Folds one escrow's wallet readings into the sweep.
fn add_escrow(
    found: &mut Collected,
    escrow: &OpenEscrowWallets,
    readings: &[(Actor, WalletReading)],
) {
    for (role, reading) in readings {
        match found.roles.iter_mut().find(|(r, _)| r == role) {
            Some((_, total)) => total.add(*reading),
            None => found.roles.push((*role, *reading)),
        }
    }
    let observed = readings
        .iter()
        .map(|(_, r)| r.balance)
        .max()
        .unwrap_or(Amount::ZERO);
    found.observed = found.observed.checked_add(observed).unwrap_or(Amount::MAX);
    let complete = readings.len() == escrow.wallets.len();
    if complete && escrow.state == EscrowStateKind::Funded && observed < escrow.amount {
        found.mismatches += 1;
        tracing::warn!(
            escrow_id = escrow.escrow_id,
            observed_piconero = observed.as_atomic(),
            amount_piconero = escrow.amount.as_atomic(),
            "a funded escrow's wallets hold less than its amount"
        );
    }
}

/// Reads each wallet of `escrow`; `None` when the runner lease stopped accepting jobs.
async fn read_escrow(
    engine: &Engine,
    escrow: &OpenEscrowWallets,
    unreadable: &mut u64,
) -> Option<Vec<(Actor, WalletReading)>> {
    let mut readings = Vec::with_capacity(escrow.wallets.len());
    for row in &escrow.wallets {
        let _job = engine.runner().start_job()?;
        match read_wallet(engine, row).await {
            Ok(reading) => readings.push((row.role, reading)),
            Err(StepError::Wallet(WorkerError::NotRunner { .. })) => return None,
            Err(e) => {
                *unreadable += 1;
                tracing::warn!(escrow_id = escrow.escrow_id, role = row.role.as_str(), error = %e, "cannot read an open escrow wallet; retrying next sweep");
            }
        }
    }
    Some(readings)
}

/// `refresh`, `get_balance` of account 0 and `get_height` of one wallet, at background priority.
async fn read_wallet(engine: &Engine, row: &WalletRow) -> Result<WalletReading, StepError> {
    let (worker, wallet) = engine.wallet_job(row)?;
    let read = |w: monero_rpc::WalletClient| async move {
        w.refresh(None).await?;
        let balance = w.get_balance(0).await?;
        let height = w.get_height().await?;
        Ok(WalletReading {
            balance: balance.balance,
            unlocked: balance.unlocked_balance,
            height,
            unspent_outputs: balance.num_unspent_outputs,
        })
    };
    Ok(worker
        .run(&wallet, OpenMode::Existing, Priority::Background, read)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::WALLET_ROLES;

    fn escrow(state: EscrowStateKind, amount: u64, wallets: usize) -> OpenEscrowWallets {
        let row = |role| WalletRow {
            role,
            attempt: 1,
            wallet_name: "w".into(),
            password: monero_types::WalletPassword::new("p"),
        };
        OpenEscrowWallets {
            escrow_id: 1,
            state,
            amount: Amount::from_atomic(amount),
            wallets: WALLET_ROLES.into_iter().take(wallets).map(row).collect(),
        }
    }

    fn reading(balance: u64) -> WalletReading {
        WalletReading {
            balance: Amount::from_atomic(balance),
            unlocked: Amount::ZERO,
            height: balance,
            unspent_outputs: 1,
        }
    }

    #[test]
    fn roles_sum_observed_takes_the_largest_wallet_and_short_funded_escrows_mismatch() {
        let mut found = Collected::default();
        let three = [
            (Actor::Buyer, reading(7)),
            (Actor::Vendor, reading(9)),
            (Actor::Arbiter, reading(9)),
        ];
        add_escrow(&mut found, &escrow(EscrowStateKind::Funded, 9, 3), &three);
        assert_eq!(found.observed, Amount::from_atomic(9));
        assert_eq!(found.mismatches, 0);
        add_escrow(&mut found, &escrow(EscrowStateKind::Funded, 10, 3), &three);
        assert_eq!(found.mismatches, 1, "9 observed for 10 recorded");
        add_escrow(
            &mut found,
            &escrow(EscrowStateKind::AwaitingFunding, 10, 3),
            &three,
        );
        assert_eq!(found.mismatches, 1, "not funded yet: no mismatch");
        add_escrow(
            &mut found,
            &escrow(EscrowStateKind::Funded, 10, 3),
            &three[..1],
        );
        assert_eq!(found.mismatches, 1, "an unread wallet is not judged");
        assert_eq!(found.observed, Amount::from_atomic(9 * 3 + 7));
        let buyer = found
            .roles
            .iter()
            .find(|(r, _)| *r == Actor::Buyer)
            .unwrap()
            .1;
        assert_eq!(buyer.balance, Amount::from_atomic(28));
        assert_eq!(buyer.height, 7);
        assert_eq!(buyer.unspent_outputs, 4);
    }
}
