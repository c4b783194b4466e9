//! The escrow runner lease's operator routes, for the blue/green handover: `POST
//! /ops/runner/release` (stop taking escrow jobs, finish those in flight, release the lease) and
//! `POST /ops/runner/acquire` (take it again). Internal network only: nginx answers 404 for
//! `/ops/*`, and these handlers also refuse any request that carries a proxy header.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::error::ApiError;
use crate::escrow::lease::{RELEASE_WAIT, RunnerState, RunnerStatus};
use crate::extract::ApiJson;
use crate::routes::common::internal_only;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/runner/release", post(release))
        .route("/ops/runner/acquire", post(acquire))
}

/// Stops taking escrow jobs, waits (up to 60 s) for the jobs in flight (a signed payout is still
/// submitted), then releases the lease for a standby. This server takes it again only after
/// `POST /ops/runner/acquire` or a restart. Idempotent.
#[utoipa::path(post, path = "/ops/runner/release", tag = "ops",
    responses(
        (status = 200, description = "released (or not held): state `released` or `disabled`", body = RunnerStatus),
        (status = 202, description = "still finishing jobs in flight (state `draining`); poll /ready", body = RunnerStatus),
        (status = 403, description = "came through the reverse proxy", body = crate::error::ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(StatusCode, ApiJson<RunnerStatus>), ApiError> {
    internal_only(&headers)?;
    let status = state.runner().release(RELEASE_WAIT).await;
    let code = match status.state {
        RunnerState::Draining => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((code, ApiJson(status)))
}

/// Makes this server a candidate for the lease again (also cancels a release in progress) and
/// waits for its attempt: 200 once held. On 409 `runner_lease_held` it stays a standby and takes
/// the lease as soon as the other holder releases it or it expires.
#[utoipa::path(post, path = "/ops/runner/acquire", tag = "ops",
    responses(
        (status = 200, description = "this server holds the lease", body = RunnerStatus),
        (status = 403, description = "came through the reverse proxy", body = crate::error::ErrorBody),
        (status = 409, description = "`runner_lease_held` (another server holds it) or `runner_disabled`", body = crate::error::ErrorBody),
        (status = 503, description = "`runner_lease_unavailable`: the lease row could not be written", body = crate::error::ErrorBody)))]
pub async fn acquire(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<ApiJson<RunnerStatus>, ApiError> {
    internal_only(&headers)?;
    Ok(ApiJson(state.runner().acquire().await?))
}
