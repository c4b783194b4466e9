//! The orchestrator loop: every poll interval (or at once when woken) it lists the escrows that
//! owe work, and drives each one (at most one task per escrow) through its
//! [`escrow_core::Action`]s until it waits for a person, the chain, or the next poll.
//!
//! Level-triggered: the work comes from the persisted escrow state alone, so after a restart
//! (including kill -9) the first pass picks every unfinished escrow up again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use escrow_core::{Action, Actor, Escrow};
use monero_rpc::{WalletName, WalletPassword};
use tokio::task::JoinHandle;

use super::participant::HostedParticipant;
use super::store::{self, WalletRow};
use super::worker::{WalletRef, WalletWorker, WorkerError};
use super::{ApplyError, funding, payout, setup};
use crate::db::{DbError, now_unix};
use crate::state::AppState;

/// Late-funding watches run on every this many passes (they are rare and cheap to delay).
pub const LATE_WATCH_EVERY: u64 = 10;
/// A funding poll waits while a setup or payout runs (it would make the wallet-rpc switch wallets
/// under it), unless the escrow was not polled for this long.
pub const POLL_OVERDUE: Duration = Duration::from_secs(30);

/// Why one step of an escrow's work failed; the escrow is retried on a later pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// A wallet-rpc call failed.
    #[error(transparent)]
    Wallet(#[from] WorkerError),
    /// Storage failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state machine refused the outcome (e.g. a concurrent decision); re-read and retry.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A wallet answered something the protocol does not allow (e.g. signers disagree).
    #[error("{0}")]
    Protocol(String),
    /// The server has no wallet-rpc configured for a role (hosted mode needs all three).
    #[error(
        "no wallet-rpc configured for the {0} role (MMKT_WALLET_RPC_{1}_URL); escrow work waits"
    )]
    NotConfigured(&'static str, &'static str),
}

/// The three wallet-rpc workers of hosted mode.
#[derive(Debug, Clone)]
pub struct Workers {
    buyer: WalletWorker,
    vendor: WalletWorker,
    arbiter: WalletWorker,
}

impl Workers {
    /// The worker of a signing role.
    pub fn for_role(&self, role: Actor) -> Option<&WalletWorker> {
        match role {
            Actor::Buyer => Some(&self.buyer),
            Actor::Vendor => Some(&self.vendor),
            Actor::Arbiter => Some(&self.arbiter),
            Actor::System => None,
        }
    }
}

/// Shared context of all escrow tasks.
#[derive(Debug, Clone)]
pub struct Engine {
    state: AppState,
    workers: Option<Workers>,
    in_flight: Arc<Mutex<HashSet<i64>>>,
    /// One setup or payout at a time: its wallets then stay open across its rounds (a wallet
    /// switch costs seconds), which beats interleaving several flows on the same wallet-rpcs.
    flow: Arc<tokio::sync::Semaphore>,
    /// When each escrow's funding was last polled (funding polls yield to a running flow unless
    /// overdue).
    polled: Arc<Mutex<HashMap<i64, Instant>>>,
}

impl Engine {
    /// The application state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The hosted participant of `role` for an escrow's wallets.
    ///
    /// # Errors
    /// [`StepError::NotConfigured`] without wallet-rpc endpoints; [`StepError::Protocol`] when the
    /// escrow has no wallet for the role.
    pub fn participant(
        &self,
        role: Actor,
        wallets: &[WalletRow],
    ) -> Result<HostedParticipant, StepError> {
        let label = role.as_str();
        let worker = self
            .workers
            .as_ref()
            .and_then(|w| w.for_role(role))
            .ok_or(StepError::NotConfigured(label, env_role(role)))?;
        let row = wallets.iter().find(|w| w.role == label).ok_or_else(|| {
            StepError::Protocol(format!("escrow has no {label} wallet; setup did not run"))
        })?;
        let name: WalletName = row
            .wallet_name
            .parse()
            .map_err(|e| StepError::Protocol(format!("stored wallet name is invalid: {e}")))?;
        let wallet = WalletRef {
            name,
            password: WalletPassword::new(row.password.clone()),
        };
        Ok(HostedParticipant::new(role, worker.clone(), wallet))
    }

    /// Whether hosted wallet-rpc workers exist.
    pub fn is_hosted(&self) -> bool {
        self.workers.is_some()
    }
}

fn env_role(role: Actor) -> &'static str {
    match role {
        Actor::Buyer => "BUYER",
        Actor::Vendor => "VENDOR",
        Actor::Arbiter | Actor::System => "ARBITER",
    }
}

/// Starts the orchestrator for `state`: one worker per configured wallet-rpc endpoint and the
/// scheduling loop. Abort the returned handle to stop it (in-flight steps resume after restart).
pub fn spawn(state: AppState) -> JoinHandle<()> {
    let client = |role: &str| state.wallet(role).cloned();
    let workers = match (client("buyer"), client("vendor"), client("arbiter")) {
        (Some(b), Some(v), Some(a)) => Some(Workers {
            buyer: WalletWorker::spawn("buyer", b),
            vendor: WalletWorker::spawn("vendor", v),
            arbiter: WalletWorker::spawn("arbiter", a),
        }),
        _ => {
            tracing::warn!(
                "escrow orchestration is idle: set MMKT_WALLET_RPC_BUYER_URL, MMKT_WALLET_RPC_VENDOR_URL and MMKT_WALLET_RPC_ARBITER_URL"
            );
            None
        }
    };
    let engine = Engine {
        state,
        workers,
        in_flight: Arc::default(),
        flow: Arc::new(tokio::sync::Semaphore::new(1)),
        polled: Arc::default(),
    };
    tokio::spawn(run(engine))
}

async fn run(engine: Engine) {
    let poll = engine.state.config().escrow.poll_interval;
    let mut pass: u64 = 0;
    loop {
        if engine.workers.is_some() {
            let scope = if pass.is_multiple_of(LATE_WATCH_EVERY) {
                Scope::WithLateFunding
            } else {
                Scope::Pending
            };
            schedule(&engine, scope).await;
        }
        pass += 1;
        tokio::select! {
            () = engine.state.escrow_hub().woken() => {}
            () = tokio::time::sleep(poll) => {}
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
    let grace =
        i64::try_from(engine.state.config().escrow.late_funding_grace_secs).unwrap_or(i64::MAX);
    let since = now_unix().saturating_sub(grace);
    let ids = engine
        .state
        .db()
        .run("select", "escrows", move |conn| {
            let mut ids = store::pending_ids(conn)?;
            if scope == Scope::WithLateFunding {
                ids.extend(store::late_watch_ids(conn, since)?);
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
        let fresh = engine
            .in_flight
            .lock()
            .map(|mut set| set.insert(id))
            .unwrap_or(false);
        if !fresh {
            continue;
        }
        let engine = engine.clone();
        tokio::spawn(async move {
            drive(&engine, id).await;
            if let Ok(mut set) = engine.in_flight.lock() {
                set.remove(&id);
            }
        });
    }
}

/// Runs the escrow's actions until it waits (person, chain, next poll) or a step fails.
async fn drive(engine: &Engine, id: i64) {
    // Held across consecutive setup/payout actions of this escrow (e.g. prepare then submit), so
    // no other flow switches the wallets in between.
    let mut flow = None;
    // Bounded: setup, one funding poll, prepare, submit is the longest useful chain per pass.
    for _ in 0..6 {
        let escrow = match engine
            .state
            .db()
            .run("select", "escrows", move |conn| store::load(conn, id))
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

/// Whether to run the escrow's next action right away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The state moved on: run the next action now.
    Continue,
    /// Nothing more to do until the next poll.
    Wait,
}

async fn run_action(
    engine: &Engine,
    escrow: &Escrow,
    action: Action,
    flow: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<Progress, StepError> {
    match action {
        Action::RunSetup | Action::PreparePayout { .. } | Action::SubmitPayout { .. } => {
            if flow.is_none() {
                let permit = Arc::clone(&engine.flow)
                    .acquire_owned()
                    .await
                    .map_err(|_| StepError::Protocol("escrow engine is stopping".into()))?;
                *flow = Some(permit);
            }
        }
        Action::WatchFunding { .. } | Action::WatchLateFunding { .. } => {
            *flow = None;
            let id = escrow.id().get();
            let Ok(mut polled) = engine.polled.lock() else {
                return Ok(Progress::Wait);
            };
            let overdue = polled.get(&id).is_none_or(|t| t.elapsed() >= POLL_OVERDUE);
            if engine.flow.available_permits() == 0 && !overdue {
                return Ok(Progress::Wait);
            }
            polled.insert(id, Instant::now());
        }
    }
    match action {
        Action::RunSetup => setup::run(engine, escrow).await,
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
