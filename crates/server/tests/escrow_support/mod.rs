//! Shared harness of the escrow suites: a real regtest network (monerod + wallet-rpc processes from
//! test_support::regtest), the real `mmkt-server` binary as a child process (killed by PID on drop,
//! restartable on the same database), users driven only through the HTTP API (helpers shared with
//! the in-process harness come from `shared/`) and the WebSocket.
//!
//! Wallet-rpc layout: 0 buyer, 1 vendor, 2 arbiter (the server's three roles), 3 the test's funder
//! (miner), 4 the vendor's payout wallet, 5 the buyer's refund wallet.
#![allow(dead_code)]

mod party;
#[path = "../shared/mod.rs"]
mod shared;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use monero_rpc::{
    Address, Amount, Destination, TransferEntry, TransferFilter, TransferOptions, TransferOutcome,
    TxHash, WalletClient, WalletName, WalletPassword,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::regtest::{Miner, Regtest, RegtestConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[allow(unused_imports)]
pub use party::{Party, database_text};
pub use shared::*;

/// How long a test waits for an escrow to reach a state before failing (not a timed assertion:
/// a generous upper bound so a stuck orchestrator fails the test instead of hanging it).
pub const STATE_WAIT: Duration = Duration::from_secs(240);

/// wallet-rpc indexes.
pub const FUNDER: usize = 3;
/// Vendor payout wallet-rpc index.
pub const PAYOUT: usize = 4;
/// Buyer refund wallet-rpc index.
pub const REFUND: usize = 5;

/// The regtest network plus the test's own wallets.
pub struct Chain {
    pub net: Regtest,
    pub miner: Miner,
    pub payout: WalletClient,
    pub payout_address: Address,
    pub refund: WalletClient,
    pub refund_address: Address,
}

impl Chain {
    /// Starts monerod + 6 wallet-rpc, funds the miner and creates the payout and refund wallets.
    /// `None` when the Monero binaries are missing and services are not required.
    pub async fn start() -> Option<Chain> {
        let net = Regtest::start_for_test(RegtestConfig {
            wallets: 6,
            ..Default::default()
        })
        .await?;
        let miner = net.create_miner(FUNDER).await.expect("funded miner wallet");
        let (payout, payout_address) = own_wallet(&net, PAYOUT, "payout", "vendor-payout").await;
        let (refund, refund_address) = own_wallet(&net, REFUND, "refund", "buyer-refund").await;
        Some(Chain {
            net,
            miner,
            payout,
            payout_address,
            refund,
            refund_address,
        })
    }

    /// Pays `amount` atomic units from the funder to `address` (relayed to the pool).
    pub async fn pay(&self, address: &str, amount: u64) -> TxHash {
        self.pay_with(address, amount, TransferOptions::default())
            .await
    }

    /// [`Chain::pay`] with transfer `options` (e.g. an `unlock_time` on the outputs).
    pub async fn pay_with(&self, address: &str, amount: u64, options: TransferOptions) -> TxHash {
        let destination = Destination {
            amount: Amount::from_atomic(amount),
            address: address.parse().unwrap(),
        };
        match self
            .miner
            .wallet
            .transfer(&[destination], options)
            .await
            .expect("funder transfer")
        {
            TransferOutcome::Submitted { tx_hash, .. } => tx_hash,
            other => panic!("funder wallet is not a normal wallet: {other:?}"),
        }
    }

    /// Mines `blocks` blocks (to the miner) and refreshes the miner wallet.
    pub async fn mine(&self, blocks: u64) {
        self.net
            .mine_and_refresh(blocks, &self.miner.address, &[&self.miner.wallet])
            .await
            .expect("mining");
    }

    /// Every incoming transfer of `wallet`, confirmed and in the pool, after a refresh.
    pub async fn incoming(&self, wallet: &WalletClient) -> Vec<TransferEntry> {
        wallet.refresh(None).await.unwrap();
        let transfers = wallet.get_transfers(incoming_filter()).await.unwrap();
        transfers
            .incoming
            .into_iter()
            .chain(transfers.pool)
            .collect()
    }

    /// Total received by `wallet` in transaction `tx` (after mining it and refreshing), and its fee.
    pub async fn received(&self, wallet: &WalletClient, tx: &str) -> (u64, u64) {
        let hash: TxHash = tx.parse().unwrap();
        wallet.refresh(None).await.unwrap();
        let entries = wallet
            .get_transfer_by_txid(&hash)
            .await
            .expect("payout visible to the receiving wallet");
        let amount = entries.iter().map(|e| e.amount.as_atomic()).sum();
        (amount, entries[0].fee.as_atomic())
    }
}

/// A fresh wallet `name` on wallet-rpc `index` (metrics label `label`) and its address.
async fn own_wallet(
    net: &Regtest,
    index: usize,
    label: &str,
    name: &str,
) -> (WalletClient, Address) {
    let wallet = net.wallet(index).with_label(label);
    let name = name.parse::<WalletName>().unwrap();
    wallet
        .create_wallet(&name, &WalletPassword::new(""))
        .await
        .unwrap();
    let address = wallet.get_address(0).await.unwrap();
    (wallet, address)
}

/// The `mmkt-server` binary running as a child process on a temp database; kill -9 on drop.
pub struct Server {
    pub base: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    starts: u32,
}

/// Sends a signal to a child we spawned and have not reaped.
fn kill_pid(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Server {
    /// Environment for a server on `chain` with DB files in `dir` and extra overrides.
    pub fn start(chain: &Chain, dir: &Path, extra: &[(&str, &str)]) -> Server {
        let wallets = [
            ("MMKT_WALLET_RPC_BUYER_URL", chain.net.wallet_url(0)),
            ("MMKT_WALLET_RPC_VENDOR_URL", chain.net.wallet_url(1)),
            ("MMKT_WALLET_RPC_ARBITER_URL", chain.net.wallet_url(2)),
            ("MMKT_MONEROD_URL", chain.net.daemon_url()),
        ];
        let mut all: Vec<(&str, &str)> = wallets.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        Server::start_without_chain(dir, &all)
    }

    /// A server with no wallet-rpc configured (escrow orchestration idle): for API and WebSocket
    /// checks that need no chain. Its runner id is `test-server` (stable, so that a restart takes
    /// the escrow runner lease over at once). Its log is `dir/server.log`, or `dir/server-<id>.log`
    /// when `extra` sets `MMKT_RUNNER_ID`, so that several servers can share one database directory.
    pub fn start_without_chain(dir: &Path, extra: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut env: Vec<(String, String)> = vec![
            ("MMKT_ENV".into(), "development".into()),
            ("MMKT_BIND".into(), format!("127.0.0.1:{port}")),
            (
                "MMKT_DB_PATH".into(),
                dir.join("mmkt.db").display().to_string(),
            ),
            (
                "MMKT_DB_KEY_FILE".into(),
                dir.join("mmkt.key").display().to_string(),
            ),
            ("MMKT_ESCROW_CONFIRMATIONS".into(), "1".into()),
            ("MMKT_ESCROW_POLL_INTERVAL_MS".into(), "500".into()),
            ("RUST_LOG".into(), "info,mmkt_server=debug".into()),
            ("MMKT_RUNNER_ID".into(), "test-server".into()),
        ];
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).into(), (*v).into()));
        }
        let log = match extra.iter().find(|(k, _)| *k == "MMKT_RUNNER_ID") {
            Some((_, id)) => dir.join(format!("server-{id}.log")),
            None => dir.join("server.log"),
        };
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
            env,
            child: None,
            log,
            starts: 0,
        };
        server.spawn();
        server
    }

    fn binary_command(&self) -> Command {
        // MMKT_SERVER_BIN runs the suite against another build of the binary (e.g. a copy taken
        // while several checkouts share one target directory).
        // Examples get no CARGO_BIN_EXE_*: they use the binary next to their own directory.
        let binary = std::env::var_os("MMKT_SERVER_BIN")
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_BIN_EXE_mmkt-server").map(PathBuf::from))
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                Some(exe.parent()?.parent()?.join("mmkt-server"))
            })
            .expect("path of the mmkt-server binary");
        let mut cmd = Command::new(binary);
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let err = log.try_clone().unwrap();
        let child = self
            .binary_command()
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn mmkt-server");
        self.child = Some(child);
    }

    /// Waits until `/health` answers.
    pub async fn wait_ready(&self) {
        let client = Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/health")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The running child's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// kill -9 (SIGKILL by PID) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_pid(&mut child);
        }
    }

    /// SIGTERM (by PID, through `kill`) and waits up to 60 s for the graceful exit; its status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() > deadline {
                kill_pid(&mut child);
                panic!(
                    "server did not exit within 60 s of SIGTERM:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets `key` to `value` in the environment of the next (re)start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// Starts the binary again on the same database and port.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready().await;
    }

    /// The server log's last lines.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// The whole server log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = self.log_text();
            let problems: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .collect();
            eprintln!(
                "[mmkt-server] warnings and errors (test panicked):\n{}",
                problems.join("\n")
            );
            eprintln!("[mmkt-server] log tail:\n{}", self.log_tail());
        }
        self.kill9();
        // MMKT_TEST_KEEP_LOGS=<dir> keeps each server log for inspection after the test.
        if let Some(keep) = std::env::var_os("MMKT_TEST_KEEP_LOGS") {
            let name = format!(
                "{}-{}.log",
                std::thread::current().name().unwrap_or("test"),
                std::process::id()
            );
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&self.log, Path::new(&keep).join(name));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Harness for Server {
    fn base(&self) -> &str {
        &self.base
    }

    fn command(&self) -> Command {
        self.binary_command()
    }
}

/// Opens `/ws` with `user`'s cookie and waits for the hello message.
pub async fn websocket(user: &User) -> Ws {
    let url = format!("{}/ws", user.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", user.cookie.parse().unwrap());
    let (stream, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connects");
    let mut ws = Ws::spawn(stream);
    let hello = ws
        .next_json(Duration::from_secs(10))
        .await
        .expect("hello message");
    assert_eq!(hello["type"], "hello", "{hello}");
    ws
}

/// A WebSocket client that records every escrow event it receives. A background task keeps
/// reading (and so answers the server's pings) while the test does other things.
pub struct Ws {
    messages: tokio::sync::mpsc::UnboundedReceiver<Value>,
    reader: tokio::task::JoinHandle<()>,
    pub events: Vec<Value>,
}

impl Drop for Ws {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Ws {
    fn spawn(
        stream: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> Ws {
        let (tx, messages) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let (mut sink, mut stream) = stream.split();
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    Message::Text(t) => {
                        let Ok(v) = serde_json::from_str::<Value>(&t) else {
                            continue;
                        };
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Message::Ping(p) => {
                        let _ = sink.send(Message::Pong(p)).await;
                    }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
        });
        Ws {
            messages,
            reader,
            events: Vec::new(),
        }
    }

    /// The next JSON text message within `wait`.
    pub async fn next_json(&mut self, wait: Duration) -> Option<Value> {
        let v = tokio::time::timeout(wait, self.messages.recv())
            .await
            .ok()??;
        if v["type"] == "escrow_event" {
            self.events.push(v.clone());
        }
        Some(v)
    }
    /// Reads messages until an escrow event for `escrow_id` with `to_state == state` arrived.
    pub async fn wait_state(&mut self, escrow_id: i64, state: &str) {
        if self.has_state(escrow_id, state) {
            return;
        }
        let deadline = Instant::now() + STATE_WAIT;
        while Instant::now() < deadline {
            if self.next_json(Duration::from_secs(5)).await.is_some()
                && self.has_state(escrow_id, state)
            {
                return;
            }
        }
        panic!(
            "websocket never saw escrow {escrow_id} reach {state}; got {:?}",
            self.states(escrow_id)
        );
    }

    fn has_state(&self, escrow_id: i64, state: &str) -> bool {
        self.events
            .iter()
            .any(|e| e["escrow_id"] == escrow_id && e["to_state"] == state)
    }

    /// Drains whatever arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) {
        while self.next_json(wait).await.is_some() {}
    }

    /// The sequence of distinct states this client saw for `escrow_id`.
    pub fn states(&self, escrow_id: i64) -> Vec<String> {
        let mut states: Vec<String> = Vec::new();
        for e in self.events.iter().filter(|e| e["escrow_id"] == escrow_id) {
            let to = e["to_state"].as_str().unwrap_or_default().to_owned();
            if states.last() != Some(&to) {
                states.push(to);
            }
        }
        states
    }
}

/// Polls `GET /api/escrows/{id}` as `user` until the state is `state`.
pub async fn wait_escrow(user: &User, escrow_id: i64, state: &str) -> Value {
    wait_escrow_within(user, escrow_id, state, STATE_WAIT).await
}

/// As [`wait_escrow`], failing after `wait` instead of [`STATE_WAIT`] (for escrows queued behind
/// others: the orchestrator runs setups one at a time).
pub async fn wait_escrow_within(user: &User, escrow_id: i64, state: &str, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    loop {
        let (status, body) = user.get(&format!("/api/escrows/{escrow_id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["state"] == state {
            return body;
        }
        assert!(
            !matches!(
                body["state"].as_str(),
                Some("setup_failed" | "released" | "refunded")
            ) || body["state"] == state,
            "escrow {escrow_id} ended in {} while waiting for {state}: {body}",
            body["state"]
        );
        assert!(
            Instant::now() < deadline,
            "escrow {escrow_id} stuck in {} (waiting for {state}): {body}",
            body["state"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Funds an escrow with its exact amount, mines the confirmation block, waits for `funded`, then
/// mines the blocks that make the outputs spendable (10 confirmations).
pub async fn fund(chain: &Chain, buyer: &User, escrow_id: i64) -> Value {
    let ready = wait_escrow(buyer, escrow_id, "awaiting_funding").await;
    let address = ready["address"]
        .as_str()
        .expect("escrow address shown to the buyer")
        .to_owned();
    let amount = ready["amount_xmr"].as_u64().unwrap();
    chain.pay(&address, amount).await;
    chain.mine(1).await;
    let funded = wait_escrow(buyer, escrow_id, "funded").await;
    chain.mine(10).await;
    funded
}

/// Reads a Prometheus sample value from `/metrics` text (`name{labels}` exact prefix).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Incoming transfers, confirmed and in the pool.
pub fn incoming_filter() -> TransferFilter {
    TransferFilter {
        incoming: true,
        outgoing: false,
        pending: false,
        failed: false,
        pool: true,
    }
}

/// A regtest chain and the server binary on it (DB in the returned temp dir, `extra` variables
/// on top of the defaults), ready to serve. `None` when the Monero binaries are missing and
/// services are not required. Bind as `(chain, _dir, server)` so the server stops first.
pub async fn start_market(extra: &[(&str, &str)]) -> Option<(Chain, TempDir, Server)> {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&chain, dir.path(), extra);
    server.wait_ready().await;
    Some((chain, dir, server))
}

/// Sets `user`'s payout (`kind` = `payout`) or refund (`refund`) address, confirmed with the
/// account's password; must succeed.
pub async fn set_address(user: &User, kind: &str, address: &Address) {
    let (status, body) = user
        .put(
            &format!("/api/auth/me/{kind}-address"),
            json!({"address": address.as_str(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{kind} address of {}: {body}",
        user.name
    );
}

/// `POST /api/orders/{order_id}/confirm-receipt` as `user`.
pub async fn confirm(user: &User, order_id: i64) -> (StatusCode, Value) {
    user.post(
        &format!("/api/orders/{order_id}/confirm-receipt"),
        json!({}),
    )
    .await
}

/// `POST /api/orders/{order_id}/dispute` as `user` with `reason`.
pub async fn dispute(user: &User, order_id: i64, reason: &str) -> (StatusCode, Value) {
    user.post(
        &format!("/api/orders/{order_id}/dispute"),
        json!({"reason": reason}),
    )
    .await
}

/// `POST /api/disputes/{escrow_id}/resolve` as `user` with `outcome`.
pub async fn resolve(user: &User, escrow_id: i64, outcome: &str) -> (StatusCode, Value) {
    user.post(
        &format!("/api/disputes/{escrow_id}/resolve"),
        json!({"outcome": outcome}),
    )
    .await
}

/// The server's `/metrics` text.
pub async fn metrics_text(server: &Server) -> String {
    reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The server log lines (colour codes removed) that contain `needle` and the field
/// `escrow_id=<escrow_id>`.
pub fn escrow_log_lines(server: &Server, needle: &str, escrow_id: i64) -> Vec<String> {
    let field = format!("escrow_id={escrow_id}");
    server
        .log_text()
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains(needle) && l.split_whitespace().any(|w| w == field))
        .collect()
}

/// `line` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        for c in chars.by_ref() {
            if c.is_ascii_alphabetic() {
                break;
            }
        }
    }
    out
}

/// Waits (up to [`STATE_WAIT`]) until the server logged `needle` for escrow `escrow_id`.
pub async fn wait_escrow_log(server: &Server, needle: &str, escrow_id: i64) {
    let deadline = Instant::now() + STATE_WAIT;
    while escrow_log_lines(server, needle, escrow_id).is_empty() {
        assert!(
            Instant::now() < deadline,
            "server never logged {needle:?} for escrow {escrow_id}:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The wallet directory (`--wallet-dir`) of wallet-rpc `index` of `chain`: the newest
/// `wallet-<index>-<attempt>` directory the regtest harness made for it.
pub fn wallet_dir(chain: &Chain, index: usize) -> PathBuf {
    let prefix = format!("wallet-{index}-");
    std::fs::read_dir(chain.net.dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let attempt: u32 = name.strip_prefix(&prefix)?.parse().ok()?;
            Some((attempt, e.path()))
        })
        .max()
        .map(|(_, path)| path)
        .expect("wallet directory of the wallet-rpc")
}

/// Files in `dir` whose name starts with `prefix` (sorted; empty when `dir` does not exist).
pub fn files_starting_with(dir: &Path, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}
