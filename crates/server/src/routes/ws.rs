//! `GET /ws`: the WebSocket of live escrow events, authenticated by the session cookie (401
//! before the upgrade without a valid session; 403 `cross_site_refused` for a handshake from
//! another site's page, see [`crate::web::guard`]).
//!
//! After the upgrade the server sends `{"type":"hello","user_id":..,"role":..}`, then one
//! [`crate::ws::EscrowNotice`] per escrow event the user may see (the order's buyer and vendor;
//! arbiters for disputed escrows). It pings every `MMKT_WS_PING_INTERVAL_SECS` (30 s by default);
//! a connection that has not answered the previous ping by the next one is closed. Incoming
//! messages over [`connection::MAX_MESSAGE_BYTES`] close it with code 1009, the end of its session (logout at
//! once, expiry at the next ping) with code 1008 ([`crate::ws::connection`]). Feeds
//! `websocket_connections_active` and `websocket_connections_total{user_type}`.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;

use crate::auth::CurrentUser;
use crate::state::AppState;
use crate::ws::connection::{self, READ_LIMIT_BYTES};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    current: CurrentUser,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(READ_LIMIT_BYTES)
        .max_frame_size(READ_LIMIT_BYTES)
        .on_upgrade(move |socket| connection::run(state, current, socket))
}
