//! Escrow latency benchmark (docs/BENCHMARKS.md): in one run, on one regtest network,
//! times the raw wallet-rpc sequence for an escrow and the same steps through the server.
//!
//! ```text
//! cargo build -p mmkt-server --bins && cargo run -p mmkt-server --example escrow_bench
//! ```
//!
//! Steps compared:
//! - setup: order placed → escrow address shown (server) vs create 3 wallets + prepare / make /
//!   2 × exchange + checks, each round on the three wallet-rpc in parallel (raw);
//! - funding detection: block with the payment mined → escrow `funded` (server, polling) vs
//!   `refresh` + `get_transfers` showing it confirmed (raw);
//! - release: confirm-receipt → `released` (server) vs export/import, `sweep_all`,
//!   `describe_transfer`, `sign_multisig`, `submit_multisig` (raw).

#[path = "../tests/escrow_support/mod.rs"]
mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;
use futures_util::future::join_all;
use monero_rpc::{
    Address, Amount, MultisigInfo, SignOutcome, SweepOutcome, TransferOptions, WalletClient,
    WalletName, WalletPassword,
};

const AMOUNT: u64 = 1_000_000_000_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let chain = Chain::start()
        .await
        .expect("monerod and monero-wallet-rpc must be installed");

    // Raw sequence first, on the same wallet-rpc processes the server will use.
    let wallets: Vec<WalletClient> = (0..3).map(|i| chain.net.wallet(i)).collect();
    let raw = raw_sequence(&chain, &wallets).await;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &chain,
        dir.path(),
        &[("MMKT_ESCROW_POLL_INTERVAL_MS", "250")],
    );
    server.wait_ready().await;
    let vendor = register(&server, "bench_vendor", "vendor").await;
    let buyer = register(&server, "bench_buyer", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Benchmark item", AMOUNT, 5).await;

    let started = Instant::now();
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;
    let ready = wait_fast(&buyer, escrow_id, "awaiting_funding").await;
    let setup = started.elapsed();

    chain.pay(ready["address"].as_str().unwrap(), AMOUNT).await;
    let mined = Instant::now();
    chain.mine(1).await;
    wait_fast(&buyer, escrow_id, "funded").await;
    let funding = mined.elapsed();
    chain.mine(10).await;
    // Let the watcher settle before timing the release.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = Instant::now();
    confirm(&buyer, order_id).await;
    wait_fast(&buyer, escrow_id, "released").await;
    let release = started.elapsed();

    println!("| step | raw wallet-rpc sequence | through mmkt-server | ratio |");
    println!("|---|---|---|---|");
    for (name, raw, server) in [
        ("order → escrow address ready", raw.setup, setup),
        (
            "funding detection (block mined → funded)",
            raw.funding,
            funding,
        ),
        (
            "release (confirm → released, tx submitted)",
            raw.release,
            release,
        ),
    ] {
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2}× |",
            raw.as_secs_f64(),
            server.as_secs_f64(),
            server.as_secs_f64() / raw.as_secs_f64()
        );
    }
}

struct RawTimes {
    setup: Duration,
    funding: Duration,
    release: Duration,
}

/// Polls every 50 ms (the benchmark's own polling must not dominate what it measures).
async fn wait_fast(user: &User, escrow_id: i64, state: &str) -> serde_json::Value {
    loop {
        let (_, body) = user.get(&format!("/api/escrows/{escrow_id}")).await;
        if body["state"] == state {
            return body;
        }
        assert!(body["state"] != "setup_failed", "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn raw_sequence(chain: &Chain, w: &[WalletClient]) -> RawTimes {
    let password = WalletPassword::new("bench-password");
    // Each round runs on the three wallet-rpc in parallel, as the server does.
    let started = Instant::now();
    let infos: Vec<MultisigInfo> = join_all(w.iter().enumerate().map(|(i, wallet)| {
        let password = password.clone();
        async move {
            let name: WalletName = format!("bench-raw-{i}").parse().unwrap();
            wallet.create_wallet(&name, &password).await.unwrap();
            wallet.prepare_multisig().await.unwrap()
        }
    }))
    .await;
    let others = |all: &[MultisigInfo], i: usize| -> Vec<MultisigInfo> {
        all.iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, x)| x.clone())
            .collect()
    };
    let made: Vec<MultisigInfo> = join_all(w.iter().enumerate().map(|(i, wallet)| {
        let (others, password) = (others(&infos, i), password.clone());
        async move { wallet.make_multisig(&others, 2, &password).await.unwrap() }
    }))
    .await;
    let round1: Vec<MultisigInfo> = join_all(w.iter().enumerate().map(|(i, wallet)| {
        let (others, password) = (others(&made, i), password.clone());
        async move {
            wallet
                .exchange_multisig_keys(&others, &password)
                .await
                .unwrap()
                .multisig_info
                .unwrap()
        }
    }))
    .await;
    let finals = join_all(w.iter().enumerate().map(|(i, wallet)| {
        let (others, password) = (others(&round1, i), password.clone());
        async move {
            let r = wallet
                .exchange_multisig_keys(&others, &password)
                .await
                .unwrap();
            assert!(wallet.is_multisig().await.unwrap().ready);
            r.address
        }
    }))
    .await;
    let address: Option<Address> = finals.into_iter().next().flatten();
    let setup = started.elapsed();
    let address = address.unwrap();

    chain.pay(address.as_str(), AMOUNT).await;
    let mined = Instant::now();
    chain.mine(1).await;
    let filter = incoming_filter();
    loop {
        w[0].refresh(None).await.unwrap();
        let t = w[0].get_transfers(filter).await.unwrap();
        if t.incoming
            .iter()
            .any(|e| e.confirmations >= 1 && e.amount == Amount::from_atomic(AMOUNT))
        {
            break;
        }
    }
    let funding = mined.elapsed();
    chain.mine(10).await;

    // Release: vendor (1) builds, buyer (0) co-signs and submits.
    let started = Instant::now();
    w[1].refresh(None).await.unwrap();
    w[0].refresh(None).await.unwrap();
    let from_vendor = w[1].export_multisig_info().await.unwrap();
    let from_buyer = w[0].export_multisig_info().await.unwrap();
    w[1].import_multisig_info(&[from_buyer]).await.unwrap();
    w[0].import_multisig_info(&[from_vendor]).await.unwrap();
    let SweepOutcome::MultisigPending { multisig_txset, .. } = w[1]
        .sweep_all(&chain.payout_address, TransferOptions::default())
        .await
        .unwrap()
    else {
        panic!("multisig sweep expected")
    };
    w[0].describe_transfer(&multisig_txset).await.unwrap();
    let SignOutcome::FullySigned { multisig_txset, .. } =
        w[0].sign_multisig(&multisig_txset).await.unwrap()
    else {
        panic!("fully signed expected")
    };
    w[0].submit_multisig(&multisig_txset).await.unwrap();
    let release = started.elapsed();
    RawTimes {
        setup,
        funding,
        release,
    }
}
