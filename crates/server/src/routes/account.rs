//! The caller's payout and refund addresses: `PUT /api/auth/me/payout-address` (vendor),
//! `PUT /api/auth/me/refund-address` (buyer), `GET /api/auth/me/addresses`. A new address also
//! reaches the caller's escrows whose payout is not decided yet.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use escrow_core::Role;
use monero_types::Address;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::addresses::{self, AddressKind};
use crate::error::{ApiError, ErrorBody};
use crate::escrow::parties::set_account_address;
use crate::extract::ApiJson;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/me/payout-address", put(set_payout_address))
        .route("/api/auth/me/refund-address", put(set_refund_address))
        .route("/api/auth/me/addresses", get(addresses))
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
) -> Result<ApiJson<AddressUpdated>, ApiError> {
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
) -> Result<ApiJson<AddressUpdated>, ApiError> {
    current.require(Role::Buyer)?;
    set_address(&state, &current, AddressKind::Refund, &request.address).await
}

async fn set_address(
    state: &AppState,
    current: &CurrentUser,
    kind: AddressKind,
    text: &str,
) -> Result<ApiJson<AddressUpdated>, ApiError> {
    let (address, _) = Address::validate(text.trim(), state.config().escrow.network)
        .map_err(|e| ApiError::InvalidAddress(e.to_string()))?;
    let updated = set_account_address(state.escrow(), current.user.id, kind, &address).await?;
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
) -> Result<ApiJson<AddressesView>, ApiError> {
    let user = current.user.id;
    let (payout_address, refund_address) = state
        .db()
        .run("select", "user_addresses", move |conn| {
            addresses::payout_and_refund(conn, user, user)
        })
        .await?;
    Ok(ApiJson(AddressesView {
        payout_address,
        refund_address,
    }))
}
