//! Orders cannot jam the marketplace (in-process server, no wallet-rpc: escrows stay in
//! `awaiting_setup`): the per-buyer cap on unfunded orders and the order rate limit answer 429 in
//! the JSON error shape and write nothing; the buyer's cancel returns the stock exactly once, and
//! everyone else's cancel (vendor 403, stranger 404, unknown order 404, anonymous 401) changes
//! nothing; the operator's setup retry refuses bad input and proxied requests.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn stock(user: &User, listing_id: i64) -> u64 {
    let (status, body) = user.get(&format!("/api/listings/{listing_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stock"].as_u64().unwrap()
}

async fn cancel(user: &User, order_id: i64) -> (StatusCode, Value) {
    user.post(&format!("/api/orders/{order_id}/cancel"), Value::Null)
        .await
}

#[tokio::test]
async fn unfunded_order_cap_answers_429_and_writes_nothing() {
    let server =
        TestServer::start_with(&[("MMKT_ORDERS_MAX_UNFUNDED_PER_BUYER", "2")], |_| {}).await;
    let vendor = register(&server, "vendor_cap", "vendor").await;
    let buyer = register(&server, "buyer_cap", "buyer").await;
    let other = register(&server, "buyer_cap_other", "buyer").await;
    let listing = create_listing(&vendor, "Capped goods", 1_000_000, 10).await;
    let (first, _) = order(&buyer, listing, 1).await;
    order(&buyer, listing, 1).await;

    let before = server.snapshot();
    let (status, body) = place_order(&buyer, listing, 1).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_unfunded_orders",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancel"),
        "{body}"
    );
    assert_eq!(server.snapshot(), before, "a refused order writes nothing");
    assert_eq!(stock(&buyer, listing).await, 8);

    // The cap is per buyer, and a cancelled order no longer counts.
    order(&other, listing, 1).await;
    let (status, body) = cancel(&buyer, first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    order(&buyer, listing, 1).await;
}

#[tokio::test]
async fn order_rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start_with(&[("MMKT_ORDERS_PER_MINUTE", "2")], |_| {}).await;
    let vendor = register(&server, "vendor_rate", "vendor").await;
    let buyer = register(&server, "buyer_rate", "buyer").await;
    let other = register(&server, "buyer_rate_other", "buyer").await;
    let listing = create_listing(&vendor, "Rated goods", 1_000_000, 10).await;
    order(&buyer, listing, 1).await;
    order(&buyer, listing, 1).await;

    let before = server.snapshot();
    let response = buyer
        .request(Method::POST, "/api/orders")
        .json(&serde_json::json!({"listing_id": listing, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        server.snapshot(),
        before,
        "a rate-limited order writes nothing"
    );

    // Per account: another buyer still orders.
    order(&other, listing, 1).await;
}

#[tokio::test]
async fn buyer_cancel_returns_stock_once_and_others_change_nothing() {
    let server = TestServer::start().await;
    let vendor = register(&server, "vendor_cancel", "vendor").await;
    let buyer = register(&server, "buyer_cancel", "buyer").await;
    let stranger = register(&server, "stranger_cancel", "buyer").await;
    let listing = create_listing(&vendor, "Cancellable goods", 1_000_000, 5).await;
    let (order_id, escrow_id) = order(&buyer, listing, 3).await;
    assert_eq!(stock(&buyer, listing).await, 2);

    let before = server.snapshot();
    let refusals = [
        (
            "vendor",
            cancel(&vendor, order_id).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "stranger",
            cancel(&stranger, order_id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "unknown order",
            cancel(&buyer, order_id + 1000).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "bad id",
            cancel(&buyer, -1).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "anonymous",
            cancel(&server.anonymous(), order_id).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
    ];
    for (case, (status, body), want, code) in refusals {
        assert_error_in(case, status, &body, want, code);
    }
    assert_eq!(server.snapshot(), before, "refused cancels write nothing");
    assert_eq!(server.count("escrow_events"), 0);

    let (status, body) = cancel(&buyer, order_id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled", "{body}");
    assert_eq!(body["escrow"]["state"], "cancelled", "{body}");
    assert_eq!(stock(&buyer, listing).await, 5, "the stock is back");
    let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(escrow["state"], "cancelled", "{escrow}");

    // A second cancel is refused and does not return the stock twice.
    let after = server.snapshot();
    let (status, body) = cancel(&buyer, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition");
    assert_eq!(server.snapshot(), after);
    assert_eq!(stock(&buyer, listing).await, 5);
}

#[tokio::test]
async fn retry_setup_refuses_bad_input_and_proxied_requests() {
    let server = TestServer::start().await;
    let vendor = register(&server, "vendor_retry", "vendor").await;
    let buyer = register(&server, "buyer_retry", "buyer").await;
    let listing = create_listing(&vendor, "Retry goods", 1_000_000, 5).await;
    let (_, escrow_id) = order(&buyer, listing, 1).await;
    let ops = User::anonymous(&server);
    let retry = |id: i64| format!("/ops/escrows/{id}/retry-setup");

    let before = server.snapshot();
    let (status, body) = ops.post(&retry(escrow_id + 1000), Value::Null).await;
    assert_error_in(
        "unknown escrow",
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, body) = ops.post(&retry(escrow_id), Value::Null).await;
    assert_error_in(
        "not setup_failed",
        status,
        &body,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let proxied = ops
        .request(Method::POST, &retry(escrow_id))
        .header("x-real-ip", "203.0.113.7")
        .send()
        .await
        .unwrap();
    let status = proxied.status();
    let body: Value = proxied.json().await.unwrap();
    assert_error_in(
        "through the proxy",
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(server.snapshot(), before, "refused retries write nothing");
    assert_eq!(server.count("escrow_events"), 0);
}
