//! Operations endpoints: /health, /ready (with a dead wallet-rpc), /metrics names, /api/openapi.json.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A loopback URL on which nothing listens (the port was free a moment ago).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn health_is_liveness_only() {
    let s = TestServer::start().await;
    let (st, body) = s.anonymous().get("/health").await;
    assert_eq!((st, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn ready_fails_with_a_dead_wallet_rpc() {
    let dead = dead_url();
    let s = TestServer::start_with(&[("MMKT_WALLET_RPC_VENDOR_URL", dead.as_str())], |_| {}).await;
    let (st, body) = s.anonymous().get("/ready").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(
        body["checks"]["wallet_rpc_vendor"]["status"], "error",
        "{body}"
    );
    assert!(
        body["checks"]["wallet_rpc_vendor"]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(
        body["checks"].get("wallet_rpc_buyer").is_none(),
        "unconfigured wallets are not checked: {body}"
    );
    // /health stays 200: liveness does not depend on dependencies.
    let (st, _) = s.anonymous().get("/health").await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn ready_without_wallets_checks_the_database() {
    let s = TestServer::start().await;
    let (st, body) = s.anonymous().get("/ready").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    // Without the three wallet-rpc the server never takes the escrow runner lease.
    assert_eq!(body["escrow_runner"]["state"], "disabled", "{body}");
    assert_eq!(body["escrow_runner"]["lease_held"], false, "{body}");
}

#[tokio::test]
async fn metrics_have_the_required_names_and_route_templates() {
    let dead = dead_url();
    let s = TestServer::start_with(&[("MMKT_WALLET_RPC_BUYER_URL", dead.as_str())], |_| {}).await;
    let vendor = register(&s, "vendy", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let id = create_listing(&vendor, "Metered", 1_000_000_000, 5).await;
    let (st, _) = s.anonymous().get(&format!("/api/listings/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.anonymous().get("/api/listings/424242").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    order(&buyer, id, 1).await;
    let (st, _) = s.anonymous().get("/ready").await; // exercises monero-rpc metrics
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let (st, _) = s.anonymous().get("/no/such/route").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let resp = s
        .anonymous()
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    for name in [
        "http_requests_total{",
        "http_request_duration_seconds_bucket{",
        "escrow_total{state=\"awaiting_setup\"} 1",
        "escrow_total{state=\"funded\"} 0",
        "escrow_state_transitions_total{",
        "escrow_oldest_last_update_timestamp_seconds{state=\"awaiting_setup\"}",
        "wallet_rpc_up{wallet=\"buyer\"} 0",
        "db_operation_duration_seconds_bucket{",
        "db_errors_total{",
        "websocket_connections_active{user_type=\"vendor\"} 0",
        "websocket_connections_total{user_type=\"buyer\"} 0",
        "monero_rpc_duration_seconds",
        "monero_rpc_errors_total{",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "process_virtual_memory_bytes ",
        "process_max_fds ",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}:\n{text}");
    }
    // path is the route template, never the raw URL; unknown routes collapse to one label.
    assert!(text.contains(r#"path="/api/listings/{id}""#), "{text}");
    assert!(
        !text.contains(&format!("/api/listings/{id}\"")),
        "raw id leaked into a label"
    );
    assert!(!text.contains("424242"), "raw id leaked into a label");
    assert!(
        !text.contains("/no/such/route"),
        "raw unmatched path leaked into a label"
    );
    assert!(text.contains(r#"path="unmatched""#), "{text}");
    assert!(
        text.contains(r#"db_operation_duration_seconds_bucket{operation="insert",table="orders""#),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let s = TestServer::start().await;
    let (st, doc) = s.anonymous().get("/api/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/auth/register", &["post"][..]),
        ("/api/auth/login", &["post"]),
        ("/api/auth/logout", &["post"]),
        ("/api/auth/me", &["get"]),
        ("/api/listings", &["get", "post"]),
        ("/api/listings/search", &["get"]),
        ("/api/listings/{id}", &["get", "put", "patch", "delete"]),
        ("/api/orders", &["get", "post"]),
        ("/api/orders/{id}", &["get"]),
        ("/api/orders/{id}/cancel", &["post"]),
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/ops/runner/release", &["post"]),
        ("/ops/runner/acquire", &["post"]),
        ("/ops/escrows/{id}/retry-setup", &["post"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "openapi lacks {m} {path}"
            );
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn request_id_is_returned_and_propagated() {
    let s = TestServer::start().await;
    let resp = s
        .anonymous()
        .request(Method::GET, "/health")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = s
        .anonymous()
        .request(Method::GET, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["x-request-id"].to_str().unwrap().len(),
        36,
        "a UUID is generated"
    );
}
