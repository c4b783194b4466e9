//! The buyer's cancel on a real regtest network: a cancel while the multisig setup is in flight
//! returns the stock and stops the setup before its next round (no wallet of that escrow is driven
//! afterwards, no address is ever shown); a cancel after funding is refused with 409
//! `funds_present` and changes neither stock nor state.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn stock(user: &User, listing_id: i64) -> u64 {
    let (status, body) = user.get(&format!("/api/listings/{listing_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stock"].as_u64().unwrap()
}

/// Setup log lines of `escrow_id` that mean its wallets were driven.
const DRIVEN: [&str; 3] = [
    "multisig setup step done",
    "multisig setup complete",
    "multisig setup restarts with fresh wallets",
];

/// Log lines that end a setup job: the stop before the next round, or a failed round.
const JOB_ENDS: [&str; 2] = ["multisig setup stopped", "escrow step failed"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_setup_and_is_refused_once_funded() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_cancel", "vendor").await;
    let buyer = register(&server, "buyer_cancel", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing = create_listing(&vendor, "Cancelled mid-setup", 300_000_000_000, 4).await;

    // Cancel while the setup runs: after its first wallet-rpc step is done.
    let (order_id, escrow_id) = order(&buyer, listing, 2).await;
    assert_eq!(stock(&buyer, listing).await, 2);
    wait_escrow_log(&server, "multisig setup step done", escrow_id).await;
    let (status, body) = buyer
        .post(&format!("/api/orders/{order_id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["escrow"]["state"], "cancelled", "{body}");
    assert_eq!(stock(&buyer, listing).await, 4, "the stock is back");

    // The setup job ends: at the next round (stopped), or with the round in flight (its error).
    let ended = |log: &[String]| {
        let cancelled = log.iter().position(|l| l.contains("event=\"cancelled\""))?;
        log[cancelled..]
            .iter()
            .position(|l| JOB_ENDS.iter().any(|e| l.contains(e)))
            .map(|i| cancelled + i)
    };
    let deadline = std::time::Instant::now() + STATE_WAIT;
    while ended(&escrow_log_lines(&server, "", escrow_id)).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the setup never ended after the cancel:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the orchestrator a few passes (500 ms each) to show it leaves the escrow alone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = escrow_log_lines(&server, "", escrow_id);
    let end = ended(&log).expect("end logged");
    let after: Vec<&String> = log[end..]
        .iter()
        .filter(|l| DRIVEN.iter().any(|d| l.contains(d)))
        .collect();
    assert!(
        after.is_empty(),
        "the cancelled escrow's wallets were driven after its setup ended: {after:?}"
    );
    let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(escrow["state"], "cancelled", "{escrow}");
    assert!(escrow["address"].is_null(), "no address is shown: {escrow}");

    // Once funded, a cancel is refused and changes nothing.
    let (funded_order, funded_escrow) = order(&buyer, listing, 1).await;
    fund(&chain, &buyer, funded_escrow).await;
    let (status, body) = buyer
        .post(&format!("/api/orders/{funded_order}/cancel"), Value::Null)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "funds_present");
    assert_eq!(stock(&buyer, listing).await, 3, "stock unchanged");
    let (_, escrow) = buyer.get(&format!("/api/escrows/{funded_escrow}")).await;
    assert_eq!(escrow["state"], "funded", "{escrow}");
}
