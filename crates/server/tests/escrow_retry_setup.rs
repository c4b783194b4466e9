//! The operator's setup retry on a real regtest network: a server whose arbiter endpoint is not a
//! wallet-rpc (monerod answers instead) fails the multisig setup for good (`setup_failed`); once
//! the endpoint is fixed, `POST /ops/escrows/{id}/retry-setup` starts it over with fresh wallets
//! and the escrow reaches `awaiting_funding`. Retrying an escrow that is not `setup_failed` is a
//! 409, an unknown one a 404, and a request through the reverse proxy a 403; none changes it.

mod escrow_support;

use escrow_support::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_setup_is_retried_by_the_operator() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = chain.net.daemon_url();
    let broken = Server::start(
        &chain,
        dir.path(),
        &[("MMKT_WALLET_RPC_ARBITER_URL", daemon.as_str())],
    );
    broken.wait_ready().await;
    let vendor = register(&broken, "vendor_retry", "vendor").await;
    let buyer = register(&broken, "buyer_retry", "buyer").await;
    let listing = create_listing(&vendor, "Retried goods", 100_000_000_000, 2).await;
    let (_, escrow_id) = order(&buyer, listing, 1).await;
    let failed = wait_escrow(&buyer, escrow_id, "setup_failed").await;
    assert!(failed["address"].is_null(), "{failed}");
    drop(broken);

    let server = Server::start(&chain, dir.path(), &[]);
    server.wait_ready().await;
    let buyer = login(&server, "buyer_retry").await;
    let ops = User::anonymous(&server);
    let path = format!("/ops/escrows/{escrow_id}/retry-setup");

    let proxied = ops
        .request(Method::POST, &path)
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    let status = proxied.status();
    let body: Value = proxied.json().await.unwrap();
    assert_error_in(
        "through the proxy",
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(
        escrow["state"], "setup_failed",
        "a refused retry changes nothing"
    );
    let (status, body) = ops
        .post(
            &format!("/ops/escrows/{}/retry-setup", escrow_id + 1000),
            Value::Null,
        )
        .await;
    assert_error_in(
        "unknown escrow",
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let (status, body) = ops.post(&path, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "awaiting_setup", "{body}");
    let ready = wait_escrow(&buyer, escrow_id, "awaiting_funding").await;
    assert!(ready["address"].as_str().is_some(), "{ready}");

    let (status, body) = ops.post(&path, Value::Null).await;
    assert_error_in(
        "not setup_failed",
        status,
        &body,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(escrow["state"], "awaiting_funding", "{escrow}");
}
