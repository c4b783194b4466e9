//! Disputes and funding edge cases on one regtest network and one server, through the HTTP API and
//! the WebSocket only, four orders at once:
//! - dispute → refund: the buyer's refund wallet receives the escrow minus the fee;
//! - dispute → release: the vendor's payout wallet receives it;
//! - underfunded: stays `awaiting_funding` showing what is missing, and once the funding window
//!   closes goes to an arbiter (system dispute), who refunds what was paid;
//! - unfunded: expires when the funding window closes.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use reqwest::StatusCode;

/// Funding window of this server: long enough for setup and funding of four escrows at once,
/// short enough to watch the unfunded and underfunded ones run out.
const WINDOW_SECS: &str = "100";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_and_funding_edge_cases() {
    let window = [("MMKT_ESCROW_FUNDING_WINDOW_SECS", WINDOW_SECS)];
    let Some((chain, _dir, server)) = start_market(&window).await else {
        return;
    };
    create_arbiter(&server, "arbiter_disputes");

    let vendor = register(&server, "vendor_disputes", "vendor").await;
    let buyer = register(&server, "buyer_disputes", "buyer").await;
    let arbiter = login(&server, "arbiter_disputes").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let mut ws_buyer = websocket(&buyer).await;
    let mut ws_arbiter = websocket(&arbiter).await;

    let listing_id = create_listing(&vendor, "Disputed goods", 1_000_000_000_000, 10).await;
    let (refund_order, refund_escrow) = order(&buyer, listing_id, 1).await;
    let (release_order, release_escrow) = order(&buyer, listing_id, 1).await;
    let (unfunded_order, unfunded_escrow) = order(&buyer, listing_id, 1).await;
    // The underfunded one: paid half of a two-item order.
    let (_, under_escrow) = order(&buyer, listing_id, 2).await;
    let amount = 1_000_000_000_000u64;

    // The buyer sets a refund address after ordering: it reaches the open escrows.
    set_address(&buyer, "refund", &chain.refund_address).await;

    // Each escrow is paid as soon as it shows its address, in whatever order the setups finish:
    // its funding window opens then, and a payment seen keeps a fully paid escrow from expiring
    // while the later setups run. The underfunded one is checked right after its payment
    // confirms, inside its own window. The unfunded one is never waited for here.
    let mut unpaid = vec![refund_escrow, release_escrow, under_escrow];
    let mut partial = 0;
    let deadline = std::time::Instant::now() + 2 * STATE_WAIT;
    while !unpaid.is_empty() {
        let mut waiting = Vec::new();
        for id in unpaid {
            let (_, e) = buyer.get(&format!("/api/escrows/{id}")).await;
            if e["state"] != "awaiting_funding" {
                assert_eq!(
                    e["state"], "awaiting_setup",
                    "escrow {id} before its payment: {e}"
                );
                waiting.push(id);
                continue;
            }
            let address = e["address"].as_str().unwrap();
            if id != under_escrow {
                chain.pay(address, amount).await;
                continue;
            }
            let under_amount = e["amount_xmr"].as_u64().unwrap();
            partial = under_amount / 2;
            chain.pay(address, partial).await;
            chain.mine(1).await;
            check_underfunded(&buyer, under_escrow, under_amount, partial).await;
        }
        unpaid = waiting;
        assert!(
            std::time::Instant::now() < deadline,
            "escrows {unpaid:?} never finished their setup"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    chain.mine(1).await;
    wait_escrow(&buyer, refund_escrow, "funded").await;
    wait_escrow(&buyer, release_escrow, "funded").await;
    chain.mine(10).await;

    // Disputes: opened by the buyer and by the vendor; the arbiter sees both. (The underfunded
    // escrow's own dispute appears whenever its window closes, so it is left out here.)
    let parties_disputes = |body: &serde_json::Value| -> Vec<serde_json::Value> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dispute_id"] != under_escrow)
            .cloned()
            .collect()
    };
    let (status, body) = arbiter.get("/api/disputes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        parties_disputes(&body),
        Vec::<serde_json::Value>::new(),
        "{body}"
    );
    let (status, body) = dispute(&buyer, refund_order, "item never arrived").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "disputed");
    let (status, body) = dispute(&buyer, refund_order, "again").await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_disputed");
    let (status, body) = confirm(&buyer, refund_order).await;
    assert_error(status, &body, StatusCode::CONFLICT, "in_dispute");
    let (status, body) = dispute(&vendor, release_order, "buyer refuses to confirm").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = vendor.get("/api/disputes").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, body) = arbiter.get("/api/disputes").await;
    let items = parties_disputes(&body);
    let ids: Vec<i64> = items
        .iter()
        .map(|d| d["dispute_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![refund_escrow, release_escrow], "{body}");
    assert_eq!(
        items[0]["escrow"]["dispute"]["reason"],
        "item never arrived"
    );
    assert_eq!(items[0]["escrow"]["dispute"]["opened_by"], "buyer");
    let (status, body) = arbiter.get(&format!("/api/escrows/{refund_escrow}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "arbiters may read disputed escrows: {body}"
    );

    // Decisions: refund to the buyer, release to the vendor.
    let (status, body) = resolve(&arbiter, refund_escrow, "refund").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "refunding");
    assert_eq!(body["payout"]["destination"], chain.refund_address.as_str());
    let (status, body) = resolve(&arbiter, refund_escrow, "release").await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_disputed");
    let (status, body) = resolve(&arbiter, release_escrow, "release").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "releasing");

    let refunded = wait_escrow(&buyer, refund_escrow, "refunded").await;
    let released = wait_escrow(&buyer, release_escrow, "released").await;
    chain.mine(1).await;
    for (escrow, wallet) in [(&refunded, &chain.refund), (&released, &chain.payout)] {
        let tx = escrow["payout"]["tx_hash"].as_str().unwrap();
        let (received, fee) = chain.received(wallet, tx).await;
        assert_eq!(
            fee,
            escrow["payout"]["fee_xmr"].as_u64().unwrap(),
            "{escrow}"
        );
        assert_eq!(
            received,
            amount - fee,
            "winning party receives escrow minus fee: {escrow}"
        );
    }

    // The funding window closes: the unfunded order expires, the underfunded one goes to an arbiter.
    let expired = wait_escrow(&buyer, unfunded_escrow, "expired").await;
    assert_eq!(expired["funding"]["received_xmr"], 0);
    let (_, order_view) = buyer.get(&format!("/api/orders/{unfunded_order}")).await;
    assert_eq!(order_view["status"], "expired");
    let disputed = wait_escrow(&buyer, under_escrow, "disputed").await;
    assert_eq!(disputed["dispute"]["cause"], "underfunded", "{disputed}");
    assert_eq!(disputed["dispute"]["opened_by"], "system");
    let (status, body) = resolve(&arbiter, under_escrow, "refund").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let refunded_partial = wait_escrow(&buyer, under_escrow, "refunded").await;
    assert_eq!(
        refunded_partial["payout"]["amount_xmr"].as_u64().unwrap()
            + refunded_partial["payout"]["fee_xmr"].as_u64().unwrap(),
        partial,
        "the partial payment goes back, minus the fee"
    );

    // Notifications: the buyer saw each escrow's sequence; the arbiter only disputed escrows.
    ws_buyer.wait_state(under_escrow, "refunded").await;
    let seq = |ws: &Ws, id| {
        ws.states(id)
            .into_iter()
            .filter(|s| s != "awaiting_setup")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seq(&ws_buyer, refund_escrow),
        [
            "awaiting_funding",
            "funded",
            "disputed",
            "refunding",
            "refunded"
        ]
    );
    assert_eq!(
        seq(&ws_buyer, release_escrow),
        [
            "awaiting_funding",
            "funded",
            "disputed",
            "releasing",
            "released"
        ]
    );
    assert_eq!(
        seq(&ws_buyer, unfunded_escrow),
        ["awaiting_funding", "expired"]
    );
    ws_arbiter.wait_state(under_escrow, "refunded").await;
    ws_arbiter.drain(Duration::from_millis(300)).await;
    assert_eq!(
        seq(&ws_arbiter, refund_escrow),
        ["disputed", "refunding", "refunded"]
    );
    assert_eq!(
        seq(&ws_arbiter, under_escrow),
        ["disputed", "refunding", "refunded"]
    );
    assert!(
        ws_arbiter.states(unfunded_escrow).is_empty(),
        "no dispute, no arbiter notice"
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The underfunded escrow, once `partial` of its `amount` atomic units confirmed: still pending
/// inside its funding window, and it says what is missing.
async fn check_underfunded(buyer: &User, escrow_id: i64, amount: u64, partial: u64) {
    let under = wait_funding(buyer, escrow_id, partial).await;
    assert_eq!(under["state"], "awaiting_funding", "{under}");
    assert_eq!(under["funding"]["status"], "underfunded");
    assert_eq!(under["funding"]["missing_xmr"], amount - partial);
    assert!(
        time::OffsetDateTime::parse(
            under["funding_deadline"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .unwrap()
        .unix_timestamp()
            > i64::try_from(now()).unwrap(),
        "checked inside the funding window"
    );
}

/// Polls until the escrow reports `received` atomic units received and confirmed.
async fn wait_funding(user: &User, escrow_id: i64, received: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + STATE_WAIT;
    loop {
        let (_, body) = user.get(&format!("/api/escrows/{escrow_id}")).await;
        if body["funding"]["confirmed_xmr"] == received {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "escrow {escrow_id} never showed {received} received: {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
