//! `/api/orders*`: buyers place orders (escrow created in its initial state, within the per-buyer
//! cap on unfunded orders and the order rate limit) and cancel them before funding (the stock
//! goes back to the listing); parties read them.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use escrow_core::error::{EscrowError, OrderError};
use escrow_core::{Actor, AllowedModes, EscrowEvent, EscrowMode};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::escrows;
use crate::db::now_unix;
use crate::db::orders::{self, EscrowPolicy, OrderView, PlaceOutcome};
use crate::db::users::Role;
use crate::error::{ApiError, ErrorBody};
use crate::escrow::{Target, apply_event_with};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{PageQuery, count, id, page_bounds};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/orders", get(list).post(create))
        .route("/api/orders/{id}", get(show))
        .route("/api/orders/{id}/cancel", post(cancel))
}

/// `POST /api/orders` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Listing to buy.
    #[schema(value_type = i64)]
    pub listing_id: Number,
    /// Units, 1 to 4294967295 (and at most the listing's stock).
    #[schema(value_type = u64, minimum = 1, maximum = 4_294_967_295_u64, example = 1)]
    pub quantity: Number,
    /// Who holds the escrow's buyer and vendor keys: `hosted` (default: the server) or
    /// `non_custodial` (buyer and vendor run their own wallets, see `/api/escrows/{id}/rounds`).
    /// A mode this marketplace does not offer is refused with 422 `escrow_mode_not_allowed`.
    #[schema(example = "non_custodial")]
    pub escrow_mode: Option<String>,
}

/// The buyer's escrow mode, if given and offered here (default hosted).
fn chosen_mode(
    request: &CreateOrderRequest,
    allowed: AllowedModes,
) -> Result<EscrowMode, ApiError> {
    let Some(label) = request.escrow_mode.as_deref() else {
        return allowed
            .admit(EscrowMode::Hosted)
            .map_err(ApiError::EscrowModeNotAllowed);
    };
    let mode = label
        .parse::<EscrowMode>()
        .map_err(|e| ApiError::InvalidField {
            field: "escrow_mode",
            message: e.to_string(),
        })?;
    allowed.admit(mode).map_err(ApiError::EscrowModeNotAllowed)
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
/// Before that, the buyer's order rate (`MMKT_ORDERS_PER_MINUTE`) and number of unfunded orders
/// (`MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER`) are checked: 429 when either is exceeded.
#[utoipa::path(post, path = "/api/orders", tag = "orders", operation_id = "create_order", request_body = CreateOrderRequest,
    security(("session_cookie" = [])),
    responses((status = 200, body = OrderView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "no such listing", body = ErrorBody), (status = 409, description = "insufficient stock, or the custody cap on open escrows reached", body = ErrorBody),
        (status = 422, description = "bad quantity, overflow, total above the escrow cap, or an escrow mode not offered (`escrow_mode_not_allowed`)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (too many orders this minute, see Retry-After) or `too_many_unfunded_orders`", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(request): ApiJson<CreateOrderRequest>,
) -> Result<ApiJson<OrderView>, ApiError> {
    current.require(Role::Buyer)?;
    let quantity = count(&request.quantity, "quantity", 1)?;
    let config = state.config();
    let mode = chosen_mode(&request, config.escrow.modes.allowed)?;
    state.order_limiter().check(current.user.id)?;
    let policy = EscrowPolicy {
        cap: config.limits.escrow_cap(),
        custody: config.escrow.custody.cap,
        required_confirmations: config.escrow.required_confirmations,
        funding_window_secs: config.escrow.funding_window_secs,
        max_unfunded: config.orders.max_unfunded_per_buyer,
        mode,
    };
    let (buyer, listing) = (current.user.id, id(&request.listing_id, "listing_id")?);
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
                escrow_mode = view.escrow_mode.as_str(),
                "order placed"
            );
            if view.escrow_mode == EscrowMode::NonCustodial {
                crate::escrow::rounds::announce_start(state.escrow(), view.escrow.escrow_id).await;
            }
            Ok(ApiJson(*view))
        }
        PlaceOutcome::ListingNotFound => Err(ApiError::NotFound("listing")),
        PlaceOutcome::TooManyUnfunded { open, cap } => {
            Err(ApiError::TooManyUnfundedOrders { open, cap })
        }
        PlaceOutcome::Rejected(e) => Err(order_error(e)),
        PlaceOutcome::CustodyCapReached(e) => Err(ApiError::CustodyCapReached { cap: e.cap }),
        PlaceOutcome::EscrowRejected(
            e @ (EscrowError::ZeroConfirmations | EscrowError::ZeroFundingWindow),
        ) => Err(ApiError::Internal(format!(
            "escrow settings are invalid: {e}"
        ))),
        PlaceOutcome::EscrowRejected(e) => Err(ApiError::Internal(format!("escrow refused: {e}"))),
    }
}

/// The caller's orders, as buyer or vendor (arbiters have none), newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", operation_id = "list_orders", params(PageQuery), security(("session_cookie" = [])),
    responses((status = 200, body = OrderPage), (status = 400, description = "bad page/per_page", body = ErrorBody), (status = 401, body = ErrorBody)))]
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
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", operation_id = "show_order", params(("id" = i64, Path, description = "order id")),
    security(("session_cookie" = [])),
    responses((status = 200, body = OrderView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<OrderView>, ApiError> {
    order_for(&state, id, current.user.id).await
}

/// Order `id` as party `user` sees it; 404 `order` for anyone else.
async fn order_for(state: &AppState, id: i64, user: i64) -> Result<ApiJson<OrderView>, ApiError> {
    state
        .db()
        .run("select", "orders", move |conn| {
            orders::get_for_party(conn, id, user)
        })
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound("order"))
}

/// The buyer cancels an order that has received no funds (escrow `awaiting_setup`,
/// `setup_failed`, or `awaiting_funding` with nothing received): the escrow moves to `cancelled`,
/// the units go back to the listing in the same transaction, and a multisig setup still running
/// stops before its next round. The vendor gets 403, anyone else 404.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order", params(("id" = i64, Path, description = "order id")),
    security(("session_cookie" = [])),
    responses((status = 200, description = "cancelled; the stock is back", body = OrderView), (status = 401, body = ErrorBody),
        (status = 403, description = "not the buyer (`forbidden`)", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`funds_present` (pay-in seen: open a dispute instead) or `invalid_transition` (already cancelled, expired, funded, ...)", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<OrderView>, ApiError> {
    let user = current.user.id;
    let escrow = state
        .db()
        .run("select", "escrows", move |conn| {
            escrows::load(conn, Target::Order(id))
        })
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    match escrow.actor_for(escrow_core::UserId::new(user), current.user.role) {
        Some(Actor::Buyer) => {}
        Some(Actor::Vendor) => {
            return Err(ApiError::Forbidden(
                "only the buyer can cancel an order; a vendor who cannot deliver asks the buyer to cancel".into(),
            ));
        }
        _ => return Err(ApiError::NotFound("order")),
    }
    let give_back = Box::new(move |conn: &rusqlite::Connection| {
        orders::return_stock(conn, id, now_unix()).map(|_| ())
    });
    let target = Target::Order(id);
    let event = EscrowEvent::Cancelled;
    apply_event_with(
        state.escrow(),
        target,
        Actor::Buyer,
        Some(user),
        event,
        Some(give_back),
    )
    .await?;
    state.listing_cache().invalidate();
    tracing::info!(
        order_id = id,
        "order cancelled by the buyer; stock returned"
    );
    order_for(&state, id, user).await
}
