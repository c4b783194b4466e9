//! One `/ws` connection after the upgrade: the hello, the escrow notices its user may see, the
//! heartbeat, the session checks, and the close frame that says why it ended ([`Ending`]).
//!
//! Incoming messages are limited to [`MAX_MESSAGE_BYTES`]: clients only answer pings (and may
//! close), so a larger one is refused with close code 1009. The WebSocket layer buffers at most
//! [`READ_LIMIT_BYTES`] of one message or frame; past that the connection is dropped at once.
//! The connection closes with code 1008 when its session ends: at once on logout (through
//! [`super::SessionEnds`]), and at the next heartbeat when the session expired or was removed
//! otherwise (the session is looked up again on every ping). After its close frame the server
//! waits up to [`CLOSE_WAIT`] for the client's, so the client reads the frame before the TCP
//! connection goes.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::CurrentUser;
use crate::db::{now_unix, sessions};
use crate::metrics;
use crate::state::AppState;

/// Largest incoming WebSocket message accepted: 4 KiB, in bytes (text or binary payload).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// Most bytes of one incoming message or frame the WebSocket layer buffers before it gives up on
/// the connection: 64 KiB. Between [`MAX_MESSAGE_BYTES`] and this, the message is read whole and
/// refused with close code 1009 and a clean closing handshake.
pub const READ_LIMIT_BYTES: usize = 64 * 1024;

/// How long the server waits for the client's close frame after sending its own.
pub const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a connection ended, and so which close frame (if any) the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client closed, vanished, or a send failed: nothing more to say.
    ClientGone,
    /// The client did not answer the previous ping.
    MissedPong,
    /// The session was logged out, expired or removed: close code 1008.
    SessionEnded,
    /// The client sent a message over [`MAX_MESSAGE_BYTES`] (or over [`READ_LIMIT_BYTES`], which
    /// the WebSocket layer refuses unread): close code 1009.
    MessageTooBig,
    /// The client broke the WebSocket protocol (bad frame, invalid UTF-8): close code 1002.
    ProtocolError,
    /// The server stopped publishing notices (shutting down): close code 1001.
    ServerStopping,
}

impl Ending {
    /// The close frame sent for this ending, if one is sent.
    pub fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Ending::ClientGone => return None,
            Ending::MissedPong => (close_code::AWAY, "no pong to the last ping"),
            Ending::SessionEnded => (close_code::POLICY, "session ended; log in again"),
            Ending::MessageTooBig => (close_code::SIZE, "message over 4096 bytes"),
            Ending::ProtocolError => (close_code::PROTOCOL, "WebSocket protocol error"),
            Ending::ServerStopping => (close_code::AWAY, "server stopping"),
        };
        Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })
    }
}

/// Runs the connection of `current` on `socket` until it ends, then sends the close frame.
pub async fn run(state: AppState, current: CurrentUser, socket: WebSocket) {
    let role = current.user.role;
    metrics::websocket_opened(role);
    let (mut sink, mut stream) = socket.split();
    let ending = serve(&state, &current, &mut sink, &mut stream).await;
    tracing::debug!(user_id = current.user.id, ending = ?ending, "websocket closing");
    if let Some(frame) = ending.close_frame()
        && sink.send(Message::Close(Some(frame))).await.is_ok()
    {
        let answered = async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
    }
    let _ = sink.close().await;
    metrics::websocket_closed(role);
}

async fn serve(
    state: &AppState,
    current: &CurrentUser,
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
) -> Ending {
    let user = &current.user;
    let token_hash = current.token.hash();
    let mut notices = state.escrow().hub().notices().subscribe();
    let mut ends = state.session_ends().subscribe();
    let hello = json!({"type": "hello", "user_id": user.id, "role": user.role.as_str()});
    if send_text(sink, hello.to_string()).await.is_err() {
        return Ending::ClientGone;
    }
    let every = state.escrow().settings().ws_ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let text = match notice {
                    Ok(n) if n.visible_to(user.id, user.role) => match serde_json::to_string(&n) {
                        Ok(t) => t,
                        Err(_) => continue,
                    },
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        json!({"type": "lagged", "missed": missed, "hint": "re-read your escrows with GET /api/escrows/{id}"}).to_string()
                    }
                    Err(RecvError::Closed) => return Ending::ServerStopping,
                };
                if send_text(sink, text).await.is_err() {
                    return Ending::ClientGone;
                }
            }
            ended = ends.recv() => match ended {
                Ok(hash) if hash == token_hash => return Ending::SessionEnded,
                Ok(_) | Err(RecvError::Closed) => {}
                Err(RecvError::Lagged(_)) => {
                    if !session_alive(state, token_hash).await {
                        return Ending::SessionEnded;
                    }
                }
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    return Ending::MissedPong;
                }
                if !session_alive(state, token_hash).await {
                    return Ending::SessionEnded;
                }
                awaiting_pong = true;
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return Ending::ClientGone;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Close(_))) | None => return Ending::ClientGone,
                Some(Ok(Message::Text(t))) if t.len() > MAX_MESSAGE_BYTES => return Ending::MessageTooBig,
                Some(Ok(Message::Binary(b))) if b.len() > MAX_MESSAGE_BYTES => return Ending::MessageTooBig,
                Some(Ok(_)) => {}
                Some(Err(e)) => return read_error(e),
            },
        }
    }
}

async fn send_text(
    sink: &mut SplitSink<WebSocket, Message>,
    text: String,
) -> Result<(), axum::Error> {
    sink.send(Message::Text(Utf8Bytes::from(text))).await
}

/// Whether the session is still in the database and unexpired. A failed lookup keeps the
/// connection (the next heartbeat asks again).
async fn session_alive(state: &AppState, token_hash: [u8; 32]) -> bool {
    let found = state
        .db()
        .run("select", "sessions", move |conn| {
            sessions::lookup(conn, &token_hash, now_unix())
        })
        .await;
    match found {
        Ok(user) => user.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "websocket session check failed; retrying at the next ping");
            true
        }
    }
}

/// The ending for a read error: too big, a protocol error, or the connection itself failed.
fn read_error(error: axum::Error) -> Ending {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) => match *e {
            tungstenite::Error::Capacity(_) => Ending::MessageTooBig,
            tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_) => Ending::ProtocolError,
            _ => Ending::ClientGone,
        },
        Err(_) => Ending::ClientGone,
    }
}
