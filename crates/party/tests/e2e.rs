//! End to end: the real `mmkt-server` (the escrow suites' harness, given only the arbiter's
//! wallet-rpc) and the real `mmkt-party` binary for the buyer and the vendor, each with its own
//! wallet-rpc and state directory. Both `escrow join` the order's non-custodial escrow and the
//! escrow reaches `awaiting_funding` at the address both wallets computed; it is funded and
//! released (`release`, then `sign` for both: vendor builds, buyer checks and signs second) to
//! the vendor's payout wallet; then `watch` does both parties' turns of a second order as the
//! market announces them; neither party's wallet passwords nor session reach the market's
//! database or log.
//!
//! The server binary is the workspace's `target/debug/mmkt-server` (built by a workspace test
//! run, or `cargo build -p mmkt-server`), or `MMKT_SERVER_BIN`.

#[path = "../../server/tests/escrow_support/mod.rs"]
mod escrow_support;
mod party_cli;

use std::path::Path;

use escrow_support::*;
use party_cli::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn saved_token(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("session")).unwrap();
    text.lines().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_and_vendor_join_with_mmkt_party_to_awaiting_funding() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = non_custodial_market(&chain, dir.path()).await;
    let vendor_user = register(&server, "vendor_party", "vendor").await;
    let buyer_user = register(&server, "buyer_party", "buyer").await;
    set_address(&vendor_user, "payout", &chain.payout_address).await;
    set_address(&buyer_user, "refund", &chain.refund_address).await;
    let listing_id = create_listing(
        &vendor_user,
        "Lamp kept by its parties",
        1_000_000_000_000,
        2,
    )
    .await;
    let order_body =
        json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, order) = buyer_user.post("/api/orders", order_body).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();

    let buyer = PartyCli::new(&server, &chain, BUYER_RPC);
    let vendor = PartyCli::new(&server, &chain, VENDOR_RPC);
    tokio::join!(buyer.login("buyer_party"), vendor.login("vendor_party"));
    let listed = buyer.ok(&["orders"]).await;
    assert_eq!(listed[0]["order_id"], order_id);
    assert_eq!(listed[0]["escrow_mode"], "non_custodial");

    // Both join at once; each does its own turns and waits for the others in between.
    let order_arg = order_id.to_string();
    let join = [
        "escrow",
        "join",
        order_arg.as_str(),
        "--poll-secs",
        "1",
        "--max-wait-secs",
        "240",
    ];
    let (b, v) = tokio::join!(buyer.ok(&join), vendor.ok(&join));
    for (report, role) in [(&b, "buyer"), (&v, "vendor")] {
        assert_eq!(report["escrow_id"], escrow_id, "{role}: {report}");
        assert_eq!(report["wallet_created"], true);
        assert_eq!(
            report["rounds"]["status"], "address_ready",
            "{role}: {report}"
        );
        let rounds: Vec<&str> = report["submitted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["round"].as_str().unwrap())
            .collect();
        assert_eq!(
            rounds,
            ["prepare", "make", "exchange_round_1", "exchange_round_2"]
        );
        assert_eq!(report["address"], report["market_address"], "{role}");
        assert!(
            report["rounds"].get("inputs").is_none(),
            "no payloads in the report"
        );
    }
    assert_eq!(b["address"], v["address"]);
    let ready = wait_escrow(&buyer_user, escrow_id, "awaiting_funding").await;
    assert_eq!(ready["address"], b["address"]);

    // Joining again is harmless: nothing to submit, the same address.
    let again = buyer.ok(&["escrow", "join", &order_arg]).await;
    assert_eq!(again["submitted"], json!([]));
    assert_eq!(again["address"], b["address"]);
    let status = vendor.ok(&["escrow", "status", &order_arg]).await;
    assert_eq!(status["rounds"]["your_role"], "vendor");

    fund(&chain, &buyer_user, escrow_id).await;

    // The release: the buyer confirms receipt; the vendor builds the set, the buyer's own wallet
    // checks it and signs second (after a confirmation); the market submits it.
    let confirmed = buyer.ok(&["release", &order_arg]).await;
    assert_eq!(confirmed["action"], "confirm-receipt");
    let wait = ["--poll-secs", "1", "--max-wait-secs", "240"];
    let sign_yes = [&["sign", order_arg.as_str(), "--yes"][..], &wait[..]].concat();
    let sign_asking = [&["sign", order_arg.as_str()][..], &wait[..]].concat();
    let rounds = |report: &Value| -> Vec<String> {
        let list = report["submitted"].as_array().unwrap();
        list.iter()
            .map(|s| s["round"].as_str().unwrap().to_owned())
            .collect()
    };
    // Without --yes and without a terminal to ask on, the buyer is shown the checked set and
    // signs nothing (exit 4); the escrow waits for its signature.
    let (asked, vs) = tokio::join!(buyer.run(&sign_asking), vendor.ok(&sign_yes));
    let shown = String::from_utf8_lossy(&asked.stderr);
    assert_eq!(asked.status.code(), Some(4), "{shown}");
    assert!(
        shown.contains("passed the check") && shown.contains("with a fee of"),
        "{shown}"
    );
    assert!(
        shown.contains(chain.payout_address.as_str()),
        "the destination is shown: {shown}"
    );
    assert_eq!(rounds(&vs), ["export_sync", "build_txset"], "{vs}");
    let (_, pending) = buyer_user.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        pending["state"], "releasing",
        "nothing was signed: {pending}"
    );
    let bs = buyer.ok(&sign_yes).await;
    assert_eq!(rounds(&bs), ["sign_txset"], "{bs}");
    let released = wait_escrow(&buyer_user, escrow_id, "released").await;
    let tx_hash = released["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(
        Some(received),
        released["payout"]["amount_xmr"].as_u64(),
        "{released}"
    );

    // `watch` does the same turns as the market announces them, for the next order.
    let watchers = (buyer.watch(), vendor.watch());
    let order_body =
        json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, second) = buyer_user.post("/api/orders", order_body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_escrow = second["escrow"]["escrow_id"].as_i64().unwrap();
    let watched = wait_escrow(&buyer_user, second_escrow, "awaiting_funding").await;
    drop(watchers);
    assert_ne!(
        watched["address"], ready["address"],
        "a fresh wallet per escrow"
    );
    for party in [&buyer, &vendor] {
        let events = party.watch_events();
        let submitted: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "submitted" && e["escrow_id"] == second_escrow)
            .map(|e| e["round"].as_str().unwrap())
            .collect();
        assert_eq!(
            submitted,
            ["prepare", "make", "exchange_round_1", "exchange_round_2"]
        );
    }

    // What stays on the parties' machines never reached the market.
    let stored = database_text(&dir.path().join("mmkt.db"), &dir.path().join("mmkt.key"));
    let log = server.log_text();
    assert!(
        stored.contains(b["address"].as_str().unwrap()),
        "the database was read"
    );
    for (party, role) in [(&buyer, "buyer"), (&vendor, "vendor")] {
        let password = party.wallet_password(escrow_id);
        assert_eq!(password.len(), 64, "{role}: a random 32-byte password");
        assert!(
            !stored.contains(&password),
            "{role}'s wallet password in the database"
        );
        assert!(
            !log.contains(&password),
            "{role}'s wallet password in the log"
        );
        let token = saved_token(party.state.path());
        assert!(!log.contains(&token), "{role}'s session token in the log");
    }
}
