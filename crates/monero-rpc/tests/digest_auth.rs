//! HTTP digest authentication against a real monero-wallet-rpc started with `--rpc-login`.

mod common;

use common::name;
use monero_rpc::{DigestCredentials, RpcError, WalletClient, WalletPassword};
use test_support::regtest::{Regtest, RegtestConfig, RpcLogin};

const USER: &str = "mmkt";
const PASSWORD: &str = "correct-horse-battery";

/// A regtest network with one wallet-rpc started with `--rpc-login USER:PASSWORD`.
async fn start_with_login() -> Option<Regtest> {
    Regtest::start_for_test(RegtestConfig {
        wallets: 1,
        rpc_login: Some(RpcLogin {
            username: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }),
    })
    .await
}

#[tokio::test]
async fn digest_auth_accepts_right_credentials_and_names_wrong_ones() {
    let Some(net) = start_with_login().await else {
        return;
    };
    let url = net.wallet_url(0);
    let client = WalletClient::new(&url)
        .unwrap()
        .with_label("buyer")
        .with_credentials(DigestCredentials::new(USER, PASSWORD));

    // Several calls in a row: the connection's challenge is reused (nonce count increases).
    assert_eq!(client.get_version().await.unwrap().major(), 1);
    client
        .create_wallet(&name("authed"), &WalletPassword::new("w"))
        .await
        .unwrap();
    let address = client.get_address(0).await.unwrap();
    for _ in 0..3 {
        assert_eq!(client.get_address(0).await.unwrap(), address);
    }
    // Concurrent calls open several connections, each with its own server nonce: every one
    // is challenged and answered on its own connection.
    let (a, b, c, d) = tokio::join!(
        client.get_address(0),
        client.get_balance(0),
        client.get_version(),
        client.is_multisig()
    );
    assert_eq!(a.unwrap(), address);
    assert!(b.unwrap().balance.is_zero());
    c.unwrap();
    d.unwrap();
    // Clones share the auth state and work too.
    let clone = client.clone();
    assert!(!clone.is_multisig().await.unwrap().multisig);

    // Wrong password, wrong user, no credentials: the named error, no secret in it.
    let wrong_password = WalletClient::new(&url)
        .unwrap()
        .with_credentials(DigestCredentials::new(USER, "wrong-password"));
    let err = wrong_password.get_version().await.unwrap_err();
    assert!(
        matches!(
            err,
            RpcError::Unauthorized {
                method: "get_version"
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    assert!(!format!("{wrong_password:?}").contains("wrong-password"));

    let wrong_user = WalletClient::new(&url)
        .unwrap()
        .with_credentials(DigestCredentials::new("intruder", PASSWORD));
    let err = wrong_user.get_balance(0).await.unwrap_err();
    assert!(matches!(err, RpcError::Unauthorized { .. }), "{err:?}");

    let anonymous = WalletClient::new(&url).unwrap();
    let err = anonymous.get_version().await.unwrap_err();
    assert!(matches!(err, RpcError::Unauthorized { .. }), "{err:?}");

    // Failed attempts did not lock the right credentials out.
    assert_eq!(client.get_address(0).await.unwrap(), address);
}

/// Calls `get_version` through `client` and names the call that failed.
async fn version_ok(client: &WalletClient, what: &str, i: usize) {
    if let Err(e) = client.get_version().await {
        panic!("{what} call {i} failed: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_holds_for_many_sequential_and_concurrent_calls() {
    let Some(net) = start_with_login().await else {
        return;
    };
    let url = net.wallet_url(0);
    let fresh = || {
        WalletClient::new(&url)
            .unwrap()
            .with_credentials(DigestCredentials::new(USER, PASSWORD))
    };

    // A fresh client per call (as `mmctl health` probes): each call is challenged on a new
    // connection and must answer on that one.
    for i in 0..200 {
        version_ok(&fresh(), "fresh sequential", i).await;
    }
    // One shared client: later calls reuse connections and their challenges.
    let shared = fresh();
    for i in 0..200 {
        version_ok(&shared, "shared sequential", i).await;
    }
    // 50 concurrent calls through a fresh client: several connections are challenged at
    // once, each with its own nonce.
    let concurrent = fresh();
    let calls = (0..50).map(|i| version_ok(&concurrent, "fresh concurrent", i));
    futures_util::future::join_all(calls).await;
    // And through the warm shared client, whose connections already carry challenges.
    for round in 0..4 {
        let calls = (0..50).map(|i| version_ok(&shared, "shared concurrent", round * 50 + i));
        futures_util::future::join_all(calls).await;
    }
    // Spawned on the runtime's worker threads, sharing clones of one client.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = shared.clone();
            tokio::spawn(async move { version_ok(&client, "spawned shared", i).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
