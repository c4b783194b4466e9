//! Operations endpoints: `/health` (liveness), `/ready` (DB + wallet RPC + monerod checks, and
//! whether this instance holds the escrow runner lease), `/metrics` (Prometheus text),
//! `/api/openapi.json`, and the operator's `POST /ops/escrows/{id}/retry-setup` (internal network
//! only, like every `/ops` route).
//!
//! The wallet-rpc checks call only `get_version`, which opens no wallet and touches no escrow
//! wallet: a standby server (without the runner lease) makes them too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::future::join_all;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::escrow::lease::RunnerStatus;
use crate::escrow::{Target, apply_event_with};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::common::internal_only;
use crate::state::AppState;
use crate::views::EscrowDetail;

/// Per-check timeout of `/ready`: a hung wallet-rpc must not hang the probe.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/ops/escrows/{id}/retry-setup", post(retry_setup))
}

/// `/health` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves HTTP.
    pub status: &'static str,
}

/// Liveness only: 200 while the process answers HTTP; checks nothing else.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

/// Result of one readiness check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`.
    pub status: &'static str,
    /// Version for wallet-rpc/monerod, or the error text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
}

/// `/ready` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check passed, else `not_ready`.
    pub status: &'static str,
    /// Checks by name: `database`, `wallet_rpc_buyer`, `wallet_rpc_vendor`, `wallet_rpc_arbiter`
    /// (each only when its URL is configured), `monerod` (when `MMKT_MONEROD_URL` is set).
    pub checks: BTreeMap<String, Check>,
    /// Whether this instance holds the escrow runner lease, and what it does about it. Not a
    /// check: a standby (another server holds the lease) is ready too.
    pub escrow_runner: RunnerStatus,
}

async fn timed<F, T, E>(future: F) -> Check
where
    F: Future<Output = Result<T, E>>,
    T: std::fmt::Display,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = tokio::time::timeout(READY_CHECK_TIMEOUT, future).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Ok(value)) => Check {
            status: "ok",
            detail: Some(value.to_string()),
            latency_ms,
        },
        Ok(Err(e)) => Check {
            status: "error",
            detail: Some(e.to_string()),
            latency_ms,
        },
        Err(_) => Check {
            status: "error",
            detail: Some(format!(
                "no answer within {} s",
                READY_CHECK_TIMEOUT.as_secs()
            )),
            latency_ms,
        },
    }
}

/// Readiness: runs every check concurrently; 200 when all pass, 503 when any fails.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, description = "a check failed", body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, ApiJson<Readiness>) {
    let db = state.db().clone();
    let database = timed(async move {
        db.run("select", "ready", |conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .await
        .map(|tables| format!("{tables} schema objects"))
    });
    // Fresh clients per probe: never share digest state with the orchestrator's in-flight calls.
    let (clients, client_error) = match crate::state::wallet_clients(state.config()) {
        Ok(clients) => (clients, None),
        Err(e) => (
            Vec::new(),
            Some(Check {
                status: "error",
                detail: Some(e.to_string()),
                latency_ms: 0,
            }),
        ),
    };
    let wallets = clients.into_iter().map(|(role, client)| async move {
        let check = timed(async move {
            client
                .get_version()
                .await
                .map(|v| format!("wallet-rpc RPC version {}.{}", v.major(), v.minor()))
        })
        .await;
        crate::metrics::set_wallet_rpc_up(role, check.status == "ok");
        (format!("wallet_rpc_{role}"), check)
    });
    let daemon = state.daemon().cloned().map(|client| async move {
        timed(async move {
            client
                .get_info()
                .await
                .map(|i| format!("height {} ({})", i.height, i.nettype))
        })
        .await
    });
    let (database, wallets, daemon) = tokio::join!(database, join_all(wallets), async move {
        match daemon {
            Some(f) => Some(f.await),
            None => None,
        }
    });
    let mut checks = BTreeMap::new();
    checks.insert("database".to_owned(), database);
    checks.extend(wallets);
    if let Some(check) = client_error {
        checks.insert("wallet_rpc".to_owned(), check);
    }
    if let Some(check) = daemon {
        checks.insert("monerod".to_owned(), check);
    }
    let all_ok = checks.values().all(|c| c.status == "ok");
    for (name, check) in checks.iter().filter(|(_, c)| c.status != "ok") {
        tracing::warn!(check = %name, detail = ?check.detail, "readiness check failed");
    }
    let (code, status) = if all_ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let escrow_runner = state.runner().status();
    (
        code,
        ApiJson(Readiness {
            status,
            checks,
            escrow_runner,
        }),
    )
}

/// Prometheus text exposition (format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    ApiJson(crate::openapi::document(state.config()))
}

/// The operator retries a failed multisig setup: the escrow goes from `setup_failed` back to
/// `awaiting_setup`, and the orchestrator starts over with fresh wallets and a full budget of
/// attempts. Answers 202; follow the escrow with `GET /api/escrows/{id}` or `/ready`.
#[utoipa::path(post, path = "/ops/escrows/{id}/retry-setup", tag = "ops", params(("id" = i64, Path, description = "escrow id")),
    responses(
        (status = 202, description = "back in `awaiting_setup`; the setup runs again", body = EscrowDetail),
        (status = 403, description = "came through the reverse proxy", body = ErrorBody),
        (status = 404, description = "no such escrow", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: the escrow is not in `setup_failed`", body = ErrorBody)))]
pub async fn retry_setup(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, ApiJson<EscrowDetail>), ApiError> {
    internal_only(&headers)?;
    let floor = Box::new(move |conn: &rusqlite::Connection| {
        crate::db::escrows::wallets::raise_attempt_floor(conn, id)
    });
    let event = escrow_core::EscrowEvent::SetupRetried;
    let actor = escrow_core::Actor::System;
    let applied = apply_event_with(
        state.escrow(),
        Target::Escrow(id),
        actor,
        None,
        event,
        Some(floor),
    )
    .await?;
    tracing::info!(escrow_id = id, "operator retried the failed multisig setup");
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(EscrowDetail::of(applied.escrow())),
    ))
}
