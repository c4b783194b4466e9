//! "Only one escrow runner, ever": two real `mmkt-server` processes on one database file and the
//! same wallet-rpcs. The runner lease moves between them (release on one, acquire on the other,
//! SIGTERM of the holder, expiry after kill -9) while escrows are in setup and in payout; every
//! escrow ends with exactly one payout on the regtest chain, and the server without the lease
//! makes no wallet-rpc call of escrow work (its `monero_rpc_duration_seconds_count` series).

mod escrow_support;

use std::time::{Duration, Instant};

use escrow_support::*;
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Lease lifetime of the test servers: renewal every 2 s, expiry 6 s after the last renewal.
const TTL_SECS: u64 = 6;

fn lease_env(id: &'static str) -> [(&'static str, &'static str); 2] {
    [("MMKT_RUNNER_ID", id), ("MMKT_RUNNER_LEASE_TTL_SECS", "6")]
}

/// Wallet-rpc URLs that refuse connections: the server is a lease candidate, but no escrow exists.
const DEAD_WALLETS: [(&str, &str); 3] = [
    ("MMKT_WALLET_RPC_BUYER_URL", "http://127.0.0.1:9"),
    ("MMKT_WALLET_RPC_VENDOR_URL", "http://127.0.0.1:9"),
    ("MMKT_WALLET_RPC_ARBITER_URL", "http://127.0.0.1:9"),
];

/// The `escrow_runner` field of the server's `/ready` (whatever the readiness status).
async fn runner(server: &Server) -> Value {
    let body: Value = reqwest::get(server.url("/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["escrow_runner"].clone()
}

/// Waits until the server's runner reports `state`.
async fn wait_runner(server: &Server, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = runner(server).await;
        if status["state"] == state {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "runner never reached {state}: {status}\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `POST /ops/runner/{verb}` with optional extra headers; status and JSON body.
async fn ops(server: &Server, verb: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = Client::new().post(server.url(&format!("/ops/runner/{verb}")));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Wallet-rpc calls this server made to the three role wallets, by method, except the
/// `get_version` probes of `/ready` and `wallet_rpc_up` (which open no wallet).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct EscrowCalls {
    total: u64,
    sign: u64,
    submit: u64,
}

async fn escrow_calls(server: &Server) -> EscrowCalls {
    let text = metrics_text(server).await;
    let mut calls = EscrowCalls::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("monero_rpc_duration_seconds_count{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").unwrap();
        let role_wallet = ["buyer", "vendor", "arbiter"]
            .iter()
            .any(|w| labels.contains(&format!("wallet=\"{w}\"")));
        if !role_wallet || labels.contains("method=\"get_version\"") {
            continue;
        }
        let n: u64 = value.trim().parse().unwrap();
        calls.total += n;
        if labels.contains("method=\"sign_multisig\"") {
            calls.sign += n;
        }
        if labels.contains("method=\"submit_multisig\"") {
            calls.submit += n;
        }
    }
    calls
}

/// `user`'s session, sent to `server` (cookies match the host, not the port).
fn at(user: &User, server: &Server) -> User {
    let mut moved = user.clone();
    moved.base = server.base.clone();
    moved
}

/// `line` without its ANSI colour sequences (`ESC [ … m`: the text log colours field names).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
            continue;
        }
        out.push(c);
    }
    out
}

/// Waits until the server log has a line containing every one of `needles`.
async fn wait_log_line(server: &Server, needles: &[&str]) {
    let deadline = Instant::now() + STATE_WAIT;
    while !server
        .log_text()
        .lines()
        .map(plain)
        .any(|l| needles.iter().all(|n| l.contains(n)))
    {
        assert!(
            Instant::now() < deadline,
            "server never logged {needles:?}:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_moves_by_release_acquire_expiry_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let env = |id| {
        let mut all: Vec<(&str, &str)> = DEAD_WALLETS.to_vec();
        all.extend(lease_env(id));
        all
    };
    let mut blue = Server::start_without_chain(dir.path(), &env("blue"));
    blue.wait_ready().await;
    let held = wait_runner(&blue, "running").await;
    assert_eq!(held["lease_held"], true, "{held}");
    assert_eq!(held["runner_id"], "blue", "{held}");
    let mut green = Server::start_without_chain(dir.path(), &env("green"));
    green.wait_ready().await;
    let standby = wait_runner(&green, "standby").await;
    assert_eq!(standby["lease_held"], false, "{standby}");
    assert_eq!(standby["holder"], "blue", "{standby}");
    assert_eq!(
        metric(&metrics_text(&blue).await, "escrow_runner_lease_held "),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics_text(&green).await, "escrow_runner_lease_held "),
        Some(0.0)
    );

    // Refusals change nothing: acquiring a held lease, a request through the proxy, a GET.
    let (status, body) = ops(&green, "acquire", &[]).await;
    assert_error(status, &body, StatusCode::CONFLICT, "runner_lease_held");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("blue"),
        "{body}"
    );
    for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        let (status, body) = ops(&blue, "release", &[(header, "203.0.113.7")]).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = ops(&green, "acquire", &[("x-real-ip", "203.0.113.7")]).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let get = reqwest::get(blue.url("/ops/runner/release")).await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(runner(&blue).await["state"], "running");

    // Release on blue: green (a standby) takes the lease at its next renewal; blue stays out.
    let (status, released) = ops(&blue, "release", &[]).await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["state"], "released", "{released}");
    assert_eq!(released["lease_held"], false, "{released}");
    let (status, again) = ops(&blue, "release", &[]).await;
    assert_eq!(
        (status, &again["state"]),
        (StatusCode::OK, &"released".into())
    );
    wait_runner(&green, "running").await;
    tokio::time::sleep(Duration::from_secs(TTL_SECS)).await;
    let parked = runner(&blue).await;
    assert_eq!(
        parked["state"], "released",
        "blue took the lease back: {parked}"
    );
    assert_eq!(parked["holder"], Value::Null, "{parked}");

    // kill -9 of the holder: its lease expires, and blue (told to acquire) takes it then.
    green.kill9();
    let (status, body) = ops(&blue, "acquire", &[]).await;
    assert_error(status, &body, StatusCode::CONFLICT, "runner_lease_held");
    let started = Instant::now();
    wait_runner(&blue, "running").await;
    assert!(
        started.elapsed() < Duration::from_secs(TTL_SECS + 5),
        "took {:?}",
        started.elapsed()
    );
    let (status, body) = ops(&blue, "acquire", &[]).await;
    assert_eq!(status, StatusCode::OK, "acquire while holding: {body}");
    assert_eq!(body["state"], "running", "{body}");

    // A server without all three wallet-rpc never takes part.
    let mut idle = Server::start_without_chain(dir.path(), &lease_env("idle"));
    idle.wait_ready().await;
    assert_eq!(runner(&idle).await["state"], "disabled");
    let (status, body) = ops(&idle, "acquire", &[]).await;
    assert_error(status, &body, StatusCode::CONFLICT, "runner_disabled");
    idle.kill9();

    // SIGTERM releases: the restarted green gets the lease at once, not after the expiry.
    let exit = blue.terminate().await;
    assert!(exit.success(), "blue exits cleanly on SIGTERM: {exit:?}");
    assert!(
        blue.log_text().contains("escrow runner lease released"),
        "{}",
        blue.log_tail()
    );
    green.restart().await;
    let started = Instant::now();
    wait_runner(&green, "running").await;
    assert!(
        started.elapsed() < Duration::from_secs(TTL_SECS),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escrows_pay_out_once_while_the_lease_moves_between_two_servers() {
    let Some(chain) = Chain::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let blue = Server::start(&chain, dir.path(), &lease_env("blue"));
    blue.wait_ready().await;
    wait_runner(&blue, "running").await;
    let mut green = Server::start(&chain, dir.path(), &lease_env("green"));
    green.wait_ready().await;
    wait_runner(&green, "standby").await;

    // The standby serves HTTP writes: accounts, listing and orders all go through green.
    let vendor = register(&green, "vendor_lease", "vendor").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let amount = 400_000_000_000u64;
    let listing_id = create_listing(&vendor, "Handover goods", amount, 10).await;
    let mut buyers = Vec::new();
    for i in 1..=3 {
        buyers.push(register(&green, &format!("buyer_lease_{i}"), "buyer").await);
    }
    let (order_1, escrow_1) = order(&buyers[0], listing_id, 1).await;
    let (order_2, escrow_2) = order(&buyers[1], listing_id, 1).await;

    // Blue sets both escrows up and sees them funded.
    for (buyer, escrow) in [(&buyers[0], escrow_1), (&buyers[1], escrow_2)] {
        let ready = wait_escrow(buyer, escrow, "awaiting_funding").await;
        chain.pay(ready["address"].as_str().unwrap(), amount).await;
    }
    chain.mine(1).await;
    wait_escrow(&buyers[0], escrow_1, "funded").await;
    wait_escrow(&buyers[1], escrow_2, "funded").await;
    chain.mine(10).await;
    assert_eq!(
        escrow_calls(&green).await,
        EscrowCalls::default(),
        "the standby made wallet-rpc calls"
    );

    // Release blue in the middle of a payout: it signs and submits, then lets go.
    for (buyer, order_id) in [(&buyers[0], order_1), (&buyers[1], order_2)] {
        let (status, body) = confirm(buyer, order_id).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    wait_log_line(&blue, &["payout prepared"]).await;
    let (status, released) = ops(&blue, "release", &[]).await;
    assert_eq!(status, StatusCode::OK, "{released}\n{}", blue.log_tail());
    assert_eq!(
        (&released["state"], &released["jobs_in_flight"]),
        (&"released".into(), &0.into())
    );
    let blue_at_release = escrow_calls(&blue).await;
    assert!(blue_at_release.sign >= 1, "{blue_at_release:?}");
    assert_eq!(
        blue_at_release.sign, blue_at_release.submit,
        "blue left a signed payout unsubmitted"
    );
    assert_eq!(
        escrow_calls(&green).await,
        EscrowCalls::default(),
        "green called wallet-rpc before it held the lease"
    );

    // Green takes over (it may already have, as a standby) and resumes from the stored steps.
    let (status, acquired) = ops(&green, "acquire", &[]).await;
    assert_eq!(status, StatusCode::OK, "{acquired}");
    assert_eq!(acquired["state"], "running", "{acquired}");
    let (order_3, escrow_3) = order(&buyers[2], listing_id, 1).await;

    // SIGTERM green inside escrow 3's key exchange: it ends the round, releases, exits.
    wait_log_line(
        &green,
        &["multisig setup step done", &format!("escrow_id={escrow_3}")],
    )
    .await;
    let exit = green.terminate().await;
    assert!(
        exit.success(),
        "green exits cleanly: {exit:?}\n{}",
        green.log_tail()
    );
    let log = green.log_text();
    assert!(
        log.contains("escrow runner lease released"),
        "{}",
        green.log_tail()
    );
    assert!(
        log.matches("payout prepared").count()
            <= log.matches("payout submitted").count()
                + log.matches("payout already known").count(),
        "green stopped between signing and submitting:\n{}",
        green.log_tail()
    );

    assert!(
        plain(&log).contains("multisig setup paused for the runner lease handover"),
        "green finished escrow 3's setup instead of pausing it:\n{}",
        green.log_tail()
    );
    let (_, paused) = at(&buyers[2], &blue)
        .get(&format!("/api/escrows/{escrow_3}"))
        .await;
    assert_eq!(paused["state"], "awaiting_setup", "{paused}");

    // Blue was released: it stays out until told, and made no escrow call meanwhile.
    tokio::time::sleep(Duration::from_secs(TTL_SECS / 3 * 2)).await;
    let parked = runner(&blue).await;
    assert_eq!(parked["state"], "released", "{parked}");
    assert_eq!(escrow_calls(&blue).await, blue_at_release);
    let (status, acquired) = ops(&blue, "acquire", &[]).await;
    assert_eq!(status, StatusCode::OK, "{acquired}");
    // The sessions are in the shared database: the buyers carry on against blue.
    let buyers: Vec<User> = buyers.iter().map(|b| at(b, &blue)).collect();

    // Blue finishes escrow 3 from the stored rounds; everything pays out.
    let ready = wait_escrow(&buyers[2], escrow_3, "awaiting_funding").await;
    chain.pay(ready["address"].as_str().unwrap(), amount).await;
    chain.mine(1).await;
    wait_escrow(&buyers[2], escrow_3, "funded").await;
    chain.mine(10).await;
    let (status, body) = confirm(&buyers[2], order_3).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut hashes = Vec::new();
    for (buyer, escrow) in buyers.iter().zip([escrow_1, escrow_2, escrow_3]) {
        let released = wait_escrow(buyer, escrow, "released").await;
        let fee = released["payout"]["fee_xmr"].as_u64().unwrap();
        hashes.push((
            released["payout"]["tx_hash"].as_str().unwrap().to_owned(),
            amount - fee,
        ));
    }
    let blue_end = escrow_calls(&blue).await;
    assert_eq!(
        blue_end.sign - blue_at_release.sign,
        blue_end.submit - blue_at_release.submit,
        "blue submitted a payout it did not sign (left over by green) or left one unsubmitted"
    );

    // Exactly one payout per escrow on chain: three incoming transfers, the recorded ones.
    chain.mine(2).await;
    let all = chain.incoming(&chain.payout).await;
    assert_eq!(all.len(), 3, "one payout tx per escrow: {all:?}");
    for (hash, paid) in &hashes {
        let tx = all
            .iter()
            .find(|t| t.txid.as_str() == hash)
            .unwrap_or_else(|| panic!("payout {hash} is not on chain: {all:?}"));
        assert_eq!(tx.amount.as_atomic(), *paid, "escrow amount minus fee");
    }
}
