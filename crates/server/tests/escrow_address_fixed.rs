//! A funded escrow keeps the payout address in force when it was funded, on a real regtest
//! network: the vendor sets a payout address before the order (so the escrow itself has none and
//! takes the account's at funding), changes it after funding, and the release still pays the
//! first address's wallet. The buyer never sees the vendor's address, not even as the payout
//! destination.

mod escrow_support;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_address_changed_after_funding_does_not_redirect_the_release() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_fixed", "vendor").await;
    let buyer = register(&server, "buyer_fixed", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Fixed destination", 1_000_000_000_000, 2).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;
    set_address(&buyer, "refund", &chain.refund_address).await;

    fund(&chain, &buyer, escrow_id).await;

    // After funding: accepted for the account, but the funded escrow keeps its address.
    let (status, body) = vendor
        .put(
            "/api/auth/me/payout-address",
            json!({"address": chain.miner.address.as_str(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["escrows_updated"], 0,
        "a funded escrow is not updated: {body}"
    );
    let (_, addresses) = vendor.get("/api/auth/me/addresses").await;
    assert_eq!(addresses["payout_address"], chain.miner.address.as_str());

    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        body["payout_address"].is_null() && body["payout"]["destination"].is_null(),
        "the buyer never sees the vendor's address: {body}"
    );
    let (_, seen) = vendor.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        seen["payout"]["destination"],
        chain.payout_address.as_str(),
        "the release pays the address in force at funding: {seen}"
    );

    wait_escrow(&buyer, escrow_id, "released").await;
    let (_, released) = vendor.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        released["payout"]["destination"],
        chain.payout_address.as_str()
    );
    let tx_hash = released["payout"]["tx_hash"]
        .as_str()
        .expect("tx hash")
        .to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(
        received,
        released["payout"]["amount_xmr"].as_u64().unwrap(),
        "the first payout wallet got the money"
    );
}
