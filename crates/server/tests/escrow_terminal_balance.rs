//! Custody on a real regtest network with the real server binary: the custody cap refuses an
//! order while a first escrow is open and admits one again once that escrow is released; and the
//! terminal-wallet check reports a released escrow's wallet as empty after the payout, then as
//! holding money once someone pays the escrow address again
//! (`escrow_terminal_wallets_with_balance`, `escrow_terminal_wallet_balance_piconero`, counted in
//! `escrow_balance_mismatch`).

mod escrow_support;

use std::time::Instant;

use escrow_support::*;
use reqwest::StatusCode;

const XMR: u64 = 1_000_000_000_000;

/// The gauges of the first terminal-wallet check completed after `after` (Unix s):
/// `(wallets with balance, total piconero, check time)`.
async fn check_after(server: &Server, after: f64) -> (f64, f64, f64) {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let text = metrics_text(server).await;
        let at = metric(&text, "escrow_terminal_wallet_check_timestamp_seconds").unwrap_or(0.0);
        if at > after {
            let wallets = metric(&text, "escrow_terminal_wallets_with_balance").unwrap();
            let total = metric(&text, "escrow_terminal_wallet_balance_piconero").unwrap();
            return (wallets, total, at);
        }
        assert!(
            Instant::now() < deadline,
            "no terminal-wallet check completed after {after}:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The gauges of a check that started after now: the second one to complete from now on.
async fn fresh_check(server: &Server) -> (f64, f64) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let (_, _, first) = check_after(server, now).await;
    let (wallets, total, _) = check_after(server, first).await;
    (wallets, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_wallet_paid_again_is_reported_and_release_frees_the_cap() {
    let extra = [
        ("MMKT_CUSTODY_CAP_XMR", "1"),
        ("MMKT_CUSTODY_CHECK_INTERVAL_SECS", "1"),
    ];
    let Some((chain, _dir, server)) = start_market(&extra).await else {
        return;
    };
    let vendor = register(&server, "vendor_custody", "vendor").await;
    let buyer = register(&server, "buyer_custody", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    set_address(&buyer, "refund", &chain.refund_address).await;
    let listing = create_listing(&vendor, "Custody-capped item", XMR, 5).await;

    let (order_id, escrow_id) = order(&buyer, listing, 1).await;
    let (status, body) = place_order(&buyer, listing, 1).await;
    assert_error(status, &body, StatusCode::CONFLICT, "custody_cap_reached");

    let funded = fund(&chain, &buyer, escrow_id).await;
    let address = funded["address"]
        .as_str()
        .expect("escrow address")
        .to_owned();
    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_escrow(&buyer, escrow_id, "released").await;
    chain.mine(1).await;

    // After the payout the released wallet is empty: no false alarm.
    assert_eq!(
        fresh_check(&server).await,
        (0.0, 0.0),
        "{}",
        server.log_tail()
    );
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "escrow_balance_mismatch "), Some(0.0));

    // Someone pays the finished escrow again: the next checks report the money.
    let late = XMR / 10;
    chain.pay(&address, late).await;
    chain.mine(1).await;
    assert_eq!(
        fresh_check(&server).await,
        (1.0, late as f64),
        "{}",
        server.log_tail()
    );
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(&text, "escrow_balance_mismatch "),
        Some(1.0),
        "the finished escrow holding money is a balance mismatch"
    );
    assert!(
        server
            .log_text()
            .contains("a released or refunded escrow wallet still holds money"),
        "the check logs the escrow"
    );

    // The released escrow no longer counts toward the cap.
    order(&buyer, listing, 1).await;
}
