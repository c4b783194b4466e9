//! Concurrency: five orders placed at once by five buyers all go through setup, funding and release
//! on the same three wallet-rpc endpoints, and the vendor's payout wallet receives each payout
//! exactly once.

mod escrow_support;

use escrow_support::*;
use futures_util::future::join_all;
use reqwest::StatusCode;

const ORDERS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_orders_at_once_all_complete() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };

    let vendor = register(&server, "vendor_many", "vendor").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Popular item", 300_000_000_000, 50).await;
    let mut buyers = Vec::new();
    for i in 0..ORDERS {
        buyers.push(register(&server, &format!("buyer_many_{i}"), "buyer").await);
    }

    // All orders at once.
    let placed = join_all(
        buyers
            .iter()
            .enumerate()
            .map(|(i, b)| order(b, listing_id, 1 + i as u64)),
    )
    .await;
    let ready = wait_all(&buyers, &placed, "awaiting_funding").await;
    let addresses: std::collections::BTreeSet<&str> = ready
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses.len(), ORDERS, "each escrow has its own address");

    for escrow in &ready {
        chain
            .pay(
                escrow["address"].as_str().unwrap(),
                escrow["amount_xmr"].as_u64().unwrap(),
            )
            .await;
    }
    chain.mine(1).await;
    wait_all(&buyers, &placed, "funded").await;
    chain.mine(10).await;

    let confirmations = join_all(
        buyers
            .iter()
            .zip(&placed)
            .map(|(b, (order_id, _))| confirm(b, *order_id)),
    )
    .await;
    for (status, body) in &confirmations {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
    }
    let released = wait_all(&buyers, &placed, "released").await;

    chain.mine(1).await;
    let all = chain.incoming(&chain.payout).await;
    assert_eq!(all.len(), ORDERS, "one payout per order: {all:?}");
    for escrow in &released {
        let tx = escrow["payout"]["tx_hash"].as_str().unwrap();
        let paid = all
            .iter()
            .find(|t| t.txid.as_str() == tx)
            .unwrap_or_else(|| panic!("payout {tx} not received"));
        let fee = escrow["payout"]["fee_xmr"].as_u64().unwrap();
        assert_eq!(
            paid.amount.as_atomic(),
            escrow["amount_xmr"].as_u64().unwrap() - fee,
            "{escrow}"
        );
    }
}

/// Waits until every buyer's escrow (`placed`: `(order_id, escrow_id)` per buyer) is in `state`.
/// The orchestrator runs setups and payouts one at a time, so the last escrow waits behind the
/// others: the hang guard is one [`STATE_WAIT`] per escrow, not one for all.
async fn wait_all(buyers: &[User], placed: &[(i64, i64)], state: &str) -> Vec<serde_json::Value> {
    let wait = STATE_WAIT * u32::try_from(placed.len()).unwrap_or(1);
    join_all(
        buyers
            .iter()
            .zip(placed)
            .map(|(b, (_, e))| wait_escrow_within(b, *e, state, wait)),
    )
    .await
}
