//! `/api/orders*`: buyers place orders (escrow created in its initial state); parties read them.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use escrow_core::error::{EscrowError, OrderError};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::orders::{self, EscrowPolicy, OrderView, PlaceOutcome};
use crate::db::users::Role;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{PageQuery, count, page_bounds};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/orders", get(list).post(create))
        .route("/api/orders/{id}", get(show))
}

/// `POST /api/orders` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Listing to buy.
    pub listing_id: i64,
    /// Units, 1 to 4294967295 (and at most the listing's stock).
    #[schema(value_type = u32, example = 1)]
    pub quantity: Number,
}

/// One page of the caller's orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Orders of this page, newest first.
    pub items: Vec<OrderView>,
    /// This page number (1-based).
    pub page: u32,
    /// Page size used.
    pub per_page: u32,
    /// Whether a next page exists.
    pub has_more: bool,
}

fn order_error(e: OrderError) -> ApiError {
    match e {
        OrderError::InsufficientStock {
            requested,
            available,
        } => ApiError::InsufficientStock {
            requested,
            available,
        },
        OrderError::TotalOverflow { .. } => ApiError::AmountOverflow,
        OrderError::ExceedsCap(cap) => ApiError::AmountExceedsCap {
            what: "order total",
            amount: cap.total.as_atomic(),
            cap: cap.cap.as_atomic(),
        },
        OrderError::ZeroQuantity => ApiError::InvalidQuantity {
            field: "quantity",
            min: 1,
        },
        OrderError::SelfPurchase => {
            ApiError::Forbidden("vendors cannot order their own listings".into())
        }
        other => ApiError::InvalidField {
            field: "listing_id",
            message: other.to_string(),
        },
    }
}

/// Places an order (buyers only): checks stock, computes total = price × quantity (checked), enforces
/// the escrow cap, decrements stock and creates the escrow in state `awaiting_setup`, atomically.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = CreateOrderRequest,
    responses((status = 200, body = OrderView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "no such listing", body = ErrorBody), (status = 409, description = "insufficient stock", body = ErrorBody),
        (status = 422, description = "bad quantity, overflow, or total above the escrow cap", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(request): ApiJson<CreateOrderRequest>,
) -> Result<ApiJson<OrderView>, ApiError> {
    current.require(Role::Buyer)?;
    let quantity = count(&request.quantity, "quantity", 1)?;
    let config = state.config();
    let policy = EscrowPolicy {
        cap: config.limits.escrow_cap(),
        required_confirmations: config.escrow.required_confirmations,
        funding_window_secs: config.escrow.funding_window_secs,
    };
    let (buyer, listing) = (current.user.id, request.listing_id);
    let outcome = state
        .db()
        .run("insert", "orders", move |conn| {
            orders::place(conn, buyer, listing, quantity, &policy)
        })
        .await?;
    match outcome {
        PlaceOutcome::Placed(view) => {
            state.listing_cache().invalidate();
            if let Err(e) = crate::refresh_escrow_gauges(state.db()).await {
                tracing::warn!(error = %e, "escrow gauges not refreshed; the periodic refresh will retry");
            }
            tracing::info!(
                order_id = view.order_id,
                escrow_id = view.escrow.escrow_id,
                total_atomic = view.total_xmr,
                "order placed"
            );
            Ok(ApiJson(*view))
        }
        PlaceOutcome::ListingNotFound => Err(ApiError::NotFound("listing")),
        PlaceOutcome::Rejected(e) => Err(order_error(e)),
        PlaceOutcome::EscrowRejected(
            e @ (EscrowError::ZeroConfirmations | EscrowError::ZeroFundingWindow),
        ) => Err(ApiError::Internal(format!(
            "escrow settings are invalid: {e}"
        ))),
        PlaceOutcome::EscrowRejected(e) => Err(ApiError::Internal(format!("escrow refused: {e}"))),
    }
}

/// The caller's orders, as buyer or vendor (arbiters have none), newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(PageQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<OrderPage>, ApiError> {
    let bounds = page_bounds(q.page, q.per_page)?;
    let user = current.user.id;
    let rows = state
        .db()
        .run("select", "orders", move |conn| {
            orders::list_for_party(conn, user, bounds.per_page, bounds.offset)
        })
        .await?;
    Ok(ApiJson(OrderPage {
        items: rows.items,
        page: bounds.page,
        per_page: bounds.per_page,
        has_more: rows.has_more,
    }))
}

/// One order, visible to its buyer and vendor only (anyone else gets 404).
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<OrderView>, ApiError> {
    let user = current.user.id;
    state
        .db()
        .run("select", "orders", move |conn| {
            orders::get_for_party(conn, id, user)
        })
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound("order"))
}
