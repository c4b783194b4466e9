//! One worker task per wallet-rpc endpoint: a wallet-rpc holds one open wallet at a time and
//! opening one costs seconds, so every call for a role's wallet-rpc goes through its worker, which
//! serializes them, keeps the current wallet open and serves queued jobs for the open wallet first
//! (batching), instead of switching wallets for each call. It starts a job only while this server
//! holds the escrow runner lease ([`RunnerLease::is_held`]); otherwise the job fails with
//! [`WorkerError::NotRunner`] and no wallet-rpc call is made.
//!
//! A wallet-rpc answers one request at a time, and a call the client gave up on keeps running
//! there: the next request would queue behind it while its own timeout runs, time out in turn
//! under load, and so on. Opening a wallet therefore gets a long timeout ([`OPEN_TIMEOUT`]),
//! and after any call that timed out the worker waits for the wallet-rpc to answer
//! `get_version` ([`DRAIN_TIMEOUT`]) before it sends the next job's first call.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use escrow_core::Role;
use monero_rpc::{RpcError, WalletClient, WalletName, WalletPassword};
use tokio::sync::{mpsc, oneshot};

use super::lease::RunnerLease;

/// Timeout of `open_wallet` and `create_wallet` in the worker: 180 s. They take 2-5 s on an
/// idle machine and over 30 s (the client's default timeout) on a loaded one; giving up on one
/// gains nothing, since the wallet-rpc finishes it before it reads the next request.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(180);

/// How long the worker waits, after a call that timed out, for the wallet-rpc to answer
/// `get_version` (that is, to finish the call it was given up on) before the next job: 600 s.
/// Past it the next job goes ahead anyway.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// How urgent a job is. The worker serves [`Priority::Payout`] jobs first, then
/// [`Priority::Setup`], [`Priority::Watch`], then [`Priority::Background`]; within one priority
/// the open wallet's jobs before others, then the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A step of a running payout: money owed to a party, never delayed by setups.
    Payout,
    /// A step of a running multisig setup (its other steps follow soon on the same wallet).
    Setup,
    /// A periodic read (funding watch, wallet archive check), fine to delay.
    Watch,
    /// A periodic check of finished escrows (the terminal-wallet check), served after every
    /// other job.
    Background,
}

/// What becomes of the wallet after a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterJob {
    /// The wallet stays open for the next job.
    KeepOpen,
    /// The job closed the wallet (`close_wallet`): the worker opens it again before the next one.
    Closed,
}

/// A per-escrow wallet file on one wallet-rpc: name and password (Debug redacts the password).
#[derive(Clone, Debug)]
pub struct WalletRef {
    /// File name in the wallet-rpc's `--wallet-dir`.
    pub name: WalletName,
    /// Its password.
    pub password: WalletPassword,
}

/// How the worker gets the wallet open before a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `open_wallet`; a missing file is an error.
    Existing,
    /// `create_wallet`, or `open_wallet` if the file already exists (a retried creation).
    CreateIfMissing,
}

/// Why a worker call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The wallet-rpc call (or opening the wallet) failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The worker task is gone (server shutting down).
    #[error("the {role} wallet worker stopped; the server is shutting down")]
    Stopped {
        /// The worker's role.
        role: Role,
    },
    /// This server does not hold the escrow runner lease (any more): the call was not made.
    #[error(
        "no {role} wallet-rpc call made: this server does not hold the escrow runner lease (the holder runs escrow jobs)"
    )]
    NotRunner {
        /// The worker's role.
        role: Role,
    },
}

type JobFuture = Pin<Box<dyn Future<Output = JobEnd> + Send>>;
type JobFn = Box<dyn FnOnce(Result<WalletClient, WorkerError>) -> JobFuture + Send>;

/// Whether the wallet is still known to be open after a job.
enum JobEnd {
    StillOpen,
    MaybeClosed,
    /// A call got no answer in time: the wallet-rpc may still be running it.
    TimedOut,
}

struct Job {
    wallet: WalletRef,
    mode: OpenMode,
    priority: Priority,
    after: AfterJob,
    run: JobFn,
}

/// Handle on one endpoint's worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WalletWorker {
    role: Role,
    jobs: mpsc::UnboundedSender<Job>,
}

impl WalletWorker {
    /// Spawns the worker task for `client`, the wallet-rpc of `role`, running jobs only while
    /// `lease` is held. The task ends when every handle is dropped.
    pub fn spawn(role: Role, client: WalletClient, lease: RunnerLease) -> WalletWorker {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_worker(role, client, lease, rx));
        WalletWorker { role, jobs }
    }

    /// The role whose wallet-rpc this worker drives.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Runs `f` with `wallet` open on this endpoint, after the jobs queued before it (jobs for the
    /// wallet that is already open go first). `f` gets the endpoint's client.
    ///
    /// # Errors
    /// [`WorkerError::Rpc`] when opening/creating the wallet or `f` fails;
    /// [`WorkerError::NotRunner`] when the runner lease is not held as the job's turn comes;
    /// [`WorkerError::Stopped`] when the worker is gone.
    pub async fn run<T, F, Fut>(
        &self,
        wallet: &WalletRef,
        mode: OpenMode,
        priority: Priority,
        f: F,
    ) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        F: FnOnce(WalletClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
    {
        self.submit(wallet, (mode, priority, AfterJob::KeepOpen), f)
            .await
    }

    /// [`WalletWorker::run`] for a job that ends with the wallet closed (`f` calls
    /// `close_wallet`): no other job touches the wallet between its opening and the end of `f`,
    /// so `f` may move the closed wallet's files.
    ///
    /// # Errors
    /// As [`WalletWorker::run`].
    pub async fn run_closing<T: Send + 'static, Fut>(
        &self,
        wallet: &WalletRef,
        priority: Priority,
        f: impl FnOnce(WalletClient) -> Fut + Send + 'static,
    ) -> Result<T, WorkerError>
    where
        Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
    {
        let how = (OpenMode::Existing, priority, AfterJob::Closed);
        self.submit(wallet, how, f).await
    }

    /// Queues `f` as a job opening `wallet` in `mode`, served by `priority`, leaving the wallet
    /// as `after` says, and waits for its result.
    async fn submit<
        T: Send + 'static,
        Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
    >(
        &self,
        wallet: &WalletRef,
        (mode, priority, after): (OpenMode, Priority, AfterJob),
        f: impl FnOnce(WalletClient) -> Fut + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (tx, rx) = oneshot::channel();
        let run: JobFn = Box::new(move |client| {
            Box::pin(async move {
                let result = match client {
                    Ok(client) => f(client).await.map_err(WorkerError::Rpc),
                    Err(e) => Err(e),
                };
                let end = match &result {
                    Err(WorkerError::Rpc(RpcError::Timeout { .. })) => JobEnd::TimedOut,
                    Err(WorkerError::Rpc(
                        RpcError::WalletNotOpen { .. } | RpcError::Transport { .. },
                    )) => JobEnd::MaybeClosed,
                    _ => JobEnd::StillOpen,
                };
                let _ = tx.send(result);
                end
            })
        });
        let stopped = WorkerError::Stopped { role: self.role };
        self.jobs
            .send(Job {
                wallet: wallet.clone(),
                mode,
                priority,
                after,
                run,
            })
            .map_err(|_| WorkerError::Stopped { role: self.role })?;
        rx.await.map_err(|_| stopped)?
    }
}

async fn run_worker(
    role: Role,
    client: WalletClient,
    lease: RunnerLease,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut open: Option<WalletName> = None;
    let mut tenure = 0;
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(job) => queue.push_back(job),
                None => return,
            }
        }
        while let Ok(job) = rx.try_recv() {
            queue.push_back(job);
        }
        let index = queue
            .iter()
            .enumerate()
            .min_by_key(|(i, j)| (j.priority, open.as_ref() != Some(&j.wallet.name), *i))
            .map_or(0, |(i, _)| i);
        let Some(job) = queue.remove(index) else {
            continue;
        };
        let Job {
            wallet,
            mode,
            run,
            after,
            ..
        } = job;
        // Checked as each job's turn comes: a job queued before a lost lease makes no call.
        let ready = match lease.held_tenure() {
            Some(held) => {
                // Another server may have opened other wallets while this one did not hold it.
                if held != tenure {
                    tenure = held;
                    open = None;
                }
                ensure_open(role, &client, &mut open, &wallet, mode)
                    .await
                    .map_err(WorkerError::Rpc)
            }
            None => Err(WorkerError::NotRunner { role }),
        };
        let end = run(ready.map(|()| client.clone())).await;
        if !matches!(end, JobEnd::StillOpen) || after == AfterJob::Closed {
            open = None;
        }
        if matches!(end, JobEnd::TimedOut) {
            drain(role, &client).await;
        }
    }
}

/// Waits until the wallet-rpc answers `get_version`, which it does only once it has finished
/// the call that timed out (at most [`DRAIN_TIMEOUT`]).
async fn drain(role: Role, client: &WalletClient) {
    let started = Instant::now();
    let answer = client
        .clone()
        .with_timeout(DRAIN_TIMEOUT)
        .get_version()
        .await;
    let waited_ms = started.elapsed().as_millis() as u64;
    match answer {
        Ok(_) => {
            tracing::warn!(
                role = role.as_str(),
                waited_ms,
                "a wallet-rpc call timed out; the wallet-rpc has finished it, the next job goes ahead"
            )
        }
        Err(e) => {
            tracing::warn!(role = role.as_str(), waited_ms, error = %e, "a wallet-rpc call timed out and the wallet-rpc still does not answer; the next job goes ahead")
        }
    }
}

async fn ensure_open(
    role: Role,
    client: &WalletClient,
    open: &mut Option<WalletName>,
    wallet: &WalletRef,
    mode: OpenMode,
) -> Result<(), RpcError> {
    if open.as_ref() == Some(&wallet.name) {
        return Ok(());
    }
    *open = None;
    let started = Instant::now();
    let client = client.clone().with_timeout(OPEN_TIMEOUT);
    let result = match mode {
        OpenMode::Existing => client.open_wallet(&wallet.name, &wallet.password).await,
        OpenMode::CreateIfMissing => {
            match client.create_wallet(&wallet.name, &wallet.password).await {
                Err(RpcError::WalletAlreadyExists { .. }) => {
                    client.open_wallet(&wallet.name, &wallet.password).await
                }
                other => other,
            }
        }
    };
    match &result {
        Ok(()) => {
            tracing::debug!(role = role.as_str(), wallet = %wallet.name, ms = started.elapsed().as_millis() as u64, "wallet opened");
            *open = Some(wallet.name.clone());
        }
        Err(e) => {
            tracing::warn!(role = role.as_str(), wallet = %wallet.name, error = %e, "cannot open escrow wallet")
        }
    }
    result
}
