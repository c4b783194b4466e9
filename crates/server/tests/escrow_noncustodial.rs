//! Non-custodial escrow on a real regtest network: the server is given only the arbiter's
//! wallet-rpc; buyer and vendor are played by the test with their own wallets in wallet-rpcs the
//! server never sees, through `GET/POST /api/escrows/{id}/rounds*` only. Covered: the setup to
//! `awaiting_funding` with one address reported by all three, the `escrow_turn` notices,
//! out-of-turn / repeated / past-round / malformed submissions refused with nothing changed, a
//! SIGKILLed server resuming between rounds from the stored submissions, funding, a release (the
//! vendor builds, the buyer signs, a set paying elsewhere refused with 422 `txset_refused`, the
//! server SIGKILLed again while it relays the signed set, the payout found on chain at the
//! vendor's address exactly once), a setup round
//! past its deadline cancelling the order (stock back), and neither party's wallet password in
//! the database (decrypted) or the server log.

mod escrow_support;

use std::time::Duration;

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// wallet-rpc indexes of the parties' own wallets (the server gets only the arbiter's, 2).
const BUYER_RPC: usize = 0;
const VENDOR_RPC: usize = 1;
const ARBITER_RPC: usize = 2;

/// A server with only the arbiter wallet-rpc and both escrow modes offered.
async fn noncustodial_market() -> Option<(Chain, tempfile::TempDir, Server)> {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir().unwrap();
    let arbiter = chain.net.wallet_url(ARBITER_RPC);
    let daemon = chain.net.daemon_url();
    let server = Server::start_without_chain(
        dir.path(),
        &[
            ("MMKT_WALLET_RPC_ARBITER_URL", arbiter.as_str()),
            ("MMKT_MONEROD_URL", daemon.as_str()),
            ("MMKT_ESCROW_MODES", "hosted,non_custodial"),
        ],
    );
    server.wait_ready().await;
    Some((chain, dir, server))
}

/// The escrow as `user` sees it, minus what moves on its own.
async fn escrow_state(user: &User, escrow_id: i64) -> (Value, Value) {
    let (_, escrow) = user.get(&format!("/api/escrows/{escrow_id}")).await;
    (escrow["state"].clone(), escrow["address"].clone())
}

/// Waits for a `{"type":"escrow_turn"}` notice for `round` on `ws`.
async fn turn_notice(ws: &mut Ws, escrow_id: i64, round: &str) -> Value {
    let deadline = std::time::Instant::now() + STATE_WAIT;
    while std::time::Instant::now() < deadline {
        let Some(msg) = ws.next_json(Duration::from_secs(5)).await else {
            continue;
        };
        if msg["type"] == "escrow_turn" && msg["escrow_id"] == escrow_id && msg["round"] == round {
            return msg;
        }
    }
    panic!("no escrow_turn notice for {round}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_with_their_own_wallets_set_up_and_fund_an_escrow() {
    let Some((chain, dir, mut server)) = noncustodial_market().await else {
        return;
    };
    let vendor_user = register(&server, "vendor_nc", "vendor").await;
    let buyer_user = register(&server, "buyer_nc", "buyer").await;
    let stranger = register(&server, "stranger_nc", "buyer").await;
    let listing_id =
        create_listing(&vendor_user, "Self-custodied lamp", 1_000_000_000_000, 3).await;

    // The mode is the buyer's choice among those offered; a label that is no mode is refused.
    let (status, body) = buyer_user
        .post(
            "/api/orders",
            json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "custodial"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let mut ws_buyer = websocket(&buyer_user).await;
    let (status, order) = buyer_user
        .post(
            "/api/orders",
            json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["escrow_mode"], "non_custodial");
    let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();
    let (_, detail) = buyer_user.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(detail["escrow_mode"], "non_custodial");

    let buyer = Party::new(
        &chain.net,
        BUYER_RPC,
        buyer_user,
        "buyer",
        "nc-buyer-escrow",
    )
    .await;
    let vendor = Party::new(
        &chain.net,
        VENDOR_RPC,
        vendor_user,
        "vendor",
        "nc-vendor-escrow",
    )
    .await;
    let path = format!("/api/escrows/{escrow_id}/rounds");

    // Only the escrow's buyer and vendor see its rounds.
    let (status, body) = stranger.get(&path).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let notice = turn_notice(&mut ws_buyer, escrow_id, "prepare").await;
    assert_eq!(notice["role"], "buyer");
    let view = buyer.rounds(escrow_id).await;
    assert_eq!(view["phase"], "setup");
    assert_eq!(view["expected"], "multisig_info");
    assert_eq!(view["inputs"], json!([]));

    // Refusals before and after the buyer's prepare: each changes nothing.
    let (status, body) = buyer.submit(escrow_id, "prepare", "hello").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed_payload",
    );
    let (status, body) = buyer.submit(escrow_id, "prepare", "").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed_payload",
    );
    let (status, body) = stranger
        .post(
            &format!("{path}/prepare"),
            json!({"payload": "MultisigxV2R1abc"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = buyer.submit(escrow_id, "no_such_round", "x").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    buyer.play(escrow_id, "prepare").await;
    let before = buyer.rounds(escrow_id).await;
    // Well-formed, so only the protocol can refuse it.
    let info = format!("MultisigxV2R1{}", "a".repeat(120));
    let (status, body) = buyer.submit(escrow_id, "prepare", &info).await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_submitted");
    let (status, body) = vendor.submit(escrow_id, "make", &info).await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_your_turn");
    let after = buyer.rounds(escrow_id).await;
    assert_eq!(
        before["waiting_for"], after["waiting_for"],
        "refusals changed nothing"
    );
    assert!(
        !after["waiting_for"]
            .as_array()
            .unwrap()
            .contains(&json!("buyer"))
    );
    assert_eq!(
        escrow_state(&buyer.user, escrow_id).await.0,
        "awaiting_setup"
    );

    // The rest of the setup; the arbiter's share runs in the server as soon as its inputs are in.
    vendor.play(escrow_id, "prepare").await;
    // Once the arbiter's make is in (the server idle), kill -9: the restarted server rebuilds the
    // rounds from the stored submissions and carries on.
    let deadline = std::time::Instant::now() + STATE_WAIT;
    while buyer.rounds(escrow_id).await["waiting_for"] != json!(["buyer", "vendor"]) {
        assert!(
            std::time::Instant::now() < deadline,
            "the arbiter never made its wallet"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.restart().await;
    for round in ["make", "exchange_round_1"] {
        let view = buyer.wait_turn(escrow_id, round).await;
        assert_eq!(
            view["inputs"].as_array().unwrap().len(),
            2,
            "vendor's and arbiter's: {view}"
        );
        buyer.play(escrow_id, round).await;
        vendor.play(escrow_id, round).await;
    }
    let (status, body) = buyer.submit(escrow_id, "prepare", &info).await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_round");
    let view = buyer.wait_turn(escrow_id, "exchange_round_2").await;
    assert_eq!(view["expected"], "address");
    let (status, body) = buyer.submit(escrow_id, "exchange_round_2", "4abc").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed_payload",
    );
    buyer.play(escrow_id, "exchange_round_2").await;
    vendor.play(escrow_id, "exchange_round_2").await;

    // The escrow shows the address all three reported.
    let ready = wait_escrow(&buyer.user, escrow_id, "awaiting_funding").await;
    let address = ready["address"].as_str().unwrap().to_owned();
    for party in [&buyer, &vendor] {
        let own = party.wallet.get_address(0).await.unwrap();
        assert_eq!(
            own.as_str(),
            address,
            "{}'s wallet has the escrow address",
            party.role
        );
        assert!(party.wallet.is_multisig().await.unwrap().ready);
    }
    let view = vendor.rounds(escrow_id).await;
    assert_eq!(view["status"], "address_ready");
    assert_eq!(view["your_turn"], false);
    let (status, body) = vendor.submit(escrow_id, "exchange_round_2", &address).await;
    assert_error(status, &body, StatusCode::CONFLICT, "rounds_closed");

    // Funding is watched through the arbiter wallet.
    fund(&chain, &buyer.user, escrow_id).await;
    // Release: the vendor builds, the buyer checks and signs second, the server checks each set
    // through its arbiter wallet and submits the signed one.
    set_address(&vendor.user, "payout", &chain.payout_address).await;
    let order_id = order["order_id"].as_i64().unwrap();
    let (status, body) = confirm(&buyer.user, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for party in [&buyer, &vendor] {
        party.wait_turn(escrow_id, "export_sync").await;
        let (status, body) = party
            .submit(escrow_id, "export_sync", &party.export_sync().await)
            .await;
        assert_eq!(status, StatusCode::OK, "{} export_sync: {body}", party.role);
    }
    let view = vendor.wait_turn(escrow_id, "build_txset").await;
    let (status, body) = buyer.submit(escrow_id, "build_txset", "beef").await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_your_turn");
    let (status, body) = vendor.submit(escrow_id, "export_sync", "beef").await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_round");
    assert_eq!(view["payout"]["destination"], chain.payout_address.as_str());
    assert_eq!(view["payout"]["first"], "vendor");
    let elsewhere = vendor.build(&view["inputs"], &chain.refund_address).await;
    let (status, body) = vendor.submit(escrow_id, "build_txset", &elsewhere).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "txset_refused",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong_destination"),
        "{body}"
    );
    assert_eq!(
        vendor.rounds(escrow_id).await["round"],
        "build_txset",
        "nothing stored"
    );
    let partial = vendor.build(&view["inputs"], &chain.payout_address).await;
    let (status, body) = vendor.submit(escrow_id, "build_txset", &partial).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = buyer.wait_turn(escrow_id, "sign_txset").await;
    let relayed = view["partial_txset"]
        .as_str()
        .expect("the partial set for the buyer");
    let signed = buyer.sign(&view["inputs"], relayed).await;
    let (status, body) = buyer.submit(escrow_id, "sign_txset", &signed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], "fully_signed");
    // Kill -9 while the server relays the signed set to the daemon (checking it, submitting it or
    // recording its hashes): the restarted server finishes the payout, and pays it only once.
    server.restart().await;
    let released = wait_escrow(&buyer.user, escrow_id, "released").await;
    let tx_hash = released["payout"]["tx_hash"].as_str().unwrap().to_owned();
    chain.mine(1).await;
    let (received, _) = chain.received(&chain.payout, &tx_hash).await;
    assert_eq!(received, released["payout"]["amount_xmr"].as_u64().unwrap());
    let all = chain.incoming(&chain.payout).await;
    assert_eq!(all.len(), 1, "exactly one payout tx: {all:?}");
    assert_eq!(all[0].txid.as_str(), tx_hash);

    // A setup round past its deadline cancels the order and gives the stock back.
    let (_, listing) = buyer.user.get(&format!("/api/listings/{listing_id}")).await;
    let stock = listing["stock"].as_u64().unwrap();
    let (status, late) = buyer
        .user
        .post(
            "/api/orders",
            json!({"listing_id": listing_id, "quantity": 1, "escrow_mode": "non_custodial"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{late}");
    let late_id = late["escrow"]["escrow_id"].as_i64().unwrap();
    server.set_env("MMKT_ESCROW_ROUND_TIMEOUT_SECS", "1");
    server.restart().await;
    wait_escrow(&buyer.user, late_id, "cancelled").await;
    let (_, listing) = buyer.user.get(&format!("/api/listings/{listing_id}")).await;
    assert_eq!(
        listing["stock"].as_u64().unwrap(),
        stock,
        "the unit is back"
    );
    let view = buyer.rounds(late_id).await;
    assert_eq!(view["status"], "timed_out");
    assert_eq!(view["next_step"], json!({"cancel": true}));
    let (status, body) = buyer.submit(late_id, "prepare", &info).await;
    assert_error(status, &body, StatusCode::CONFLICT, "rounds_closed");
    assert_eq!(
        escrow_state(&buyer.user, escrow_id).await.0,
        "released",
        "the released escrow is untouched"
    );

    // Neither party's wallet password reached the server's database or its log.
    let stored = database_text(&dir.path().join("mmkt.db"), &dir.path().join("mmkt.key"));
    let log = server.log_text();
    assert!(stored.contains(&address), "the database was read");
    for party in [&buyer, &vendor] {
        assert!(
            !stored.contains(&party.password),
            "{}'s password in the database",
            party.role
        );
        assert!(
            !log.contains(&party.password),
            "{}'s password in the log",
            party.role
        );
    }
    assert!(!log.contains("MultisigxV2"), "no multisig_info in the log");
}
