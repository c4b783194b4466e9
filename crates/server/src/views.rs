//! The JSON shape of an escrow as its parties (and arbiters, once disputed) see it, shared by the
//! escrow and dispute routers, and [`payout_tx_hash`], the payout hash also written to the audit
//! trail and pushed over the WebSocket.

use escrow_core::{
    Actor, Escrow, EscrowState, FundingStatus, PayoutKind, PreparedPayout, RefusalReason,
    Timestamp, TxHash,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::ApiTime;
use crate::escrow::waiting::WaitingFor;

/// The payout's first transaction hash: once prepared (releasing/refunding) or submitted
/// (released/refunded); `None` before.
pub fn payout_tx_hash(escrow: &Escrow) -> Option<&TxHash> {
    prepared_payout(escrow).and_then(|p| p.tx_hashes.first())
}

/// The payout transaction(s) once prepared or submitted.
fn prepared_payout(escrow: &Escrow) -> Option<&PreparedPayout> {
    match escrow.state() {
        EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
            Some(&payout.transaction)
        }
        EscrowState::Releasing { prepared, .. } | EscrowState::Refunding { prepared, .. } => {
            prepared.as_ref()
        }
        _ => None,
    }
}

/// One escrow as its parties (and arbiters, once disputed) see it. Amounts in atomic units
/// (piconero), times RFC 3339 in UTC (e.g. `2025-11-21T10:00:00Z`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscrowDetail {
    /// Escrow id (also the dispute id in `/api/disputes`).
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// Buyer account id.
    pub buyer_id: i64,
    /// Vendor account id.
    pub vendor_id: i64,
    /// Who holds the buyer's and vendor's escrow keys: `hosted` or `non_custodial`.
    #[schema(value_type = String, example = "hosted")]
    pub escrow_mode: escrow_core::EscrowMode,
    /// State label (`awaiting_setup`, `awaiting_funding`, `funded`, `disputed`, `releasing`,
    /// `refunding`, `released`, `refunded`, `expired`, `cancelled`, `setup_failed`).
    pub state: &'static str,
    /// Exact amount the buyer pays to `address`, atomic units.
    pub amount_xmr: u64,
    /// The 2-of-3 multisig address to pay, once setup completed (null before).
    pub address: Option<String>,
    /// Confirmations a payment needs before it counts.
    pub required_confirmations: u64,
    /// End of the funding window (RFC 3339), once the address is shown.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub funding_deadline: Option<ApiTime>,
    /// Payment progress.
    pub funding: FundingView,
    /// The vendor's payout address on this escrow (null for the buyer: each party sees only its
    /// own address; arbiters see both).
    pub payout_address: Option<String>,
    /// The buyer's refund address on this escrow (null for the vendor).
    pub refund_address: Option<String>,
    /// The dispute, if any was opened.
    pub dispute: Option<DisputeView>,
    /// The payout (releasing/refunding: once prepared; released/refunded: submitted).
    pub payout: Option<PayoutView>,
    /// Why setup failed (state `setup_failed`), internal addresses hidden.
    pub setup_failure: Option<String>,
    /// Why the payout is blocked: the co-signer refused to sign the payout set, and the escrow
    /// waits for an operator (`undescribable`, `empty_set`, `inconsistent`,
    /// `wrong_destination`, `change_elsewhere`, `unlock_time`, `fee_too_high`,
    /// `inputs_mismatch`, `change_kept`); null when nothing is blocked.
    #[schema(value_type = Option<String>)]
    pub blocked_reason: Option<&'static str>,
    /// What the payout waits for before it can be built (`releasing`/`refunding` before the
    /// payout is prepared); null when it waits for nothing. Not a failure: it goes ahead on
    /// its own.
    pub waiting_for: Option<WaitingView>,
    /// Creation time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: ApiTime,
    /// Last change (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: ApiTime,
}

/// Funding progress: what was received, what is confirmed, what is missing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FundingView {
    /// `unpaid`, `underfunded`, `awaiting_confirmations` or `complete`.
    pub status: &'static str,
    /// Received so far (pool included), atomic units.
    pub received_xmr: u64,
    /// Received with the required confirmations, atomic units.
    pub confirmed_xmr: u64,
    /// Still to pay, atomic units (0 once everything arrived).
    pub missing_xmr: u64,
}

/// What a payout waits for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitingView {
    /// `unlock`: the escrow's money is not spendable yet (Monero unlocks an output 10 blocks
    /// after the block that includes it).
    pub reason: &'static str,
    /// Blocks left until the money unlocks, as the escrow wallet tells (wallet-rpc
    /// `get_balance` `blocks_to_unlock`); null when it tells none.
    pub blocks_left: Option<u64>,
}

/// A dispute on an escrow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisputeView {
    /// `buyer`, `vendor`, or `system` (underfunded / late payment).
    #[schema(value_type = String)]
    pub opened_by: Actor,
    /// `party_complaint`, `underfunded` or `late_funding`.
    pub cause: &'static str,
    /// The reason text.
    pub reason: String,
    /// When it was opened (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: ApiTime,
    /// `release` or `refund` once decided.
    pub outcome: Option<&'static str>,
    /// When it was decided (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<ApiTime>,
}

/// A payout transaction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutView {
    /// `release` (to the vendor) or `refund` (to the buyer).
    pub kind: &'static str,
    /// Destination address; null when it is the other party's (a release seen by the buyer, a
    /// refund seen by the vendor).
    pub destination: Option<String>,
    /// First transaction hash.
    pub tx_hash: Option<String>,
    /// All transaction hashes (a sweep may need several).
    pub tx_hashes: Vec<String>,
    /// Atomic units the destination receives (escrow balance minus fee).
    pub amount_xmr: u64,
    /// Network fee paid from the escrow, atomic units.
    pub fee_xmr: u64,
    /// Whether it was accepted by the daemon (released/refunded).
    pub submitted: bool,
}

impl PayoutView {
    /// The payout of `escrow`, once decided (releasing, refunding, released, refunded).
    fn of(escrow: &Escrow) -> Option<Self> {
        let (plan, submitted) = match escrow.state() {
            EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
                (&payout.plan, true)
            }
            EscrowState::Releasing { plan, .. } | EscrowState::Refunding { plan, .. } => {
                (plan, false)
            }
            _ => return None,
        };
        let prepared = prepared_payout(escrow);
        Some(PayoutView {
            kind: plan.kind.as_str(),
            destination: Some(plan.destination.as_str().to_owned()),
            tx_hash: payout_tx_hash(escrow).map(|h| h.as_str().to_owned()),
            tx_hashes: prepared
                .iter()
                .flat_map(|p| p.tx_hashes.iter())
                .map(|h| h.as_str().to_owned())
                .collect(),
            amount_xmr: prepared.map_or(0, |p| p.amount.as_atomic()),
            fee_xmr: prepared.map_or(0, |p| p.fee.as_atomic()),
            submitted,
        })
    }
}

impl EscrowDetail {
    /// The view as `viewer` may see it: the buyer without the vendor's payout address, the vendor
    /// without the buyer's refund address (also as a payout destination); arbiters and the
    /// system see both.
    #[must_use]
    pub fn seen_by(mut self, viewer: Actor) -> Self {
        let hidden = match viewer {
            Actor::Buyer => {
                self.payout_address = None;
                PayoutKind::Release
            }
            Actor::Vendor => {
                self.refund_address = None;
                PayoutKind::Refund
            }
            _ => return self,
        };
        if let Some(payout) = self.payout.as_mut()
            && payout.kind == hidden.as_str()
        {
            payout.destination = None;
        }
        self
    }

    /// The view with `blocked_reason` set from the escrow's refused payout step, if any
    /// (`db::escrows::steps::payout_refusal`).
    #[must_use]
    pub fn with_blocked_reason(mut self, reason: Option<RefusalReason>) -> Self {
        self.blocked_reason = reason.map(RefusalReason::as_str);
        self
    }

    /// The view with `waiting_for` set from the payout's current wait, if any
    /// ([`crate::escrow::waiting::PayoutWaits`]); only a decided payout not yet prepared waits.
    #[must_use]
    pub fn with_waiting_for(mut self, escrow: &Escrow, waiting: Option<WaitingFor>) -> Self {
        let unprepared = matches!(
            escrow.state(),
            EscrowState::Releasing { prepared: None, .. }
                | EscrowState::Refunding { prepared: None, .. }
        );
        self.waiting_for = waiting.filter(|_| unprepared).map(|w| WaitingView {
            reason: w.as_str(),
            blocks_left: w.blocks_left(),
        });
        self
    }

    /// The view of `escrow` (`blocked_reason` and `waiting_for` null: see
    /// [`EscrowDetail::with_blocked_reason`], [`EscrowDetail::with_waiting_for`]).
    pub fn of(escrow: &Escrow) -> Self {
        let funding = escrow.funding();
        let (status, missing) = match escrow.funding_status() {
            FundingStatus::Unpaid { missing } => ("unpaid", missing.as_atomic()),
            FundingStatus::Underfunded { missing, .. } => ("underfunded", missing.as_atomic()),
            FundingStatus::AwaitingConfirmations { .. } => ("awaiting_confirmations", 0),
            FundingStatus::Complete { .. } => ("complete", 0),
        };
        EscrowDetail {
            escrow_id: escrow.id().get(),
            order_id: escrow.order_id().get(),
            buyer_id: escrow.buyer_id().get(),
            vendor_id: escrow.vendor_id().get(),
            escrow_mode: escrow.mode(),
            state: escrow.state().as_str(),
            amount_xmr: escrow.amount().as_atomic(),
            address: escrow.address().map(|a| a.as_str().to_owned()),
            required_confirmations: escrow.terms().required_confirmations(),
            funding_deadline: escrow.funding_deadline().map(api_time),
            funding: FundingView {
                status,
                received_xmr: funding.received().as_atomic(),
                confirmed_xmr: funding.confirmed().as_atomic(),
                missing_xmr: missing,
            },
            payout_address: escrow.payout_address().map(|a| a.as_str().to_owned()),
            refund_address: escrow.refund_address().map(|a| a.as_str().to_owned()),
            dispute: escrow.dispute().map(|d| DisputeView {
                opened_by: d.opened_by,
                cause: d.cause.as_str(),
                reason: d.reason.as_str().to_owned(),
                opened_at: api_time(d.opened_at),
                outcome: d.resolution.map(|r| r.outcome.as_str()),
                resolved_at: d.resolution.map(|r| api_time(r.resolved_at)),
            }),
            payout: PayoutView::of(escrow),
            setup_failure: match escrow.state() {
                EscrowState::SetupFailed { reason, .. } => {
                    Some(crate::web::public_text::without_addresses(reason))
                }
                _ => None,
            },
            blocked_reason: None,
            waiting_for: None,
            created_at: api_time(escrow.created_at()),
            updated_at: api_time(escrow.updated_at()),
        }
    }
}

/// An escrow-core time as the API shows it (RFC 3339); times past `i64` seconds read as the
/// epoch, like stored ones.
pub(crate) fn api_time(t: Timestamp) -> ApiTime {
    ApiTime::from_unix(i64::try_from(t.as_unix_seconds()).unwrap_or(i64::MAX))
}
