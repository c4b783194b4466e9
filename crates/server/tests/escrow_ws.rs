//! The escrow WebSocket's heartbeat: `/ws` refuses a request without a session, pings every
//! `MMKT_WS_PING_INTERVAL_SECS`, closes a connection that stops answering, keeps one that answers,
//! and `websocket_connections_active{user_type}` follows. Needs no chain.

mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn active(metrics: &str, user_type: &str) -> Option<f64> {
    metric(
        metrics,
        &format!("websocket_connections_active{{user_type=\"{user_type}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_answering_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(dir.path(), &[("MMKT_WS_PING_INTERVAL_SECS", "1")]);
    server.wait_ready().await;
    let buyer = register(&server, "buyer_ws", "buyer").await;

    let anonymous = reqwest::get(server.url("/ws")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A client that never reads never answers the server's pings.
    let url = server.url("/ws").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", buyer.cookie.parse().unwrap());
    let (mut silent, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connects");
    let mut live = websocket(&buyer).await;

    let text = metrics_text(&server).await;
    assert_eq!(active(&text, "buyer"), Some(2.0), "{text}");

    // Two missed pings later the silent one is gone; the answering one stays.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        live.drain(Duration::from_millis(200)).await;
        let text = metrics_text(&server).await;
        if active(&text, "buyer") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "silent connection never closed: {text}"
        );
    }
    let mut closed = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), silent.next()).await {
        match frame {
            Ok(Message::Close(_)) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(closed, "the server closed the silent connection");
    let total = metrics_text(&server).await;
    assert_eq!(
        metric(&total, r#"websocket_connections_total{user_type="buyer"}"#),
        Some(2.0)
    );
    drop(live);
}
