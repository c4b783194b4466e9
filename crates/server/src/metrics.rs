//! Prometheus metrics through the `metrics` facade: recorder installation, metric names, the HTTP
//! middleware, and helpers for DB, escrow and WebSocket metrics.
//!
//! Names: `http_requests_total{method,path,status}`,
//! `http_request_duration_seconds{method,path}` (path = route template), `escrow_total{state}`,
//! `escrow_value_piconero{state}`, `escrow_custody_cap_piconero`,
//! `escrow_state_transitions_total{from_state,to_state}`, `escrow_last_update_timestamp` (Unix s),
//! `db_operation_duration_seconds{operation,table}`, `db_errors_total{error_type}`,
//! `websocket_connections_active`, `websocket_connections_total{user_type}`,
//! `escrow_runner_lease_held` (0/1), `escrow_payout_refused_total{reason}`,
//! `escrow_terminal_wallets_with_balance`, `escrow_terminal_wallet_balance_piconero`,
//! `escrow_terminal_wallet_check_timestamp_seconds` (the terminal-wallet check),
//! the wallet collector's `monero_wallet_*{role}`, `escrow_observed_piconero` and
//! `escrow_balance_mismatch` ([`wallet_metrics`]),
//! `monero_rpc_duration_seconds{method,wallet}` / `monero_rpc_errors_total{method,error_type}`
//! (recorded by the monero-rpc crate), and `process_*` from `metrics-process`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use escrow_core::Role;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for every `*_seconds` histogram: 0.5 ms .. 30 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Label value used for requests that matched no route (keeps cardinality bounded).
pub const UNMATCHED_PATH: &str = "unmatched";

/// `db_errors_total` error types, pre-registered at zero.
pub const DB_ERROR_TYPES: &[&str] = &[
    "busy",
    "constraint",
    "not_a_database",
    "io",
    "query",
    "pool_timeout",
    "task",
    "wrong_key",
    "open",
    "migration",
];

/// The process-wide Prometheus handle plus the process collector.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: &'static metrics_process::Collector,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

pub mod wallet_metrics;
use wallet_metrics::describe_wallet_metrics;
pub use wallet_metrics::{WALLET_ROLES, WalletReading, clear_wallet_metrics, set_wallet_metrics};

static METRICS: OnceLock<Metrics> = OnceLock::new();

impl Metrics {
    /// Installs the Prometheus recorder as the global `metrics` recorder (once per process; later calls
    /// return the same handle), describes every metric and registers the zero-valued series.
    pub fn install() -> Self {
        METRICS
            .get_or_init(|| {
                let recorder = PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                    .expect("static non-empty bucket list")
                    .build_recorder();
                let handle = recorder.handle();
                if metrics::set_global_recorder(recorder).is_err() {
                    tracing::warn!("a global metrics recorder was already installed; /metrics will miss its series");
                }
                let process: &'static metrics_process::Collector =
                    Box::leak(Box::new(metrics_process::Collector::default()));
                process.describe();
                describe_all();
                Metrics { handle, process }
            })
            .clone()
    }

    /// Renders the Prometheus text exposition (refreshing process metrics first).
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

fn describe_all() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route template"
    );
    describe_gauge!("escrow_total", "Escrows by current state");
    describe_gauge!(
        "escrow_value_piconero",
        "Total escrow amount, piconero, the database expects the escrows in each state to hold"
    );
    describe_gauge!(
        "escrow_custody_cap_piconero",
        "Cap, piconero, on the total of the open escrows (MMKT_CUSTODY_CAP_XMR)"
    );
    describe_counter!(
        "escrow_state_transitions_total",
        "Escrow state transitions by from/to state"
    );
    describe_gauge!(
        "escrow_last_update_timestamp",
        Unit::Seconds,
        "Unix time of the last escrow creation or state change"
    );
    describe_gauge!(
        "escrow_oldest_last_update_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the least recently updated escrow in each state (EscrowStuckInPending alert)"
    );
    describe_histogram!(
        "db_operation_duration_seconds",
        Unit::Seconds,
        "Database operation latency by operation and table"
    );
    describe_counter!("db_errors_total", "Database errors by type");
    describe_gauge!(
        "websocket_connections_active",
        "Open WebSocket connections, by user type"
    );
    describe_gauge!(
        "wallet_rpc_up",
        "1 when the last get_version call to this wallet-rpc succeeded, else 0"
    );
    describe_gauge!(
        "escrow_runner_lease_held",
        "1 while this server holds the escrow runner lease (runs escrow jobs), else 0"
    );
    gauge!("escrow_runner_lease_held").set(0.0);
    describe_counter!(
        "websocket_connections_total",
        "WebSocket connections opened, by user type"
    );
    describe_gauge!(
        "escrow_terminal_wallets_with_balance",
        "Released or refunded escrows whose wallet still held money at the last terminal-wallet check (EscrowTerminalWalletHasBalance alert)"
    );
    describe_gauge!(
        "escrow_terminal_wallet_balance_piconero",
        "Total balance, piconero, left in released or refunded escrow wallets at the last terminal-wallet check"
    );
    describe_gauge!(
        "escrow_terminal_wallet_check_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the last completed terminal-wallet check (0: none yet)"
    );
    for name in [
        "escrow_terminal_wallets_with_balance",
        "escrow_terminal_wallet_balance_piconero",
        "escrow_terminal_wallet_check_timestamp_seconds",
    ] {
        gauge!(name).set(0.0);
    }
    describe_wallet_metrics();
    describe_counter!(
        "escrow_payout_refused_total",
        "Payout sets the co-signer refused to sign, by reason (EscrowPayoutRefused alert)"
    );
    for reason in escrow_core::RefusalReason::ALL {
        counter!("escrow_payout_refused_total", "reason" => reason.as_str()).absolute(0);
    }
    describe_histogram!(
        "monero_rpc_duration_seconds",
        Unit::Seconds,
        "Monero RPC call latency by method and wallet"
    );
    describe_counter!(
        "monero_rpc_errors_total",
        "Monero RPC errors by method and error type"
    );
    for role in Role::ALL {
        gauge!("websocket_connections_active", "user_type" => role.as_str()).set(0.0);
        counter!("websocket_connections_total", "user_type" => role.as_str()).absolute(0);
    }
    for error_type in DB_ERROR_TYPES {
        counter!("db_errors_total", "error_type" => *error_type).absolute(0);
    }
}

/// Records one DB operation's duration.
pub fn record_db_operation(operation: &'static str, table: &'static str, elapsed: Duration) {
    histogram!("db_operation_duration_seconds", "operation" => operation, "table" => table)
        .record(elapsed.as_secs_f64());
}

/// Counts one DB error.
pub fn record_db_error(error_type: &'static str) {
    counter!("db_errors_total", "error_type" => error_type).increment(1);
}

/// Sets `escrow_total{state}`.
pub fn set_escrow_total(state: &str, count: u64) {
    gauge!("escrow_total", "state" => state.to_owned()).set(count as f64);
}

/// Counts a persisted escrow state change and stamps `escrow_last_update_timestamp`. Call after the
/// change is committed; the `escrow_total` / `escrow_oldest_last_update_timestamp_seconds` gauges are
/// set from the database by [`crate::refresh_escrow_gauges`].
pub fn record_escrow_transition(from_state: &str, to_state: &str) {
    counter!("escrow_state_transitions_total", "from_state" => from_state.to_owned(), "to_state" => to_state.to_owned())
        .increment(1);
    touch_escrow_update();
}

/// Sets `wallet_rpc_up{wallet}` (1 up, 0 down; `wallet` = the role) after a `get_version` probe
/// of that role's wallet-rpc.
pub fn set_wallet_rpc_up(role: Role, up: bool) {
    gauge!("wallet_rpc_up", "wallet" => role.as_str()).set(if up { 1.0 } else { 0.0 });
}

/// Sets `escrow_runner_lease_held` (1 while this process holds the escrow runner lease, else 0).
pub fn set_runner_lease_held(held: bool) {
    gauge!("escrow_runner_lease_held").set(if held { 1.0 } else { 0.0 });
}

/// Counts one payout set the co-signer refused to sign (`escrow_payout_refused_total{reason}`).
/// Call after the refusal is recorded.
pub fn record_payout_refused(reason: escrow_core::RefusalReason) {
    counter!("escrow_payout_refused_total", "reason" => reason.as_str()).increment(1);
}

/// Publishes one completed terminal-wallet check: `escrow_terminal_wallets_with_balance`
/// (`wallets` with a non-zero balance), `escrow_terminal_wallet_balance_piconero` (their checked
/// total; a Prometheus sample is a float, exact up to 2^53 piconero, about 9007 XMR) and
/// `escrow_terminal_wallet_check_timestamp_seconds` (now).
pub fn set_terminal_wallet_check(wallets: u64, total: escrow_core::Amount) {
    wallet_metrics::set_terminal_mismatches(wallets);
    gauge!("escrow_terminal_wallets_with_balance").set(wallets as f64);
    gauge!("escrow_terminal_wallet_balance_piconero").set(total.as_atomic() as f64);
    gauge!("escrow_terminal_wallet_check_timestamp_seconds")
        .set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
}

/// Sets `escrow_terminal_wallets_with_balance` and `escrow_terminal_wallet_balance_piconero` to
/// 0 once this server no longer holds the runner lease: only the holder reports (the check time
/// keeps its last value).
pub fn clear_terminal_wallet_check() {
    wallet_metrics::set_terminal_mismatches(0);
    gauge!("escrow_terminal_wallets_with_balance").set(0.0);
    gauge!("escrow_terminal_wallet_balance_piconero").set(0.0);
}

/// Sets `escrow_value_piconero{state}`: the piconero total the database expects the escrows in
/// `state` to hold (their `amount_atomic` summed; a Prometheus sample is a float, exact up to 2^53
/// piconero, about 9007 XMR).
pub fn set_escrow_value(state: &str, total: escrow_core::Amount) {
    gauge!("escrow_value_piconero", "state" => state.to_owned()).set(total.as_atomic() as f64);
}

/// Sets `escrow_custody_cap_piconero`: the environment's cap on the total of the open escrows
/// (`MMKT_CUSTODY_CAP_XMR`), against which `EscrowCustodyNearCap` compares `escrow_value_piconero`.
pub fn set_custody_cap(cap: escrow_core::Amount) {
    gauge!("escrow_custody_cap_piconero").set(cap.as_atomic() as f64);
}

/// Sets `escrow_oldest_last_update_timestamp_seconds{state}`: Unix time of the least recently updated
/// escrow in `state` (refreshed with `escrow_total` by the escrow orchestrator).
pub fn set_escrow_oldest_update(state: &str, unix_seconds: i64) {
    gauge!("escrow_oldest_last_update_timestamp_seconds", "state" => state.to_owned())
        .set(unix_seconds as f64);
}

/// Sets `escrow_last_update_timestamp` to now.
pub fn touch_escrow_update() {
    gauge!("escrow_last_update_timestamp")
        .set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
}

/// Records a WebSocket connection opening (`user_type` = the account role).
pub fn websocket_opened(role: Role) {
    gauge!("websocket_connections_active", "user_type" => role.as_str()).increment(1.0);
    counter!("websocket_connections_total", "user_type" => role.as_str()).increment(1);
}

/// Records a WebSocket connection of an account with `role` closing.
pub fn websocket_closed(role: Role) {
    gauge!("websocket_connections_active", "user_type" => role.as_str()).decrement(1.0);
}

/// Middleware recording `http_requests_total` and `http_request_duration_seconds` with the route
/// template (`MatchedPath`) as `path`, or `unmatched`.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_PATH.to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!("http_requests_total", "method" => method.clone(), "path" => path.clone(), "status" => status).increment(1);
    histogram!("http_request_duration_seconds", "method" => method, "path" => path)
        .record(started.elapsed().as_secs_f64());
    response
}
