//! Expiry and the wallet archive on a real regtest network: an escrow whose funding window closes
//! with nothing received expires and gives its stock back; its wallet files (in the wallet-rpcs'
//! real `--wallet-dir`s) move into `archive/` and are deleted after the retention period. A
//! cancelled escrow whose address then received a payment keeps its wallet files for good.

mod escrow_support;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn stock(user: &User, listing_id: i64) -> u64 {
    let (status, body) = user.get(&format!("/api/listings/{listing_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stock"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_returns_stock_and_unfunded_wallets_are_archived_then_removed() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dirs: Vec<String> = (0..3)
        .map(|i| wallet_dir(&chain, i).display().to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &chain,
        dir.path(),
        &[
            ("MMKT_ESCROW_FUNDING_WINDOW_SECS", "20"),
            ("MMKT_ESCROW_LATE_FUNDING_GRACE_SECS", "15"),
            ("MMKT_WALLET_ARCHIVE_RETENTION_SECS", "2"),
            ("MMKT_WALLET_DIR_BUYER", &dirs[0]),
            ("MMKT_WALLET_DIR_VENDOR", &dirs[1]),
            ("MMKT_WALLET_DIR_ARBITER", &dirs[2]),
        ],
    );
    server.wait_ready().await;
    let vendor = register(&server, "vendor_expiry", "vendor").await;
    let buyer = register(&server, "buyer_expiry", "buyer").await;
    let listing = create_listing(&vendor, "Expiring goods", 200_000_000_000, 5).await;
    let (_, expiring) = order(&buyer, listing, 2).await;
    let (paid_order, paid_late) = order(&buyer, listing, 1).await;
    assert_eq!(stock(&buyer, listing).await, 2);

    // The second escrow is cancelled as soon as its address shows, then paid anyway.
    let shown = wait_escrow(&buyer, paid_late, "awaiting_funding").await;
    let (status, body) = buyer
        .post(&format!("/api/orders/{paid_order}/cancel"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    chain
        .pay(shown["address"].as_str().unwrap(), 1_000_000_000)
        .await;
    chain.mine(1).await;

    // The first expires (nothing received within 20 s) and gives its two units back; with the
    // cancelled unit, all five are back.
    wait_escrow(&buyer, expiring, "expired").await;
    assert_eq!(
        stock(&buyer, listing).await,
        5,
        "expiry and cancel return the stock"
    );

    // Its wallets (one per role) are archived, then deleted after the 2 s retention.
    let expiring_prefix = format!("escrow-{expiring}-");
    let paid_prefix = format!("escrow-{paid_late}-");
    wait_escrow_log(&server, "unfunded escrow wallet archived", expiring).await;
    let deadline = std::time::Instant::now() + STATE_WAIT;
    loop {
        let removed = server
            .log_text()
            .matches("archived escrow wallet deleted after the retention period")
            .count();
        if removed >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "archived wallets never deleted:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for d in &dirs {
        let d = std::path::Path::new(d);
        assert!(
            files_starting_with(d, &expiring_prefix).is_empty(),
            "expired escrow's wallet still in {}",
            d.display()
        );
        assert!(
            files_starting_with(&d.join("archive"), &expiring_prefix).is_empty(),
            "expired escrow's archived wallet not deleted in {}",
            d.display()
        );
        // The paid wallet saw a transfer: never archived, never removed.
        let kept = files_starting_with(d, &paid_prefix);
        assert!(
            kept.iter().any(|f| f.ends_with(".keys")),
            "paid escrow's wallet missing from {}: {kept:?}",
            d.display()
        );
        assert!(files_starting_with(&d.join("archive"), &paid_prefix).is_empty());
    }
    let (_, escrow) = buyer.get(&format!("/api/escrows/{paid_late}")).await;
    assert!(
        matches!(escrow["state"].as_str(), Some("cancelled" | "disputed")),
        "{escrow}"
    );
}
