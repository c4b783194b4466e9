//! The terminal-wallet check: a periodic, low-priority escrow job that reads the balance of every
//! released or refunded escrow's wallet and exports what is still there, so that money sent to a
//! finished escrow (or a payout that never left) raises `EscrowTerminalWalletHasBalance`.
//!
//! It runs only while this server holds the runner lease, one [`JobGuard`] per wallet (a release
//! waits for at most one wallet read), through the role's [`WalletWorker`] at
//! [`Priority::Background`], so setups, payouts and funding polls on the same wallet-rpc go
//! first. The wallet read is the payout co-signer's: it submitted the payout and so knows the
//! spent outputs; its `get_balance` total (locked outputs included) is what is left at the
//! escrow address. Each sweep is followed by a pause of `MMKT_CUSTODY_CHECK_INTERVAL_SECS`.
//! A server that stops holding the lease sets the two balance gauges back to 0.
//!
//! [`JobGuard`]: super::lease::JobGuard

use escrow_core::Amount;
use monero_rpc::Balance;
use tokio::task::JoinHandle;

use super::engine::{Engine, StepError};
use super::worker::{OpenMode, Priority, WorkerError};
use crate::db::escrows::custody::{self, TerminalWallet};
use crate::metrics;

/// A running periodic escrow job (this check, the wallet collector); dropping it stops the task.
#[derive(Debug)]
pub struct PeriodicJob(pub(super) JoinHandle<()>);

impl Drop for PeriodicJob {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The running check; dropping it stops the task.
pub type TerminalWalletCheck = PeriodicJob;

/// Starts the check for `engine` (it stays idle without hosted wallet-rpcs).
pub fn spawn(engine: Engine) -> TerminalWalletCheck {
    PeriodicJob(tokio::spawn(run(engine)))
}

/// What one completed sweep found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepSummary {
    /// Wallets read.
    pub checked: u64,
    /// Wallets with a non-zero balance.
    pub with_balance: u64,
    /// Their total balance, piconero (saturating at [`Amount::MAX`]).
    pub total: Amount,
    /// Wallets that could not be read (logged; retried next sweep).
    pub unreadable: u64,
}

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Every terminal escrow's wallet was visited.
    Complete(SweepSummary),
    /// The runner lease stopped accepting jobs part-way; nothing is published.
    Interrupted,
}

async fn run(engine: Engine) {
    if !engine.is_hosted() {
        return;
    }
    let interval = engine.context().settings().custody.terminal_check_interval;
    let mut reporting = false;
    loop {
        // Only the lease holder reports: the next holder's check is the current one.
        wait_for_lease(
            &engine,
            &mut reporting,
            metrics::clear_terminal_wallet_check,
        )
        .await;
        match sweep(&engine).await {
            Ok(Sweep::Complete(summary)) => {
                metrics::set_terminal_wallet_check(summary.with_balance, summary.total);
                reporting = true;
                tracing::debug!(
                    checked = summary.checked,
                    with_balance = summary.with_balance,
                    total_piconero = summary.total.as_atomic(),
                    unreadable = summary.unreadable,
                    "terminal escrow wallets checked"
                );
            }
            Ok(Sweep::Interrupted) => {
                tracing::debug!("terminal-wallet check left to the next runner lease holder");
            }
            Err(e) => {
                tracing::warn!(error = %e, "terminal-wallet check failed; retrying after the interval");
            }
        }
        pause_while_runner(&engine, interval).await;
    }
}

/// Returns once this server holds the runner lease, checking every escrow poll interval; a
/// periodic job that was `reporting` when the lease was lost runs `clear` (its gauges back to 0)
/// once and stops reporting.
pub(super) async fn wait_for_lease(engine: &Engine, reporting: &mut bool, clear: fn()) {
    let retry = engine.context().settings().poll_interval;
    while !engine.runner().accepts_jobs() {
        if std::mem::take(reporting) {
            clear();
        }
        tokio::time::sleep(retry).await;
    }
}

/// Sleeps `interval`, ending early when the runner lease is lost (checked every escrow poll
/// interval) so that a periodic job's gauges are cleared at once.
pub(super) async fn pause_while_runner(engine: &Engine, interval: std::time::Duration) {
    let retry = engine.context().settings().poll_interval;
    let next = tokio::time::Instant::now() + interval;
    while engine.runner().accepts_jobs() {
        let left = next.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(retry)).await;
    }
}

/// Reads every terminal escrow's co-signer wallet once.
///
/// # Errors
/// [`StepError::Db`] when the terminal escrows cannot be listed. A wallet that cannot be read is
/// logged and counted in [`SweepSummary::unreadable`], not an error.
pub async fn sweep(engine: &Engine) -> Result<Sweep, StepError> {
    let wallets = engine
        .context()
        .db()
        .run("select", "escrows", |conn| custody::terminal_wallets(conn))
        .await?;
    let mut summary = SweepSummary::default();
    for terminal in wallets {
        let Some(_job) = engine.runner().start_job() else {
            return Ok(Sweep::Interrupted);
        };
        let escrow_id = terminal.escrow_id;
        let role = terminal.wallet.role;
        match read_balance(engine, terminal).await {
            Ok(balance) => {
                summary.checked += 1;
                if balance.balance.is_zero() {
                    continue;
                }
                summary.with_balance += 1;
                summary.total = summary
                    .total
                    .checked_add(balance.balance)
                    .unwrap_or(Amount::MAX);
                tracing::warn!(
                    escrow_id,
                    role = role.as_str(),
                    balance_piconero = balance.balance.as_atomic(),
                    "a released or refunded escrow wallet still holds money"
                );
            }
            Err(StepError::Wallet(WorkerError::NotRunner { .. })) => {
                return Ok(Sweep::Interrupted);
            }
            Err(e) => {
                summary.unreadable += 1;
                tracing::warn!(escrow_id, role = role.as_str(), error = %e, "cannot read a terminal escrow wallet; retrying next check");
            }
        }
    }
    Ok(Sweep::Complete(summary))
}

/// `refresh` + `get_balance` of account 0 of the terminal escrow's wallet, at background
/// priority.
async fn read_balance(engine: &Engine, terminal: TerminalWallet) -> Result<Balance, StepError> {
    let (worker, wallet) = engine.wallet_job(&terminal.wallet)?;
    let read = |w: monero_rpc::WalletClient| async move {
        w.refresh(None).await?;
        w.get_balance(0).await
    };
    Ok(worker
        .run(&wallet, OpenMode::Existing, Priority::Background, read)
        .await?)
}
