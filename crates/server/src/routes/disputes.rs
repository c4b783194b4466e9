//! Arbiter routes: `GET /api/disputes` (open disputes) and `POST /api/disputes/{id}/resolve`
//! (`{"outcome": "release" | "refund"}`). A dispute's id is its escrow's id (one dispute per
//! escrow). Resolving moves the escrow to `releasing` or `refunding`; the payout runs in the
//! background. Hosted: `releasing` (vendor wallet builds, arbiter co-signs) or `refunding`
//! (arbiter wallet builds, buyer co-signs). Non-custodial: the payout rounds open for the winner
//! and the arbiter wallet (the vendor's or the buyer's own wallet builds, the arbiter wallet
//! checks the set and signs second).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use escrow_core::{Actor, DisputeOutcome, EscrowEvent, EscrowStateKind, Role};
use serde::{Deserialize, Serialize};
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
        .route("/api/disputes", get(list))
        .route("/api/disputes/{id}/resolve", post(resolve))
}

/// One open dispute with its escrow.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeItem {
    /// Dispute id (= escrow id) for `POST /api/disputes/{id}/resolve`.
    pub dispute_id: i64,
    /// The disputed escrow (its `dispute` field holds who opened it, why and when).
    pub escrow: EscrowDetail,
}

/// Open disputes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeList {
    /// Oldest first.
    pub items: Vec<DisputeItem>,
}

/// Open disputes, oldest first (arbiters only).
#[utoipa::path(get, path = "/api/disputes", tag = "disputes", operation_id = "list_disputes", security(("session_cookie" = [])),
    responses((status = 200, body = DisputeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<DisputeList>, ApiError> {
    current.require(Role::Arbiter)?;
    let disputed = state
        .db()
        .run("select", "escrows", |conn| escrows::disputed(conn))
        .await?;
    let items = disputed
        .iter()
        .map(|e| DisputeItem {
            dispute_id: e.id().get(),
            escrow: EscrowDetail::of(e),
        })
        .collect();
    Ok(ApiJson(DisputeList { items }))
}

/// `POST /api/disputes/{id}/resolve` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `release` (pay the vendor's payout address) or `refund` (pay the buyer's refund address).
    #[schema(schema_with = crate::openapi::rules::dispute_outcome)]
    pub outcome: DisputeOutcome,
}

/// Decides a dispute (arbiters only). 202: the payout is built, co-signed by the arbiter wallet
/// and submitted in the background (non-custodial: built by the winner's own wallet in the
/// payout rounds, then checked and signed by the arbiter wallet).
#[utoipa::path(post, path = "/api/disputes/{id}/resolve", tag = "disputes", operation_id = "resolve_dispute", params(("id" = i64, Path, description = "dispute id (= escrow id)")),
    security(("session_cookie" = [])),
    request_body = ResolveRequest,
    responses((status = 202, body = EscrowDetail), (status = 401, body = ErrorBody), (status = 403, description = "not an arbiter", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "escrow not disputed, or the winning party has no address yet (`payout_address_missing` / `refund_address_missing`)", body = ErrorBody), (status = 422, description = "bad outcome", body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ResolveRequest>,
) -> Result<(StatusCode, ApiJson<EscrowDetail>), ApiError> {
    current.require(Role::Arbiter)?;
    let target = Target::Escrow(id);
    let escrow = state
        .db()
        .run("select", "escrows", move |conn| escrows::load(conn, target))
        .await?
        .ok_or(ApiError::NotFound("dispute"))?;
    if escrow.state().kind() == EscrowStateKind::Disputed {
        fill_from_accounts(state.escrow(), &escrow).await?;
    }
    let event = EscrowEvent::DisputeResolved {
        outcome: request.outcome,
    };
    let arbiter = Some(current.user.id);
    let applied = apply_event(state.escrow(), target, Actor::Arbiter, arbiter, event).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(EscrowDetail::of(applied.escrow())),
    ))
}
