//! End-to-end flows over a real socket and a real SQLCipher file: accounts, listings, orders.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn register_login_me_logout() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let c = s.anonymous();
    let resp = register_raw(&c, "alice", "buyer").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let cookie = session_set_cookie(resp.headers());
    assert!(cookie.starts_with("session_token="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(cookie.contains(attr), "cookie lacks {attr}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "development cookie works over plain HTTP: {cookie}"
    );
    let user: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (user["username"].as_str(), user["role"].as_str()),
        (Some("alice"), Some("buyer"))
    );
    assert!(user.get("password_hash").is_none());

    // The token is stored only as a hash.
    let token = session_token(&cookie);
    let conn = mmkt_server::db::pool::open_keyed(&s.db_path, &s.key).unwrap();
    let hits: i64 = conn
        .query_row(
            "SELECT count(*) FROM sessions WHERE hex(token_hash) = upper(?1) OR token_hash = ?1",
            [&token],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 0, "raw token must not be stored");
    let hash: String = conn
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    let (st, me) = c.get("/api/auth/me").await;
    assert_eq!(
        (st, me["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );

    let (st, _) = c.send(Method::POST, "/api/auth/logout", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = c.get("/api/auth/me").await;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(s.count("sessions"), 0, "logout deletes the session");

    // Login again, case-insensitive username; wrong password refused.
    let c2 = login(&s, "ALICE").await;
    let (st, me) = c2.get("/api/auth/me").await;
    assert_eq!(
        (st, me["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let (st, body) = anon
        .post(
            "/api/auth/login",
            json!({"username": "alice", "password": "wrong-password-1"}),
        )
        .await;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (st, body) = anon
        .post(
            "/api/auth/login",
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "invalid_credentials");

    // A forged token is not a session.
    let forged = s.anonymous();
    let (st, body) = forged.get("/api/auth/me").await;
    assert_error(st, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn roles_and_arbiter_operator_path() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let before = s.snapshot();
    let (st, body) = anon
        .post(
            "/api/auth/register",
            json!({"username": "judge", "password": PASSWORD, "role": "arbiter"}),
        )
        .await;
    assert_error(st, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        s.snapshot(),
        before,
        "refused arbiter registration writes nothing"
    );

    register(&s, "vendy", "vendor").await;
    let (st, body) = anon
        .post(
            "/api/auth/register",
            json!({"username": "VENDY", "password": PASSWORD, "role": "buyer"}),
        )
        .await;
    assert_error(st, &body, StatusCode::CONFLICT, "username_taken");

    // The operator path: the real binary, password on stdin, against the same file the server uses.
    let mut child = s
        .command()
        .args(["create-arbiter", "--username", "judge"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "create-arbiter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(PASSWORD),
        "password must not be logged"
    );
    let arbiter = login(&s, "judge").await;
    let (_, me) = arbiter.get("/api/auth/me").await;
    assert_eq!(me["role"], "arbiter");

    // A weak password is refused by the CLI and nothing is written.
    let users_before = s.count("users");
    let out = s
        .command()
        .args(["create-arbiter", "--username", "judge2"])
        .env("MMKT_ARBITER_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("users"), users_before);
}

#[tokio::test]
async fn listing_crud_and_search() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let vendor = register(&s, "vendy", "vendor").await;
    let id = create_listing(&vendor, "Ledger hardware wallet", 2_500_000_000_000, 5).await;
    create_listing(&vendor, "Monero sticker pack", 10_000_000_000, 100).await;
    create_listing(&vendor, "Privacy book", 50_000_000_000, 7).await;

    let (st, l) = anon.get(&format!("/api/listings/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(l["price_xmr"], 2_500_000_000_000u64);
    assert_eq!(
        (l["vendor_id"].as_i64(), l["vendor_username"].as_str()),
        (Some(vendor.id), Some("vendy"))
    );

    // Pagination: newest first, has_more.
    let (_, page) = anon.get("/api/listings?page=1&per_page=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["items"][0]["title"], "Privacy book");
    let (_, page2) = anon.get("/api/listings?page=2&per_page=2").await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["has_more"], false);

    // Search: prefix match, case-insensitive, FTS special characters are harmless.
    let (_, r) = anon.get("/api/listings/search?q=HARDW").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["items"][0]["listing_id"].as_i64(), Some(id));
    let (st, r) = anon
        .get("/api/listings/search?q=%22monero%22%20*%20(%20-:")
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["items"].as_array().unwrap().len(), 1, "{r}");

    // PATCH and PUT by the owner; the search index follows the update (trigger).
    let (st, l) = vendor
        .patch(
            &format!("/api/listings/{id}"),
            json!({"title": "Trezor device", "stock": 9}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{l}");
    assert_eq!(
        (
            l["title"].as_str(),
            l["stock"].as_u64(),
            l["price_xmr"].as_u64()
        ),
        (Some("Trezor device"), Some(9), Some(2_500_000_000_000))
    );
    let (_, r) = anon.get("/api/listings/search?q=trezor").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    let (st, l) = vendor.put(&format!("/api/listings/{id}"), json!({"title": "Trezor Model T", "description": "new", "price_xmr": 3_000_000_000_000u64, "stock": 2})).await;
    assert_eq!(st, StatusCode::OK, "{l}");
    assert_eq!(
        (l["description"].as_str(), l["price_xmr"].as_u64()),
        (Some("new"), Some(3_000_000_000_000))
    );
    let (_, r) = anon.get("/api/listings/search?q=ledger").await;
    assert_eq!(
        r["items"].as_array().unwrap().len(),
        0,
        "old title and description no longer found: {r}"
    );

    // DELETE hides it from reads and search.
    let (st, _) = vendor.delete(&format!("/api/listings/{id}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = anon.get(&format!("/api/listings/{id}")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, r) = anon.get("/api/listings/search?q=trezor").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 0);
    let (_, page) = anon.get("/api/listings").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (st, body) = vendor.delete(&format!("/api/listings/{id}")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn order_creation_decrements_stock_and_creates_escrow() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let vendor = register(&s, "vendy", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let price = 1_500_000_000_000u64; // 1.5 XMR
    let listing = create_listing(&vendor, "Node in a box", price, 3).await;

    let (st, order) = place_order(&buyer, listing, 2).await;
    assert_eq!(st, StatusCode::OK, "{order}");
    assert_eq!(order["total_xmr"], 3_000_000_000_000u64);
    assert_eq!(order["unit_price_xmr"], price);
    assert_eq!(
        (order["buyer_id"].as_i64(), order["vendor_id"].as_i64()),
        (Some(buyer.id), Some(vendor.id))
    );
    assert_eq!(order["status"], "pending");
    assert_eq!(order["escrow"]["state"], "awaiting_setup");
    assert_eq!(order["escrow"]["amount_xmr"], 3_000_000_000_000u64);
    assert!(order["escrow"]["address"].is_null());
    let order_id = order["order_id"].as_i64().unwrap();

    // Stock decremented; the stored escrow record is a valid escrow-core Escrow.
    let (_, l) = anon.get(&format!("/api/listings/{listing}")).await;
    assert_eq!(l["stock"], 1);
    let conn = mmkt_server::db::pool::open_keyed(&s.db_path, &s.key).unwrap();
    let record: String = conn
        .query_row(
            "SELECT record FROM escrows WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .unwrap();
    let escrow: escrow_core::Escrow = serde_json::from_str(&record).unwrap();
    assert_eq!(escrow.amount().as_atomic(), 3_000_000_000_000);
    assert_eq!(escrow.state().as_str(), "awaiting_setup");

    // Both parties see it; GET /api/orders lists it for each.
    for party in [&buyer, &vendor] {
        let (st, o) = party.get(&format!("/api/orders/{order_id}")).await;
        assert_eq!(
            (st, o["order_id"].as_i64()),
            (StatusCode::OK, Some(order_id))
        );
        let (_, list) = party.get("/api/orders").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    }

    // More than the remaining stock: 409, nothing written.
    let before = s.snapshot();
    let (st, body) = place_order(&buyer, listing, 2).await;
    assert_error(st, &body, StatusCode::CONFLICT, "insufficient_stock");
    assert_eq!(s.snapshot(), before);

    // Escrow cap (development: 10 XMR): 7 × 1.5 XMR = 10.5 XMR is refused.
    let big = create_listing(&vendor, "Bulk", price, 100).await;
    let before = s.snapshot();
    let (st, body) = place_order(&buyer, big, 7).await;
    assert_error(
        st,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amount_exceeds_cap",
    );
    assert_eq!(s.snapshot(), before);
    let (st, _) = place_order(&buyer, big, 6).await;
    assert_eq!(st, StatusCode::OK, "9 XMR is within the cap");
}

#[tokio::test]
async fn concurrent_orders_never_oversell() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let vendor = register(&s, "vendy", "vendor").await;
    let listing = create_listing(&vendor, "Limited", 1_000_000_000, 5).await;
    let mut buyers = Vec::new();
    for i in 0..4 {
        buyers.push(register(&s, &format!("buyer{i}"), "buyer").await);
    }
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let c = buyers[i % buyers.len()].clone();
            tokio::spawn(async move { place_order(&c, listing, 1).await.0 })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 5, "exactly the stock is sold");
    assert_eq!((s.count("orders"), s.count("escrows")), (5, 5));
    let (_, l) = anon.get(&format!("/api/listings/{listing}")).await;
    assert_eq!(l["stock"], 0);
}

#[tokio::test]
async fn front_page_reflects_every_write_immediately() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let vendor = register(&s, "vendy", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let first = |page: serde_json::Value| {
        (
            page["items"][0]["title"].as_str().map(str::to_owned),
            page["items"][0]["stock"].as_u64(),
        )
    };
    let id = create_listing(&vendor, "Cached one", 1_000_000_000, 5).await;
    let (_, p) = anon.get("/api/listings").await;
    assert_eq!(first(p), (Some("Cached one".into()), Some(5)));
    let (_, p) = anon.get("/api/listings").await; // served from the cache
    assert_eq!(first(p), (Some("Cached one".into()), Some(5)));

    vendor
        .patch(&format!("/api/listings/{id}"), json!({"title": "Renamed"}))
        .await;
    let (_, p) = anon.get("/api/listings").await;
    assert_eq!(first(p), (Some("Renamed".into()), Some(5)));

    let (st, _) = place_order(&buyer, id, 2).await;
    assert_eq!(st, StatusCode::OK);
    let (_, p) = anon.get("/api/listings").await;
    assert_eq!(
        first(p),
        (Some("Renamed".into()), Some(3)),
        "stock change visible at once"
    );

    create_listing(&vendor, "Newest", 1_000_000_000, 1).await;
    let (_, p) = anon.get("/api/listings").await;
    assert_eq!(first(p).0.as_deref(), Some("Newest"));
    vendor.delete(&format!("/api/listings/{id}")).await;
    let (_, p) = anon.get("/api/listings").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1, "{p}");
}
