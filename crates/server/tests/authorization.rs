//! Authorization matrix: every route × anonymous, buyer, vendor, arbiter, another buyer, another vendor.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Anonymous,
    Buyer,
    Vendor,
    Arbiter,
    OtherBuyer,
    OtherVendor,
}

const ACTORS: [Actor; 6] = [
    Actor::Anonymous,
    Actor::Buyer,
    Actor::Vendor,
    Actor::Arbiter,
    Actor::OtherBuyer,
    Actor::OtherVendor,
];

fn username(actor: Actor) -> Option<&'static str> {
    match actor {
        Actor::Anonymous => None,
        Actor::Buyer => Some("buyer"),
        Actor::Vendor => Some("vendor"),
        Actor::Arbiter => Some("arbiter"),
        Actor::OtherBuyer => Some("buyer2"),
        Actor::OtherVendor => Some("vendor2"),
    }
}

/// What a route needs: a listing owned by `vendor` and/or an order of `buyer` with `vendor`.
struct Fixture {
    listing: i64,
    order: i64,
}

struct Case {
    method: Method,
    path: fn(&Fixture) -> String,
    body: Option<fn(&Fixture) -> Value>,
    /// Expected status per actor, in ACTORS order.
    expect: [u16; 6],
}

fn listing_body(_: &Fixture) -> Value {
    json!({"title": "Matrix item", "description": "d", "price_xmr": 1_000_000_000u64, "stock": 10})
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    //                                                       anon  buyer vendor arb  buyer2 vendor2
    vec![
        Case { method: Method::GET, path: |_| "/api/auth/me".into(), body: None, expect: [401, 200, 200, 200, 200, 200] },
        Case { method: Method::POST, path: |_| "/api/auth/logout".into(), body: None, expect: [401, 204, 204, 204, 204, 204] },
        Case { method: Method::GET, path: |_| "/api/listings".into(), body: None, expect: [200; 6] },
        Case { method: Method::GET, path: |_| "/api/listings/search?q=matrix".into(), body: None, expect: [200; 6] },
        Case { method: Method::GET, path: |f| format!("/api/listings/{}", f.listing), body: None, expect: [200; 6] },
        Case { method: Method::POST, path: |_| "/api/listings".into(), body: Some(listing_body), expect: [401, 403, 200, 403, 403, 200] },
        Case {
            method: Method::PUT,
            path: |f| format!("/api/listings/{}", f.listing),
            body: Some(listing_body),
            expect: [401, 403, 200, 403, 403, 403],
        },
        Case {
            method: Method::PATCH,
            path: |f| format!("/api/listings/{}", f.listing),
            body: Some(|_| json!({"stock": 3})),
            expect: [401, 403, 200, 403, 403, 403],
        },
        Case { method: Method::DELETE, path: |f| format!("/api/listings/{}", f.listing), body: None, expect: [401, 403, 204, 403, 403, 403] },
        Case {
            method: Method::POST,
            path: |_| "/api/orders".into(),
            body: Some(|f| json!({"listing_id": f.listing, "quantity": 1})),
            expect: [401, 200, 403, 403, 200, 403],
        },
        Case { method: Method::GET, path: |_| "/api/orders".into(), body: None, expect: [401, 200, 200, 200, 200, 200] },
        Case { method: Method::GET, path: |f| format!("/api/orders/{}", f.order), body: None, expect: [401, 200, 200, 404, 404, 404] },
        Case { method: Method::GET, path: |_| "/health".into(), body: None, expect: [200; 6] },
        Case { method: Method::GET, path: |_| "/ready".into(), body: None, expect: [200; 6] },
        Case { method: Method::GET, path: |_| "/metrics".into(), body: None, expect: [200; 6] },
        Case { method: Method::GET, path: |_| "/api/openapi.json".into(), body: None, expect: [200; 6] },
    ]
}

#[tokio::test]
async fn every_route_for_every_actor() {
    let s = TestServer::start().await;
    let vendor = register(&s, "vendor", "vendor").await;
    let buyer = register(&s, "buyer", "buyer").await;
    register(&s, "buyer2", "buyer").await;
    register(&s, "vendor2", "vendor").await;
    create_arbiter(&s, "arbiter");

    for case in cases() {
        for (i, actor) in ACTORS.iter().enumerate() {
            // Fresh fixture per cell so that deletes and logouts do not leak into other cells.
            let listing = create_listing(&vendor, "Matrix item", 1_000_000_000, 100).await;
            let (order, _) = order(&buyer, listing, 1).await;
            let fixture = Fixture { listing, order };
            let c = match username(*actor) {
                None => s.anonymous(),
                Some(name) => login(&s, name).await,
            };
            let path = (case.path)(&fixture);
            let before = s.snapshot();
            let body = case.body.map(|b| b(&fixture));
            let (status, body) = c.send(case.method.clone(), &path, body).await;
            let want = case.expect[i];
            assert_eq!(
                status.as_u16(),
                want,
                "{} {path} as {actor:?}: {body}",
                case.method
            );
            if want >= 400 {
                assert!(
                    body["error"]["code"].is_string(),
                    "{} {path} as {actor:?}: error body {body}",
                    case.method
                );
                // A refused request writes nothing (login above created the only new session).
                assert_eq!(
                    s.snapshot(),
                    before,
                    "{} {path} as {actor:?} wrote data",
                    case.method
                );
            }
        }
    }
}

#[tokio::test]
async fn order_list_shows_only_own_orders() {
    let s = TestServer::start().await;
    let vendor = register(&s, "vendor", "vendor").await;
    let vendor2 = register(&s, "vendor2", "vendor").await;
    let buyer = register(&s, "buyer", "buyer").await;
    let buyer2 = register(&s, "buyer2", "buyer").await;
    let l1 = create_listing(&vendor, "one", 1_000_000_000, 10).await;
    let l2 = create_listing(&vendor2, "two", 1_000_000_000, 10).await;
    for (b, l) in [(&buyer, l1), (&buyer, l2), (&buyer2, l2)] {
        order(b, l, 1).await;
    }
    for (c, n) in [(&buyer, 2), (&buyer2, 1), (&vendor, 1), (&vendor2, 2)] {
        let (_, list) = c.get("/api/orders").await;
        assert_eq!(list["items"].as_array().unwrap().len(), n, "{list}");
    }
}
