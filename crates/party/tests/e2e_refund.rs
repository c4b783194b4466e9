//! End to end, the vendor's undisputed refund of a non-custodial escrow: the real `mmkt-server`
//! (only the arbiter's wallet-rpc) and the real `mmkt-party` binary for the buyer and the vendor,
//! each with its own wallet-rpc. Both `escrow join`, the escrow is funded; the buyer's `refund`
//! is refused by the market and changes nothing; the vendor's `refund` moves the escrow to
//! `refunding`; then both `sign`: the buyer's wallet builds the sweep to its refund address, the
//! vendor's checks it and signs second, the market submits it, and the buyer's refund wallet
//! receives it.
//!
//! The server binary is the workspace's `target/debug/mmkt-server` (built by a workspace test
//! run, or `cargo build -p mmkt-server`), or `MMKT_SERVER_BIN`.

#[path = "../../server/tests/escrow_support/mod.rs"]
mod escrow_support;
mod party_cli;

use escrow_support::*;
use party_cli::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn rounds(report: &Value) -> Vec<String> {
    let list = report["submitted"].as_array().unwrap();
    list.iter()
        .map(|s| s["round"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_refunds_with_mmkt_party_buyer_builds_vendor_signs_second() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = non_custodial_market(&chain, dir.path()).await;
    let vendor_user = register(&server, "vendor_refunds", "vendor").await;
    let buyer_user = register(&server, "buyer_refunded", "buyer").await;
    set_address(&vendor_user, "payout", &chain.payout_address).await;
    set_address(&buyer_user, "refund", &chain.refund_address).await;
    let listing_id = create_listing(&vendor_user, "Lamp given back", 1_000_000_000_000, 2).await;
    let order_body =
        json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, order) = buyer_user.post("/api/orders", order_body).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();

    let buyer = PartyCli::new(&server, &chain, BUYER_RPC);
    let vendor = PartyCli::new(&server, &chain, VENDOR_RPC);
    tokio::join!(
        buyer.login("buyer_refunded"),
        vendor.login("vendor_refunds")
    );
    let order_arg = order_id.to_string();
    let wait = ["--poll-secs", "1", "--max-wait-secs", "240"];
    let join = [&["escrow", "join", order_arg.as_str()][..], &wait[..]].concat();
    let (b, v) = tokio::join!(buyer.ok(&join), vendor.ok(&join));
    assert_eq!(b["address"], v["address"], "{b} {v}");
    wait_escrow(&buyer_user, escrow_id, "awaiting_funding").await;
    fund(&chain, &buyer_user, escrow_id).await;

    // Only the vendor may refund: the buyer's attempt is refused by the market (exit 21).
    let refused = buyer.run(&["refund", &order_arg]).await;
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(refused.status.code(), Some(21), "{shown}");
    assert!(shown.contains("not_permitted"), "{shown}");
    let (_, now) = buyer_user.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        now["state"], "funded",
        "the refused refund changed it: {now}"
    );

    let refund = vendor.ok(&["refund", &order_arg]).await;
    assert_eq!(refund["action"], "refund", "{refund}");
    assert_eq!(refund["answer"]["state"], "refunding", "{refund}");

    // Buyer builds the sweep to its own refund address; the vendor checks it and signs second.
    let sign = [&["sign", order_arg.as_str(), "--yes"][..], &wait[..]].concat();
    let (bs, vs) = tokio::join!(buyer.ok(&sign), vendor.ok(&sign));
    assert_eq!(rounds(&bs), ["export_sync", "build_txset"], "{bs}");
    assert_eq!(rounds(&vs), ["export_sync", "sign_txset"], "{vs}");
    let payout = &vs["rounds"]["payout"];
    assert_eq!(payout["kind"], "refund", "{vs}");
    assert_eq!(payout["dispute"], "undisputed", "{vs}");
    assert_eq!(
        (&payout["first"], &payout["second"]),
        (&json!("buyer"), &json!("vendor"))
    );
    assert_eq!(payout["destination"], chain.refund_address.as_str(), "{vs}");

    let refunded = wait_escrow(&buyer_user, escrow_id, "refunded").await;
    assert!(refunded["dispute"].is_null(), "{refunded}");
    let tx_hash = refunded["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, fee) = chain.received(&chain.refund, &tx_hash).await;
    assert_eq!(
        Some(received),
        refunded["payout"]["amount_xmr"].as_u64(),
        "{refunded}"
    );
    assert_eq!(
        received + fee,
        1_000_000_000_000,
        "the whole escrow minus the fee"
    );
}
