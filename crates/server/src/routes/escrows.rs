//! Escrow routes: `GET /api/escrows/{id}`, `POST /api/orders/{id}/confirm-receipt` (buyer),
//! `POST /api/orders/{id}/refund` (vendor) and `POST /api/orders/{id}/dispute` (buyer or vendor).
//!
//! Handlers only apply one escrow event and return; the multi-second wallet work runs in the
//! orchestrator ([`crate::escrow`]), which they wake. Escrow refusals map through escrow-core's
//! `TransitionError::class` (403 forbidden, 409 conflict, 422 invalid) with its `code`
//! ([`ApiError::Transition`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use escrow_core::{Actor, DisputeReason, Escrow, EscrowEvent, EscrowStateKind, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::escrows;
use crate::error::{ApiError, ErrorBody};
use crate::escrow::parties::fill_from_accounts;
use crate::escrow::{Target, apply_event};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::views::EscrowDetail;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/escrows/{id}", get(show))
        .route("/api/orders/{id}/confirm-receipt", post(confirm_receipt))
        .route("/api/orders/{id}/refund", post(refund))
        .route("/api/orders/{id}/dispute", post(open_dispute))
}

/// The escrow role of `current` on `escrow`: buyer, vendor, or arbiter when the escrow has a
/// dispute; anyone else gets 404 (existence is not revealed).
fn party_of(escrow: &Escrow, current: &CurrentUser) -> Result<Actor, ApiError> {
    match escrow.actor_for(UserId::new(current.user.id), current.user.role) {
        Some(Actor::Arbiter) if escrow.dispute().is_none() => Err(ApiError::NotFound("escrow")),
        Some(actor) => Ok(actor),
        None => Err(ApiError::NotFound("escrow")),
    }
}

/// The escrow `target` names and the caller's role on it (404 `order`/`escrow` otherwise).
async fn load_as_party(
    state: &AppState,
    target: Target,
    current: &CurrentUser,
) -> Result<(Escrow, Actor), ApiError> {
    let escrow = state
        .db()
        .run("select", "escrows", move |conn| escrows::load(conn, target))
        .await?
        .ok_or(ApiError::NotFound(match target {
            Target::Order(_) => "order",
            Target::Escrow(_) => "escrow",
        }))?;
    let actor = party_of(&escrow, current)?;
    Ok((escrow, actor))
}

/// One escrow: state, address and exact amount to pay, funding progress (what is missing),
/// addresses, dispute and payout with tx hashes, `blocked_reason` when the co-signer refused
/// the payout set, and `waiting_for` while the payout waits (e.g. for the money to unlock). Visible to the order's buyer and vendor, and to
/// arbiters once disputed; 404 for anyone else.
#[utoipa::path(get, path = "/api/escrows/{id}", tag = "escrows", operation_id = "show_escrow", params(("id" = i64, Path, description = "escrow id")),
    security(("session_cookie" = [])),
    responses((status = 200, body = EscrowDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<EscrowDetail>, ApiError> {
    let (escrow, viewer) = load_as_party(&state, Target::Escrow(id), &current).await?;
    let escrow_id = escrow.id().get();
    let refusal = state
        .db()
        .run("select", "escrow_steps", move |conn| {
            escrows::steps::payout_refusal(conn, escrow_id)
        })
        .await?;
    let reason = refusal.map(|r| r.reason);
    let waiting = state.escrow().payout_waits().get(escrow_id);
    Ok(ApiJson(
        EscrowDetail::of(&escrow)
            .with_blocked_reason(reason)
            .with_waiting_for(&escrow, waiting)
            .seen_by(viewer),
    ))
}

/// The buyer confirms receipt: the escrow moves to `releasing` and the server pays the vendor's
/// payout address in the background (vendor wallet builds the sweep, buyer wallet co-signs; in
/// non-custodial mode the parties do both through `/api/escrows/{id}/rounds`).
/// Answers 202 with the escrow; follow it with `GET /api/escrows/{id}` or the WebSocket.
#[utoipa::path(post, path = "/api/orders/{id}/confirm-receipt", tag = "escrows", params(("id" = i64, Path, description = "order id")),
    security(("session_cookie" = [])),
    responses((status = 202, body = EscrowDetail), (status = 401, body = ErrorBody),
        (status = 403, description = "not the buyer", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not funded, disputed, already confirmed", body = ErrorBody),
        (status = 422, description = "the vendor has no payout address yet", body = ErrorBody)))]
pub async fn confirm_receipt(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(order_id): ApiPath<i64>,
) -> Result<(StatusCode, ApiJson<EscrowDetail>), ApiError> {
    let (escrow, actor) = load_as_party(&state, Target::Order(order_id), &current).await?;
    // The vendor's account payout address reaches the escrow only for a confirmation that can go
    // ahead, so that a refused request writes nothing.
    if actor == Actor::Buyer && escrow.state().kind() == EscrowStateKind::Funded {
        fill_from_accounts(state.escrow(), &escrow).await?;
    }
    let event = EscrowEvent::ReceiptConfirmed;
    let target = Target::Order(order_id);
    let applied = apply_event(state.escrow(), target, actor, Some(current.user.id), event).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(EscrowDetail::of(applied.escrow()).seen_by(actor)),
    ))
}

/// The vendor gives the money back without a dispute: the escrow moves to `refunding` and the
/// server pays the buyer's refund address in the background (vendor wallet builds the sweep, the
/// buyer's wallet checks and co-signs it; in non-custodial mode the parties sign through
/// `/api/escrows/{id}/rounds`, the buyer building and the vendor signing second).
/// Answers 202 with the escrow; follow it with `GET /api/escrows/{id}` or the WebSocket.
#[utoipa::path(post, path = "/api/orders/{id}/refund", tag = "escrows", operation_id = "refund_order",
    params(("id" = i64, Path, description = "order id")),
    security(("session_cookie" = [])),
    responses((status = 202, body = EscrowDetail), (status = 401, body = ErrorBody),
        (status = 403, description = "not the vendor", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not funded, disputed, payout already decided, or the buyer has no refund address yet", body = ErrorBody)))]
pub async fn refund(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(order_id): ApiPath<i64>,
) -> Result<(StatusCode, ApiJson<EscrowDetail>), ApiError> {
    let (escrow, actor) = load_as_party(&state, Target::Order(order_id), &current).await?;
    // The buyer's account refund address reaches the escrow only for a refund that can go ahead,
    // so that a refused request writes nothing.
    if actor == Actor::Vendor && escrow.state().kind() == EscrowStateKind::Funded {
        fill_from_accounts(state.escrow(), &escrow).await?;
    }
    let event = EscrowEvent::RefundAgreed;
    let target = Target::Order(order_id);
    let applied = apply_event(state.escrow(), target, actor, Some(current.user.id), event).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(EscrowDetail::of(applied.escrow()).seen_by(actor)),
    ))
}

/// `POST /api/orders/{id}/dispute` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    /// Why (1-2000 characters, shown to the arbiter).
    #[schema(schema_with = crate::openapi::rules::dispute_reason)]
    pub reason: String,
}

/// The buyer or the vendor opens a dispute on a funded escrow (or a partly paid one); an arbiter
/// then decides with `POST /api/disputes/{id}/resolve`.
#[utoipa::path(post, path = "/api/orders/{id}/dispute", tag = "escrows", params(("id" = i64, Path, description = "order id")),
    security(("session_cookie" = [])),
    request_body = DisputeRequest,
    responses((status = 200, body = EscrowDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "nothing to dispute, already disputed, payout decided", body = ErrorBody),
        (status = 422, description = "invalid reason", body = ErrorBody)))]
pub async fn open_dispute(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(order_id): ApiPath<i64>,
    ApiJson(request): ApiJson<DisputeRequest>,
) -> Result<ApiJson<EscrowDetail>, ApiError> {
    let (_, actor) = load_as_party(&state, Target::Order(order_id), &current).await?;
    let event = EscrowEvent::DisputeOpened {
        reason: DisputeReason::new(request.reason)?,
    };
    let target = Target::Order(order_id);
    let applied = apply_event(state.escrow(), target, actor, Some(current.user.id), event).await?;
    Ok(ApiJson(EscrowDetail::of(applied.escrow()).seen_by(actor)))
}
