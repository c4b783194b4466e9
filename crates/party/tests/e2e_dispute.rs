//! End to end after a dispute, in non-custodial mode: the real `mmkt-server` (given only the
//! arbiter's wallet-rpc) and the real `mmkt-party` binary for the buyer and the vendor, each with
//! its own wallet-rpc. Two orders are set up with `escrow join` and funded. Then a party that
//! disappears after funding is not needed: (a) the buyer opens a dispute with `mmkt-party
//! dispute` and never runs `mmkt-party` for that order again, the arbiter decides `release`, the
//! vendor alone runs `sign` (it builds, the arbiter wallet checks and signs second) and the
//! payout is found on the chain at the vendor's payout address; (b) the vendor disputes the
//! second order, the arbiter decides `refund`, the buyer's `watch` alone does its turns and the
//! refund is found at the buyer's refund address.
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

/// `--poll-secs` / `--max-wait-secs` of every waiting command.
const WAIT: [&str; 4] = ["--poll-secs", "1", "--max-wait-secs", "240"];

/// The rounds a `sign` or `escrow join` report lists as submitted.
fn rounds(report: &Value) -> Vec<String> {
    let list = report["submitted"].as_array().unwrap();
    list.iter()
        .map(|s| s["round"].as_str().unwrap().to_owned())
        .collect()
}

/// Places a non-custodial order of `listing_id`; both parties join it with `mmkt-party`.
/// Returns the order id and the escrow id.
async fn joined_order(buyer_user: &User, listing_id: i64, parties: [&PartyCli; 2]) -> (i64, i64) {
    let body = json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, order) = buyer_user.post("/api/orders", body).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();
    let order_arg = order_id.to_string();
    let join = [&["escrow", "join", order_arg.as_str()][..], &WAIT[..]].concat();
    let (b, v) = tokio::join!(parties[0].ok(&join), parties[1].ok(&join));
    for report in [&b, &v] {
        assert_eq!(report["rounds"]["status"], "address_ready", "{report}");
    }
    assert_eq!(b["address"], v["address"]);
    (order_id, escrow_id)
}

/// Opens a dispute on `order_id` with `party`'s `mmkt-party dispute`, then the arbiter decides
/// `outcome`.
async fn dispute_and_decide(
    party: &PartyCli,
    arbiter: &User,
    user: &User,
    ids: (i64, i64),
    outcome: &str,
) {
    let (order_id, escrow_id) = ids;
    let order_arg = order_id.to_string();
    let opened = party
        .ok(&["dispute", &order_arg, "--reason", "not what was agreed"])
        .await;
    assert_eq!(opened["order_id"], order_id, "{opened}");
    wait_escrow(user, escrow_id, "disputed").await;
    let (_, open) = arbiter.get("/api/disputes").await;
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dispute_id"] == escrow_id),
        "{open}"
    );
    let (status, body) = resolve(arbiter, escrow_id, outcome).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_winner_alone_and_the_arbiter_pay_out_a_disputed_escrow() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = non_custodial_market(&chain, dir.path()).await;
    create_arbiter(&server, "arbiter_party");
    let vendor_user = register(&server, "vendor_dispute", "vendor").await;
    let buyer_user = register(&server, "buyer_dispute", "buyer").await;
    let arbiter = login(&server, "arbiter_party").await;
    set_address(&vendor_user, "payout", &chain.payout_address).await;
    set_address(&buyer_user, "refund", &chain.refund_address).await;
    let listing_id = create_listing(&vendor_user, "Disputed lamp", 1_000_000_000_000, 3).await;

    let buyer = PartyCli::new(&server, &chain, BUYER_RPC);
    let vendor = PartyCli::new(&server, &chain, VENDOR_RPC);
    tokio::join!(buyer.login("buyer_dispute"), vendor.login("vendor_dispute"));
    let released = joined_order(&buyer_user, listing_id, [&buyer, &vendor]).await;
    let refunded = joined_order(&buyer_user, listing_id, [&buyer, &vendor]).await;
    fund(&chain, &buyer_user, released.1).await;
    fund(&chain, &buyer_user, refunded.1).await;

    // (a) The buyer disputes and disappears; the arbiter decides for the vendor, whose own wallet
    // builds the set; the arbiter wallet checks it and signs second; the market submits it.
    dispute_and_decide(&buyer, &arbiter, &buyer_user, released, "release").await;
    let order_arg = released.0.to_string();
    let sign = [&["sign", order_arg.as_str(), "--yes"][..], &WAIT[..]].concat();
    let signed = vendor.ok(&sign).await;
    assert_eq!(rounds(&signed), ["export_sync", "build_txset"], "{signed}");
    assert_eq!(
        signed["rounds"]["payout"]["dispute"], "disputed",
        "{signed}"
    );
    assert_eq!(signed["rounds"]["payout"]["second"], "arbiter", "{signed}");
    let escrow = wait_escrow(&vendor_user, released.1, "released").await;
    let tx_hash = escrow["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(
        Some(received),
        escrow["payout"]["amount_xmr"].as_u64(),
        "{escrow}"
    );

    // (b) The vendor disputes and disappears; the arbiter decides for the buyer, whose
    // `mmkt-party watch` does the buyer's turns as they come: its own wallet builds the refund,
    // the arbiter wallet checks it and signs second.
    dispute_and_decide(&vendor, &arbiter, &buyer_user, refunded, "refund").await;
    let watcher = buyer.watch();
    let escrow = wait_escrow(&buyer_user, refunded.1, "refunded").await;
    drop(watcher);
    let submitted: Vec<String> = buyer
        .watch_events()
        .iter()
        .filter(|e| e["event"] == "submitted" && e["escrow_id"] == refunded.1)
        .map(|e| e["round"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        submitted,
        ["export_sync", "build_txset"],
        "the buyer's turns"
    );
    let tx_hash = escrow["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.refund, &tx_hash).await;
    assert_eq!(
        Some(received),
        escrow["payout"]["amount_xmr"].as_u64(),
        "{escrow}"
    );
    assert_eq!(
        wait_escrow(&vendor_user, released.1, "released").await["state"],
        "released",
        "the first payout is untouched"
    );
}
