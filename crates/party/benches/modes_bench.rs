//! Escrow-mode benchmark (docs/BENCHMARKS.md): on one regtest network, in one run, times an
//! escrow from order to address and from the buyer's confirmation to the payout, first in hosted
//! mode (the server drives all three wallets), then in non-custodial mode (the server drives only
//! the arbiter's; buyer and vendor each run `mmkt-party watch --yes` on their own wallet-rpc,
//! which does their turns as the market announces them).
//!
//! ```text
//! cargo build -p mmkt-server --bins
//! cargo bench -p mmkt-party --bench modes_bench --profile dev
//! MODES_BENCH_ITERATIONS=5 cargo bench -p mmkt-party --bench modes_bench --profile dev
//! MODES_BENCH_LOG=/tmp/nc-server.log cargo bench -p mmkt-party --bench modes_bench --profile dev
//! ```
//!
//! Both servers poll every 250 ms (`MMKT_ESCROW_POLL_INTERVAL_MS`); the parties' watchers answer
//! the WebSocket's `escrow_turn` notices. Prints one line per escrow and the medians, in seconds.

#[path = "../../server/tests/escrow_support/mod.rs"]
mod escrow_support;

use std::path::Path;
use std::time::{Duration, Instant};

use escrow_support::*;
use serde_json::{Value, json};

const AMOUNT: u64 = 1_000_000_000_000;
const PARTY: &str = env!("CARGO_BIN_EXE_mmkt-party");
/// wallet-rpc indexes of the harness: buyer, vendor, arbiter.
const WALLET_RPCS: [usize; 3] = [0, 1, 2];

/// Seconds from the order to the address, and from the confirmation to `released`.
#[derive(Debug, Clone, Copy)]
struct Times {
    setup: f64,
    release: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let iterations: usize = std::env::var("MODES_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let chain = Chain::start()
        .await
        .expect("monerod and monero-wallet-rpc must be installed");
    let poll = ("MMKT_ESCROW_POLL_INTERVAL_MS", "250");

    let dir = tempfile::tempdir().unwrap();
    let mut hosted_server = Server::start(&chain, dir.path(), &[poll]);
    hosted_server.wait_ready().await;
    let hosted = run_mode(&chain, &hosted_server, "hosted", iterations, None).await;
    hosted_server.terminate().await;

    // The parties' wallet-rpcs are the ones the hosted server just used for buyer and vendor;
    // the non-custodial server gets only the arbiter's.
    let nc_dir = tempfile::tempdir().unwrap();
    let arbiter = chain.net.wallet_url(WALLET_RPCS[2]);
    let daemon = chain.net.daemon_url();
    // With MODES_BENCH_LOG the log also times every wallet-rpc call (`rpc call ok`).
    let verbose = std::env::var_os("MODES_BENCH_LOG").is_some();
    let log_filter = match verbose {
        true => "info,mmkt_server=debug,monero_rpc=debug",
        false => "info,mmkt_server=debug",
    };
    let nc_server = Server::start_without_chain(
        nc_dir.path(),
        &[
            poll,
            ("RUST_LOG", log_filter),
            ("MMKT_WALLET_RPC_ARBITER_URL", arbiter.as_str()),
            ("MMKT_MONEROD_URL", daemon.as_str()),
            ("MMKT_ESCROW_MODES", "hosted,non_custodial"),
        ],
    );
    nc_server.wait_ready().await;
    let states = tempfile::tempdir().unwrap();
    let watchers = Watchers::start(&chain, &nc_server, states.path());
    let non_custodial = run_mode(
        &chain,
        &nc_server,
        "non_custodial",
        iterations,
        Some(&watchers),
    )
    .await;
    drop(watchers);
    // MODES_BENCH_LOG=FILE keeps the non-custodial server's log (timestamps of every round).
    if let Ok(path) = std::env::var("MODES_BENCH_LOG") {
        std::fs::write(&path, nc_server.log_text()).expect("write MODES_BENCH_LOG");
    }

    let (hs, hr) = medians(&hosted);
    let (ns, nr) = medians(&non_custodial);
    println!("median hosted:        setup {hs:.2} s, release {hr:.2} s");
    println!("median non_custodial: setup {ns:.2} s, release {nr:.2} s");
    println!(
        "non_custodial / hosted: setup {:.2}x, release {:.2}x (target: at most 1.5x)",
        ns / hs,
        nr / hr
    );
}

/// `iterations` escrows in `mode`, one after the other, each funded and released.
async fn run_mode(
    chain: &Chain,
    server: &Server,
    mode: &str,
    iterations: usize,
    watchers: Option<&Watchers>,
) -> Vec<Times> {
    let vendor = register(server, &format!("{mode}_vendor"), "vendor").await;
    let buyer = register(server, &format!("{mode}_buyer"), "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    set_address(&buyer, "refund", &chain.refund_address).await;
    if let Some(w) = watchers {
        w.login(mode).await;
    }
    let listing = create_listing(&vendor, "Benchmark lamp", AMOUNT, 100).await;
    let mut times = Vec::new();
    for i in 0..iterations {
        let started = Instant::now();
        let (status, order) = buyer
            .post(
                "/api/orders",
                json!({"listing_id": listing, "quantity": 1, "escrow_mode": mode}),
            )
            .await;
        assert!(status.is_success(), "{order}");
        let order_id = order["order_id"].as_i64().unwrap();
        let escrow_id = order["escrow"]["escrow_id"].as_i64().unwrap();
        let ready = wait_fast(&buyer, escrow_id, "awaiting_funding").await;
        let setup = started.elapsed().as_secs_f64();
        chain.pay(ready["address"].as_str().unwrap(), AMOUNT).await;
        chain.mine(1).await;
        wait_fast(&buyer, escrow_id, "funded").await;
        // Spendable 10 blocks after arrival (Monero rule): unlock first so both modes time the
        // payout rounds, not the wait for the unlock.
        chain.mine(10).await;
        let confirmed = Instant::now();
        let (status, body) = confirm(&buyer, order_id).await;
        assert!(status.is_success(), "{body}");
        wait_fast(&buyer, escrow_id, "released").await;
        let release = confirmed.elapsed().as_secs_f64();
        println!("{mode} #{i}: setup {setup:.2} s, release {release:.2} s");
        times.push(Times { setup, release });
    }
    times
}

/// Polls the escrow every 50 ms until it is in `state`.
async fn wait_fast(user: &User, escrow_id: i64, state: &str) -> Value {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let (_, body) = user.get(&format!("/api/escrows/{escrow_id}")).await;
        if body["state"] == state {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "escrow {escrow_id} never reached {state}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn medians(times: &[Times]) -> (f64, f64) {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(times.iter().map(|t| t.setup).collect()),
        median(times.iter().map(|t| t.release).collect()),
    )
}

/// The buyer's and vendor's `mmkt-party watch --yes`, each on its own wallet-rpc and state
/// directory (killed when dropped).
struct Watchers {
    market: String,
    parties: Vec<(String, std::path::PathBuf)>,
    children: std::sync::Mutex<Vec<tokio::process::Child>>,
}

impl Watchers {
    fn start(chain: &Chain, server: &Server, root: &Path) -> Watchers {
        let parties = ["buyer", "vendor"]
            .iter()
            .zip(WALLET_RPCS)
            .map(|(role, index)| {
                let state = root.join(role);
                std::fs::create_dir_all(&state).unwrap();
                (chain.net.wallet_url(index), state)
            })
            .collect();
        Watchers {
            market: server.base.clone(),
            parties,
            children: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Logs both parties in as `<mode>_buyer` / `<mode>_vendor` and starts their watchers.
    async fn login(&self, mode: &str) {
        use std::os::unix::fs::PermissionsExt;
        for ((wallet_rpc, state), role) in self.parties.iter().zip(["buyer", "vendor"]) {
            let file = state.join("login-password");
            std::fs::write(&file, PASSWORD).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            let status = self
                .command(wallet_rpc, state)
                .args(["login", &format!("{mode}_{role}"), "--password-file"])
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .expect("run mmkt-party login");
            assert!(status.success(), "mmkt-party login {role}");
            let child = self
                .command(wallet_rpc, state)
                .args(["watch", "--yes", "--reconnect-secs", "1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start mmkt-party watch");
            self.children.lock().unwrap().push(child);
        }
    }

    fn command(&self, wallet_rpc: &str, state: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(PARTY);
        command
            .env_remove("MMKT_PARTY_PASSWORD")
            .args(["--market", &self.market, "--wallet-rpc", wallet_rpc])
            .arg("--state-dir")
            .arg(state)
            .args(["--wallet", "bench", "--json"]);
        command
    }
}
