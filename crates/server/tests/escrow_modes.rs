//! Escrow modes on the real app over a real SQLCipher file, no chain needed: a mode the
//! marketplace does not offer (`MMKT_ESCROW_MODES`, default hosted only) is refused with 422
//! `escrow_mode_not_allowed` and writes nothing; orders without a mode are hosted and say so; the
//! rounds of a hosted escrow are 409 `not_non_custodial` for its parties and 404 for anyone else;
//! a non-custodial escrow's rounds start with `prepare`, owed by all three. The rounds themselves
//! run on regtest in `escrow_noncustodial.rs`.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn modes_are_offered_per_environment_and_shown_on_orders_and_escrows() {
    let server = TestServer::start().await;
    let vendor = register(&server, "vendor_modes", "vendor").await;
    let buyer = register(&server, "buyer_modes", "buyer").await;
    let stranger = register(&server, "stranger_modes", "buyer").await;
    let listing = create_listing(&vendor, "Mode lamp", 1_000_000, 5).await;

    let before = server.snapshot();
    let body = json!({"listing_id": listing, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, answer) = buyer.post("/api/orders", body).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "escrow_mode_not_allowed",
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hosted"),
        "the offered modes are named: {answer}"
    );
    let (status, answer) = buyer
        .post(
            "/api/orders",
            json!({"listing_id": listing, "quantity": 1, "escrow_mode": 7}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(server.snapshot(), before, "refused orders write nothing");

    let (order_id, escrow_id) = order(&buyer, listing, 1).await;
    let (_, view) = buyer.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(view["escrow_mode"], "hosted");
    let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(escrow["escrow_mode"], "hosted");
    let rounds = format!("/api/escrows/{escrow_id}/rounds");
    let (status, answer) = buyer.get(&rounds).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "not_non_custodial");
    let (status, answer) = vendor
        .post(
            &format!("{rounds}/prepare"),
            json!({"payload": "MultisigxV2R1abc"}),
        )
        .await;
    assert_error(status, &answer, StatusCode::CONFLICT, "not_non_custodial");
    let (status, answer) = stranger.get(&rounds).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_non_custodial_order_opens_its_setup_rounds() {
    let vars = [
        ("MMKT_ESCROW_MODES", "hosted,non_custodial"),
        ("MMKT_ESCROW_ROUND_TIMEOUT_SECS", "600"),
    ];
    let server = TestServer::start_with(&vars, |_| {}).await;
    let vendor = register(&server, "vendor_nc_open", "vendor").await;
    let buyer = register(&server, "buyer_nc_open", "buyer").await;
    let listing = create_listing(&vendor, "Open lamp", 1_000_000, 5).await;
    let body = json!({"listing_id": listing, "quantity": 1, "escrow_mode": "non_custodial"});
    let (status, order) = buyer.post("/api/orders", body).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["escrow_mode"], "non_custodial");
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();
    let (status, view) = vendor
        .get(&format!("/api/escrows/{escrow_id}/rounds"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["your_role"], "vendor");
    assert_eq!(view["round"], "prepare");
    assert_eq!(view["waiting_for"], json!(["buyer", "vendor", "arbiter"]));
    assert_eq!(view["your_turn"], true);
    assert_eq!(view["expected"], "multisig_info");
    assert_eq!(server.count("escrow_round_phases"), 1);
    assert_eq!(server.count("escrow_round_submissions"), 0);
}
