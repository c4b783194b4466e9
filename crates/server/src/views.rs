//! The JSON shape of an escrow as its parties (and arbiters, once disputed) see it, shared by the
//! escrow and dispute routers, and [`payout_tx_hash`], the payout hash also written to the audit
//! trail and pushed over the WebSocket.

use escrow_core::{
    Actor, Escrow, EscrowState, FundingStatus, PayoutKind, PreparedPayout, RefusalReason, TxHash,
};
use serde::Serialize;
use utoipa::ToSchema;

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
/// (piconero), times in Unix seconds.
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
    /// State label (`awaiting_setup`, `awaiting_funding`, `funded`, `disputed`, `releasing`,
    /// `refunding`, `released`, `refunded`, `expired`, `cancelled`, `setup_failed`).
    pub state: &'static str,
    /// Exact amount the buyer pays to `address`, atomic units.
    pub amount_xmr: u64,
    /// The 2-of-3 multisig address to pay, once setup completed (null before).
    pub address: Option<String>,
    /// Confirmations a payment needs before it counts.
    pub required_confirmations: u64,
    /// End of the funding window (Unix s), once the address is shown.
    pub funding_deadline: Option<u64>,
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
    /// Creation time (Unix s).
    pub created_at: u64,
    /// Last change (Unix s).
    pub updated_at: u64,
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
    /// When it was opened (Unix s).
    pub opened_at: u64,
    /// `release` or `refund` once decided.
    pub outcome: Option<&'static str>,
    /// When it was decided (Unix s).
    pub resolved_at: Option<u64>,
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

    /// The view of `escrow` (`blocked_reason` null: see [`EscrowDetail::with_blocked_reason`]).
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
            state: escrow.state().as_str(),
            amount_xmr: escrow.amount().as_atomic(),
            address: escrow.address().map(|a| a.as_str().to_owned()),
            required_confirmations: escrow.terms().required_confirmations(),
            funding_deadline: escrow.funding_deadline().map(|t| t.as_unix_seconds()),
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
                opened_at: d.opened_at.as_unix_seconds(),
                outcome: d.resolution.map(|r| r.outcome.as_str()),
                resolved_at: d.resolution.map(|r| r.resolved_at.as_unix_seconds()),
            }),
            payout: PayoutView::of(escrow),
            setup_failure: match escrow.state() {
                EscrowState::SetupFailed { reason, .. } => {
                    Some(crate::web::public_text::without_addresses(reason))
                }
                _ => None,
            },
            blocked_reason: None,
            created_at: escrow.created_at().as_unix_seconds(),
            updated_at: escrow.updated_at().as_unix_seconds(),
        }
    }
}
