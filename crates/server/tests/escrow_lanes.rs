//! Payouts have their own lane on a real regtest network: with ten orders queued for multisig
//! setup (one setup runs at a time), a buyer's confirm-receipt is paid out while most of those
//! setups are still waiting, instead of after all of them.

mod escrow_support;

use escrow_support::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_completes_while_ten_setups_wait() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_lanes", "vendor").await;
    let buyer = register(&server, "buyer_lanes", "buyer").await;
    let crowd = register(&server, "crowd_lanes", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let amount = 400_000_000_000;
    let listing = create_listing(&vendor, "Lane goods", amount, 20).await;
    let (order_id, escrow_id) = order(&buyer, listing, 1).await;
    fund(&chain, &buyer, escrow_id).await;

    let mut queued = Vec::new();
    for _ in 0..10 {
        queued.push(order(&crowd, listing, 1).await.1);
    }
    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let released = wait_escrow(&buyer, escrow_id, "released").await;

    let mut waiting = 0;
    for id in &queued {
        let (_, escrow) = crowd.get(&format!("/api/escrows/{id}")).await;
        if escrow["state"] == "awaiting_setup" {
            waiting += 1;
        }
    }
    assert!(
        waiting > 0,
        "the release waited for all ten setups (none left in awaiting_setup when it was released)"
    );
    let tx = released["payout"]["tx_hash"]
        .as_str()
        .expect("payout tx hash");
    chain.mine(1).await;
    let (received, fee) = chain.received(&chain.payout, tx).await;
    assert_eq!(
        received + fee,
        amount,
        "the vendor receives the escrow minus the fee"
    );
}
