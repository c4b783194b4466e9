//! A payout the co-signer refuses, end to end through the real server binary on regtest: with a
//! payout fee limit below any real fee (`MMKT_PAYOUT_MAX_FEE_PICONERO=1`), the buyer confirms
//! receipt, the vendor wallet builds the sweep, and the buyer wallet refuses to sign it
//! (`fee_too_high`). Nothing is signed or sent, the escrow stays `releasing` with
//! `blocked_reason`, the refusal is stored and counted once, and the orchestrator does not
//! rebuild it: not on later passes, not after a restart.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use mmkt_server::config::KeyFilePolicy;
use mmkt_server::db::key;
use mmkt_server::db::pool::open_keyed;
use reqwest::StatusCode;

/// `(payout_build rows, refused rows, payout_signed/payout_submit rows not refused)` of the
/// escrow, read from the server's database file.
fn payout_steps(dir: &std::path::Path, escrow_id: i64) -> (i64, i64, i64) {
    let (key, _) = key::load_or_create(&dir.join("mmkt.key"), KeyFilePolicy::MustExist).unwrap();
    let conn = open_keyed(&dir.join("mmkt.db"), &key).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [escrow_id], |r| r.get(0)).unwrap() };
    (
        count("SELECT count(*) FROM escrow_steps WHERE escrow_id = ?1 AND step = 'payout_build'"),
        count(
            "SELECT count(*) FROM escrow_steps WHERE escrow_id = ?1 AND status = 'refused' AND refusal = 'fee_too_high' AND step = 'payout_signed'",
        ),
        count(
            "SELECT count(*) FROM escrow_steps WHERE escrow_id = ?1 AND step IN ('payout_signed', 'payout_submit') AND status <> 'refused'",
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_payout_is_blocked_counted_and_never_retried() {
    let Some((chain, dir, mut server)) =
        start_market(&[("MMKT_PAYOUT_MAX_FEE_PICONERO", "1")]).await
    else {
        return;
    };
    let vendor = register(&server, "vendor_refused", "vendor").await;
    let buyer = register(&server, "buyer_refused", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Refused payout", 1_000_000_000_000, 2).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;
    let funded = fund(&chain, &buyer, escrow_id).await;
    assert!(funded["blocked_reason"].is_null(), "{funded}");

    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // The co-signer refuses: the escrow stays releasing and says why.
    let path = format!("/api/escrows/{escrow_id}");
    let deadline = std::time::Instant::now() + STATE_WAIT;
    let blocked = loop {
        let (status, body) = buyer.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "releasing", "{body}");
        if !body["blocked_reason"].is_null() {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "payout never refused: {body}\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(blocked["blocked_reason"], "fee_too_high", "{blocked}");
    assert!(blocked["payout"]["tx_hash"].is_null(), "{blocked}");
    let (_, seen_by_vendor) = vendor.get(&path).await;
    assert_eq!(seen_by_vendor["blocked_reason"], "fee_too_high");

    let text = metrics_text(&server).await;
    let refused = "escrow_payout_refused_total{reason=\"fee_too_high\"}";
    assert_eq!(metric(&text, refused), Some(1.0), "{text}");
    assert_eq!(
        metric(
            &text,
            "escrow_payout_refused_total{reason=\"wrong_destination\"}"
        ),
        Some(0.0),
        "every reason is registered at zero"
    );
    let log = server.log_text();
    assert!(log.contains("payout set refused"), "{}", server.log_tail());

    // Never signed, never sent: the pool is empty and the payout wallet gets nothing.
    let info = chain.net.daemon().get_info().await.unwrap();
    assert_eq!(info.tx_pool_size, 0);
    chain.mine(1).await;
    assert!(chain.incoming(&chain.payout).await.is_empty());
    assert_eq!(payout_steps(dir.path(), escrow_id), (1, 1, 0));

    // Not retried: many poll intervals later (500 ms each) nothing was rebuilt.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, refused), Some(1.0), "{text}");
    assert_eq!(payout_steps(dir.path(), escrow_id), (1, 1, 0));

    // Nor after a restart: the refusal is persisted and the new process leaves the escrow alone.
    server.restart().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (_, body) = buyer.get(&path).await;
    assert_eq!(
        (&body["state"], &body["blocked_reason"]),
        (&"releasing".into(), &"fee_too_high".into()),
        "{body}"
    );
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, refused), Some(0.0), "{text}");
    assert_eq!(payout_steps(dir.path(), escrow_id), (1, 1, 0));
    assert!(chain.incoming(&chain.payout).await.is_empty());
}
