//! Escrow routes: `GET /api/escrows/{id}`, `POST /api/orders/{id}/confirm-receipt` (buyer),
//! `POST /api/orders/{id}/dispute` (buyer or vendor), and the parties' addresses
//! `PUT /api/auth/me/payout-address` (vendor), `PUT /api/auth/me/refund-address` (buyer),
//! `GET /api/auth/me/addresses`.
//!
//! Handlers only apply one escrow event and return; the multi-second wallet work runs in the
//! orchestrator ([`crate::escrow`]), which they wake. Escrow refusals map through escrow-core's
//! `TransitionError::class` (403 forbidden, 409 conflict, 422 invalid) with its `code`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use escrow_core::error::{DisputeReasonError, TransitionError};
use escrow_core::{
    Actor, DisputeReason, Escrow, EscrowEvent, EscrowState, FundingStatus, MoneroAddress,
    RejectionClass, Role, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::now_unix;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::escrow::address::{self, AddressError};
use crate::escrow::store::{self, AddressKind};
use crate::escrow::{Applied, ApplyError, Target, apply_event};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/escrows/{id}", get(show))
        .route("/api/orders/{id}/confirm-receipt", post(confirm_receipt))
        .route("/api/orders/{id}/dispute", post(open_dispute))
        .route("/api/auth/me/payout-address", put(set_payout_address))
        .route("/api/auth/me/refund-address", put(set_refund_address))
        .route("/api/auth/me/addresses", get(addresses))
}

/// Errors of the escrow routes: the API's own errors plus escrow refusals, in the same
/// `{"error":{"code","message"}}` body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EscrowApiError {
    /// Any [`ApiError`] (auth, not found, bad body, storage).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The escrow state machine refused the event: 403/409/422 by its class, code from escrow-core
    /// (`not_permitted`, `already_confirmed`, `not_disputed`, `payout_address_missing`, ...).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// 422 `invalid_address`: not an address of the configured network.
    #[error("address: {0}")]
    Address(#[from] AddressError),
    /// 422 `invalid_reason`: blank, too long, or control characters.
    #[error("reason: {0}")]
    Reason(#[from] DisputeReasonError),
    /// 409 `concurrent_update`: the escrow changed meanwhile; retry.
    #[error("the escrow changed while this request was processed; retry")]
    Concurrent,
}

impl From<ApplyError> for EscrowApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::NotFound => EscrowApiError::Api(ApiError::NotFound("escrow")),
            ApplyError::Rejected(t) => EscrowApiError::Transition(t),
            ApplyError::Conflict => EscrowApiError::Concurrent,
            ApplyError::Db(db) => EscrowApiError::Api(db.into()),
        }
    }
}

impl From<crate::db::DbError> for EscrowApiError {
    fn from(e: crate::db::DbError) -> Self {
        EscrowApiError::Api(e.into())
    }
}

impl EscrowApiError {
    /// Status and code of the escrow-specific variants (`None` for [`EscrowApiError::Api`]).
    fn parts(&self) -> Option<(StatusCode, &'static str)> {
        Some(match self {
            EscrowApiError::Api(_) => return None,
            EscrowApiError::Transition(t) => {
                let status = match t.class() {
                    RejectionClass::Forbidden => StatusCode::FORBIDDEN,
                    RejectionClass::Conflict => StatusCode::CONFLICT,
                    RejectionClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                    #[allow(unreachable_patterns)]
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, t.code())
            }
            EscrowApiError::Address(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_address"),
            EscrowApiError::Reason(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason"),
            EscrowApiError::Concurrent => (StatusCode::CONFLICT, "concurrent_update"),
        })
    }
}

impl IntoResponse for EscrowApiError {
    fn into_response(self) -> Response {
        let Some((status, code)) = self.parts() else {
            return match self {
                EscrowApiError::Api(api) => api.into_response(),
                other => ApiError::Internal(other.to_string()).into_response(),
            };
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        };
        (status, axum::Json(body)).into_response()
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
    /// The vendor's payout address on this escrow.
    pub payout_address: Option<String>,
    /// The buyer's refund address on this escrow.
    pub refund_address: Option<String>,
    /// The dispute, if any was opened.
    pub dispute: Option<DisputeView>,
    /// The payout (releasing/refunding: once prepared; released/refunded: submitted).
    pub payout: Option<PayoutView>,
    /// Why setup failed (state `setup_failed`).
    pub setup_failure: Option<String>,
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
    pub opened_by: &'static str,
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
    /// Destination address.
    pub destination: String,
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

impl EscrowDetail {
    /// The view of `escrow`.
    pub fn of(escrow: &Escrow) -> Self {
        let funding = escrow.funding();
        let (status, missing) = match escrow.funding_status() {
            FundingStatus::Unpaid { missing } => ("unpaid", missing.as_atomic()),
            FundingStatus::Underfunded { missing, .. } => ("underfunded", missing.as_atomic()),
            FundingStatus::AwaitingConfirmations { .. } => ("awaiting_confirmations", 0),
            FundingStatus::Complete { .. } => ("complete", 0),
        };
        let payout = match escrow.state() {
            EscrowState::Released { payout } | EscrowState::Refunded { payout } => {
                Some(PayoutView {
                    kind: payout.plan.kind.as_str(),
                    destination: payout.plan.destination.as_str().to_owned(),
                    tx_hash: payout.tx_hash().map(|h| h.as_str().to_owned()),
                    tx_hashes: payout
                        .transaction
                        .tx_hashes
                        .iter()
                        .map(|h| h.as_str().to_owned())
                        .collect(),
                    amount_xmr: payout.transaction.amount.as_atomic(),
                    fee_xmr: payout.transaction.fee.as_atomic(),
                    submitted: true,
                })
            }
            EscrowState::Releasing { plan, prepared }
            | EscrowState::Refunding { plan, prepared } => Some(PayoutView {
                kind: plan.kind.as_str(),
                destination: plan.destination.as_str().to_owned(),
                tx_hash: prepared
                    .as_ref()
                    .and_then(|p| p.tx_hashes.first())
                    .map(|h| h.as_str().to_owned()),
                tx_hashes: prepared
                    .iter()
                    .flat_map(|p| p.tx_hashes.iter())
                    .map(|h| h.as_str().to_owned())
                    .collect(),
                amount_xmr: prepared.as_ref().map_or(0, |p| p.amount.as_atomic()),
                fee_xmr: prepared.as_ref().map_or(0, |p| p.fee.as_atomic()),
                submitted: false,
            }),
            _ => None,
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
                opened_by: d.opened_by.as_str(),
                cause: d.cause.as_str(),
                reason: d.reason.as_str().to_owned(),
                opened_at: d.opened_at.as_unix_seconds(),
                outcome: d.resolution.map(|r| r.outcome.as_str()),
                resolved_at: d.resolution.map(|r| r.resolved_at.as_unix_seconds()),
            }),
            payout,
            setup_failure: match escrow.state() {
                EscrowState::SetupFailed { reason, .. } => Some(reason.clone()),
                _ => None,
            },
            created_at: escrow.created_at().as_unix_seconds(),
            updated_at: escrow.updated_at().as_unix_seconds(),
        }
    }
}

/// The escrow role of `current` on `escrow`: buyer, vendor, or arbiter when the escrow has a
/// dispute; anyone else gets 404 (existence is not revealed).
pub(crate) fn party_of(escrow: &Escrow, current: &CurrentUser) -> Result<Actor, EscrowApiError> {
    match escrow.actor_for(UserId::new(current.user.id), current.user.role) {
        Some(Actor::Arbiter) if escrow.dispute().is_none() => {
            Err(ApiError::NotFound("escrow").into())
        }
        Some(actor) => Ok(actor),
        None => Err(ApiError::NotFound("escrow").into()),
    }
}

async fn load(state: &AppState, target: Target) -> Result<Escrow, EscrowApiError> {
    let escrow = state
        .db()
        .run("select", "escrows", move |conn| match target {
            Target::Escrow(id) => store::load(conn, id),
            Target::Order(id) => store::load_by_order(conn, id),
        })
        .await?;
    escrow.ok_or_else(|| {
        ApiError::NotFound(if matches!(target, Target::Order(_)) {
            "order"
        } else {
            "escrow"
        })
        .into()
    })
}

/// Copies the parties' account addresses onto the escrow where it has none yet (the vendor's
/// payout address, the buyer's refund address), as the parties themselves set them.
pub(crate) async fn fill_party_addresses(
    state: &AppState,
    escrow: &Escrow,
) -> Result<(), EscrowApiError> {
    let (buyer, vendor) = (escrow.buyer_id().get(), escrow.vendor_id().get());
    let (payout, refund) = state
        .db()
        .run("select", "user_addresses", move |conn| {
            Ok((
                store::user_address(conn, vendor, AddressKind::Payout)?,
                store::user_address(conn, buyer, AddressKind::Refund)?,
            ))
        })
        .await?;
    let target = Target::Escrow(escrow.id().get());
    if escrow.payout_address().is_none()
        && let Some(address) = payout.and_then(|a| a.parse::<MoneroAddress>().ok())
    {
        ignore_decided(
            apply_event(
                state,
                target,
                Actor::Vendor,
                Some(vendor),
                EscrowEvent::PayoutAddressSet { address },
            )
            .await,
        )?;
    }
    if escrow.refund_address().is_none()
        && let Some(address) = refund.and_then(|a| a.parse::<MoneroAddress>().ok())
    {
        ignore_decided(
            apply_event(
                state,
                target,
                Actor::Buyer,
                Some(buyer),
                EscrowEvent::RefundAddressSet { address },
            )
            .await,
        )?;
    }
    Ok(())
}

/// Address changes are refused once a payout is decided (or the escrow is closed); that is
/// expected when propagating account addresses.
fn ignore_decided(result: Result<Applied, ApplyError>) -> Result<(), EscrowApiError> {
    match result {
        Ok(_) => Ok(()),
        Err(ApplyError::Rejected(
            TransitionError::PayoutDecided { .. } | TransitionError::Terminal { .. },
        )) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One escrow: state, address and exact amount to pay, funding progress (what is missing),
/// addresses, dispute and payout with tx hashes. Visible to the order's buyer and vendor, and to
/// arbiters once disputed; 404 for anyone else.
#[utoipa::path(get, path = "/api/escrows/{id}", tag = "escrows", params(("id" = i64, Path, description = "escrow id")),
    responses((status = 200, body = EscrowDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<EscrowDetail>, EscrowApiError> {
    let escrow = load(&state, Target::Escrow(id)).await?;
    party_of(&escrow, &current)?;
    Ok(ApiJson(EscrowDetail::of(&escrow)))
}

/// The buyer confirms receipt: the escrow moves to `releasing` and the server pays the vendor's
/// payout address in the background (vendor wallet builds the sweep, buyer wallet co-signs).
/// Answers 202 with the escrow; follow it with `GET /api/escrows/{id}` or the WebSocket.
#[utoipa::path(post, path = "/api/orders/{id}/confirm-receipt", tag = "escrows", params(("id" = i64, Path, description = "order id")),
    responses((status = 202, body = EscrowDetail), (status = 401, body = ErrorBody),
        (status = 403, description = "not the buyer", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not funded, disputed, already confirmed", body = ErrorBody),
        (status = 422, description = "the vendor has no payout address yet", body = ErrorBody)))]
pub async fn confirm_receipt(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(order_id): ApiPath<i64>,
) -> Result<(StatusCode, ApiJson<EscrowDetail>), EscrowApiError> {
    let escrow = load(&state, Target::Order(order_id)).await?;
    let actor = party_of(&escrow, &current)?;
    if actor == Actor::Buyer {
        fill_party_addresses(&state, &escrow).await?;
    }
    let applied = apply_event(
        &state,
        Target::Order(order_id),
        actor,
        Some(current.user.id),
        EscrowEvent::ReceiptConfirmed,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(EscrowDetail::of(applied.escrow())),
    ))
}

/// `POST /api/orders/{id}/dispute` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    /// Why (1-2000 characters, shown to the arbiter).
    pub reason: String,
}

/// The buyer or the vendor opens a dispute on a funded escrow (or a partly paid one); an arbiter
/// then decides with `POST /api/disputes/{id}/resolve`.
#[utoipa::path(post, path = "/api/orders/{id}/dispute", tag = "escrows", params(("id" = i64, Path, description = "order id")),
    request_body = DisputeRequest,
    responses((status = 200, body = EscrowDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "nothing to dispute, already disputed, payout decided", body = ErrorBody),
        (status = 422, description = "invalid reason", body = ErrorBody)))]
pub async fn open_dispute(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(order_id): ApiPath<i64>,
    ApiJson(request): ApiJson<DisputeRequest>,
) -> Result<ApiJson<EscrowDetail>, EscrowApiError> {
    let escrow = load(&state, Target::Order(order_id)).await?;
    let actor = party_of(&escrow, &current)?;
    let reason = DisputeReason::new(request.reason)?;
    let applied = apply_event(
        &state,
        Target::Order(order_id),
        actor,
        Some(current.user.id),
        EscrowEvent::DisputeOpened { reason },
    )
    .await?;
    Ok(ApiJson(EscrowDetail::of(applied.escrow())))
}

/// Address update body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    /// A Monero address of the configured network (`MMKT_MONERO_NETWORK`; regtest and mainnet:
    /// standard "4...", subaddress "8...", integrated).
    pub address: String,
}

/// The caller's payout/refund addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressesView {
    /// Where releases pay (vendors).
    pub payout_address: Option<String>,
    /// Where refunds pay (buyers).
    pub refund_address: Option<String>,
}

/// Result of an address update.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressUpdated {
    /// `payout` or `refund`.
    pub kind: &'static str,
    /// The stored address.
    pub address: String,
    /// Open escrows whose address was updated (those whose payout is not decided yet).
    pub escrows_updated: usize,
}

/// Sets the vendor's payout address (where releases pay) and applies it to the vendor's escrows
/// whose payout is not decided yet.
#[utoipa::path(put, path = "/api/auth/me/payout-address", tag = "escrows", request_body = AddressRequest,
    responses((status = 200, body = AddressUpdated), (status = 401, body = ErrorBody),
        (status = 403, description = "not a vendor", body = ErrorBody), (status = 422, description = "invalid address", body = ErrorBody)))]
pub async fn set_payout_address(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(request): ApiJson<AddressRequest>,
) -> Result<ApiJson<AddressUpdated>, EscrowApiError> {
    current.require(Role::Vendor)?;
    set_address(&state, &current, AddressKind::Payout, &request.address).await
}

/// Sets the buyer's refund address (where refunds pay) and applies it to the buyer's escrows whose
/// payout is not decided yet.
#[utoipa::path(put, path = "/api/auth/me/refund-address", tag = "escrows", request_body = AddressRequest,
    responses((status = 200, body = AddressUpdated), (status = 401, body = ErrorBody),
        (status = 403, description = "not a buyer", body = ErrorBody), (status = 422, description = "invalid address", body = ErrorBody)))]
pub async fn set_refund_address(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(request): ApiJson<AddressRequest>,
) -> Result<ApiJson<AddressUpdated>, EscrowApiError> {
    current.require(Role::Buyer)?;
    set_address(&state, &current, AddressKind::Refund, &request.address).await
}

async fn set_address(
    state: &AppState,
    current: &CurrentUser,
    kind: AddressKind,
    text: &str,
) -> Result<ApiJson<AddressUpdated>, EscrowApiError> {
    let (address, _) = address::validate(text.trim(), state.config().escrow.network)?;
    let user = current.user.id;
    let stored = address.as_str().to_owned();
    let escrows = state
        .db()
        .run("update", "user_addresses", move |conn| {
            store::set_user_address(conn, user, kind, &stored, now_unix())?;
            store::open_for_party(conn, user)
        })
        .await?;
    let mut updated = 0;
    for escrow in escrows {
        let (actor, event) = match kind {
            AddressKind::Payout if escrow.vendor_id().get() == user => (
                Actor::Vendor,
                EscrowEvent::PayoutAddressSet {
                    address: address.clone(),
                },
            ),
            AddressKind::Refund if escrow.buyer_id().get() == user => (
                Actor::Buyer,
                EscrowEvent::RefundAddressSet {
                    address: address.clone(),
                },
            ),
            _ => continue,
        };
        match apply_event(
            state,
            Target::Escrow(escrow.id().get()),
            actor,
            Some(user),
            event,
        )
        .await
        {
            Ok(Applied::Changed(_)) => updated += 1,
            other => ignore_decided(other)?,
        }
    }
    Ok(ApiJson(AddressUpdated {
        kind: kind.as_str(),
        address: address.as_str().to_owned(),
        escrows_updated: updated,
    }))
}

/// The caller's payout and refund addresses.
#[utoipa::path(get, path = "/api/auth/me/addresses", tag = "escrows",
    responses((status = 200, body = AddressesView), (status = 401, body = ErrorBody)))]
pub async fn addresses(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<AddressesView>, EscrowApiError> {
    let user = current.user.id;
    let (payout_address, refund_address) = state
        .db()
        .run("select", "user_addresses", move |conn| {
            Ok((
                store::user_address(conn, user, AddressKind::Payout)?,
                store::user_address(conn, user, AddressKind::Refund)?,
            ))
        })
        .await?;
    Ok(ApiJson(AddressesView {
        payout_address,
        refund_address,
    }))
}
