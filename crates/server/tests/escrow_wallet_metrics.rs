//! The wallet collector on a real regtest network with the real server binary: once an escrow
//! is funded and its outputs unlocked, each role's wallet gauges show the escrow's one output
//! (`monero_wallet_balance_piconero{role}`, `monero_wallet_unlocked_balance_piconero{role}`,
//! `monero_wallet_num_unspent_outputs{role}`, `monero_wallet_height{role}` at the chain's
//! height), `escrow_observed_piconero` equals the recorded amount and `escrow_balance_mismatch`
//! stays 0.

mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;

const XMR: u64 = 1_000_000_000_000;
const ROLES: [&str; 3] = ["buyer", "vendor", "arbiter"];

fn role_metric(text: &str, name: &str, role: &str) -> Option<f64> {
    metric(text, &format!("{name}{{role=\"{role}\"}} "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funded_escrow_shows_in_the_wallet_and_observed_gauges() {
    let extra = [("MMKT_WALLET_METRICS_INTERVAL_SECS", "1")];
    let Some((chain, _dir, server)) = start_market(&extra).await else {
        return;
    };
    // Before any escrow the collector publishes zeros, not nothing.
    let text = metrics_text(&server).await;
    for role in ROLES {
        assert_eq!(
            role_metric(&text, "monero_wallet_balance_piconero", role),
            Some(0.0),
            "{text}"
        );
    }
    assert_eq!(metric(&text, "escrow_observed_piconero "), Some(0.0));
    assert_eq!(metric(&text, "escrow_balance_mismatch "), Some(0.0));

    let vendor = register(&server, "vendor_walletm", "vendor").await;
    let buyer = register(&server, "buyer_walletm", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    set_address(&buyer, "refund", &chain.refund_address).await;
    let amount = XMR / 4;
    let listing = create_listing(&vendor, "Watched item", amount, 1).await;
    let (_order_id, escrow_id) = order(&buyer, listing, 1).await;
    fund(&chain, &buyer, escrow_id).await;
    let chain_height = chain.net.daemon().get_block_count().await.unwrap() as f64;

    // Poll until every role's wallet has caught up to the chain and sees the money unlocked,
    // then check the whole set.
    let deadline = Instant::now() + STATE_WAIT;
    let text = loop {
        let text = metrics_text(&server).await;
        let unlocked =
            ROLES.map(|r| role_metric(&text, "monero_wallet_unlocked_balance_piconero", r));
        let heights = ROLES.map(|r| role_metric(&text, "monero_wallet_height", r).unwrap_or(0.0));
        if unlocked.iter().all(|u| *u == Some(amount as f64))
            && heights.iter().all(|h| *h >= chain_height)
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "wallet gauges never showed {amount} unlocked at height {chain_height}: {unlocked:?} {heights:?}\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for role in ROLES {
        assert_eq!(
            role_metric(&text, "monero_wallet_balance_piconero", role),
            Some(amount as f64),
            "{role}"
        );
        assert_eq!(
            role_metric(&text, "monero_wallet_num_unspent_outputs", role),
            Some(1.0),
            "{role}"
        );
    }
    assert_eq!(
        metric(&text, "escrow_observed_piconero "),
        Some(amount as f64)
    );
    assert_eq!(
        metric(&text, "escrow_value_piconero{state=\"funded\"} "),
        Some(amount as f64)
    );
    assert_eq!(
        metric(&text, "escrow_balance_mismatch "),
        Some(0.0),
        "{}",
        server.log_tail()
    );
}
