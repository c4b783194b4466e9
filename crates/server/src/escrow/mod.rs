//! Escrow orchestration: drives every order's 2-of-3 multisig escrow from setup to payout as
//! persisted background jobs, on top of escrow-core's state machine.
//!
//! - The escrow record (`escrows.record`) is the job: escrow-core's [`escrow_core::Escrow::next_action`]
//!   says what the server owes it, and every outcome is an [`escrow_core::EscrowEvent`] applied with
//!   [`apply_event`] (compare-and-set write, audit row, metrics, WebSocket notice, wake-up).
//!   The escrow gauges are re-read from the database after every state change (and every 30 s by
//!   [`crate::maintenance`]).
//! - Each wallet-rpc step records its intent and then its result in `escrow_steps` before the next
//!   step ([`crate::db::escrows::steps`]); a restart after kill -9 resumes from the database alone
//!   ([`engine`]).
//! - One worker per wallet-rpc endpoint serializes calls and batches them per open wallet
//!   ([`worker`]); signers are reached through the [`participant::Participant`] trait (hosted mode
//!   today, non-custodial later).
//! - [`setup`], [`funding`] and [`payout`] implement the three kinds of work; [`noncustodial`]
//!   runs a non-custodial escrow's setup and [`noncustodial_payout`] its payout (only the arbiter
//!   wallet is the server's; the parties' round outputs come through [`rounds`]); [`parties`] applies
//!   the parties' account addresses to their escrows (validated for the configured network by
//!   `monero_types::Address::validate`). See docs/ESCROW.md.
//! - Only the holder of the runner lease runs escrow jobs and calls wallet-rpc ([`lease`]); other
//!   servers on the same database serve HTTP and stand by.
//! - [`terminal_wallets`] checks, at low priority, that released and refunded escrows' wallets
//!   hold nothing any more (money sent after the payout, or a payout that never left);
//!   [`wallet_metrics`] reads the open escrows' wallets the same way for the per-role wallet
//!   gauges, the observed total and the balance mismatches.
//! - The orchestrator and the escrow routes get an [`EscrowContext`] (database, hub, escrow
//!   settings), never the whole application state.

pub mod archive;
pub mod engine;
pub mod funding;
pub mod lease;
pub mod noncustodial;
pub mod noncustodial_payout;
pub mod participant;
pub mod parties;
pub mod payout;
pub mod rounds;
pub mod setup;
pub mod step_error;
pub mod terminal_wallets;
pub mod waiting;
pub mod wallet_metrics;
pub mod worker;

use std::sync::Arc;

use escrow_core::error::TransitionError;
use escrow_core::{Actor, Context, Escrow, EscrowEvent, Timestamp, Transition};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::Notify;

use crate::config::{EscrowSettings, WalletArchiveSettings};
use crate::db::escrows;
use crate::db::{Db, DbError, now_unix};
use crate::metrics;
use crate::ws::{EscrowNotice, Notices};

pub use crate::db::escrows::Target;
pub use engine::spawn;

/// What request handlers and the orchestrator share: the wake-up signal of the orchestrator and
/// the notice hub of the WebSocket connections. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EscrowHub {
    wake: Arc<Notify>,
    notices: Notices,
}

impl EscrowHub {
    /// A hub with no connections.
    pub fn new() -> Self {
        EscrowHub::default()
    }

    /// Asks the orchestrator to look for work now instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`EscrowHub::wake`] (or at once if one is pending).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The WebSocket notice hub.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }
}

/// Everything escrow work needs: the database, the hub (wake-ups and WebSocket notices) and the
/// escrow settings (`MMKT_ESCROW_*`, network, WebSocket ping). Cheap to clone.
#[derive(Debug, Clone)]
pub struct EscrowContext {
    db: Db,
    hub: EscrowHub,
    settings: EscrowSettings,
    wallet_archive: Arc<WalletArchiveSettings>,
    payout_waits: waiting::PayoutWaits,
    arbiter: Arc<std::sync::OnceLock<worker::WalletWorker>>,
}

impl EscrowContext {
    /// A context over `db` with a fresh hub.
    pub fn new(db: Db, settings: EscrowSettings) -> Self {
        EscrowContext {
            db,
            hub: EscrowHub::new(),
            settings,
            wallet_archive: Arc::default(),
            payout_waits: waiting::PayoutWaits::default(),
            arbiter: Arc::default(),
        }
    }

    /// The arbiter's wallet-rpc worker once the orchestrator started with one: the API checks
    /// a non-custodial party's txset with it before relaying or submitting it.
    pub fn arbiter_worker(&self) -> Option<&worker::WalletWorker> {
        self.arbiter.get()
    }

    /// This context with the wallet directories and archive retention (without them no wallet
    /// file is archived).
    pub fn with_wallet_archive(mut self, archive: WalletArchiveSettings) -> Self {
        self.wallet_archive = Arc::new(archive);
        self
    }

    /// The wallet directories and archive retention.
    pub fn wallet_archive(&self) -> &WalletArchiveSettings {
        &self.wallet_archive
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The wake-up signal and WebSocket notice hub.
    pub fn hub(&self) -> &EscrowHub {
        &self.hub
    }

    /// The escrow settings.
    pub fn settings(&self) -> &EscrowSettings {
        &self.settings
    }

    /// What each waiting payout waits for (set by the payout step, shown by the API).
    pub fn payout_waits(&self) -> &waiting::PayoutWaits {
        &self.payout_waits
    }
}

/// A successful [`apply_event`].
#[derive(Debug, Clone)]
pub enum Applied {
    /// The event changed the escrow; it is persisted.
    Changed(Box<Transition>),
    /// The event was accepted but changed nothing (e.g. a repeated funding snapshot); nothing
    /// was written.
    Unchanged(Box<Escrow>),
}

impl Applied {
    /// The escrow after the event.
    pub fn escrow(&self) -> &Escrow {
        match self {
            Applied::Changed(t) => t.escrow(),
            Applied::Unchanged(e) => e,
        }
    }
}

/// Why [`apply_event`] did not apply the event. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// No such escrow.
    #[error("escrow not found")]
    NotFound,
    /// The state machine refused the event ([`TransitionError::class`] gives the HTTP class).
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    /// Another writer changed the escrow between read and write; retry.
    #[error("the escrow changed concurrently; retry")]
    Conflict,
    /// Storage failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Writes committed in the transaction of an event's transition ([`apply_event_with`]).
pub type Extra = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

enum Inner {
    Done(Applied),
    NotFound,
    Rejected(TransitionError),
    Conflict,
}

/// Applies `event` by `actor` (acting account `user_id`, `None` for the system) to the escrow, in
/// one IMMEDIATE transaction: load, [`Escrow::apply`], compare-and-set write, `orders.status`,
/// audit row. Then counts the transition in the metrics, publishes the WebSocket notice and wakes
/// the orchestrator.
///
/// # Errors
/// [`ApplyError`]; nothing is written then.
pub async fn apply_event(
    ctx: &EscrowContext,
    target: Target,
    actor: Actor,
    user_id: Option<i64>,
    event: EscrowEvent,
) -> Result<Applied, ApplyError> {
    apply_event_with(ctx, target, actor, user_id, event, None).await
}

/// [`apply_event`] plus `extra` writes committed in the same transaction as the transition (only
/// when the event changed the escrow), e.g. the signed txset with `payout_prepared`.
///
/// # Errors
/// As [`apply_event`].
pub async fn apply_event_with(
    ctx: &EscrowContext,
    target: Target,
    actor: Actor,
    user_id: Option<i64>,
    event: EscrowEvent,
    extra: Option<Extra>,
) -> Result<Applied, ApplyError> {
    let outcome = ctx
        .db()
        .run("update", "escrows", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(escrow) = escrows::load(&tx, target)? else {
                return Ok(Inner::NotFound);
            };
            let now = Timestamp::from_unix_seconds(u64::try_from(now_unix()).unwrap_or(0));
            let transition = match escrow.apply(actor, event, &Context::at(now)) {
                Ok(t) => t,
                Err(e) => return Ok(Inner::Rejected(e)),
            };
            if transition.is_noop() {
                return Ok(Inner::Done(Applied::Unchanged(Box::new(escrow))));
            }
            if escrows::persist(
                &tx,
                &transition,
                escrow.updated_at().as_unix_seconds(),
                user_id,
            )?
            .is_err()
            {
                return Ok(Inner::Conflict);
            }
            if let Some(extra) = extra {
                extra(&tx)?;
            }
            tx.commit()?;
            Ok(Inner::Done(Applied::Changed(Box::new(transition))))
        })
        .await?;
    let applied = match outcome {
        Inner::Done(applied) => applied,
        Inner::NotFound => return Err(ApplyError::NotFound),
        Inner::Rejected(e) => return Err(ApplyError::Rejected(e)),
        Inner::Conflict => return Err(ApplyError::Conflict),
    };
    if let Applied::Changed(transition) = &applied {
        announce(ctx, transition);
    }
    Ok(applied)
}

/// Metrics, log line, WebSocket notice and wake-up for a persisted transition.
fn announce(ctx: &EscrowContext, transition: &Transition) {
    let escrow = transition.escrow();
    if transition.is_state_change() {
        metrics::record_escrow_transition(
            transition.from_state().as_str(),
            transition.to_state().as_str(),
        );
        tracing::info!(
            escrow_id = escrow.id().get(),
            order_id = escrow.order_id().get(),
            event = transition.event().as_str(),
            actor = transition.actor().as_str(),
            from = transition.from_state().as_str(),
            to = transition.to_state().as_str(),
            "escrow state changed"
        );
        let db = ctx.db().clone();
        tokio::spawn(async move {
            if let Err(e) = crate::maintenance::refresh_escrow_gauges(&db).await {
                tracing::warn!(error = %e, "cannot refresh escrow gauges");
            }
        });
    } else {
        metrics::touch_escrow_update();
    }
    ctx.hub()
        .notices()
        .publish(EscrowNotice::from_transition(transition));
    ctx.hub().wake();
}
