//! Escrow happy path on a real regtest network, through the HTTP API and the WebSocket only:
//! order → multisig setup → funded by a test wallet → buyer confirms → the vendor's payout wallet
//! receives exactly the escrow amount minus the network fee. Along the way: notifications (each
//! party's WebSocket sees the state sequence, a stranger and an uninvolved arbiter see nothing),
//! address validation, and authorization / bad-input refusals that change no state.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_to_payout_with_notifications_and_refusals() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    create_arbiter(&server, "arbiter_happy");

    let vendor = register(&server, "vendor_happy", "vendor").await;
    let buyer = register(&server, "buyer_happy", "buyer").await;
    let stranger = register(&server, "stranger_happy", "buyer").await;
    let arbiter = login(&server, "arbiter_happy").await;

    // Addresses are validated for the network: wrong checksum, wrong length, wrong role.
    let payout = chain.payout_address.as_str().to_owned();
    let mut typo = payout.clone();
    let last = if typo.ends_with('A') { "B" } else { "A" };
    typo.replace_range(typo.len() - 1.., last);
    let bad_addresses = [
        (
            "payout",
            typo.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_address",
        ),
        (
            "payout",
            "4abc",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_address",
        ),
        (
            "refund",
            payout.as_str(),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for (kind, address, want, code) in bad_addresses {
        let path = format!("/api/auth/me/{kind}-address");
        let (status, body) = vendor
            .put(&path, json!({"address": address, "password": PASSWORD}))
            .await;
        assert_error(status, &body, want, code);
    }
    let (status, body) = vendor.get("/api/auth/me/addresses").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["payout_address"].is_null(),
        "nothing stored by refused requests: {body}"
    );
    set_address(&vendor, "payout", &chain.payout_address).await;
    set_address(&buyer, "refund", &chain.refund_address).await;

    let mut ws_buyer = websocket(&buyer).await;
    let mut ws_vendor = websocket(&vendor).await;
    let mut ws_stranger = websocket(&stranger).await;
    let mut ws_arbiter = websocket(&arbiter).await;
    let (status, _) = reqwest::get(server.url("/ws"))
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no cookie, no WebSocket");

    let listing_id =
        create_listing(&vendor, "Escrowed hardware wallet", 1_250_000_000_000, 5).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 2).await;
    let amount = 2_500_000_000_000u64;

    // Setup completes in the background; the buyer sees the address and the exact amount.
    let ready = wait_escrow(&buyer, escrow_id, "awaiting_funding").await;
    let address = ready["address"].as_str().expect("address").to_owned();
    assert!(address.starts_with('4') && address.len() == 95, "{address}");
    assert_eq!(ready["amount_xmr"], amount);
    assert_eq!(ready["funding"]["status"], "unpaid");
    assert_eq!(ready["funding"]["missing_xmr"], amount);
    let (_, order_view) = buyer.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(
        order_view["escrow"]["address"],
        address.as_str(),
        "the order shows the address too"
    );
    let (status, body) = stranger.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = arbiter.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Confirming before funding is refused.
    let (status, body) = confirm(&buyer, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_funded");

    fund(&chain, &buyer, escrow_id).await;

    // Refusals on a funded escrow: each is a 4xx and leaves the escrow funded.
    let (confirm_path, dispute_path) = (
        format!("/api/orders/{order_id}/confirm-receipt"),
        format!("/api/orders/{order_id}/dispute"),
    );
    let resolve_path = format!("/api/disputes/{escrow_id}/resolve");
    #[rustfmt::skip]
    let refusals = [
        (&vendor, &confirm_path, json!({}), StatusCode::FORBIDDEN, "not_permitted"),
        (&buyer, &resolve_path, json!({"outcome": "refund"}), StatusCode::FORBIDDEN, "forbidden"),
        (&vendor, &resolve_path, json!({"outcome": "release"}), StatusCode::FORBIDDEN, "forbidden"),
        (&arbiter, &resolve_path, json!({"outcome": "refund"}), StatusCode::CONFLICT, "not_disputed"),
        (&arbiter, &resolve_path, json!({"outcome": "keep"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (&buyer, &dispute_path, json!({"reason": "   "}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason"),
        (&buyer, &dispute_path, json!({"reason": "x", "extra": 1}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (&stranger, &confirm_path, json!({}), StatusCode::NOT_FOUND, "not_found"),
        (&stranger, &dispute_path, json!({"reason": "not mine"}), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (user, path, body, want, code) in refusals {
        let (status, answer) = user.post(path, body).await;
        assert_error(status, &answer, want, code);
        let (_, now) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
        assert_eq!(
            now["state"], "funded",
            "{} {path} changed the escrow: {now}",
            user.name
        );
    }
    // The buyer's own confirmation, sent by a browser from another site, is refused unread.
    for foreign in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let (status, answer) = buyer
            .send_with(
                reqwest::Method::POST,
                &confirm_path,
                Some(json!({})),
                &[foreign],
            )
            .await;
        assert_error(status, &answer, StatusCode::FORBIDDEN, "cross_site_refused");
        let (_, now) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
        assert_eq!(
            now["state"], "funded",
            "{foreign:?} changed the escrow: {now}"
        );
    }

    // Release: accepted at once (202), paid in the background.
    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "releasing");
    assert!(
        body["payout_address"].is_null(),
        "the buyer never sees the vendor's address: {body}"
    );
    let (_, seen) = vendor.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        seen["payout_address"],
        payout.as_str(),
        "the vendor's account address was applied"
    );
    let (status, body) = confirm(&buyer, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_confirmed");

    let released = wait_escrow(&buyer, escrow_id, "released").await;
    let tx_hash = released["payout"]["tx_hash"]
        .as_str()
        .expect("tx hash")
        .to_owned();
    let paid = released["payout"]["amount_xmr"].as_u64().unwrap();
    let fee = released["payout"]["fee_xmr"].as_u64().unwrap();
    assert_eq!(
        paid + fee,
        amount,
        "sweep_all pays the whole escrow minus the fee: {released}"
    );
    assert!(fee > 0);

    chain.mine(1).await;
    let (received, chain_fee) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(chain_fee, fee, "fee reported by the payout tx");
    assert_eq!(
        received,
        amount - chain_fee,
        "vendor receives exactly escrow amount minus fee"
    );
    let (_, order_view) = vendor.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(order_view["status"], "completed", "{order_view}");

    // Notifications: both parties saw the whole sequence with the tx hash; nobody else saw anything.
    let expected = ["awaiting_funding", "funded", "releasing", "released"];
    for (who, ws) in [("buyer", &mut ws_buyer), ("vendor", &mut ws_vendor)] {
        ws.wait_state(escrow_id, "released").await;
        let states: Vec<String> = ws
            .states(escrow_id)
            .into_iter()
            .filter(|s| s != "awaiting_setup")
            .collect();
        assert_eq!(states, expected, "{who} state sequence");
        let last = ws
            .events
            .iter()
            .rev()
            .find(|e| e["escrow_id"] == escrow_id)
            .unwrap();
        assert_eq!(last["tx_hash"], tx_hash.as_str(), "{who}: {last}");
        assert_eq!(last["order_id"], order_id);
    }
    ws_stranger.drain(Duration::from_millis(500)).await;
    ws_arbiter.drain(Duration::from_millis(200)).await;
    assert!(
        ws_stranger.events.is_empty(),
        "stranger got {:?}",
        ws_stranger.events
    );
    assert!(
        ws_arbiter.events.is_empty(),
        "arbiter of no dispute got {:?}",
        ws_arbiter.events
    );

    let metrics = metrics_text(&server).await;
    let released_series =
        r#"escrow_state_transitions_total{from_state="releasing",to_state="released"}"#;
    assert_eq!(metric(&metrics, released_series), Some(1.0), "{metrics}");
    assert!(metrics.contains(r#"escrow_oldest_last_update_timestamp_seconds{state="released"}"#));
    assert!(
        metric(
            &metrics,
            r#"websocket_connections_total{user_type="buyer"}"#
        )
        .is_some_and(|n| n >= 2.0)
    );
    let active: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("websocket_connections_active"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(active, 4.0, "four sockets open: {metrics}");
}
