//! Bad input table: every case gets the expected 4xx and error code, and writes nothing.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Buyer,
    Vendor,
}

struct Case {
    name: &'static str,
    who: Who,
    method: Method,
    /// `{listing}` and `{big}` are replaced by fixture ids.
    path: &'static str,
    /// Raw body; `None` sends no body.
    body: Option<String>,
    content_type: Option<&'static str>,
    status: u16,
    code: &'static str,
}

fn json_case(
    name: &'static str,
    who: Who,
    method: Method,
    path: &'static str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        who,
        method,
        path,
        body: Some(body.to_owned()),
        content_type: Some("application/json"),
        status,
        code,
    }
}

fn get_case(name: &'static str, path: &'static str, status: u16, code: &'static str) -> Case {
    Case {
        name,
        who: Who::Buyer,
        method: Method::GET,
        path,
        body: None,
        content_type: None,
        status,
        code,
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Method as M;
    use Who::*;
    let listing = |price: &str, stock: &str| format!(r#"{{"title":"t","description":"d","price_xmr":{price},"stock":{stock}}}"#);
    let huge_description = format!(r#"{{"title":"t","description":"{}","price_xmr":1,"stock":1}}"#, "x".repeat(70 * 1024));
    vec![
        json_case("malformed json", Vendor, M::POST, "/api/listings", r#"{"title": "#, 400, "malformed_json"),
        json_case("not an object", Vendor, M::POST, "/api/listings", "[1,2]", 422, "invalid_body"),
        json_case("unknown field", Vendor, M::POST, "/api/listings", r#"{"title":"t","description":"d","price_xmr":1,"stock":1,"admin":true}"#, 422, "invalid_body"),
        json_case("missing field", Vendor, M::POST, "/api/listings", r#"{"title":"t","price_xmr":1,"stock":1}"#, 422, "invalid_body"),
        Case { name: "body over 64 KiB", who: Vendor, method: M::POST, path: "/api/listings", body: Some(huge_description), content_type: Some("application/json"), status: 413, code: "payload_too_large" },
        Case { name: "no content type", who: Vendor, method: M::POST, path: "/api/listings", body: Some(listing("1", "1")), content_type: None, status: 415, code: "unsupported_media_type" },
        json_case("zero price", Vendor, M::POST, "/api/listings", &listing("0", "1"), 422, "invalid_amount"),
        json_case("negative price", Vendor, M::POST, "/api/listings", &listing("-1", "1"), 422, "invalid_amount"),
        json_case("fractional price", Vendor, M::POST, "/api/listings", &listing("1.5", "1"), 422, "invalid_amount"),
        json_case("price over u64", Vendor, M::POST, "/api/listings", &listing("18446744073709551616", "1"), 422, "invalid_amount"),
        json_case("price as string", Vendor, M::POST, "/api/listings", &listing("\"100\"", "1"), 422, "invalid_body"),
        json_case("price above escrow cap", Vendor, M::POST, "/api/listings", &listing("10000000000001", "1"), 422, "amount_exceeds_cap"),
        json_case("negative stock", Vendor, M::POST, "/api/listings", &listing("1", "-1"), 422, "invalid_quantity"),
        json_case("stock over u32", Vendor, M::POST, "/api/listings", &listing("1", "4294967296"), 422, "invalid_quantity"),
        json_case("empty title", Vendor, M::POST, "/api/listings", r#"{"title":" ","description":"d","price_xmr":1,"stock":1}"#, 422, "invalid_field"),
        json_case("title too long", Vendor, M::POST, "/api/listings", &format!(r#"{{"title":"{}","description":"d","price_xmr":1,"stock":1}}"#, "t".repeat(201)), 422, "invalid_field"),
        json_case("control char in title", Vendor, M::POST, "/api/listings", r#"{"title":"a\u0007b","description":"d","price_xmr":1,"stock":1}"#, 422, "invalid_field"),
        json_case("put fractional stock", Vendor, M::PUT, "/api/listings/{listing}", &listing("1", "2.5"), 422, "invalid_quantity"),
        json_case("put unknown listing", Vendor, M::PUT, "/api/listings/999999", &listing("1", "1"), 404, "not_found"),
        json_case("patch nothing", Vendor, M::PATCH, "/api/listings/{listing}", "{}", 422, "invalid_field"),
        json_case("patch zero price", Vendor, M::PATCH, "/api/listings/{listing}", r#"{"price_xmr":0}"#, 422, "invalid_amount"),
        json_case("patch price above cap", Vendor, M::PATCH, "/api/listings/{listing}", r#"{"price_xmr":99000000000000}"#, 422, "amount_exceeds_cap"),
        json_case("patch unknown field", Vendor, M::PATCH, "/api/listings/{listing}", r#"{"vendor_id":1}"#, 422, "invalid_body"),
        Case { name: "delete unknown listing", who: Vendor, method: M::DELETE, path: "/api/listings/999999", body: None, content_type: None, status: 404, code: "not_found" },
        json_case("zero quantity", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":0}"#, 422, "invalid_quantity"),
        json_case("negative quantity", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":-2}"#, 422, "invalid_quantity"),
        json_case("fractional quantity", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":1.5}"#, 422, "invalid_quantity"),
        json_case("quantity over u32", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":4294967296}"#, 422, "invalid_quantity"),
        json_case("total overflows u64", Buyer, M::POST, "/api/orders", r#"{"listing_id":{big},"quantity":4294967295}"#, 422, "amount_overflow"),
        json_case("total above cap", Buyer, M::POST, "/api/orders", r#"{"listing_id":{big},"quantity":2}"#, 422, "amount_exceeds_cap"),
        json_case("quantity above stock", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":6}"#, 409, "insufficient_stock"),
        json_case("unknown listing id", Buyer, M::POST, "/api/orders", r#"{"listing_id":999999,"quantity":1}"#, 404, "not_found"),
        json_case("listing id as string", Buyer, M::POST, "/api/orders", r#"{"listing_id":"abc","quantity":1}"#, 422, "invalid_body"),
        json_case("order unknown field", Buyer, M::POST, "/api/orders", r#"{"listing_id":{listing},"quantity":1,"price":1}"#, 422, "invalid_body"),
        json_case("register short username", Anonymous, M::POST, "/api/auth/register", &format!(r#"{{"username":"ab","password":"{PASSWORD}","role":"buyer"}}"#), 422, "invalid_field"),
        json_case("register bad username chars", Anonymous, M::POST, "/api/auth/register", &format!(r#"{{"username":"a b<script>","password":"{PASSWORD}","role":"buyer"}}"#), 422, "invalid_field"),
        json_case("register short password", Anonymous, M::POST, "/api/auth/register", r#"{"username":"carol","password":"short","role":"buyer"}"#, 422, "invalid_field"),
        json_case("register unknown role", Anonymous, M::POST, "/api/auth/register", &format!(r#"{{"username":"carol","password":"{PASSWORD}","role":"admin"}}"#), 422, "invalid_body"),
        json_case("register extra field", Anonymous, M::POST, "/api/auth/register", &format!(r#"{{"username":"carol","password":"{PASSWORD}","role":"buyer","id":1}}"#), 422, "invalid_body"),
        json_case("register arbiter", Anonymous, M::POST, "/api/auth/register", &format!(r#"{{"username":"carol","password":"{PASSWORD}","role":"arbiter"}}"#), 403, "forbidden"),
        json_case("login malformed", Anonymous, M::POST, "/api/auth/login", "{", 400, "malformed_json"),
        get_case("listing id not a number", "/api/listings/abc", 404, "not_found"),
        get_case("unknown listing", "/api/listings/999999", 404, "not_found"),
        get_case("unknown order", "/api/orders/999999", 404, "not_found"),
        get_case("page zero", "/api/listings?page=0", 400, "invalid_query"),
        get_case("per_page too big", "/api/listings?per_page=101", 400, "invalid_query"),
        get_case("page not a number", "/api/listings?page=abc", 400, "invalid_query"),
        get_case("unknown query parameter", "/api/listings?sort=price", 400, "invalid_query"),
        get_case("search without q", "/api/listings/search", 400, "invalid_query"),
        get_case("search with empty q", "/api/listings/search?q=", 400, "invalid_query"),
        get_case("unknown route", "/api/nope", 404, "not_found"),
        Case { name: "wrong method", who: Buyer, method: M::DELETE, path: "/api/orders", body: None, content_type: None, status: 405, code: "method_not_allowed" },
    ]
}

async fn send_raw(c: &User, case: &Case, path: &str) -> (StatusCode, Value) {
    let mut req = c.request(case.method.clone(), path);
    if let Some(ct) = case.content_type {
        req = req.header("content-type", ct);
    }
    if let Some(body) = &case.body {
        req = req.body(body.clone());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let s = TestServer::start().await;
    let vendor = register(&s, "vendy", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let listing = create_listing(&vendor, "Fixture", 1_000_000_000, 5).await;
    let big = create_listing(&vendor, "Big", 10_000_000_000_000, u32::MAX).await; // 10 XMR = the dev cap
    let anonymous = s.anonymous();
    for case in cases() {
        let c = match case.who {
            Who::Anonymous => &anonymous,
            Who::Buyer => &buyer,
            Who::Vendor => &vendor,
        };
        let path = case
            .path
            .replace("{listing}", &listing.to_string())
            .replace("{big}", &big.to_string());
        let case = Case {
            body: case.body.as_ref().map(|b| {
                b.replace("{listing}", &listing.to_string())
                    .replace("{big}", &big.to_string())
            }),
            ..case
        };
        let before = s.snapshot();
        let (status, body) = send_raw(c, &case, &path).await;
        let want = StatusCode::from_u16(case.status).unwrap();
        assert_error_in(case.name, status, &body, want, case.code);
        assert_eq!(s.snapshot(), before, "{}: something was written", case.name);
    }
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client() {
    let s = TestServer::start_with(&[], |c| c.limits.rate_limit_per_minute = 3).await;
    let c = s.anonymous();
    let body = serde_json::json!({"username": "nobody", "password": "wrong-password"});
    for _ in 0..3 {
        let (st, b) = c.post("/api/auth/login", body.clone()).await;
        assert_error(st, &b, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let before = s.snapshot();
    let resp = c
        .request(Method::POST, "/api/auth/register")
        .json(&serde_json::json!({"username": "eve", "password": PASSWORD, "role": "buyer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "rate_limited");
    assert_eq!(
        s.snapshot(),
        before,
        "a rate-limited register writes nothing"
    );
    // Other routes are not limited.
    for _ in 0..5 {
        let (st, _) = c.get("/api/listings").await;
        assert_eq!(st, StatusCode::OK);
    }
}
