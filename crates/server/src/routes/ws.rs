//! `GET /ws`: the WebSocket of live escrow events, authenticated by the `session_token` cookie
//! (401 before the upgrade without a valid session).
//!
//! After the upgrade the server sends `{"type":"hello","user_id":..,"role":..}`, then one
//! [`crate::ws::EscrowNotice`] per escrow event the user may see (the order's buyer and vendor;
//! arbiters for disputed escrows). It pings every `MMKT_WS_PING_INTERVAL_SECS` (30 s by default);
//! a connection that has not answered the previous ping by the next one is closed. Feeds `websocket_connections_active`
//! and `websocket_connections_total{user_type}`.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::CurrentUser;
use crate::db::users::User;
use crate::metrics;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    current: CurrentUser,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| session(state, current.user, socket))
}

async fn session(state: AppState, user: User, socket: WebSocket) {
    let role = user.role;
    metrics::websocket_opened(role);
    let mut notices = state.escrow().hub().notices().subscribe();
    let (mut sink, mut stream) = socket.split();
    let hello = json!({"type": "hello", "user_id": user.id, "role": role.as_str()}).to_string();
    let every = state.escrow().settings().ws_ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut awaiting_pong = false;
    if sink
        .send(Message::Text(Utf8Bytes::from(hello)))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                notice = notices.recv() => {
                    let text = match notice {
                        Ok(n) if n.visible_to(user.id, role) => match serde_json::to_string(&n) {
                            Ok(t) => t,
                            Err(_) => continue,
                        },
                        Ok(_) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            json!({"type": "lagged", "missed": missed, "hint": "re-read your escrows with GET /api/escrows/{id}"}).to_string()
                        }
                        Err(RecvError::Closed) => break,
                    };
                    if sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                        break;
                    }
                }
                _ = ping.tick() => {
                    if awaiting_pong {
                        tracing::debug!(user_id = user.id, "websocket missed its pong; closing");
                        break;
                    }
                    awaiting_pong = true;
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    let _ = sink.close().await;
    metrics::websocket_closed(role);
}
