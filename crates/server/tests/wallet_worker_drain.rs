//! The escrow wallet worker after a call that timed out, on a real monero-wallet-rpc: a
//! wallet-rpc answers one request at a time, so a job queued behind a timed-out call must not
//! send its own calls (and start its own timeouts) until the wallet-rpc has finished the call
//! given up on. The wallet-rpc is frozen with SIGSTOP for longer than two client timeouts: the
//! first job times out, the job queued behind it waits and succeeds once the wallet-rpc runs
//! again, and the worker keeps serving jobs afterwards.

mod common;

use std::time::Duration;

use common::*;
use escrow_core::Role;
use mmkt_server::escrow::worker::{OpenMode, Priority, WalletRef, WalletWorker, WorkerError};
use monero_rpc::{RpcError, WalletName, WalletPassword};
use test_support::regtest::{Regtest, RegtestConfig};

/// The client timeout of the test's worker: short, so the frozen wallet-rpc outlasts it twice.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_queued_behind_a_timed_out_call_waits_for_the_wallet_rpc_and_succeeds() {
    let Some(mut net) = Regtest::start_for_test(RegtestConfig {
        wallets: 1,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let server = TestServer::start().await;
    let lease = hold_runner_lease(&server.db, "worker-drain-test").await;
    let client = net.wallet(0).with_timeout(CALL_TIMEOUT);
    let worker = WalletWorker::spawn(Role::Buyer, client, lease.clone());
    let wallet = WalletRef {
        name: "worker-drain".parse::<WalletName>().unwrap(),
        password: WalletPassword::new("worker-drain-password"),
    };
    let balance = |worker: WalletWorker, wallet: WalletRef, mode: OpenMode| async move {
        worker
            .run(&wallet, mode, Priority::Setup, |w| async move {
                w.get_balance(0).await
            })
            .await
    };
    balance(worker.clone(), wallet.clone(), OpenMode::CreateIfMissing)
        .await
        .expect("create and open the wallet");

    net.pause_wallet(0);
    let first = tokio::spawn(balance(worker.clone(), wallet.clone(), OpenMode::Existing));
    // Queued while the first job runs, so it is served right after the timeout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn(balance(worker.clone(), wallet.clone(), OpenMode::Existing));
    tokio::time::sleep(CALL_TIMEOUT * 3).await;
    assert!(
        !second.is_finished(),
        "the queued job must wait for the frozen wallet-rpc, not fail: {:?}",
        second.await
    );
    net.resume_wallet(0);

    let first = first.await.unwrap();
    assert!(
        matches!(first, Err(WorkerError::Rpc(RpcError::Timeout { .. }))),
        "{first:?}"
    );
    let second = second.await.unwrap();
    assert!(second.is_ok(), "the queued job failed: {second:?}");
    balance(worker, wallet, OpenMode::Existing)
        .await
        .expect("the worker serves jobs after the drain");
}
