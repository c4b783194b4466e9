//! The market's WebSocket (`GET /ws`, the session cookie as on every request): mmkt-party acts
//! on `{"type":"escrow_turn",...}` notices ([`TurnNotice`]) and ignores every other message.
//! `ws://` for an `http` market, `wss://` (rustls, the system's CA roots) for an `https` one.

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::MarketClient;
use super::types::TurnNotice;
use crate::error::PartyError;

/// An open `GET /ws` connection.
pub struct Notices {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notices")
    }
}

/// The WebSocket URL of the market's `/ws`: `ws://` for `http`, `wss://` for `https`.
///
/// # Errors
/// [`PartyError::Input`] when no such URL can be made of `--market`.
pub fn ws_url(market: &MarketClient) -> Result<String, PartyError> {
    let base = market.base();
    let scheme = match base.scheme() {
        "https" => "wss",
        _ => "ws",
    };
    let mut url = base
        .join("/ws")
        .map_err(|e| PartyError::Input(e.to_string()))?;
    url.set_scheme(scheme)
        .map_err(|()| PartyError::Input("cannot make a WebSocket URL of --market".into()))?;
    Ok(url.to_string())
}

impl Notices {
    /// Connects to the market's `/ws` with the client's session.
    ///
    /// # Errors
    /// [`PartyError::Input`] (see [`ws_url`]); [`PartyError::MarketUnreachable`] when the
    /// handshake fails (401 without a valid session included).
    pub async fn connect(market: &MarketClient) -> Result<Notices, PartyError> {
        let url = ws_url(market)?;
        let fail = |detail: String| PartyError::MarketUnreachable {
            action: "GET /ws".into(),
            detail,
        };
        let mut request = url.into_client_request().map_err(|e| fail(e.to_string()))?;
        if let Some(session) = market.session() {
            let cookie = HeaderValue::from_str(&session.cookie_header())
                .map_err(|_| PartyError::Input("the saved session is not a cookie".into()))?;
            request.headers_mut().insert("cookie", cookie);
        }
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(Notices { stream })
    }

    /// The next `escrow_turn` notice; `None` when the market closed the connection.
    ///
    /// # Errors
    /// [`PartyError::MarketUnreachable`] when the connection fails.
    pub async fn next_turn(&mut self) -> Result<Option<TurnNotice>, PartyError> {
        while let Some(message) = self.stream.next().await {
            let message = message.map_err(|e| PartyError::MarketUnreachable {
                action: "reading /ws".into(),
                detail: e.to_string(),
            })?;
            let Message::Text(text) = message else {
                continue;
            };
            if let Some(notice) = turn_notice(text.as_str()) {
                return Ok(Some(notice));
            }
        }
        Ok(None)
    }
}

/// The notice in `text` if it is an `escrow_turn` one.
pub fn turn_notice(text: &str) -> Option<TurnNotice> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("type")?.as_str()? != "escrow_turn" {
        return None;
    }
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_turn_notices_count() {
        let turn = r#"{"type":"escrow_turn","escrow_id":7,"order_id":8,"round":"make","role":"buyer","deadline":1}"#;
        let notice = turn_notice(turn).unwrap();
        assert_eq!((notice.escrow_id, notice.order_id), (7, 8));
        assert_eq!(notice.round, "make");
        assert!(turn_notice(r#"{"type":"escrow_event","escrow_id":7}"#).is_none());
        assert!(turn_notice("not json").is_none());
    }

    #[test]
    fn ws_url_follows_the_market() {
        let http = MarketClient::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(ws_url(&http).unwrap(), "ws://127.0.0.1:8080/ws");
        let https = MarketClient::new("https://market.example/shop").unwrap();
        assert_eq!(ws_url(&https).unwrap(), "wss://market.example/ws");
    }
}
