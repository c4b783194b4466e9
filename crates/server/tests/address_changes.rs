//! Payout and refund address changes against the real `mmkt-server` binary (no chain needed):
//! the password is asked again, each change leaves an audit row with fingerprints (never the
//! password) and is announced to the account's own WebSocket connections only, each party sees
//! only its own address on an escrow, and failed password checks are held per username across
//! client addresses for a bounded window.

mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;
use mmkt_server::config::KeyFilePolicy;
use mmkt_server::db::key;
use mmkt_server::db::pool::open_keyed;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The Monero General Fund's address (mainnet, standard; also valid on regtest).
const FIRST: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
/// A regtest wallet's primary address (mainnet prefix).
const SECOND: &str = "44PZicHfrtSPUBjtcaMnAfX7CABmRib8FP4TLDXakGNTQDSt77FAoi8ere7egpipaQjS3VnkaniDwjmmu5f2yaVGTeidt4p";

/// One `address_changes` row: `(user_id, kind, old_fingerprint, new_fingerprint, client_ip)`.
type AuditRow = (i64, String, Option<String>, String, String);

/// The `address_changes` rows, and every value of the table joined into one text (to look for
/// what must not be there).
fn audit_rows(dir: &std::path::Path) -> (Vec<AuditRow>, String) {
    let (db_key, _) = key::load_or_create(&dir.join("mmkt.key"), KeyFilePolicy::MustExist).unwrap();
    let conn = open_keyed(&dir.join("mmkt.db"), &db_key).unwrap();
    let mut stmt = conn
        .prepare("SELECT user_id, kind, old_fingerprint, new_fingerprint, client_ip FROM address_changes ORDER BY id")
        .unwrap();
    let rows: Vec<_> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let all: String = conn
        .query_row(
            "SELECT coalesce(group_concat(id || '|' || user_id || '|' || kind || '|' || coalesce(old_fingerprint, '') || '|' || new_fingerprint || '|' || client_ip || '|' || changed_at, ';'), '') FROM address_changes",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (rows, all)
}

/// The next `account_event` on `ws` within 10 s, if any.
async fn account_event(ws: &mut Ws) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match ws.next_json(Duration::from_secs(1)).await {
            Some(v) if v["type"] == "account_event" => return Some(v),
            _ => {}
        }
    }
    None
}

async fn put_address(user: &User, kind: &str, body: Value) -> (StatusCode, Value) {
    user.put(&format!("/api/auth/me/{kind}-address"), body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_change_needs_the_password_and_is_audited_and_announced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(dir.path(), &[]);
    server.wait_ready().await;
    let vendor = register(&server, "vendor_addr", "vendor").await;
    let second_session = login(&server, "vendor_addr").await;
    let stranger = register(&server, "stranger_addr", "vendor").await;
    let mut ws = websocket(&vendor).await;
    let mut ws_second = websocket(&second_session).await;
    let mut ws_stranger = websocket(&stranger).await;

    // Refused without the right password, and nothing is stored or recorded.
    let refusals = [
        (
            json!({"address": FIRST}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"address": FIRST, "password": "not-the-password"}),
            StatusCode::FORBIDDEN,
            "wrong_password",
        ),
        (
            json!({"address": FIRST, "password": ""}),
            StatusCode::FORBIDDEN,
            "wrong_password",
        ),
        (
            json!({"address": "4abc", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_address",
        ),
    ];
    for (body, want, code) in refusals {
        let (status, answer) = put_address(&vendor, "payout", body.clone()).await;
        assert_error_in(&body.to_string(), status, &answer, want, code);
    }
    let (_, addresses) = vendor.get("/api/auth/me/addresses").await;
    assert!(addresses["payout_address"].is_null(), "{addresses}");
    assert!(
        audit_rows(dir.path()).0.is_empty(),
        "refusals leave no audit row"
    );

    // Accepted with the password: stored, audited, announced to the account's sessions.
    let (status, first) = put_address(
        &vendor,
        "payout",
        json!({"address": FIRST, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let first_fp = first["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(first_fp.len(), 16, "{first}");
    let (_, addresses) = vendor.get("/api/auth/me/addresses").await;
    assert_eq!(addresses["payout_address"], FIRST);
    for socket in [&mut ws, &mut ws_second] {
        let event = account_event(socket)
            .await
            .expect("account_event on every session");
        assert_eq!(event["event"], "payout_address_changed", "{event}");
        assert_eq!(event["user_id"], vendor.id, "{event}");
        assert_eq!(event["kind"], "payout", "{event}");
        assert!(event["old_fingerprint"].is_null(), "{event}");
        assert_eq!(event["new_fingerprint"], first_fp.as_str(), "{event}");
        assert!(
            !event.to_string().contains(FIRST),
            "no address on the wire: {event}"
        );
    }

    let (status, second) = put_address(
        &vendor,
        "payout",
        json!({"address": SECOND, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let event = account_event(&mut ws)
        .await
        .expect("second change announced");
    assert_eq!(event["old_fingerprint"], first_fp.as_str(), "{event}");
    assert_eq!(event["new_fingerprint"], second["fingerprint"], "{event}");
    assert!(
        account_event(&mut ws_stranger).await.is_none(),
        "another account hears nothing"
    );

    let (rows, all) = audit_rows(dir.path());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0],
        (
            vendor.id,
            "payout".into(),
            None,
            first_fp.clone(),
            "127.0.0.1".into()
        )
    );
    assert_eq!(rows[1].2.as_deref(), Some(first_fp.as_str()));
    assert_eq!(rows[1].3, second["fingerprint"].as_str().unwrap());
    for secret in [PASSWORD, "not-the-password", FIRST, SECOND] {
        assert!(!all.contains(secret), "the audit trail holds no {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_party_sees_only_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(dir.path(), &[]);
    server.wait_ready().await;
    create_arbiter(&server, "arbiter_views");
    let vendor = register(&server, "vendor_views", "vendor").await;
    let buyer = register(&server, "buyer_views", "buyer").await;
    let listing = create_listing(&vendor, "Seen by whom", 1_000_000_000, 3).await;
    let (_, escrow_id) = order(&buyer, listing, 1).await;
    let set = [(&vendor, "payout", FIRST), (&buyer, "refund", SECOND)];
    for (user, kind, address) in set {
        let (status, body) = put_address(
            user,
            kind,
            json!({"address": address, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["escrows_updated"], 1,
            "reaches the unfunded escrow: {body}"
        );
    }
    let path = format!("/api/escrows/{escrow_id}");
    let (status, as_buyer) = buyer.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{as_buyer}");
    assert_eq!(as_buyer["refund_address"], SECOND, "{as_buyer}");
    assert!(
        as_buyer["payout_address"].is_null(),
        "buyer sees the vendor's: {as_buyer}"
    );
    assert!(!as_buyer.to_string().contains(FIRST), "{as_buyer}");
    let (_, as_vendor) = vendor.get(&path).await;
    assert_eq!(as_vendor["payout_address"], FIRST, "{as_vendor}");
    assert!(
        as_vendor["refund_address"].is_null(),
        "vendor sees the buyer's: {as_vendor}"
    );
    assert!(!as_vendor.to_string().contains(SECOND), "{as_vendor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_held_per_username_across_addresses_for_a_bounded_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(
        dir.path(),
        &[
            ("MMKT_CLIENT_IP_SOURCE", "x-real-ip"),
            ("MMKT_AUTH_FAILED_LOGIN_LIMIT", "3"),
            ("MMKT_AUTH_FAILED_LOGIN_WINDOW_SECS", "3"),
        ],
    );
    server.wait_ready().await;
    register(&server, "victim", "vendor").await;
    register(&server, "bystander", "buyer").await;
    let client = User::anonymous(&server);
    let attempt = |name: &'static str, password: &'static str, ip: &'static str| {
        let request = client
            .request(reqwest::Method::POST, "/api/auth/login")
            .header("x-real-ip", ip)
            .json(&json!({"username": name, "password": password}));
        async move {
            let resp = request.send().await.unwrap();
            let status = resp.status();
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, retry, body)
        }
    };
    // The owner logs in from their usual address first.
    let (status, _, _) = attempt("victim", PASSWORD, "203.0.113.7").await;
    assert_eq!(status, StatusCode::OK);

    // Three guesses from three addresses: each under any per-address limit.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let (status, _, body) = attempt("victim", "wrong-password-1", ip).await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    // Held now, from a fresh address and whatever the case of the name, even with the right
    // password: guessing cannot go on.
    for (name, password) in [("VICTIM", "wrong-password-2"), ("victim", PASSWORD)] {
        let (status, retry, body) = attempt(name, password, "198.51.100.4").await;
        assert_error(
            status,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "account_throttled",
        );
        let retry = retry.expect("Retry-After");
        assert!((1..=3).contains(&retry), "within the window: {retry}");
    }
    // Not the owner's usual address, and not other accounts.
    let (status, _, body) = attempt("victim", PASSWORD, "203.0.113.7").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the owner is not locked out: {body}"
    );
    let (status, _, body) = attempt("bystander", PASSWORD, "198.51.100.4").await;
    assert_eq!(status, StatusCode::OK, "other usernames are free: {body}");

    // The hold ends with the window (refused attempts do not extend it).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = attempt("victim", PASSWORD, "198.51.100.5").await;
        if status == StatusCode::OK {
            break;
        }
        assert_error(
            status,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "account_throttled",
        );
        assert!(Instant::now() < deadline, "the hold never ended");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Wrong passwords on an address change count toward the same limit.
    let victim = login(&server, "victim").await;
    for _ in 0..3 {
        let (status, body) = put_address(
            &victim,
            "payout",
            json!({"address": FIRST, "password": "wrong-password-3"}),
        )
        .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "wrong_password");
    }
    let (status, body) = put_address(
        &victim,
        "payout",
        json!({"address": FIRST, "password": PASSWORD}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "account_throttled",
    );
    let (_, addresses) = victim.get("/api/auth/me/addresses").await;
    assert!(addresses["payout_address"].is_null(), "{addresses}");
}
