//! `escrow_value_piconero{state}` on /metrics: the piconero the database expects each escrow
//! state to hold, summed per state from the escrows' amounts (a refused order adds nothing), and
//! `escrow_custody_cap_piconero`, the cap `EscrowCustodyNearCap` compares them with.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// `/metrics` as text.
async fn metrics(s: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

/// Polls /metrics (generous timeout) until every `(series, value)` pair is rendered.
async fn wait_for(s: &TestServer, want: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let text = metrics(s).await;
        let missing: Vec<_> = want
            .iter()
            .filter(|(series, value)| sample(&text, series).as_deref() != Some(*value))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics lacks {missing:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn escrow_value_is_the_sum_of_amounts_per_state() {
    let s = TestServer::start().await;
    wait_for(
        &s,
        &[
            ("escrow_value_piconero{state=\"awaiting_setup\"}", "0"),
            ("escrow_value_piconero{state=\"funded\"}", "0"),
            // Development's default cap, 1000 XMR.
            ("escrow_custody_cap_piconero", "1000000000000000"),
        ],
    )
    .await;

    let vendor = register(&s, "vendy", "vendor").await;
    let buyer = register(&s, "bob", "buyer").await;
    let price = 1_000_000_007u64;
    let listing = create_listing(&vendor, "Metered", price, 5).await;
    let (first, _) = order(&buyer, listing, 1).await;
    order(&buyer, listing, 3).await;
    // Bad input: more than the stock is refused and adds nothing to any state.
    let (st, body) = place_order(&buyer, listing, 50).await;
    assert!(st.is_client_error(), "{st} {body}");
    wait_for(
        &s,
        &[
            (
                "escrow_value_piconero{state=\"awaiting_setup\"}",
                "4000000028",
            ),
            ("escrow_value_piconero{state=\"cancelled\"}", "0"),
        ],
    )
    .await;

    // A cancel moves that escrow's amount to the cancelled state.
    let (st, body) = buyer
        .post(&format!("/api/orders/{first}/cancel"), Value::Null)
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    wait_for(
        &s,
        &[
            (
                "escrow_value_piconero{state=\"awaiting_setup\"}",
                "3000000021",
            ),
            ("escrow_value_piconero{state=\"cancelled\"}", "1000000007"),
            ("escrow_value_piconero{state=\"funded\"}", "0"),
        ],
    )
    .await;
}
