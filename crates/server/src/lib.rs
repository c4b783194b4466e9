//! mmkt-server: the marketplace HTTP API (axum) on an encrypted SQLCipher database.
//!
//! [`app`] builds the router shared by the binary and the tests; [`serve`] runs it on a listener with
//! the per-connection peer address (used for rate limiting) and the background maintenance tasks.
//! See docs/API.md for the routes, auth and error codes.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod escrow;
pub mod extract;
pub mod listing_cache;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod web;
pub mod ws;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use crate::config::Config;
pub use crate::db::Db;
pub use crate::error::ApiError;
pub use crate::maintenance::refresh_escrow_gauges;
pub use crate::state::AppState;

/// Largest accepted request body: 64 KiB (larger bodies get 413 `payload_too_large`).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The application router: auth, account, listings, orders, escrows, disputes, WebSocket and ops
/// routes with request ids, tracing, metrics, the 64 KiB body limit, the cross-site guard
/// ([`web::guard`]), `Cache-Control: no-store` ([`web::no_store`]), and JSON 404/405 fallbacks.
pub fn app(state: AppState) -> Router {
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    let path = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or(metrics::UNMATCHED_PATH, |p| p.as_str());
                    tracing::info_span!("request", request_id = %request_id, method = %request.method(), path = %path)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(from_fn(metrics::track_http));
    Router::new()
        .merge(routes::auth::router(&state))
        .merge(routes::account::router())
        .merge(routes::listings::router())
        .merge(routes::orders::router())
        .merge(routes::ops::router())
        .merge(routes::runner::router())
        .merge(routes::escrows::router())
        .merge(routes::rounds::router())
        .merge(routes::disputes::router())
        .merge(routes::ws::router())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(from_fn_with_state(state.clone(), web::guard::guard))
        .layer(from_fn(web::no_store))
        .layer(layers)
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` resolves, with the [`maintenance`] tasks: escrow
/// gauges set from the database (and every legal transition series registered at zero), expired
/// sessions purged, wallet-rpc probed for `wallet_rpc_up`; and the escrow runner: the lease keeper
/// and the orchestrator, which runs escrow jobs only while this process holds the lease.
///
/// When `shutdown` resolves the runner lease is released as by `POST /ops/runner/release`: no new
/// escrow job starts, the jobs in flight finish (at most [`escrow::lease::SHUTDOWN_WAIT`]), the
/// lease is released for a standby, then the tasks stop.
///
/// # Errors
/// I/O errors of the listener, or a database error while reading escrow counts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    maintenance::register_transition_series();
    maintenance::refresh_escrow_gauges(state.db()).await?;
    let maintenance = maintenance::spawn(&state);
    let runner = state.runner().clone();
    let keeper = runner.spawn_keeper();
    let escrow_runtime = escrow::spawn(state.escrow().clone(), state.wallets(), runner.clone());
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let releasing = runner.clone();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Stop taking escrow jobs at once; HTTP connections drain meanwhile.
            releasing.request_release();
        })
        .await;
    let status = runner.release(escrow::lease::SHUTDOWN_WAIT).await;
    if status.lease_held {
        tracing::warn!(
            jobs_in_flight = status.jobs_in_flight,
            "stopping with escrow jobs in flight; the runner lease expires by itself and the next holder resumes them"
        );
    }
    maintenance.abort();
    escrow_runtime.abort();
    keeper.abort();
    result.map_err(ServeError::Io)
}

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Reading start-up state from the database failed.
    #[error("cannot read escrow counts for metrics: {0}")]
    Db(#[from] db::DbError),
    /// The listener failed.
    #[error("HTTP listener failed: {0}")]
    Io(std::io::Error),
}
