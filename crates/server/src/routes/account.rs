//! The caller's payout and refund addresses: `PUT /api/auth/me/payout-address` (vendor),
//! `PUT /api/auth/me/refund-address` (buyer), `GET /api/auth/me/addresses`. A change needs the
//! account's password again, is recorded in `address_changes` and announced to the account's
//! WebSocket connections (`account_event`); it reaches the caller's escrows that hold no money
//! yet, never a funded one.

use std::net::IpAddr;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::routing::{get, put};
use escrow_core::Role;
use monero_types::Address;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::Password;
use crate::auth::{CurrentUser, confirm_password, rate_limit};
use crate::db::addresses::{self, AddressKind};
use crate::error::{ApiError, ErrorBody};
use crate::escrow::parties::set_account_address;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::ws::AccountNotice;

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
    /// The account's current password, checked again (argon2id) before anything is stored;
    /// failures count toward the per-username failed-login limit.
    #[schema(value_type = String, format = Password)]
    pub password: Password,
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
    /// Escrows whose address was updated (those holding no money yet; a funded escrow keeps the
    /// address in force when it was funded).
    pub escrows_updated: usize,
    /// First 16 hex digits of the SHA-256 of the new address (as in the audit trail and the
    /// WebSocket `account_event`).
    pub fingerprint: String,
}

/// Sets the vendor's payout address (where releases pay) and applies it to the vendor's escrows
/// that hold no money yet.
#[utoipa::path(put, path = "/api/auth/me/payout-address", tag = "escrows", request_body = AddressRequest,
    security(("session_cookie" = [])),
    responses((status = 200, body = AddressUpdated), (status = 401, body = ErrorBody),
        (status = 403, description = "not a vendor, or `wrong_password`", body = ErrorBody),
        (status = 422, description = "invalid address or body", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn set_payout_address(State(state): State<AppState>, change: ChangeRequest) -> Updated {
    set_address(&state, AddressKind::Payout, change).await
}

/// Sets the buyer's refund address (where refunds pay) and applies it to the buyer's escrows that
/// hold no money yet.
#[utoipa::path(put, path = "/api/auth/me/refund-address", tag = "escrows", request_body = AddressRequest,
    security(("session_cookie" = [])),
    responses((status = 200, body = AddressUpdated), (status = 401, body = ErrorBody),
        (status = 403, description = "not a buyer, or `wrong_password`", body = ErrorBody),
        (status = 422, description = "invalid address or body", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn set_refund_address(State(state): State<AppState>, change: ChangeRequest) -> Updated {
    set_address(&state, AddressKind::Refund, change).await
}

/// An address handler's answer.
type Updated = Result<ApiJson<AddressUpdated>, ApiError>;

/// What an address change request brings: the signed-in caller, the client address as the rate
/// limits see it, and the body.
pub struct ChangeRequest {
    current: CurrentUser,
    ip: IpAddr,
    body: AddressRequest,
}

impl FromRequest<AppState> for ChangeRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let current = CurrentUser::from_request_parts(&mut parts, state).await?;
        let ip = rate_limit::client_ip(&parts, state.config().client_ip_source);
        let ApiJson(body) = ApiJson::from_request(Request::from_parts(parts, body), state).await?;
        Ok(ChangeRequest { current, ip, body })
    }
}

/// Checks the role (vendors keep payout, buyers refund addresses) and the address (before any
/// hashing), checks the password again, then stores, audits, propagates and announces the change.
async fn set_address(state: &AppState, kind: AddressKind, change: ChangeRequest) -> Updated {
    let ChangeRequest {
        current,
        ip,
        body: request,
    } = change;
    current.require(match kind {
        AddressKind::Payout => Role::Vendor,
        AddressKind::Refund => Role::Buyer,
    })?;
    let (address, _) = Address::validate(request.address.trim(), state.config().escrow.network)
        .map_err(|e| ApiError::InvalidAddress(e.to_string()))?;
    confirm_password(state, &current.user, ip, request.password).await?;
    let ip = ip.to_string();
    let set = set_account_address(state.escrow(), current.user.id, kind, &address, &ip).await?;
    tracing::info!(
        user_id = current.user.id,
        kind = kind.as_str(),
        fingerprint = %set.change.new_fingerprint,
        escrows_updated = set.escrows_updated,
        "account address changed"
    );
    state
        .escrow()
        .hub()
        .notices()
        .publish(AccountNotice::address_changed(
            current.user.id,
            &set.change,
            set.escrows_updated,
        ));
    Ok(ApiJson(AddressUpdated {
        kind: kind.as_str(),
        address: address.as_str().to_owned(),
        escrows_updated: set.escrows_updated,
        fingerprint: set.change.new_fingerprint,
    }))
}

/// The caller's payout and refund addresses.
#[utoipa::path(get, path = "/api/auth/me/addresses", tag = "escrows", security(("session_cookie" = [])),
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
