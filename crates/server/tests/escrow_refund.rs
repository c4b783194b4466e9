//! The vendor's undisputed refund of a hosted escrow on a real regtest network, through the HTTP
//! API only: a refund before funding is refused (409) and changes nothing; once funded, the
//! buyer's and a stranger's refund are refused (403, 404) and change nothing; the vendor's is
//! accepted (202, `refunding`, no dispute), cannot be repeated nor overtaken by a confirmation,
//! and the buyer's refund wallet receives the escrow amount minus the network fee (vendor wallet
//! builds the sweep, buyer wallet checks and co-signs).

mod escrow_support;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `POST /api/orders/{order_id}/refund` as `user`.
async fn refund(user: &User, order_id: i64) -> (StatusCode, Value) {
    user.post(&format!("/api/orders/{order_id}/refund"), json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_refunds_a_funded_escrow_to_the_buyers_refund_address() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_refund", "vendor").await;
    let buyer = register(&server, "buyer_refund", "buyer").await;
    let stranger = register(&server, "stranger_refund", "vendor").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    set_address(&buyer, "refund", &chain.refund_address).await;

    let listing_id = create_listing(&vendor, "Refundable lamp", 1_000_000_000_000, 3).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;
    let amount = 1_000_000_000_000u64;
    let escrow_path = format!("/api/escrows/{escrow_id}");

    // Before funding there is nothing to refund: 409, and the escrow waits for its money still.
    let ready = wait_escrow(&buyer, escrow_id, "awaiting_funding").await;
    let (status, body) = refund(&vendor, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_funded");
    let (_, now) = buyer.get(&escrow_path).await;
    assert_eq!(now, ready, "a refused refund changed the escrow");

    fund(&chain, &buyer, escrow_id).await;
    let (_, funded) = buyer.get(&escrow_path).await;
    assert_eq!(funded["state"], "funded");

    // Only the order's vendor may refund; the others' attempts change nothing.
    #[rustfmt::skip]
    let refusals = [
        (&buyer, StatusCode::FORBIDDEN, "not_permitted"),
        (&stranger, StatusCode::NOT_FOUND, "not_found"),
    ];
    for (user, want, code) in refusals {
        let (status, body) = refund(user, order_id).await;
        assert_error(status, &body, want, code);
        let (_, now) = buyer.get(&escrow_path).await;
        assert_eq!(now["state"], "funded", "{}: {now}", user.name);
        assert!(now["payout"].is_null(), "{}: {now}", user.name);
    }

    // The vendor's refund: accepted at once (202), paid in the background, no dispute opened.
    let (status, body) = refund(&vendor, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "refunding", "{body}");
    assert_eq!(body["payout"]["kind"], "refund", "{body}");
    assert!(
        body["payout"]["destination"].is_null() && body["refund_address"].is_null(),
        "the vendor never sees the buyer's address: {body}"
    );
    assert!(body["dispute"].is_null(), "{body}");
    let (_, seen) = buyer.get(&escrow_path).await;
    assert_eq!(
        seen["payout"]["destination"],
        chain.refund_address.as_str(),
        "{seen}"
    );
    // A decided payout cannot be changed: neither a second refund nor a confirmation.
    let (status, body) = refund(&vendor, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "payout_decided");
    let (status, body) = confirm(&buyer, order_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "payout_decided");

    let refunded = wait_escrow(&buyer, escrow_id, "refunded").await;
    let tx_hash = refunded["payout"]["tx_hash"]
        .as_str()
        .expect("tx hash")
        .to_owned();
    let paid = refunded["payout"]["amount_xmr"].as_u64().unwrap();
    let fee = refunded["payout"]["fee_xmr"].as_u64().unwrap();
    assert_eq!(
        paid + fee,
        amount,
        "the whole escrow minus the fee: {refunded}"
    );
    assert!(fee > 0);

    chain.mine(1).await;
    let (received, chain_fee) = chain.received(&chain.refund, &tx_hash).await;
    assert_eq!(chain_fee, fee, "fee reported by the refund tx");
    assert_eq!(
        received,
        amount - chain_fee,
        "the buyer's refund wallet receives the escrow amount minus the fee"
    );

    let metrics = metrics_text(&server).await;
    for series in [
        r#"escrow_state_transitions_total{from_state="funded",to_state="refunding"}"#,
        r#"escrow_state_transitions_total{from_state="refunding",to_state="refunded"}"#,
    ] {
        assert_eq!(metric(&metrics, series), Some(1.0), "{series}: {metrics}");
    }
}
