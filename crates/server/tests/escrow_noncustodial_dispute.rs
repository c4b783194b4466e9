//! A non-custodial escrow decided by the arbiter, on a real regtest network: the server is given
//! only the arbiter's wallet-rpc; buyer and vendor are played by the test with their own wallets
//! through `GET/POST /api/escrows/{id}/rounds*` only. After funding the buyer confirms receipt and
//! never plays again: the release's `export_sync` misses its deadline, the release is undone
//! (back to `funded`, nothing spent), the vendor disputes and the arbiter decides `release`; the payout rounds are the vendor's and the arbiter
//! wallet's (the server runs the arbiter's `export_sync` itself); a partial set paying elsewhere
//! is refused with 422 `txset_refused` and nothing is stored; the right set is checked and signed
//! by the arbiter wallet, submitted, and found on chain at the vendor's payout address.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::json;

/// wallet-rpc indexes of the parties' own wallets (the server gets only the arbiter's, 2).
const BUYER_RPC: usize = 0;
const VENDOR_RPC: usize = 1;
const ARBITER_RPC: usize = 2;

const SETUP_ROUNDS: [&str; 4] = ["prepare", "make", "exchange_round_1", "exchange_round_2"];

/// Seconds each round may take: enough for a setup round on a loaded machine, short enough to
/// watch the buyer's missing `export_sync` time out.
const ROUND_TIMEOUT_SECS: &str = "60";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arbiter_wallet_signs_a_disputed_release_with_the_vendor() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (arbiter_rpc, daemon) = (chain.net.wallet_url(ARBITER_RPC), chain.net.daemon_url());
    let server = Server::start_without_chain(
        dir.path(),
        &[
            ("MMKT_WALLET_RPC_ARBITER_URL", arbiter_rpc.as_str()),
            ("MMKT_MONEROD_URL", daemon.as_str()),
            ("MMKT_ESCROW_MODES", "hosted,non_custodial"),
            ("MMKT_ESCROW_ROUND_TIMEOUT_SECS", ROUND_TIMEOUT_SECS),
        ],
    );
    server.wait_ready().await;
    create_arbiter(&server, "arbiter_nc");
    let vendor_user = register(&server, "vendor_ncd", "vendor").await;
    let buyer_user = register(&server, "buyer_ncd", "buyer").await;
    let arbiter = login(&server, "arbiter_nc").await;
    set_address(&vendor_user, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor_user, "Disputed lamp", 1_000_000_000_000, 2).await;
    let (status, order) = buyer_user
        .post(
            "/api/orders",
            json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();
    let buyer = Party::new(&chain.net, BUYER_RPC, buyer_user, "buyer", "ncd-buyer").await;
    let vendor = Party::new(&chain.net, VENDOR_RPC, vendor_user, "vendor", "ncd-vendor").await;
    for round in SETUP_ROUNDS {
        buyer.play(escrow_id, round).await;
        vendor.play(escrow_id, round).await;
    }
    fund(&chain, &buyer.user, escrow_id).await;

    // The buyer confirms, then disappears: the vendor's export_sync comes, the buyer's never.
    let (status, body) = confirm(&buyer.user, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    vendor.wait_turn(escrow_id, "export_sync").await;
    let (status, body) = vendor
        .submit(escrow_id, "export_sync", &vendor.export_sync().await)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let wait = Duration::from_secs(ROUND_TIMEOUT_SECS.parse::<u64>().unwrap()) + STATE_WAIT;
    let funded = wait_escrow_within(&vendor.user, escrow_id, "funded", wait).await;
    assert!(
        funded["payout"].is_null(),
        "the decision is undone: {funded}"
    );
    let stalled = vendor.rounds(escrow_id).await;
    assert_eq!(stalled["status"], "timed_out", "{stalled}");
    let options = stalled["next_step"]["pay_out_with"].as_array().unwrap();
    assert!(
        options
            .iter()
            .any(|o| o["first"] == "vendor" && o["second"] == "arbiter"),
        "the vendor and the arbiter can still pay out: {stalled}"
    );
    assert!(server.log_text().contains("the decision is undone"));

    // The vendor disputes; the arbiter decides for the vendor.
    let (status, body) =
        dispute(&vendor.user, order_id, "the buyer confirmed, then vanished").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = resolve(&arbiter, escrow_id, "release").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "releasing", "{body}");

    // Only the vendor owes export_sync: the server runs the arbiter wallet's.
    let view = vendor.wait_turn(escrow_id, "export_sync").await;
    assert_eq!(view["payout"]["dispute"], "disputed", "{view}");
    assert_eq!(view["payout"]["first"], "vendor");
    assert_eq!(view["payout"]["second"], "arbiter");
    let (status, body) = buyer
        .submit(escrow_id, "export_sync", &buyer.export_sync().await)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_your_turn");
    let (status, body) = vendor
        .submit(escrow_id, "export_sync", &vendor.export_sync().await)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = vendor.wait_turn(escrow_id, "build_txset").await;
    assert_eq!(
        view["inputs"].as_array().unwrap().len(),
        1,
        "the arbiter wallet's sync info: {view}"
    );

    // A set paying elsewhere is refused before anyone could sign it; nothing is stored.
    let elsewhere = vendor.build(&view["inputs"], &chain.refund_address).await;
    let (status, body) = vendor.submit(escrow_id, "build_txset", &elsewhere).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "txset_refused",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong_destination"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = vendor.rounds(escrow_id).await;
    assert_eq!(after["round"], "build_txset", "nothing stored: {after}");
    assert_eq!(after["waiting_for"], json!(["vendor"]), "{after}");
    let (_, escrow) = vendor.user.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(escrow["state"], "releasing", "{escrow}");
    assert!(escrow["payout"]["tx_hash"].is_null(), "{escrow}");

    // The right set: stored, checked and signed second by the arbiter wallet, then submitted.
    let partial = vendor.build(&view["inputs"], &chain.payout_address).await;
    let (status, body) = vendor.submit(escrow_id, "build_txset", &partial).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rounds"]["partial_txset"], json!(null), "{body}");
    let released = wait_escrow(&vendor.user, escrow_id, "released").await;
    let tx_hash = released["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(received, released["payout"]["amount_xmr"].as_u64().unwrap());
    let log = server.log_text();
    assert!(
        log.contains("the arbiter wallet checked and signed the payout set"),
        "the arbiter wallet signed"
    );
    assert!(!log.contains(&partial), "no txset in the log");
}
