//! The custody cap on the real app over a real SQLCipher file: orders whose escrow would take the
//! total of the open escrows above `MMKT_CUSTODY_CAP_XMR` are refused with 409
//! `custody_cap_reached`, naming the cap in XMR and nothing else, and write nothing (no order, no
//! escrow, stock unchanged); a total equal to the cap is admitted. That released escrows free the
//! cap is shown on regtest by `escrow_terminal_balance.rs`.

mod common;

use common::*;
use mmkt_server::config::Environment;
use mmkt_server::config::custody::CustodySettings;
use reqwest::StatusCode;

const XMR: u64 = 1_000_000_000_000;

#[tokio::test]
async fn orders_beyond_the_custody_cap_are_refused_and_write_nothing() {
    let server = TestServer::start_with(&[("MMKT_CUSTODY_CAP_XMR", "2.5")], |_| {}).await;
    let vendor = register(&server, "vendor_cap", "vendor").await;
    let first = register(&server, "buyer_cap_1", "buyer").await;
    let second = register(&server, "buyer_cap_2", "buyer").await;
    let whole = create_listing(&vendor, "One XMR item", XMR, 10).await;
    let half = create_listing(&vendor, "Half XMR item", XMR / 2, 10).await;
    let dust = create_listing(&vendor, "Dust item", 1, 10).await;

    order(&first, whole, 2).await;

    // 2 XMR open + 1 XMR > 2.5 XMR: refused, for another buyer too (the cap is global).
    let before = server.snapshot();
    let (status, body) = place_order(&second, whole, 1).await;
    assert_error(status, &body, StatusCode::CONFLICT, "custody_cap_reached");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2.5 XMR"),
        "the cap is named in XMR: {message}"
    );
    assert!(
        !message.contains(&(2 * XMR).to_string()) && !message.contains("piconero"),
        "no internal data: {message}"
    );
    assert_eq!(server.snapshot(), before, "a refused order writes nothing");

    // Exactly at the cap is allowed (2 + 0.5); then not one piconero more.
    order(&second, half, 1).await;
    let before = server.snapshot();
    let (status, body) = place_order(&first, dust, 1).await;
    assert_error(status, &body, StatusCode::CONFLICT, "custody_cap_reached");
    assert_eq!(server.snapshot(), before, "a refused order writes nothing");
    let (status, listing) = first.get(&format!("/api/listings/{dust}")).await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    assert_eq!(listing["stock"], 10, "stock unchanged: {listing}");
    assert_eq!(server.count("orders"), 2);
}

#[tokio::test]
async fn the_development_default_admits_what_the_escrow_cap_admits() {
    // 1000 XMR by default in development: ten orders at the 10 XMR escrow cap are admitted.
    let server = TestServer::start().await;
    let vendor = register(&server, "vendor_default", "vendor").await;
    let buyer = register(&server, "buyer_default", "buyer").await;
    let listing = create_listing(&vendor, "Ten XMR item", 10 * XMR, 20).await;
    for _ in 0..10 {
        order(&buyer, listing, 1).await;
    }
    assert_eq!(server.count("escrows"), 10);
}

#[test]
fn production_env_file_states_the_built_in_production_cap() {
    let env_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/env/production.env"
    );
    let text = std::fs::read_to_string(env_file).expect("deploy/env/production.env");
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("MMKT_CUSTODY_CAP_XMR="))
        .expect("production.env sets MMKT_CUSTODY_CAP_XMR explicitly");
    let stated = CustodySettings::parse(Environment::Production, Some(value), None).unwrap();
    assert_eq!(stated, CustodySettings::defaults(Environment::Production));
}
