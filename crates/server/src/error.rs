//! The one HTTP error type: every failure maps to a status through [`ApiError::status_code`] and to the
//! body `{"error":{"code":"...","message":"..."}}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use escrow_core::RejectionClass;
use escrow_core::error::{
    DisputeReasonError, ModeError, PayoutRefusal, RoundRefusal, TransitionError,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::escrow::ApplyError;
use crate::escrow::lease::RunnerRefusal;
use crate::web::guard::CrossSiteRefusal;

/// Every error the API returns. Variants that carry a message show it to the client; none contains a
/// secret. Internal details are logged (with the request id) and replaced by a generic message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `malformed_json`: the body is not syntactically valid JSON.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 422 `invalid_body`: valid JSON of the wrong shape (missing or unknown field, wrong type).
    #[error("request body does not match the expected shape: {0}")]
    InvalidBody(String),
    /// 415 `unsupported_media_type`: a JSON body without `Content-Type: application/json`.
    #[error("send the body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 413 `payload_too_large`: the body exceeds 64 KiB.
    #[error("request body exceeds the 64 KiB limit")]
    PayloadTooLarge,
    /// 400 `invalid_query`: a query string parameter is missing, malformed or out of range.
    #[error("{0}")]
    InvalidQuery(String),
    /// 422 `invalid_field`: a text field fails validation (length, characters).
    #[error("{field}: {message}")]
    InvalidField {
        /// JSON field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 422 `invalid_amount`: an amount is zero, negative, fractional or does not fit in u64 atomic units.
    #[error(
        "{field} must be a positive integer number of atomic units (piconero) that fits in 64 bits"
    )]
    InvalidAmount {
        /// JSON field name.
        field: &'static str,
    },
    /// 422 `invalid_quantity`: a count is negative, fractional, zero where not allowed, or above 2^32-1.
    #[error("{field} must be an integer between {min} and 4294967295")]
    InvalidQuantity {
        /// JSON field name.
        field: &'static str,
        /// Smallest accepted value.
        min: u32,
    },
    /// 422 `amount_exceeds_cap`: the amount is above this environment's escrow cap.
    #[error("{what} of {amount} atomic units exceeds the escrow cap of {cap} atomic units")]
    AmountExceedsCap {
        /// `price_xmr` or `order total`.
        what: &'static str,
        /// Requested amount, atomic units.
        amount: u64,
        /// Cap, atomic units.
        cap: u64,
    },
    /// 422 `amount_overflow`: price × quantity does not fit in u64.
    #[error("price x quantity overflows 64-bit atomic units")]
    AmountOverflow,
    /// 401 `unauthenticated`: no valid session cookie.
    #[error("log in first: no valid session cookie")]
    Unauthenticated,
    /// 401 `invalid_credentials`: unknown username or wrong password (deliberately not distinguished).
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    /// 403 `forbidden`: the caller's role or ownership does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `cross_site_refused`: a state-changing request or WebSocket handshake a browser sent
    /// from another site's page (`Sec-Fetch-Site`, `Origin`); nothing was done.
    #[error(
        "cross-site request refused: {0}; send it from the marketplace's own pages (API clients: send no Origin or Sec-Fetch-Site header)"
    )]
    CrossSite(CrossSiteRefusal),
    /// 404 `not_found`: no such resource visible to the caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 409 `username_taken`.
    #[error("this username is taken; choose another")]
    UsernameTaken,
    /// 409 `insufficient_stock`.
    #[error("only {available} unit(s) left, {requested} requested")]
    InsufficientStock {
        /// Units requested.
        requested: u32,
        /// Units available.
        available: u32,
    },
    /// 429 `too_many_unfunded_orders`: the buyer already has the per-environment maximum of
    /// unfunded orders (`MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER`).
    #[error(
        "you have {open} unfunded order(s), the most allowed is {cap}: fund or cancel one (POST /api/orders/{{id}}/cancel) before ordering again"
    )]
    TooManyUnfundedOrders {
        /// The buyer's unfunded orders.
        open: u32,
        /// The cap.
        cap: u32,
    },
    /// 409 `custody_cap_reached`: the open escrows with this order would exceed the
    /// environment's custody cap (`MMKT_CUSTODY_CAP_XMR`); nothing was written. The message
    /// names the cap only.
    #[error(
        "this marketplace already holds its limit of {cap} XMR in open escrows; no order was placed, retry once some escrows are paid out"
    )]
    CustodyCapReached {
        /// The cap, piconero (formats as decimal XMR).
        cap: escrow_core::Amount,
    },
    /// 429 `rate_limited`: too many login/register attempts from this client, or orders from
    /// this account.
    #[error("too many requests from this client; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 429 `login_queue_full`: every password-hashing slot is busy and the queue of requests
    /// waiting for one is full.
    #[error("too many password checks are waiting right now; retry in {retry_after_secs} s")]
    LoginQueueFull {
        /// Seconds to wait (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 429 `account_throttled`: too many failed password checks for this username recently
    /// (from any client); it is free again after the window.
    #[error("too many failed password attempts for this account; retry in {retry_after_secs} s")]
    AccountThrottled {
        /// Seconds until the oldest counted failure leaves the window (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 403 `wrong_password`: the password re-entered to confirm a sensitive change does not
    /// match the account's.
    #[error(
        "password: does not match this account's password; enter your current password to confirm"
    )]
    WrongPassword,
    /// 500 `internal`: a bug or a storage failure (details in the server log only).
    #[error("internal error; the request id in X-Request-Id identifies it in the server log")]
    Internal(String),
    /// 503 `unavailable`: the database is temporarily unavailable.
    #[error("service temporarily unavailable; retry shortly")]
    Unavailable,
    /// The escrow state machine refused the event: 403/409/422 by its
    /// [`TransitionError::class`], code from escrow-core (`not_permitted`, `already_confirmed`,
    /// `not_disputed`, `payout_address_missing`, ...).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// 422 `invalid_address`: not an address of the configured network (the message says why).
    #[error("address: {0}")]
    InvalidAddress(String),
    /// 422 `invalid_reason`: a dispute reason that is blank, too long, or has control characters.
    #[error("reason: {0}")]
    InvalidReason(#[from] DisputeReasonError),
    /// 409 `concurrent_update`: the escrow changed meanwhile; retry.
    #[error("the escrow changed while this request was processed; retry")]
    ConcurrentUpdate,
    /// `POST /ops/runner/acquire` did not get the escrow runner lease: 409 `runner_lease_held`
    /// (another server holds it), 409 `runner_disabled` (no wallet-rpc configured), 503
    /// `runner_lease_unavailable` (the lease row could not be written).
    #[error(transparent)]
    Runner(#[from] RunnerRefusal),
    /// 422 `escrow_mode_not_allowed`: the order asks for an escrow mode this marketplace does not
    /// offer (`MMKT_ESCROW_MODES`); the message names the offered ones.
    #[error(transparent)]
    EscrowModeNotAllowed(ModeError),
    /// 409 `not_non_custodial`: a round request on a hosted escrow (the server runs its rounds).
    #[error(
        "this escrow is hosted: the server runs its multisig rounds, there is nothing to submit"
    )]
    NotNonCustodial,
    /// 409: the round protocol refused a submission (nothing changed). Codes:
    /// `rounds_closed`, `deadline_passed`, `wrong_round`, `not_your_turn` (escrow-core
    /// `out_of_turn` and `unknown_party`), `already_submitted` (escrow-core `repeated`).
    #[error(transparent)]
    Round(RoundRefusal),
    /// 422 `txset_refused`: a party's payout txset fails the server's check (destination,
    /// change, `unlock_time`, fee limit, inputs; the reason label is in the message); nothing
    /// stored or relayed.
    #[error("the payout set is refused ({reason}): {refusal}", reason = .0.reason().as_str(), refusal = .0)]
    TxsetRefused(PayoutRefusal),
    /// 422 `malformed_payload`: the submitted payload is empty, not the round's expected shape
    /// (multisig_info, address, sync info, txset), or an address of another network.
    #[error("payload: {0}")]
    MalformedPayload(String),
}

/// `{"error":{"code","message"}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Machine-readable code and human-readable message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_amount` (see docs/API.md).
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// The single status mapping.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            Self::InvalidBody(_)
            | Self::InvalidField { .. }
            | Self::InvalidAmount { .. }
            | Self::InvalidQuantity { .. }
            | Self::AmountExceedsCap { .. }
            | Self::AmountOverflow
            | Self::InvalidAddress(_)
            | Self::InvalidReason(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CrossSite(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UsernameTaken | Self::InsufficientStock { .. } | Self::ConcurrentUpdate => {
                StatusCode::CONFLICT
            }
            Self::CustodyCapReached { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } | Self::TooManyUnfundedOrders { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::LoginQueueFull { .. } | Self::AccountThrottled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::WrongPassword => StatusCode::FORBIDDEN,
            Self::EscrowModeNotAllowed(_) | Self::MalformedPayload(_) | Self::TxsetRefused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::NotNonCustodial | Self::Round(_) => StatusCode::CONFLICT,
            Self::Runner(RunnerRefusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Runner(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Transition(t) => match t.class() {
                RejectionClass::Forbidden => StatusCode::FORBIDDEN,
                RejectionClass::Conflict => StatusCode::CONFLICT,
                RejectionClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                #[allow(unreachable_patterns)]
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidBody(_) => "invalid_body",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidQuery(_) => "invalid_query",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidAmount { .. } => "invalid_amount",
            Self::InvalidQuantity { .. } => "invalid_quantity",
            Self::AmountExceedsCap { .. } => "amount_exceeds_cap",
            Self::AmountOverflow => "amount_overflow",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden(_) => "forbidden",
            Self::CrossSite(_) => "cross_site_refused",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UsernameTaken => "username_taken",
            Self::InsufficientStock { .. } => "insufficient_stock",
            Self::CustodyCapReached { .. } => "custody_cap_reached",
            Self::RateLimited { .. } => "rate_limited",
            Self::LoginQueueFull { .. } => "login_queue_full",
            Self::AccountThrottled { .. } => "account_throttled",
            Self::WrongPassword => "wrong_password",
            Self::TooManyUnfundedOrders { .. } => "too_many_unfunded_orders",
            Self::Internal(_) => "internal",
            Self::Unavailable => "unavailable",
            Self::Transition(t) => t.code(),
            Self::InvalidAddress(_) => "invalid_address",
            Self::InvalidReason(_) => "invalid_reason",
            Self::ConcurrentUpdate => "concurrent_update",
            Self::Runner(RunnerRefusal::HeldByOther { .. }) => "runner_lease_held",
            Self::Runner(RunnerRefusal::Disabled) => "runner_disabled",
            Self::Runner(RunnerRefusal::Unavailable) => "runner_lease_unavailable",
            Self::EscrowModeNotAllowed(_) => "escrow_mode_not_allowed",
            Self::NotNonCustodial => "not_non_custodial",
            Self::Round(refusal) => round_refusal_code(refusal),
            Self::MalformedPayload(_) => "malformed_payload",
            Self::TxsetRefused(_) => "txset_refused",
        }
    }
}

/// The API code of a round refusal (see [`ApiError::Round`]).
fn round_refusal_code(refusal: &RoundRefusal) -> &'static str {
    match refusal {
        RoundRefusal::OutOfTurn { .. } | RoundRefusal::UnknownParty { .. } => "not_your_turn",
        RoundRefusal::Repeated { .. } => "already_submitted",
        other => other.code(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed with an internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs }
        | Self::LoginQueueFull { retry_after_secs }
        | Self::AccountThrottled { retry_after_secs } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Pool(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::NotFound => Self::NotFound("escrow"),
            ApplyError::Rejected(t) => Self::Transition(t),
            ApplyError::Conflict => Self::ConcurrentUpdate,
            ApplyError::Db(db) => db.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::BAD_REQUEST => Self::MalformedJson(rejection.body_text()),
            _ => Self::InvalidBody(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::InvalidQuery(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::NotFound("resource")
    }
}
