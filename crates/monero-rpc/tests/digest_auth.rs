//! HTTP digest authentication against a real monero-wallet-rpc started with `--rpc-login`.

mod common;

use common::name;
use monero_rpc::{DigestCredentials, RpcError, WalletClient, WalletPassword};
use test_support::regtest::{Regtest, RegtestConfig, RpcLogin};

const USER: &str = "mmkt";
const PASSWORD: &str = "correct-horse-battery";

#[tokio::test]
async fn digest_auth_accepts_right_credentials_and_names_wrong_ones() {
    let Some(net) = Regtest::start_for_test(RegtestConfig {
        wallets: 1,
        rpc_login: Some(RpcLogin {
            username: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }),
    })
    .await
    else {
        return;
    };
    let url = net.wallet_url(0);
    let client = WalletClient::new(&url)
        .unwrap()
        .with_label("buyer")
        .with_credentials(DigestCredentials::new(USER, PASSWORD));

    // Several calls in a row: the cached challenge is reused (nonce count increases) or
    // renewed transparently when the server asks again.
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
    // authenticates (a cached answer rejected on a new connection is renewed transparently).
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
