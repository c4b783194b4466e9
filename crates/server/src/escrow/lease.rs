//! The escrow runner lease as this process sees it: a keeper task that takes, renews and releases
//! the `runner_lease` row ([`crate::db::lease`]), and the two gates of the orchestrator: may an
//! escrow job start ([`RunnerLease::start_job`]), may a wallet-rpc call start
//! ([`RunnerLease::is_held`]).
//!
//! Several servers may share one database file (blue/green deploy); only the lease holder runs
//! escrow jobs. The keeper renews every third of the lease lifetime, and this process counts the
//! lease as held for two thirds of it after the last successful write: it stops calling wallet-rpc
//! a third of a lifetime before the row expires and another server may take it.
//!
//! Handover: [`RunnerLease::release`] (`POST /ops/runner/release`, SIGTERM) stops new jobs, lets the
//! jobs in flight finish (renewing meanwhile; a signed payout is still submitted), then releases the
//! row and parks: this process takes the lease again only after [`RunnerLease::acquire`]
//! (`POST /ops/runner/acquire`) or a restart. See docs/ESCROW.md, "Runner lease".

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use crate::config::RunnerSettings;
use crate::db::Db;
use crate::db::lease::{self, LeaseOutcome, LeaseWrite, ReleaseOutcome};
use crate::metrics;

/// How long `POST /ops/runner/release` waits for the jobs in flight before answering 202.
pub const RELEASE_WAIT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd server waits for its jobs in flight before it exits anyway (under the
/// compose file's 30 s `stop_grace_period`; the persisted steps make an exit mid-job safe, and the
/// unreleased lease then expires after its lifetime).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(20);
/// How long [`RunnerLease::acquire`] waits for the keeper's attempt (the busy timeout is 5 s).
const ACQUIRE_WAIT: Duration = Duration::from_secs(10);

/// Whether this server can run escrow jobs at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosting {
    /// The arbiter's wallet-rpc endpoint is configured (with buyer's and vendor's, hosted
    /// escrows run too; without them only non-custodial ones): a candidate for the lease.
    Hosted,
    /// No arbiter wallet-rpc endpoint: the server never takes the lease (it would keep the real
    /// runner out while doing nothing).
    NoWallets,
}

/// What this process wants to do with the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// Take it whenever it is free, renew it while held.
    Hold,
    /// Give it up once the jobs in flight are done (renewing it meanwhile, never taking it).
    Release,
    /// Released: take it again only when told or after a restart.
    Parked,
    /// [`Hosting::NoWallets`]: never take it.
    Disabled,
}

/// This process's part in escrow work, as `/ready` and the ops routes report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunnerState {
    /// Holds the lease and runs escrow jobs.
    Running,
    /// Wants the lease, which another server holds (or which it could not write yet); takes it
    /// as soon as it is released or expires.
    Standby,
    /// Release asked: finishing the jobs in flight, then releasing.
    Draining,
    /// Released: takes the lease again only after `POST /ops/runner/acquire` or a restart.
    Released,
    /// Not all three wallet-rpc endpoints are configured: never takes the lease.
    Disabled,
}

/// The runner's status: the `escrow_runner` field of `/ready` and the body of the ops routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RunnerStatus {
    /// This process's holder id (`MMKT_RUNNER_ID`, else `<hostname>-<uuid>`).
    pub runner_id: String,
    /// Whether this process holds the lease now.
    pub lease_held: bool,
    /// What it does about the lease.
    pub state: RunnerState,
    /// Escrow jobs (one escrow's chain of steps each) running in this process now.
    pub jobs_in_flight: usize,
    /// The live holder seen at the last lease write (this process or another), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// Why [`RunnerLease::acquire`] did not get the lease. Messages name no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerRefusal {
    /// Another server holds a live lease; this one now waits for it (state `standby`).
    #[error(
        "the escrow runner lease is held by {holder}; release it there (POST /ops/runner/release) or let it expire: this server takes it as soon as it is free"
    )]
    HeldByOther {
        /// The other holder's id.
        holder: String,
    },
    /// This server lacks a wallet-rpc endpoint and never runs escrow jobs.
    #[error(
        "this server cannot run escrow jobs: set MMKT_WALLET_RPC_BUYER_URL, MMKT_WALLET_RPC_VENDOR_URL and MMKT_WALLET_RPC_ARBITER_URL"
    )]
    Disabled,
    /// The lease row could not be written (database busy or failing); the keeper keeps trying.
    #[error(
        "the escrow runner lease could not be written; this server keeps trying, check the database"
    )]
    Unavailable,
}

#[derive(Debug)]
struct State {
    intent: Intent,
    /// Until when this process counts the lease as held (monotonic clock).
    held_until: Option<Instant>,
    jobs: usize,
    holder: Option<String>,
    /// How many times this process has taken the lease (not held -> held).
    tenure: u64,
    /// Requests (acquire) numbered, and the last number a keeper step has served.
    requested: u64,
    served: u64,
}

impl State {
    fn is_held(&self) -> bool {
        self.held_until.is_some_and(|t| t > Instant::now())
    }

    fn accepts_jobs(&self) -> bool {
        self.intent == Intent::Hold && self.is_held()
    }
}

#[derive(Debug)]
struct Inner {
    id: String,
    ttl: Duration,
    db: Db,
    state: Mutex<State>,
    /// Wakes the keeper before its next renewal.
    poke: Notify,
    /// Bumped after every keeper step and every request (waiters re-check the state).
    steps: watch::Sender<u64>,
    /// Whether new jobs may start; changes wake the orchestrator loop.
    accepting: watch::Sender<bool>,
}

/// Handle on this process's runner lease. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunnerLease {
    inner: Arc<Inner>,
}

/// One escrow job in flight; dropping it ends the job (a pending release may then proceed).
#[derive(Debug)]
pub struct JobGuard {
    lease: RunnerLease,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let mut s = self.lease.lock();
        s.jobs = s.jobs.saturating_sub(1);
        if s.intent == Intent::Release && s.jobs == 0 {
            self.lease.inner.poke.notify_one();
        }
    }
}

/// `MMKT_RUNNER_ID` when set, else `<hostname>-<random UUID>` (hostname cut to the allowed
/// characters and 64 of them).
pub fn runner_id(configured: Option<&str>) -> String {
    if let Some(id) = configured {
        return id.to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    let host = if host.is_empty() { "host".into() } else { host };
    format!("{host}-{}", uuid::Uuid::new_v4().simple())
}

impl RunnerLease {
    /// The lease of this process on `db`, not yet held: call [`RunnerLease::spawn_keeper`] to take
    /// part. With [`Hosting::NoWallets`] it never takes the lease.
    pub fn new(db: Db, settings: &RunnerSettings, hosting: Hosting) -> Self {
        let intent = match hosting {
            Hosting::Hosted => Intent::Hold,
            Hosting::NoWallets => Intent::Disabled,
        };
        let (steps, _) = watch::channel(0);
        let (accepting, _) = watch::channel(false);
        RunnerLease {
            inner: Arc::new(Inner {
                id: runner_id(settings.id.as_deref()),
                ttl: settings.lease_ttl,
                db,
                state: Mutex::new(State {
                    intent,
                    held_until: None,
                    jobs: 0,
                    holder: None,
                    tenure: 0,
                    requested: 0,
                    served: 0,
                }),
                poke: Notify::new(),
                steps,
                accepting,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent under a panic (plain field writes): use it anyway.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This process's holder id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether this process holds the lease now: wallet-rpc calls of escrow jobs may start only
    /// then (jobs in flight finish while a release waits).
    pub fn is_held(&self) -> bool {
        self.lock().is_held()
    }

    /// While the lease is held: how many times this process has taken it so far (1 for its
    /// first tenure). Between two tenures another server may have switched the wallets open on
    /// the shared wallet-rpcs, so a worker forgets which wallet is open when the number changes.
    pub fn held_tenure(&self) -> Option<u64> {
        let s = self.lock();
        s.is_held().then_some(s.tenure)
    }

    /// Whether a new escrow job may start: the lease is held and no release was asked.
    pub fn accepts_jobs(&self) -> bool {
        self.lock().accepts_jobs()
    }

    /// Registers a new escrow job, if [`RunnerLease::accepts_jobs`]; a release waits until every
    /// returned guard is dropped.
    pub fn start_job(&self) -> Option<JobGuard> {
        let mut s = self.lock();
        if !s.accepts_jobs() {
            return None;
        }
        s.jobs += 1;
        Some(JobGuard {
            lease: self.clone(),
        })
    }

    /// A receiver that changes whenever [`RunnerLease::accepts_jobs`] flips (as seen by the keeper).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.inner.accepting.subscribe()
    }

    /// The current status.
    pub fn status(&self) -> RunnerStatus {
        let s = self.lock();
        let held = s.is_held();
        let state = match s.intent {
            Intent::Hold if held => RunnerState::Running,
            Intent::Hold => RunnerState::Standby,
            Intent::Release => RunnerState::Draining,
            Intent::Parked => RunnerState::Released,
            Intent::Disabled => RunnerState::Disabled,
        };
        RunnerStatus {
            runner_id: self.inner.id.clone(),
            lease_held: held,
            state,
            jobs_in_flight: s.jobs,
            holder: s.holder.clone(),
        }
    }

    /// Asks to give the lease up: no new job starts; once the jobs in flight are done the keeper
    /// releases the row and parks. Does nothing when disabled, parked or already releasing.
    pub fn request_release(&self) {
        {
            let mut s = self.lock();
            if s.intent != Intent::Hold {
                return;
            }
            s.intent = Intent::Release;
        }
        tracing::info!(
            runner_id = %self.inner.id,
            "escrow runner lease release requested; finishing the escrow jobs in flight"
        );
        self.publish();
        self.inner.poke.notify_one();
    }

    /// [`RunnerLease::request_release`], then waits up to `wait` for the release to be done.
    /// Returns the status then (state `draining` if the jobs in flight are still running).
    pub async fn release(&self, wait: Duration) -> RunnerStatus {
        self.request_release();
        let mut steps = self.inner.steps.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        while self.lock().intent == Intent::Release {
            let changed = tokio::time::timeout_at(deadline, steps.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                break;
            }
        }
        self.status()
    }

    /// Makes this process a candidate for the lease again (after a release, or to cancel one in
    /// progress) and waits for the keeper's attempt to take it.
    ///
    /// # Errors
    /// [`RunnerRefusal::HeldByOther`] (this process stays a standby and takes the lease once it
    /// is free), [`RunnerRefusal::Disabled`], [`RunnerRefusal::Unavailable`].
    pub async fn acquire(&self) -> Result<RunnerStatus, RunnerRefusal> {
        let ticket = {
            let mut s = self.lock();
            if s.intent == Intent::Disabled {
                return Err(RunnerRefusal::Disabled);
            }
            s.intent = Intent::Hold;
            s.requested += 1;
            s.requested
        };
        tracing::info!(runner_id = %self.inner.id, "escrow runner lease acquisition requested");
        self.publish();
        self.inner.poke.notify_one();
        let mut steps = self.inner.steps.subscribe();
        let deadline = tokio::time::Instant::now() + ACQUIRE_WAIT;
        while self.lock().served < ticket {
            let changed = tokio::time::timeout_at(deadline, steps.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                break;
            }
        }
        let status = self.status();
        if status.lease_held {
            return Ok(status);
        }
        match status.holder {
            Some(holder) if holder != self.inner.id => Err(RunnerRefusal::HeldByOther { holder }),
            _ => Err(RunnerRefusal::Unavailable),
        }
    }

    /// Starts the keeper: one lease write at once, then every third of the lease lifetime (or at
    /// once when a release or acquisition is asked). Abort the handle to stop it.
    pub fn spawn_keeper(&self) -> JoinHandle<()> {
        let lease = self.clone();
        tracing::info!(
            runner_id = %lease.inner.id,
            ttl_secs = lease.inner.ttl.as_secs(),
            "escrow runner lease keeper started"
        );
        tokio::spawn(async move {
            let every = lease.inner.ttl / 3;
            loop {
                lease.step().await;
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = lease.inner.poke.notified() => {}
                }
            }
        })
    }

    /// One keeper step, by intent: take or renew (hold), renew or release (release), nothing
    /// (parked, disabled).
    async fn step(&self) {
        let (intent, ticket, drained) = {
            let mut s = self.lock();
            let drained = s.intent == Intent::Release && s.jobs == 0;
            if drained {
                // No wallet-rpc call starts from here on (no job can start while releasing).
                s.held_until = None;
            }
            (s.intent, s.requested, drained)
        };
        match intent {
            Intent::Hold => self.write(LeaseWrite::Acquire).await,
            Intent::Release if drained => self.give_up().await,
            Intent::Release => self.write(LeaseWrite::Renew).await,
            Intent::Parked | Intent::Disabled => {}
        }
        self.lock().served = ticket;
        self.publish();
    }

    /// Takes or renews the row and records the outcome.
    async fn write(&self, write: LeaseWrite) {
        let id = self.inner.id.clone();
        let ttl_ms = i64::try_from(self.inner.ttl.as_millis()).unwrap_or(i64::MAX);
        let started = Instant::now();
        let now_ms = lease::now_unix_ms();
        let result = self
            .inner
            .db
            .run("upsert", "runner_lease", move |conn| {
                lease::write(conn, write, &id, now_ms, ttl_ms)
            })
            .await;
        let mut s = self.lock();
        match result {
            Ok(LeaseOutcome::Held(row)) => {
                if !s.is_held() {
                    s.tenure += 1;
                    tracing::info!(runner_id = %row.holder, generation = row.generation, "escrow runner lease acquired; running escrow jobs");
                }
                // Held locally for two thirds of the lifetime, counted from before the write.
                s.held_until = Some(started + self.inner.ttl * 2 / 3);
                s.holder = Some(row.holder);
            }
            Ok(LeaseOutcome::NotHeld(row)) => {
                let live = row.filter(|r| r.is_live(now_ms)).map(|r| r.holder);
                if s.is_held() {
                    tracing::warn!(runner_id = %self.inner.id, holder = ?live, "escrow runner lease lost; escrow jobs stop");
                }
                s.held_until = None;
                s.holder = live;
            }
            Err(e) => {
                // The local hold lapses by itself if this keeps failing.
                tracing::warn!(error = %e, "cannot write the escrow runner lease; retrying");
            }
        }
    }

    /// Releases the row (the jobs are done) and parks, unless an acquisition was asked meanwhile.
    async fn give_up(&self) {
        let id = self.inner.id.clone();
        let now_ms = lease::now_unix_ms();
        let result = self
            .inner
            .db
            .run("update", "runner_lease", move |conn| {
                lease::release(conn, &id, now_ms)
            })
            .await;
        match result {
            Ok(outcome) => {
                let mut s = self.lock();
                if outcome == ReleaseOutcome::Released {
                    s.holder = None;
                }
                if s.intent == Intent::Release {
                    s.intent = Intent::Parked;
                }
                tracing::info!(runner_id = %self.inner.id, "escrow runner lease released; this server takes it again only when told (POST /ops/runner/acquire) or restarted");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot release the escrow runner lease; retrying (it expires by itself otherwise)");
            }
        }
    }

    /// Publishes the state: the metric, the orchestrator's wake-up, the waiters' re-check.
    fn publish(&self) {
        let (held, accepting) = {
            let s = self.lock();
            (s.is_held(), s.accepts_jobs())
        };
        metrics::set_runner_lease_held(held);
        self.inner.accepting.send_if_modified(|v| {
            let changed = *v != accepting;
            *v = accepting;
            changed
        });
        self.inner.steps.send_modify(|n| *n = n.wrapping_add(1));
    }
}
