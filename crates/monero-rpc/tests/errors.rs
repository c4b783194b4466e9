//! Named errors from the real monero-wallet-rpc 0.18 and monerod: wallet lifecycle mistakes,
//! multisig misuse, and services that are down or hung.

mod common;

use std::time::Duration;

use common::{name, xmr};
use monero_rpc::{Destination, MultisigTxset, RpcError, TransferOptions, TxHash, WalletPassword};
use test_support::regtest::{Regtest, RegtestConfig};

/// Longest any call below may take before the test calls it a hang: the client's own
/// timeout plus generous slack. This guards against hangs; it is not a speed target.
const HANG_GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn wallet_rpc_and_daemon_errors_are_named() {
    let Some(mut net) = Regtest::start_for_test(RegtestConfig {
        wallets: 3,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let alice = net.wallet(0).with_label("alice");
    let bob = net.wallet(1).with_label("bob");
    let carol = net.wallet(2).with_label("carol");
    let pw = WalletPassword::new("right password");

    // No wallet open yet.
    let err = alice.get_balance(0).await.unwrap_err();
    assert!(matches!(err, RpcError::WalletNotOpen { .. }), "{err:?}");
    assert_eq!(err.rpc_code(), Some(-13));
    let err = alice.close_wallet().await.unwrap_err();
    assert!(matches!(err, RpcError::WalletNotOpen { .. }), "{err:?}");

    // Unknown wallet, existing wallet, wrong password.
    let err = alice
        .open_wallet(&name("no-such-wallet"), &pw)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RpcError::WalletNotFound { wallet, .. } if wallet.as_str() == "no-such-wallet"),
        "{err:?}"
    );
    alice.create_wallet(&name("alice"), &pw).await.unwrap();
    let err = alice.create_wallet(&name("alice"), &pw).await.unwrap_err();
    assert!(
        matches!(err, RpcError::WalletAlreadyExists { .. }),
        "{err:?}"
    );
    alice.close_wallet().await.unwrap();
    let wrong = WalletPassword::new("not the password");
    let err = alice.open_wallet(&name("alice"), &wrong).await.unwrap_err();
    assert!(matches!(err, RpcError::WrongPassword { .. }), "{err:?}");
    assert!(!err.to_string().contains("not the password"), "{err}");
    // The failed opens did not create anything: the unknown name is still unknown.
    let err = alice
        .open_wallet(&name("no-such-wallet"), &pw)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::WalletNotFound { .. }), "{err:?}");
    alice.open_wallet(&name("alice"), &pw).await.unwrap();
    let alice_address = alice.get_address(0).await.unwrap();

    // Funds: an empty wallet cannot pay; an unknown txid is not found.
    let err = alice
        .transfer(
            &[Destination {
                amount: xmr(1),
                address: alice_address.clone(),
            }],
            TransferOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::NotEnoughMoney { .. }), "{err:?}");
    let unknown: TxHash = "ab".repeat(32).parse().unwrap();
    let err = alice.get_transfer_by_txid(&unknown).await.unwrap_err();
    assert!(
        matches!(err, RpcError::TransactionNotFound { .. }),
        "{err:?}"
    );

    // Multisig misuse. Bob and Carol prepare; Alice never called prepare_multisig (which
    // always enables the experimental gate), so the wallet she makes has multisig disabled.
    let (bob_name, carol_name) = (name("bob"), name("carol"));
    let (made_bob, made_carol) = tokio::join!(
        bob.create_wallet(&bob_name, &pw),
        carol.create_wallet(&carol_name, &pw)
    );
    made_bob.unwrap();
    made_carol.unwrap();
    let bob_info = bob.prepare_multisig().await.unwrap();
    let carol_info = carol.prepare_multisig().await.unwrap();
    let err = bob.export_multisig_info().await.unwrap_err();
    assert!(matches!(err, RpcError::NotMultisig { .. }), "{err:?}");
    let garbage = MultisigTxset::new("00ff").unwrap();
    let err = bob.sign_multisig(&garbage).await.unwrap_err();
    assert!(matches!(err, RpcError::NotMultisig { .. }), "{err:?}");
    let err = bob.describe_transfer(&garbage).await.unwrap_err();
    assert!(
        matches!(err, RpcError::InvalidTxset { code: -34, .. }),
        "{err:?}"
    );

    let round1 = alice
        .make_multisig(&[bob_info.clone(), carol_info.clone()], 2, &pw)
        .await
        .unwrap();
    let err = alice
        .exchange_multisig_keys(&[round1.clone(), round1], &pw)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::MultisigDisabled { .. }), "{err:?}");
    assert_eq!(err.rpc_code(), Some(-48));
    let err = alice.prepare_multisig().await.unwrap_err();
    assert!(matches!(err, RpcError::AlreadyMultisig { .. }), "{err:?}");
    let err = alice
        .make_multisig(&[bob_info, carol_info], 2, &pw)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::AlreadyMultisig { .. }), "{err:?}");

    // A hung wallet-rpc (SIGSTOP: the port accepts, nothing answers) times out.
    let short = carol.clone().with_timeout(Duration::from_secs(1));
    net.pause_wallet(2);
    let outcome = tokio::time::timeout(HANG_GUARD, short.get_version()).await;
    net.resume_wallet(2);
    let err = outcome
        .expect("the client's own timeout fires")
        .unwrap_err();
    assert!(
        matches!(err, RpcError::Timeout { method: "get_version", timeout } if timeout == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.is_unreachable());
    carol
        .get_version()
        .await
        .expect("answers again after SIGCONT");

    // A stopped wallet-rpc and a stopped daemon give transport errors, without hanging.
    net.stop_wallet(2);
    let err = tokio::time::timeout(HANG_GUARD, carol.get_version())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");
    assert!(err.is_unreachable());

    let daemon = net.daemon().with_timeout(Duration::from_secs(2));
    assert!(daemon.get_block_count().await.unwrap() >= 1);
    net.stop_daemon();
    let err = tokio::time::timeout(HANG_GUARD, daemon.get_info())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(
        matches!(
            err,
            RpcError::Transport {
                method: "get_info",
                ..
            }
        ),
        "{err:?}"
    );
    let err = tokio::time::timeout(HANG_GUARD, daemon.generate_blocks(1, &alice_address))
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}

#[tokio::test]
async fn clients_refuse_unusable_urls() {
    for bad in [
        "",
        "127.0.0.1:18083",
        "ftp://127.0.0.1:1",
        "http://user:pw@127.0.0.1:1",
    ] {
        let err = monero_rpc::WalletClient::new(bad).unwrap_err();
        assert!(
            matches!(err, RpcError::InvalidUrl { .. }),
            "{bad:?}: {err:?}"
        );
        assert!(!err.to_string().contains(":pw@"), "{err}");
        let err = monero_rpc::DaemonClient::new(bad).unwrap_err();
        assert!(
            matches!(err, RpcError::InvalidUrl { .. }),
            "{bad:?}: {err:?}"
        );
    }
}
