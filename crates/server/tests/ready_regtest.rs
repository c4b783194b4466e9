//! /ready against real monero-wallet-rpc processes and a regtest monerod (test_support::regtest):
//! 200 when all are up, 503 naming the failed check when one is killed or hung.

mod common;

use common::*;
use reqwest::StatusCode;
use test_support::regtest::{Regtest, RegtestConfig, RpcLogin};

#[tokio::test]
async fn ready_reflects_real_wallet_rpc_and_daemon() {
    let login = RpcLogin {
        username: "mmkt".into(),
        password: "9c2e71f04ab85d36e1f7".into(),
    };
    let Some(mut net) = Regtest::start_for_test(RegtestConfig {
        wallets: 3,
        rpc_login: Some(login.clone()),
    })
    .await
    else {
        return;
    };
    let (buyer, vendor, arbiter, daemon) = (
        net.wallet_url(0),
        net.wallet_url(1),
        net.wallet_url(2),
        net.daemon_url(),
    );
    let login_var = format!("{}:{}", login.username, login.password);
    let s = TestServer::start_with(
        &[
            ("MMKT_WALLET_RPC_BUYER_URL", buyer.as_str()),
            ("MMKT_WALLET_RPC_VENDOR_URL", vendor.as_str()),
            ("MMKT_WALLET_RPC_ARBITER_URL", arbiter.as_str()),
            ("MMKT_MONEROD_URL", daemon.as_str()),
            ("MMKT_WALLET_RPC_LOGIN", login_var.as_str()),
        ],
        |_| {},
    )
    .await;

    let (st, body) = s.anonymous().get("/ready").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    for check in [
        "database",
        "wallet_rpc_buyer",
        "wallet_rpc_vendor",
        "wallet_rpc_arbiter",
        "monerod",
    ] {
        assert_eq!(body["checks"][check]["status"], "ok", "{check}: {body}");
    }
    assert!(
        body["checks"]["wallet_rpc_buyer"]["detail"]
            .as_str()
            .unwrap()
            .contains("RPC version"),
        "{body}"
    );
    assert!(
        body["checks"]["monerod"]["detail"]
            .as_str()
            .unwrap()
            .contains("fakechain"),
        "{body}"
    );

    // Kill the vendor's wallet-rpc and freeze the arbiter's: 503, each failure named.
    net.stop_wallet(1);
    net.pause_wallet(2);
    let (st, body) = s.anonymous().get("/ready").await;
    net.resume_wallet(2);
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["wallet_rpc_buyer"]["status"], "ok", "{body}");
    assert_eq!(
        body["checks"]["wallet_rpc_vendor"]["status"], "error",
        "{body}"
    );
    assert_eq!(
        body["checks"]["wallet_rpc_arbiter"]["status"], "error",
        "{body}"
    );
    assert!(
        body["checks"]["wallet_rpc_arbiter"]["detail"]
            .as_str()
            .unwrap()
            .contains("no answer within 3 s")
            || body["checks"]["wallet_rpc_arbiter"]["detail"]
                .as_str()
                .unwrap()
                .contains("timed out"),
        "{body}"
    );
    let detail = body.to_string();
    assert!(
        !detail.contains(&login.password),
        "readiness output must not contain the RPC password"
    );
}
