//! The orchestrator loop: every poll interval (or at once when woken) it lists the escrows that
//! owe work, and drives each one (at most one task per escrow) through its
//! [`escrow_core::Action`]s until it waits for a person, the chain, or the next poll.
//!
//! Level-triggered: the work comes from the persisted escrow state alone, so after a restart
//! (including kill -9) the first pass picks every unfinished escrow up again, and so does a server
//! that has just taken the runner lease over from another.
//!
//! Passes run only while this server holds the runner lease ([`RunnerLease`]); each escrow's task
//! is a job of the lease. Once a release is asked no job starts, and a running one stops before
//! its next action, except the submission of a payout it has just signed.
//!
//! Lanes: multisig setups run one at a time in the setup lane, payouts one at a time in their own
//! payout lane, so a queue of setups never delays a payout; a setup starts no round while a payout
//! waits or runs, the wallet-rpc workers also serve payout calls before setup calls, and funding
//! polls last ([`Priority`](super::worker::Priority)).
//! Every [`ARCHIVE_EVERY`] passes the wallet archive runs ([`archive`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use escrow_core::{Action, Actor, Escrow, EscrowEvent, EscrowMode, Role};
use monero_rpc::{WalletClient, WalletName};
use tokio::task::JoinHandle;

use super::lease::{JobGuard, RunnerLease};
use super::participant::HostedParticipant;
use super::worker::{WalletRef, WalletWorker};
use super::{
    Applied, ApplyError, EscrowContext, Extra, Target, apply_event_with, archive, funding,
    noncustodial, noncustodial_payout, payout, setup,
};
use crate::db::escrows::steps::{self, StepKey};
use crate::db::escrows::{self, wallets, wallets::WalletRow};
use crate::db::{DbError, now_unix};

pub use super::step_error::StepError;

/// Late-funding watches run on every this many passes (they are rare and cheap to delay).
pub const LATE_WATCH_EVERY: u64 = 10;
/// How often a setup that yields to payouts looks again.
pub const PAYOUT_YIELD_CHECK: Duration = Duration::from_millis(100);
/// The wallet archive ([`archive::sweep`]) runs on every this many passes.
pub const ARCHIVE_EVERY: u64 = 10;
/// A funding poll waits while a setup or payout runs (it would make the wallet-rpc switch wallets
/// under it), unless the escrow was not polled for this long.
pub const POLL_OVERDUE: Duration = Duration::from_secs(30);

/// The wallet-rpc workers: the arbiter's always; buyer's and vendor's when configured (hosted
/// mode needs all three, a non-custodial escrow only the arbiter's).
#[derive(Debug, Clone)]
pub struct Workers {
    buyer: Option<WalletWorker>,
    vendor: Option<WalletWorker>,
    arbiter: WalletWorker,
}

impl Workers {
    /// One worker per role in `clients`, each gated by `lease`; `None` without an arbiter
    /// endpoint.
    fn spawn(clients: &[(Role, WalletClient)], lease: &RunnerLease) -> Option<Workers> {
        let worker = |role: Role| {
            clients
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, c)| WalletWorker::spawn(role, c.clone(), lease.clone()))
        };
        Some(Workers {
            arbiter: worker(Role::Arbiter)?,
            buyer: worker(Role::Buyer),
            vendor: worker(Role::Vendor),
        })
    }

    /// The worker of a signing role, if configured.
    pub fn for_role(&self, role: Actor) -> Option<&WalletWorker> {
        match role {
            Actor::Buyer => self.buyer.as_ref(),
            Actor::Vendor => self.vendor.as_ref(),
            Actor::Arbiter => Some(&self.arbiter),
            Actor::System => None,
        }
    }

    /// Whether all three roles have a worker (hosted escrows can run).
    pub fn all_roles(&self) -> bool {
        self.buyer.is_some() && self.vendor.is_some()
    }
}

/// Shared context of all escrow tasks.
#[derive(Debug, Clone)]
pub struct Engine {
    ctx: EscrowContext,
    workers: Option<Workers>,
    lease: RunnerLease,
    in_flight: Arc<Mutex<HashSet<i64>>>,
    /// One setup at a time: its wallets then stay open across its rounds (a wallet switch costs
    /// seconds), which beats interleaving several setups on the same wallet-rpcs.
    setup_lane: Arc<tokio::sync::Semaphore>,
    /// One payout at a time, beside the setup lane: a payout never waits for queued setups.
    payout_lane: Arc<tokio::sync::Semaphore>,
    /// Payouts waiting for or holding the payout lane.
    payouts: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether a wallet archive sweep is running (at most one at a time).
    archiving: Arc<std::sync::atomic::AtomicBool>,
    /// When each escrow's funding was last polled (funding polls yield to a running flow unless
    /// overdue).
    polled: Arc<Mutex<HashMap<i64, Instant>>>,
}

impl Engine {
    /// The database, hub and settings.
    pub fn context(&self) -> &EscrowContext {
        &self.ctx
    }

    /// The hosted participant of `role` for an escrow's wallets.
    ///
    /// # Errors
    /// [`StepError::NotConfigured`] without wallet-rpc endpoints; [`StepError::MissingWallet`]
    /// when the escrow has no wallet for the role; [`StepError::InvalidStored`] for an unusable
    /// stored wallet name.
    pub fn participant(
        &self,
        role: Actor,
        wallets: &[WalletRow],
    ) -> Result<HostedParticipant, StepError> {
        self.worker(role)?;
        let row = wallets
            .iter()
            .find(|w| w.role == role)
            .ok_or(StepError::MissingWallet { role })?;
        let (worker, wallet) = self.wallet_job(row)?;
        Ok(HostedParticipant::new(role, worker.clone(), wallet))
    }

    /// The wallet-rpc worker of a signing role.
    ///
    /// # Errors
    /// [`StepError::NotConfigured`] without wallet-rpc endpoints.
    pub fn worker(&self, role: Actor) -> Result<&WalletWorker, StepError> {
        self.workers
            .as_ref()
            .and_then(|w| w.for_role(role))
            .ok_or(StepError::NotConfigured { role })
    }

    /// The worker of a stored per-escrow wallet's role and the wallet to open there, for jobs
    /// run on that worker directly (e.g. the terminal-wallet check).
    ///
    /// # Errors
    /// As [`Engine::worker`]; [`StepError::InvalidStored`] for an unusable stored wallet name.
    pub fn wallet_job(&self, row: &WalletRow) -> Result<(&WalletWorker, WalletRef), StepError> {
        let worker = self.worker(row.role)?;
        Ok((worker, wallet_ref(row)?))
    }

    /// This server's runner lease (escrow work runs only while it is held).
    pub fn runner(&self) -> &RunnerLease {
        &self.lease
    }

    /// Whether all three hosted wallet-rpc workers exist.
    pub fn is_hosted(&self) -> bool {
        self.workers.as_ref().is_some_and(Workers::all_roles)
    }

    /// The wallets of the escrow's latest setup attempt (empty before setup).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn wallets(&self, escrow_id: i64) -> Result<Vec<WalletRow>, DbError> {
        self.ctx
            .db()
            .run("select", "escrow_wallets", move |conn| {
                wallets::latest(conn, escrow_id)
            })
            .await
    }

    /// Records the intent to run step `key` (before its wallet-rpc call).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn step_started(&self, key: StepKey) -> Result<(), DbError> {
        self.ctx
            .db()
            .run("insert", "escrow_steps", move |conn| {
                steps::started(conn, &key, now_unix())
            })
            .await
    }

    /// Records the result of step `key` (right after its wallet-rpc call).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn step_done(&self, key: StepKey, result: String) -> Result<(), DbError> {
        self.ctx
            .db()
            .run("update", "escrow_steps", move |conn| {
                steps::done(conn, &key, &result, now_unix())
            })
            .await
    }

    /// Applies `event` as the system (background work) to escrow `escrow_id`.
    ///
    /// # Errors
    /// As [`super::apply_event`].
    pub async fn apply_system(
        &self,
        escrow_id: i64,
        event: EscrowEvent,
    ) -> Result<Applied, ApplyError> {
        self.apply(escrow_id, event, None).await
    }

    /// [`Engine::apply_system`] with `extra` writes in the transition's transaction.
    ///
    /// # Errors
    /// As [`super::apply_event`].
    pub async fn apply_system_with(
        &self,
        escrow_id: i64,
        event: EscrowEvent,
        extra: Extra,
    ) -> Result<Applied, ApplyError> {
        self.apply(escrow_id, event, Some(extra)).await
    }

    async fn apply(
        &self,
        escrow_id: i64,
        event: EscrowEvent,
        extra: Option<Extra>,
    ) -> Result<Applied, ApplyError> {
        let target = Target::Escrow(escrow_id);
        apply_event_with(&self.ctx, target, Actor::System, None, event, extra).await
    }

    /// Claims escrow `escrow_id` for one task of this process (at most one at a time per escrow);
    /// `false` when another task has it. Give it back with [`Engine::unclaim`].
    pub fn claim(&self, escrow_id: i64) -> bool {
        self.in_flight
            .lock()
            .map(|mut set| set.insert(escrow_id))
            .unwrap_or(false)
    }

    /// Ends a [`Engine::claim`].
    pub fn unclaim(&self, escrow_id: i64) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(&escrow_id);
        }
    }

    /// Waits while a payout waits for or holds the payout lane, or until the runner lease stops
    /// taking jobs: a setup calls it before each round, so its wallet-rpc calls never sit between
    /// a payout's steps (at most the round already running overlaps a payout).
    pub async fn yield_to_payouts(&self) {
        while self.payouts.load(std::sync::atomic::Ordering::Acquire) > 0
            && self.lease.accepts_jobs()
        {
            tokio::time::sleep(PAYOUT_YIELD_CHECK).await;
        }
    }

    /// The wallet-rpc workers, if the arbiter's wallet-rpc is configured.
    pub fn workers(&self) -> Option<&Workers> {
        self.workers.as_ref()
    }
}

/// The wallet to open for a stored per-escrow wallet row.
///
/// # Errors
/// [`StepError::InvalidStored`] for an unusable stored wallet name.
pub fn wallet_ref(row: &WalletRow) -> Result<WalletRef, StepError> {
    let name = row
        .wallet_name
        .parse::<WalletName>()
        .map_err(|e| StepError::InvalidStored {
            what: "wallet name",
            detail: e.to_string(),
        })?;
    Ok(WalletRef {
        name,
        password: row.password.clone(),
    })
}

/// Starts the orchestrator: one worker per wallet-rpc endpoint in `wallets` (hosted mode needs
/// buyer, vendor and arbiter, non-custodial mode the arbiter) and the scheduling loop, both
/// working only while `lease` is held.
/// Abort the returned handle to stop it (in-flight steps resume after restart).
pub fn spawn(
    ctx: EscrowContext,
    wallets: &[(Role, WalletClient)],
    lease: RunnerLease,
) -> JoinHandle<()> {
    let workers = Workers::spawn(wallets, &lease);
    if let Some(workers) = &workers {
        // Set once per context; a second orchestrator on the same context keeps the first.
        let _ = ctx.arbiter.set(workers.arbiter.clone());
    }
    if !workers.as_ref().is_some_and(Workers::all_roles) {
        tracing::warn!(
            "hosted escrows wait: set MMKT_WALLET_RPC_BUYER_URL, MMKT_WALLET_RPC_VENDOR_URL and MMKT_WALLET_RPC_ARBITER_URL (non-custodial escrows need only the arbiter's)"
        );
    }
    let engine = Engine {
        ctx,
        workers,
        lease,
        in_flight: Arc::default(),
        setup_lane: Arc::new(tokio::sync::Semaphore::new(1)),
        payout_lane: Arc::new(tokio::sync::Semaphore::new(1)),
        payouts: Arc::default(),
        archiving: Arc::default(),
        polled: Arc::default(),
    };
    tokio::spawn(run(engine))
}

async fn run(engine: Engine) {
    // Stops with this loop (the handle is aborted on shutdown).
    let _terminal_check = super::terminal_wallets::spawn(engine.clone());
    let _wallet_collector = super::wallet_metrics::spawn(engine.clone());
    let poll = engine.ctx.settings().poll_interval;
    let mut lease_changes = engine.lease.subscribe();
    let mut pass: u64 = 0;
    loop {
        if engine.workers.is_some() && engine.lease.accepts_jobs() {
            let scope = if pass.is_multiple_of(LATE_WATCH_EVERY) {
                Scope::WithLateFunding
            } else {
                Scope::Pending
            };
            schedule(&engine, scope).await;
            if pass.is_multiple_of(ARCHIVE_EVERY) {
                spawn_archive(&engine);
            }
        }
        pass += 1;
        tokio::select! {
            () = engine.ctx.hub().woken() => {}
            () = tokio::time::sleep(poll) => {}
            // The lease was taken (pass at once) or a release was asked.
            _ = lease_changes.changed() => {}
        }
    }
}

/// Which escrows a pass looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Escrows the server must move forward.
    Pending,
    /// Those plus expired/cancelled escrows still watched for late payments.
    WithLateFunding,
}

async fn schedule(engine: &Engine, scope: Scope) {
    let grace = i64::try_from(engine.ctx.settings().late_funding_grace_secs).unwrap_or(i64::MAX);
    let since = now_unix().saturating_sub(grace);
    let ids = engine
        .ctx
        .db()
        .run("select", "escrows", move |conn| {
            let mut ids = escrows::pending_ids(conn)?;
            if scope == Scope::WithLateFunding {
                ids.extend(escrows::late_watch_ids(conn, since)?);
            }
            Ok(ids)
        })
        .await;
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list escrows needing work; retrying next poll");
            return;
        }
    };
    if let Ok(mut polled) = engine.polled.lock() {
        polled.retain(|id, _| ids.contains(id));
    }
    for id in ids {
        let Some(job) = engine.lease.start_job() else {
            return;
        };
        if !engine.claim(id) {
            continue;
        }
        let engine = engine.clone();
        tokio::spawn(async move {
            drive(&engine, id, &job).await;
            engine.unclaim(id);
        });
    }
}

/// Runs one wallet archive sweep as a job of the runner lease, unless one is still running.
fn spawn_archive(engine: &Engine) {
    use std::sync::atomic::Ordering;
    if engine.archiving.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(job) = engine.lease.start_job() else {
        engine.archiving.store(false, Ordering::Release);
        return;
    };
    let engine = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = archive::sweep(&engine).await {
            tracing::warn!(error = %e, "wallet archive sweep failed; retrying on a later pass");
        }
        drop(job);
        engine.archiving.store(false, Ordering::Release);
    });
}

/// Runs the escrow's actions until it waits (person, chain, next poll), a step fails, or the
/// runner lease no longer lets the next action start ([`lease_allows`]).
async fn drive(engine: &Engine, id: i64, _job: &JobGuard) {
    // Held across consecutive setup/payout actions of this escrow (e.g. prepare then submit), so
    // no other flow switches the wallets in between.
    let mut flow = None;
    // Bounded: setup, one funding poll, prepare, submit is the longest useful chain per pass.
    for _ in 0..6 {
        let escrow = match engine
            .ctx
            .db()
            .run("select", "escrows", move |conn| {
                escrows::load(conn, Target::Escrow(id))
            })
            .await
        {
            Ok(Some(escrow)) => escrow,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(escrow_id = id, error = %e, "cannot load escrow; retrying next poll");
                return;
            }
        };
        let Some(action) = escrow.next_action() else {
            return;
        };
        if !lease_allows(&engine.lease, &action) {
            tracing::debug!(
                escrow_id = id,
                action = action_label(&action),
                "escrow work left to the next runner lease holder"
            );
            return;
        }
        let label = action_label(&action);
        let result = run_action(engine, &escrow, action, &mut flow).await;
        match result {
            Ok(Progress::Continue) => continue,
            Ok(Progress::Wait) => return,
            Err(e) => {
                tracing::warn!(escrow_id = id, action = label, error = %e, "escrow step failed; retrying next poll");
                return;
            }
        }
    }
}

/// Whether the runner lease lets `action` start now: any action while the lease is held and no
/// release was asked; while a release waits, only the submission of a payout this server has
/// already signed (a signing round is never left between `sign_multisig` and `submit_multisig`).
fn lease_allows(lease: &RunnerLease, action: &Action) -> bool {
    lease.accepts_jobs() || (lease.is_held() && matches!(action, Action::SubmitPayout { .. }))
}

/// Whether to run the escrow's next action right away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The state moved on: run the next action now.
    Continue,
    /// Nothing more to do until the next poll.
    Wait,
}

/// The lane an action runs in, and its permit while held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Multisig setup.
    Setup,
    /// Payout preparation and submission.
    Payout,
}

/// The lane permit an escrow's task holds across consecutive actions of the same lane.
type Held = Option<(
    Lane,
    tokio::sync::OwnedSemaphorePermit,
    Option<PayoutDemand>,
)>;

/// A payout waiting for or holding the payout lane; setup rounds wait while any exists
/// ([`Engine::yield_to_payouts`]).
#[derive(Debug)]
struct PayoutDemand(Arc<std::sync::atomic::AtomicUsize>);

impl PayoutDemand {
    fn new(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        PayoutDemand(Arc::clone(count))
    }
}

impl Drop for PayoutDemand {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

async fn run_action(
    engine: &Engine,
    escrow: &Escrow,
    action: Action,
    flow: &mut Held,
) -> Result<Progress, StepError> {
    let lane = match action {
        Action::RunSetup => Some(Lane::Setup),
        Action::PreparePayout { .. } | Action::SubmitPayout { .. } => Some(Lane::Payout),
        Action::WatchFunding { .. } | Action::WatchLateFunding { .. } => None,
    };
    match lane {
        Some(lane) => {
            if flow.as_ref().is_none_or(|(held, _, _)| *held != lane) {
                *flow = None;
                // Counted while it waits for the lane too, so setups yield at once.
                let demand = (lane == Lane::Payout).then(|| PayoutDemand::new(&engine.payouts));
                let semaphore = match lane {
                    Lane::Setup => &engine.setup_lane,
                    Lane::Payout => &engine.payout_lane,
                };
                let permit = Arc::clone(semaphore)
                    .acquire_owned()
                    .await
                    .map_err(|_| StepError::Stopping)?;
                *flow = Some((lane, permit, demand));
                // A release may have been asked while this flow waited for its lane.
                if !lease_allows(&engine.lease, &action) {
                    return Ok(Progress::Wait);
                }
            }
        }
        None => {
            *flow = None;
            let id = escrow.id().get();
            let Ok(mut polled) = engine.polled.lock() else {
                return Ok(Progress::Wait);
            };
            let overdue = polled.get(&id).is_none_or(|t| t.elapsed() >= POLL_OVERDUE);
            let busy = engine.setup_lane.available_permits() == 0
                || engine.payout_lane.available_permits() == 0;
            if busy && !overdue {
                return Ok(Progress::Wait);
            }
            polled.insert(id, Instant::now());
        }
    }
    match action {
        Action::RunSetup if escrow.mode() == EscrowMode::NonCustodial => {
            noncustodial::run_setup(engine, escrow).await
        }
        Action::RunSetup => setup::run(engine, escrow).await,
        Action::PreparePayout { plan } | Action::SubmitPayout { plan, .. }
            if escrow.mode() == EscrowMode::NonCustodial =>
        {
            noncustodial_payout::run(engine, escrow, &plan).await
        }
        Action::WatchFunding { .. } => funding::poll(engine, escrow).await,
        Action::WatchLateFunding { .. } => funding::poll(engine, escrow).await,
        Action::PreparePayout { plan } => payout::prepare(engine, escrow, &plan).await,
        Action::SubmitPayout { plan, prepared } => {
            payout::submit(engine, escrow, &plan, &prepared).await
        }
    }
}

fn action_label(action: &Action) -> &'static str {
    match action {
        Action::RunSetup => "run_setup",
        Action::WatchFunding { .. } => "watch_funding",
        Action::PreparePayout { .. } => "prepare_payout",
        Action::SubmitPayout { .. } => "submit_payout",
        Action::WatchLateFunding { .. } => "watch_late_funding",
    }
}
