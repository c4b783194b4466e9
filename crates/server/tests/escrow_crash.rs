//! Crash safety: the real `mmkt-server` binary is killed with SIGKILL in the middle of the multisig
//! setup and again in the middle of the release; each restart resumes from the database, and the
//! escrow completes with exactly one payout transaction on chain, paying exactly the escrow amount
//! minus the fee.

mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;
use monero_rpc::TransferKind;
use reqwest::StatusCode;

/// Waits until the server log contains `needle` `count` times (the log is how the test sees where
/// the background job is; it drives the server only through the API).
async fn wait_log(server: &Server, needle: &str, count: usize) {
    let deadline = Instant::now() + STATE_WAIT;
    while server.log_text().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "server never logged {needle:?}:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_setup_and_release_resumes_with_one_payout() {
    let Some((chain, _dir, mut server)) = start_market(&[]).await else {
        return;
    };

    let vendor = register(&server, "vendor_crash", "vendor").await;
    let buyer = register(&server, "buyer_crash", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Crash-tested goods", 700_000_000_000, 3).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;
    let amount = 700_000_000_000u64;

    // Kill -9 inside the key exchange: the three prepare outputs and a first make output are
    // recorded, the other rounds are not.
    wait_log(&server, "multisig setup step done", 4).await;
    server.kill9();
    server.restart().await;
    let (_, after) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        after["state"], "awaiting_setup",
        "killed before setup completed: {after}"
    );
    let ready = wait_escrow(&buyer, escrow_id, "awaiting_funding").await;
    assert!(
        ready["address"].as_str().is_some_and(|a| a.len() == 95),
        "{ready}"
    );

    fund(&chain, &buyer, escrow_id).await;
    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // Kill -9 right after the signed payout was recorded, around the submission.
    wait_log(&server, "payout prepared", 1).await;
    server.kill9();
    server.restart().await;
    let released = wait_escrow(&buyer, escrow_id, "released").await;
    let tx_hash = released["payout"]["tx_hash"].as_str().unwrap().to_owned();
    let fee = released["payout"]["fee_xmr"].as_u64().unwrap();
    assert_eq!(
        released["payout"]["amount_xmr"].as_u64().unwrap() + fee,
        amount,
        "{released}"
    );

    // Exactly one payout on chain: the payout wallet has one incoming transfer, this one.
    chain.mine(2).await;
    let all = chain.incoming(&chain.payout).await;
    assert_eq!(all.len(), 1, "exactly one payout tx: {all:?}");
    assert_eq!(all[0].txid.as_str(), tx_hash);
    assert_eq!(all[0].kind, TransferKind::In);
    assert_eq!(
        all[0].amount.as_atomic(),
        amount - fee,
        "vendor receives escrow amount minus fee"
    );
    assert_eq!(all[0].fee.as_atomic(), fee);
}
