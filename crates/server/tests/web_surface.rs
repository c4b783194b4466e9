//! The web-facing surface of the in-process server: cross-site writes refused with nothing
//! written, the `__Host-` session cookie over HTTPS, `Cache-Control: no-store`, the WebSocket's
//! Origin check, message-size limit and close on logout or expiry (a real WebSocket client),
//! and public texts that name no internal host.

mod common;

use std::time::Duration;

use common::*;
use escrow_core::{
    Actor, Amount, Context, Escrow, EscrowEvent, EscrowId, EscrowTerms, NewEscrow, OrderId,
    Timestamp, UserId,
};
use futures_util::{SinkExt, StreamExt};
use mmkt_server::views::EscrowDetail;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// What a browser adds to a request sent from another site's page, in the forms the guard refuses.
const FOREIGN: [&[(&str, &str)]; 4] = [
    &[("sec-fetch-site", "cross-site")],
    &[("origin", "https://evil.example")],
    &[("origin", "null")],
    &[
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "same-site"),
    ],
];

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let vendor = register(&s, "vera", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let listing = create_listing(&vendor, "lamp", 1_000, 5).await;
    let (order_id, escrow_id) = order(&buyer, listing, 1).await;
    let anonymous = s.anonymous();
    let before = s.snapshot();
    let escrow_path = format!("/api/escrows/{escrow_id}");
    let (_, escrow_before) = buyer.get(&escrow_path).await;
    let listing_path = format!("/api/listings/{listing}");
    let login = json!({"username": "bob", "password": PASSWORD});
    let newcomer = json!({"username": "mallory", "password": PASSWORD, "role": "buyer"});
    #[rustfmt::skip]
    let writes: [(&User, Method, String, Option<Value>); 8] = [
        (&buyer, Method::POST, format!("/api/orders/{order_id}/confirm-receipt"), Some(json!({}))),
        (&buyer, Method::POST, format!("/api/orders/{order_id}/dispute"), Some(json!({"reason": "late"}))),
        (&buyer, Method::POST, "/api/auth/logout".into(), None),
        (&buyer, Method::POST, "/api/orders".into(), Some(json!({"listing_id": listing, "quantity": 1}))),
        (&vendor, Method::DELETE, listing_path.clone(), None),
        (&vendor, Method::PATCH, listing_path.clone(), Some(json!({"stock": 1}))),
        (&anonymous, Method::POST, "/api/auth/login".into(), Some(login)),
        (&anonymous, Method::POST, "/api/auth/register".into(), Some(newcomer)),
    ];
    for (user, method, path, body) in &writes {
        for headers in FOREIGN {
            let (status, answer) = user
                .send_with(method.clone(), path, body.clone(), headers)
                .await;
            let case = format!("{method} {path} {headers:?}");
            assert_error_in(
                &case,
                status,
                &answer,
                StatusCode::FORBIDDEN,
                "cross_site_refused",
            );
        }
    }
    assert_eq!(
        s.snapshot(),
        before,
        "a refused cross-site write changed the database"
    );
    assert_eq!(buyer.get(&escrow_path).await.1, escrow_before);
    assert_eq!(
        buyer.get("/api/auth/me").await.0,
        StatusCode::OK,
        "still logged in"
    );

    // Reads are not checked; the stack's own origins and the request's own origin pass.
    let read = buyer
        .send_with(Method::GET, &listing_path, None, FOREIGN[1])
        .await;
    assert_eq!(read.0, StatusCode::OK, "{}", read.1);
    let dev_origin = [
        ("origin", "http://127.0.0.1:8080"),
        ("sec-fetch-site", "same-origin"),
    ];
    let patched = vendor
        .send_with(
            Method::PATCH,
            &listing_path,
            Some(json!({"stock": 4})),
            &dev_origin,
        )
        .await;
    assert_eq!(patched.0, StatusCode::OK, "{}", patched.1);
    let own = [("origin", s.base.as_str())];
    let deleted = vendor
        .send_with(Method::DELETE, &listing_path, None, &own)
        .await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT, "{}", deleted.1);
    let logout = buyer
        .send_with(
            Method::POST,
            "/api/auth/logout",
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(logout.0, StatusCode::NO_CONTENT, "{}", logout.1);
}

#[tokio::test]
async fn over_https_the_session_cookie_has_the_host_prefix() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("db.key");
    let vars = [
        ("MMKT_ENV", "staging"),
        ("MMKT_DB_KEY_FILE", key_file.to_str().unwrap()),
        ("MMKT_WALLET_RPC_LOGIN", "mmkt:7f3a9c1e5b2d8f4a6c0e"),
    ];
    let s = TestServer::start_with(&vars, |_| {}).await;
    let resp = register_raw(&s.anonymous(), "hana", "buyer").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let set_cookie = session_set_cookie(resp.headers());
    assert!(
        set_cookie.starts_with(&format!("{SECURE_COOKIE_NAME}=")),
        "{set_cookie}"
    );
    assert_eq!(SECURE_COOKIE_NAME, "__Host-session_token");
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(
        !set_cookie.contains("Domain"),
        "a __Host- cookie has no Domain: {set_cookie}"
    );

    // Only the prefixed name is read here: an unprefixed cookie (which a sibling subdomain or a
    // plain-HTTP page could plant) is not a session.
    let token = session_token(&set_cookie);
    let client = reqwest::Client::new();
    let me = |name: &str| {
        client
            .get(s.url("/api/auth/me"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    assert_eq!(
        me(SECURE_COOKIE_NAME).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        me(PLAIN_COOKIE_NAME).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let logout = client
        .post(s.url("/api/auth/logout"))
        .header("cookie", format!("{SECURE_COOKIE_NAME}={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let cleared = session_set_cookie(logout.headers());
    assert!(
        cleared.starts_with(&format!("{SECURE_COOKIE_NAME}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test]
async fn answers_are_never_stored_by_caches() {
    let s = TestServer::start().await;
    let resp = register_raw(&s.anonymous(), "cato", "buyer").await;
    assert_eq!(resp.headers()["cache-control"], "no-store", "login answer");
    let buyer = login(&s, "cato").await;
    for path in [
        "/api/auth/me",
        "/api/orders",
        "/api/auth/me/addresses",
        "/api/orders/999",
    ] {
        let resp = buyer.request(Method::GET, path).send().await.unwrap();
        assert_eq!(
            resp.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path} ({})",
            resp.status()
        );
    }
    let refused = buyer
        .request(Method::POST, "/api/auth/logout")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["cache-control"],
        "no-store",
        "refusals too"
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` as `user`, with `origin` if given; the handshake's error otherwise.
async fn connect(user: &User, origin: Option<&str>) -> Result<Socket, tungstenite::Error> {
    let url = format!("{}/ws", user.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", user.cookie.parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let hello = next_message(&mut socket).await;
    assert!(
        matches!(&hello, Some(Message::Text(t)) if t.contains("hello")),
        "{hello:?}"
    );
    Ok(socket)
}

/// The next message (reading also answers the server's pings), within a generous timeout.
async fn next_message(socket: &mut Socket) -> Option<Message> {
    match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
        Ok(Some(Ok(message))) => Some(message),
        _ => None,
    }
}

/// Reads until the server's close frame and returns its code (`None`: no close frame came).
async fn close_code(socket: &mut Socket) -> Option<CloseCode> {
    loop {
        match next_message(socket).await? {
            Message::Close(frame) => return frame.map(|f| f.code),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn websocket_checks_origin_and_refuses_big_messages() {
    let s = TestServer::start().await;
    let buyer = register(&s, "wendy", "buyer").await;

    match connect(&buyer, Some("https://evil.example")).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN.as_u16());
        }
        other => panic!(
            "a foreign page opened the WebSocket: {:?}",
            other.map(|_| ())
        ),
    }

    let mut socket = connect(&buyer, Some("http://localhost:8080"))
        .await
        .expect("own origin");
    // A small message is read (and ignored); the connection stays open and answers a ping.
    socket.send(Message::text("x".repeat(100))).await.unwrap();
    socket
        .send(Message::Ping(b"alive".to_vec().into()))
        .await
        .unwrap();
    loop {
        match next_message(&mut socket).await {
            Some(Message::Pong(payload)) => {
                assert_eq!(&payload[..], b"alive");
                break;
            }
            Some(Message::Close(frame)) => panic!("closed after a small message: {frame:?}"),
            Some(_) => continue,
            None => panic!("no pong after a small message"),
        }
    }
    // Over 4 KiB: the server answers with close code 1009 (message too big).
    socket
        .send(Message::text("x".repeat(8 * 1024)))
        .await
        .unwrap();
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Size));
}

#[tokio::test]
async fn websocket_closes_when_its_session_ends() {
    let s = TestServer::start_with(&[("MMKT_WS_PING_INTERVAL_SECS", "1")], |_| {}).await;
    let buyer = register(&s, "luna", "buyer").await;
    let other = register(&s, "otto", "buyer").await;
    let mut socket = connect(&buyer, None).await.expect("websocket opens");
    let mut bystander = connect(&other, None).await.expect("websocket opens");

    // Logout: the session's connection gets close code 1008; another account's stays open.
    let (status, body) = buyer.send(Method::POST, "/api/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Policy));

    // Expiry: the session's time runs out in the database; the next heartbeat closes it.
    let buyer = login(&s, "luna").await;
    let mut socket = connect(&buyer, None).await.expect("websocket opens again");
    let conn = mmkt_server::db::pool::open_keyed(&s.db_path, &s.key).unwrap();
    let expired = conn
        .execute(
            "UPDATE sessions SET expires_at = 1 WHERE user_id = ?1",
            [buyer.id],
        )
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Policy));

    bystander
        .send(Message::Ping(b"still".to_vec().into()))
        .await
        .unwrap();
    loop {
        match next_message(&mut bystander).await {
            Some(Message::Pong(_)) => break,
            Some(Message::Close(frame)) => panic!("a bystander's connection closed: {frame:?}"),
            Some(_) => continue,
            None => panic!("no pong from the bystander's connection"),
        }
    }
}

#[test]
fn setup_failures_shown_to_parties_name_no_internal_host() {
    let at = |secs| Context::at(Timestamp::from_unix_seconds(secs));
    let escrow = Escrow::new(NewEscrow {
        id: EscrowId::new(1),
        order_id: OrderId::new(1),
        buyer_id: UserId::new(1),
        vendor_id: UserId::new(2),
        terms: EscrowTerms::new(Amount::from_atomic(5), 1, 60).unwrap(),
        payout_address: None,
        refund_address: None,
        created_at: Timestamp::from_unix_seconds(100),
    })
    .unwrap();
    let reason = "make_multisig failed on the buyer wallet: cannot decode the response: error \
                  decoding response body for url (http://wallet-rpc-buyer:18083/json_rpc)";
    let failed = escrow
        .apply(
            Actor::System,
            EscrowEvent::SetupFailed {
                reason: reason.into(),
            },
            &at(101),
        )
        .unwrap();
    let shown = EscrowDetail::of(failed.escrow())
        .setup_failure
        .expect("a setup failure is shown");
    assert!(
        !shown.contains("wallet-rpc-buyer") && !shown.contains("18083"),
        "{shown}"
    );
    assert!(
        shown.starts_with("make_multisig failed on the buyer wallet"),
        "{shown}"
    );
}
