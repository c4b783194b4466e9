//! "Escrow during deploy": `mmctl deploy` v1 -> v2 of a stack whose servers run escrows on the
//! stack's own regtest monerod and wallet-rpc containers, while one escrow sits between the
//! prepare and the submit of its payout and another is in the middle of its multisig setup.
//!
//! The role wallet-rpcs reach monerod through `relay` (an nginx), which sends every request
//! but `/sendrawtransaction` straight to monerod and that one through `txgate` (another
//! nginx). The scenario, in order, with nothing timed:
//!
//! 1. Escrow A is set up, funded and unlocked under blue (v1). `txgate` is paused (Engine API
//!    pause): relaying a transaction now hangs, nothing else does.
//! 2. Escrow B is ordered; once its `prepare` round is stored, A's buyer confirms. Blue
//!    builds, checks and co-signs A's payout, stores it (`releasing` with its tx hash) and
//!    records the submit intent; `submit_multisig` then hangs in the buyer wallet-rpc, held
//!    at `txgate` (seen as the relay's open connection to it). B's setup yields to the payout
//!    before its next round, then cannot reach the stuck buyer wallet-rpc either.
//! 3. Blue is disconnected from the `wallet` network (it keeps its database and the lease),
//!    then `txgate` is unpaused: the held transaction reaches monerod's pool, but blue never
//!    learns it, so the database still says "prepared, submit started".
//! 4. `mmctl deploy --version v2`: green starts, the lease moves (blue's jobs end on their
//!    wallet-rpc errors), and green resumes both escrows from the persisted steps: A's submit
//!    looks the tx up by hash first and finds it (no second submission), B's setup continues
//!    from its stored rounds. B is then funded and confirmed, and green pays it out.
//!
//! Checked: each escrow ends `released` with exactly one payout tx received by the vendor's
//! payout wallet on the regtest chain (the recorded hash, the escrow amount minus the fee),
//! and, sampled through the deploy, green made no escrow wallet-rpc call before it held the
//! lease and blue none after it released it (`monero_rpc_duration_seconds_count`). Blue runs
//! the `stopgate` image: the deploy stops it only after the lease moved, and it serves on until
//! the test has sampled it there, so at least one sample of blue is of its released state.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use deploy_support::*;
use monero_rpc::{
    Address, Amount, DaemonClient, Destination, TransferFilter, TransferOptions, TransferOutcome,
    WalletClient, WalletName, WalletPassword,
};
use serde_json::{Value, json};

/// Generous bound of every wait (a stuck flow fails the test instead of hanging it).
const WAIT: Duration = Duration::from_secs(600);
/// Price of the listing, atomic units (0.4 XMR).
const PRICE: u64 = 400_000_000_000;
const PASSWORD: &str = "correct-horse-battery";

const ENV: &str = "MMKT_VERSION=stopgate
MMKT_DEPLOY_READY_TIMEOUT_SECS=120
MMKT_DEPLOY_WATCH_SECS=2
MMKT_DEPLOY_DRAIN_SECS=2
MMKT_DEPLOY_LEASE_TIMEOUT_SECS=120
";

/// nginx in front of monerod's unrestricted RPC; `/sendrawtransaction` goes to `{TX}`.
const PROXY_CONF: &str = r#"worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 256; }
http {
    client_body_temp_path /tmp/nginx-client-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    access_log off;
    resolver 127.0.0.11 valid=10s;
    client_max_body_size 64m;
    proxy_read_timeout 600s;
    proxy_send_timeout 600s;
    server {
        listen 18085;
        location ~ ^/(sendrawtransaction|send_raw_transaction)$ {
            set $target {TX};
            proxy_pass http://$target;
        }
        location / {
            set $target monerod-unrestricted:18085;
            proxy_pass http://$target;
        }
    }
}
"#;

const COMPOSE: &str = r#"x-wallet-rpc: &wallet-rpc
  image: mmkt/monero:latest
  entrypoint: ["/usr/local/bin/mmkt-wallet-rpc"]
  user: "1000:1000"
  restart: unless-stopped
  environment:
    MONERO_NETWORK: regtest
    MONEROD_ADDRESS: relay:18085
  tmpfs:
    - /run/mmkt:size=1m,mode=0700,uid=1000,gid=1000
  networks: [wallet, daemon]
  depends_on:
    relay:
      condition: service_started
  healthcheck:
    test:
      - CMD-SHELL
      - >-
        curl -fsS --max-time 4 -K /run/mmkt/curl.conf
        -H 'Content-Type: application/json'
        -d '{"jsonrpc":"2.0","id":"0","method":"get_version"}'
        http://127.0.0.1:18083/json_rpc | grep -q '"version"'
    interval: 3s
    timeout: 5s
    retries: 40
x-direct-wallet-rpc: &direct-wallet-rpc
  <<: *wallet-rpc
  environment:
    MONERO_NETWORK: regtest
    MONEROD_ADDRESS: monerod-unrestricted:18085
  depends_on:
    monerod:
      condition: service_healthy
x-proxy: &proxy
  image: mmkt/nginx:latest
  user: www-data
  restart: unless-stopped
  tmpfs:
    - /tmp:size=64m,mode=1777
  networks: [daemon]
  depends_on:
    monerod:
      condition: service_healthy
  healthcheck:
    test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "--max-time", "4", "http://127.0.0.1:18085/get_height"]
    interval: 3s
    timeout: 5s
    retries: 40
services:
  monerod:
    image: mmkt/monero:latest
    entrypoint: ["/usr/local/bin/mmkt-monerod"]
    user: "1000:1000"
    restart: unless-stopped
    environment:
      MONERO_NETWORK: regtest
      MONEROD_UNRESTRICTED_HOST: monerod-unrestricted
    volumes:
      - monerod-data:/data
    tmpfs:
      - /tmp:size=16m,mode=1777
    networks:
      wallet:
      daemon:
        aliases: [monerod-unrestricted]
    healthcheck:
      test:
        - CMD-SHELL
        - >-
          curl -fsS --max-time 4 -H 'Content-Type: application/json'
          -d '{"jsonrpc":"2.0","id":"0","method":"get_info"}'
          http://127.0.0.1:18081/json_rpc | grep -q '"status": *"OK"'
      interval: 2s
      timeout: 5s
      retries: 60
  relay:
    <<: *proxy
    volumes:
      - ./relay.conf:/etc/nginx/nginx.conf:ro
  txgate:
    <<: *proxy
    volumes:
      - ./txgate.conf:/etc/nginx/nginx.conf:ro
  wallet-rpc-buyer:
    <<: *wallet-rpc
    volumes:
      - wallets-buyer:/wallets
  wallet-rpc-vendor:
    <<: *wallet-rpc
    volumes:
      - wallets-vendor:/wallets
  wallet-rpc-arbiter:
    <<: *wallet-rpc
    volumes:
      - wallets-arbiter:/wallets
  wallet-rpc-funder:
    <<: *direct-wallet-rpc
    volumes:
      - wallets-funder:/wallets
  wallet-rpc-payout:
    <<: *direct-wallet-rpc
    volumes:
      - wallets-payout:/wallets
{SERVER}
      MMKT_MONEROD_URL: http://monerod:18081
      MMKT_WALLET_RPC_BUYER_URL: http://wallet-rpc-buyer:18083
      MMKT_WALLET_RPC_VENDOR_URL: http://wallet-rpc-vendor:18083
      MMKT_WALLET_RPC_ARBITER_URL: http://wallet-rpc-arbiter:18083
      MMKT_ESCROW_CONFIRMATIONS: "1"
      MMKT_ESCROW_POLL_INTERVAL_MS: "500"
      # The terminal-wallet check and the wallet collector would switch the wallet-rpcs to
      # other escrows' wallets between the test's steps.
      MMKT_CUSTODY_CHECK_INTERVAL_SECS: "86400"
      MMKT_WALLET_METRICS_INTERVAL_SECS: "86400"
      RUST_LOG: info,mmkt_server=debug
    networks: [wallet, backend, frontend]
    depends_on:
      wallet-rpc-buyer:
        condition: service_healthy
      wallet-rpc-vendor:
        condition: service_healthy
      wallet-rpc-arbiter:
        condition: service_healthy
{NGINX}
networks:
  wallet:
    internal: true
  daemon:
    internal: true
  backend:
    internal: true
  frontend: {}
volumes:
  monerod-data: {}
  wallets-buyer: {}
  wallets-vendor: {}
  wallets-arbiter: {}
  wallets-funder: {}
  wallets-payout: {}
  nginx-upstream: {}
  tls-certs: {}
"#;

/// One HTTP/1.0 exchange with `addr`: status, response head, JSON body (`Null` if none).
#[track_caller]
fn http(addr: &str, method: &str, path: &str, cookie: &str, body: Option<&Value>) -> Response {
    try_http(addr, method, path, cookie, body)
        .unwrap_or_else(|e| panic!("{method} {path} at {addr}: {e}"))
}

/// [`http`], giving the I/O error instead of panicking.
fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok(Response {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        json: serde_json::from_str(body).unwrap_or(Value::Null),
        text: body.to_owned(),
    })
}

struct Response {
    status: u16,
    head: String,
    json: Value,
    text: String,
}

/// A signed-in account talking to the API through nginx.
struct User {
    nginx: String,
    cookie: String,
}

impl User {
    fn register(nginx: &str, name: &str, role: &str) -> User {
        let body = json!({"username": name, "password": PASSWORD, "role": role});
        let r = http(nginx, "POST", "/api/auth/register", "", Some(&body));
        assert_eq!(r.status, 200, "register {name}: {}", r.text);
        let cookie = r
            .head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.trim().split(';').next().unwrap_or_default().to_owned())
            .find(|c| c.starts_with("session_token="))
            .expect("session cookie");
        User {
            nginx: nginx.to_owned(),
            cookie,
        }
    }

    #[track_caller]
    fn send(&self, method: &str, path: &str, body: Value, want: u16) -> Value {
        let r = http(&self.nginx, method, path, &self.cookie, Some(&body));
        assert_eq!(r.status, want, "{method} {path}: {}", r.text);
        r.json
    }

    fn escrow(&self, id: i64) -> Value {
        let r = http(
            &self.nginx,
            "GET",
            &format!("/api/escrows/{id}"),
            &self.cookie,
            None,
        );
        assert_eq!(r.status, 200, "escrow {id}: {}", r.text);
        r.json
    }

    /// Polls escrow `id` until `done` holds for it.
    fn wait_escrow(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait(&format!("escrow {id} {what}"), || {
            let e = self.escrow(id);
            assert_ne!(e["state"], "setup_failed", "{e}");
            done(&e).then_some(e)
        })
    }

    fn wait_state(&self, id: i64, state: &str) -> Value {
        self.wait_escrow(id, state, |e| e["state"] == state)
    }

    /// Places an order of one item of `listing`: `(order_id, escrow_id)`.
    fn order(&self, listing: i64) -> (i64, i64) {
        let body = json!({"listing_id": listing, "quantity": 1});
        let r = self.send("POST", "/api/orders", body, 200);
        (
            r["order_id"].as_i64().unwrap(),
            r["escrow"]["escrow_id"].as_i64().unwrap(),
        )
    }

    fn confirm(&self, order: i64) {
        let path = format!("/api/orders/{order}/confirm-receipt");
        self.send("POST", &path, json!({}), 202);
    }
}

/// Polls `probe` every 200 ms until it gives a value, failing after [`WAIT`].
#[track_caller]
fn wait<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The IP address of container `id` on the project's network `network`.
fn ip(stack: &DeployStack, id: &str, network: &str) -> String {
    let format = format!(
        "{{{{(index .NetworkSettings.Networks \"{}_{network}\").IPAddress}}}}",
        stack.guard.project()
    );
    // Not asserted: a server container may be removed between listing and inspecting it.
    let (_, out) = stack_harness::docker_try(&["inspect", "-f", &format, id]);
    out.trim().to_owned()
}

/// Unpauses a paused container when dropped (also when the test panics).
struct Paused(String);

impl Paused {
    fn pause(id: &str) -> Paused {
        docker_lines(&["pause", id]);
        Paused(id.to_owned())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["unpause", &self.0])
            .output();
    }
}

/// The test's side of the chain: monerod's unrestricted RPC (mining), a funded funder wallet
/// and the vendor's payout wallet, each in its own wallet-rpc container, reached by IP.
struct Chain {
    rt: tokio::runtime::Runtime,
    daemon: DaemonClient,
    funder: WalletClient,
    funder_address: Address,
    payout: WalletClient,
    payout_address: Address,
}

impl Chain {
    fn start(stack: &DeployStack) -> Chain {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let daemon_ip = ip(stack, &stack.container("monerod"), "daemon");
        let daemon = DaemonClient::new(&format!("http://{daemon_ip}:18085")).unwrap();
        let wallet = |service: &str| {
            let id = stack.container(service);
            let url = format!("http://{}:18083", ip(stack, &id, "wallet"));
            WalletClient::new(&url)
                .unwrap()
                .with_timeout(Duration::from_secs(120))
        };
        let (funder, payout) = (wallet("wallet-rpc-funder"), wallet("wallet-rpc-payout"));
        let create = |w: WalletClient, name: &'static str| async move {
            let name: WalletName = name.parse().unwrap();
            w.create_wallet(&name, &WalletPassword::new(""))
                .await
                .unwrap();
            w.get_address(0).await.unwrap()
        };
        let (funder_address, payout_address) = rt.block_on(async {
            tokio::join!(
                create(funder.clone(), "funder"),
                create(payout.clone(), "payout")
            )
        });
        let chain = Chain {
            rt,
            daemon,
            funder,
            funder_address,
            payout,
            payout_address,
        };
        // Coinbase outputs unlock after 60 blocks: 20 spendable ones, and enough outputs on
        // chain for the decoys of a ring.
        chain.mine(80);
        chain
    }

    /// Mines `blocks` blocks to the funder and refreshes it.
    fn mine(&self, blocks: u64) {
        self.rt.block_on(async {
            self.daemon
                .generate_blocks(blocks, &self.funder_address)
                .await
                .unwrap();
            self.funder.refresh(None).await.unwrap();
        });
    }

    /// Pays `amount` from the funder to `address`.
    fn pay(&self, address: &str, amount: u64) {
        let destination = Destination {
            amount: Amount::from_atomic(amount),
            address: address.parse().unwrap(),
        };
        let sent = self.rt.block_on(
            self.funder
                .transfer(&[destination], TransferOptions::default()),
        );
        assert!(
            matches!(sent, Ok(TransferOutcome::Submitted { .. })),
            "{sent:?}"
        );
    }

    /// The payout wallet's incoming transfers (confirmed and in the pool): tx hash -> amount.
    fn received(&self) -> BTreeMap<String, u64> {
        self.rt.block_on(async {
            self.payout.refresh(None).await.unwrap();
            let filter = TransferFilter {
                incoming: true,
                outgoing: false,
                pending: false,
                failed: false,
                pool: true,
            };
            let t = self.payout.get_transfers(filter).await.unwrap();
            let mut all = BTreeMap::new();
            for e in t.incoming.into_iter().chain(t.pool) {
                *all.entry(e.txid.as_str().to_owned()).or_insert(0) += e.amount.as_atomic();
            }
            all
        })
    }
}

/// Funds escrow `id` with its amount and mines until its money is spendable. While the
/// server has not seen the funding, a block is mined about every 2 s, so a payment that
/// missed the first block (or a funding poll slowed by a loaded machine) still confirms.
fn fund(chain: &Chain, buyer: &User, id: i64) {
    let ready = buyer.wait_state(id, "awaiting_funding");
    chain.pay(ready["address"].as_str().unwrap(), PRICE);
    chain.mine(1);
    let mut polls = 0u32;
    wait(&format!("escrow {id} funded"), || {
        let e = buyer.escrow(id);
        assert_ne!(e["state"], "setup_failed", "{e}");
        if e["state"] == "funded" {
            return Some(());
        }
        polls += 1;
        if polls.is_multiple_of(10) {
            chain.mine(1);
        }
        None
    });
    chain.mine(10);
}

/// Rows of `escrow_steps` of escrow `id` for `step` with `status`.
fn steps(stack: &DeployStack, id: i64, step: &str, status: &str) -> i64 {
    stack.query_i64(
        "SELECT count(*) FROM escrow_steps WHERE escrow_id = ?1 AND step = ?2 AND status = ?3",
        rusqlite::params![id, step, status],
    )
}

/// Whether container `from` has an established TCP connection to `to_ip`:`port`
/// (`/proc/net/tcp`, state 01).
fn connected(from: &str, to_ip: &str, port: u16) -> bool {
    let octets: Vec<u8> = to_ip.split('.').map(|o| o.parse().unwrap()).collect();
    let remote = format!(
        "{:02X}{:02X}{:02X}{:02X}:{port:04X}",
        octets[3], octets[2], octets[1], octets[0]
    );
    docker_lines(&["exec", from, "cat", "/proc/net/tcp"])
        .iter()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == remote && f[3] == "01"
        })
}

/// A server's runner state and its escrow wallet-rpc calls (role wallets, `get_version`
/// probes left out), read by IP on the backend network: metrics first, then `/ready`.
fn sample(addr: &str) -> Option<(u64, Value)> {
    TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    // The runner state first, then the counters: a server seen released has finished its jobs,
    // so every later count includes all its calls. The other order counts a call made between
    // the two reads as one "after the release".
    let ready = try_http(addr, "GET", "/ready", "", None).ok()?;
    let metrics = try_http(addr, "GET", "/metrics", "", None).ok()?;
    if metrics.status != 200 || ready.json.is_null() {
        return None;
    }
    let calls = metrics
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("monero_rpc_duration_seconds_count{"))
        .filter_map(|rest| rest.split_once("} "))
        .filter(|(labels, _)| {
            ["buyer", "vendor", "arbiter"]
                .iter()
                .any(|w| labels.contains(&format!("wallet=\"{w}\"")))
                && !labels.contains("method=\"get_version\"")
        })
        .map(|(_, v)| v.trim().parse::<f64>().unwrap() as u64)
        .sum();
    Some((calls, ready.json["escrow_runner"].clone()))
}

fn logs(id: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", id])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn escrows_in_setup_and_between_prepare_and_submit_pay_out_once_across_a_deploy() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    ensure_stopgate_image();
    let stack = DeployStack::up_with(
        "mmctl-deployescrow",
        COMPOSE,
        ENV,
        &[
            ("relay.conf", &PROXY_CONF.replace("{TX}", "txgate:18085")),
            (
                "txgate.conf",
                &PROXY_CONF.replace("{TX}", "monerod-unrestricted:18085"),
            ),
        ],
    );
    let chain = Chain::start(&stack);
    let nginx = stack.nginx_addr();

    let vendor = User::register(&nginx, "vendor_deploy", "vendor");
    let body = json!({"address": chain.payout_address.as_str(), "password": PASSWORD});
    vendor.send("PUT", "/api/auth/me/payout-address", body, 200);
    let body = json!({"title": "Deploy goods", "description": "Deploy goods description", "price_xmr": PRICE, "stock": 10});
    let listing = vendor.send("POST", "/api/listings", body, 200)["listing_id"]
        .as_i64()
        .unwrap();
    let buyer_a = User::register(&nginx, "buyer_deploy_a", "buyer");
    let buyer_b = User::register(&nginx, "buyer_deploy_b", "buyer");

    // 1. Escrow A funded and spendable under blue; transaction relay held from here on.
    let (order_a, escrow_a) = buyer_a.order(listing);
    fund(&chain, &buyer_a, escrow_a);
    let blue = stack.container("server");
    let blue_name = docker_lines(&["inspect", "-f", "{{.Name}}", &blue])[0]
        .trim_start_matches('/')
        .to_owned();
    let txgate = stack.container("txgate");
    let txgate_ip = ip(&stack, &txgate, "daemon");
    let relay = stack.container("relay");
    let paused = Paused::pause(&txgate);

    // 2. B's first setup round stored, then A's payout prepared and its submit held.
    let (order_b, escrow_b) = buyer_b.order(listing);
    wait("B's prepare round", || {
        (steps(&stack, escrow_b, "prepare", "done") == 3).then_some(())
    });
    buyer_a.confirm(order_a);
    let prepared = buyer_a.wait_escrow(escrow_a, "prepared", |e| {
        e["state"] == "releasing" && e["payout"]["tx_hash"].is_string()
    });
    let hash_a = prepared["payout"]["tx_hash"].as_str().unwrap().to_owned();
    wait("the held submission", || {
        (steps(&stack, escrow_a, "payout_submit", "started") == 1
            && connected(&relay, &txgate_ip, 18085))
        .then_some(())
    });
    assert_eq!(buyer_b.escrow(escrow_b)["state"], "awaiting_setup");

    // 3. Blue off the wallet network, then the held transaction reaches the pool.
    let wallet_net = format!("{}_wallet", stack.guard.project());
    docker_lines(&["network", "disconnect", &wallet_net, &blue]);
    drop(paused);
    wait("A's payout in the pool", || {
        chain.received().contains_key(&hash_a).then_some(())
    });
    let stored = buyer_a.escrow(escrow_a);
    assert_eq!(
        (
            stored["state"].as_str(),
            stored["payout"]["submitted"].as_bool()
        ),
        (Some("releasing"), Some(false)),
        "{stored}"
    );
    assert_eq!(buyer_b.escrow(escrow_b)["state"], "awaiting_setup");

    // 4. The deploy, sampled: green calls no wallet-rpc before it holds the lease, blue none
    // after it released it. Blue (the stopgate image) serves on after its SIGTERM until the
    // gate opens, and the deploy stops blue only after the lease moved: blue is sampled there
    // at least once, released, before the gate opens.
    let gate = StopGate::new(&stack);
    let blue_addr = format!("{}:8080", ip(&stack, &blue, "backend"));
    let deploy = stack.mmctl(&["deploy", "--version", "v2", "--yes", "--json"]);
    let started = Instant::now();
    let deploy = std::thread::spawn(move || deploy.run());
    let mut standby_samples = 0;
    let mut blue_released: Option<u64> = None;
    let mut blue_released_samples = 0;
    let mut check_blue = |calls: u64, runner: &Value| {
        if runner["state"] != "released" {
            return;
        }
        blue_released_samples += 1;
        let at_release = *blue_released.get_or_insert(calls);
        assert_eq!(
            calls, at_release,
            "blue called wallet-rpc after the release"
        );
    };
    while !deploy.is_finished() {
        if gate.stopping() && !gate.is_open() {
            let (calls, runner) = wait("blue's sample at its stop", || sample(&blue_addr));
            assert_eq!(runner["state"], "released", "blue stopped unreleased");
            check_blue(calls, &runner);
            gate.open();
        }
        for (name, _, state) in stack.servers() {
            if state != "running" {
                continue;
            }
            let addr = format!("{}:8080", ip(&stack, &name, "backend"));
            if addr.starts_with(':') {
                continue;
            }
            let Some((calls, runner)) = sample(&addr) else {
                continue;
            };
            if name == blue_name {
                check_blue(calls, &runner);
            } else if runner["lease_held"] == false {
                standby_samples += 1;
                assert_eq!(
                    calls, 0,
                    "green called wallet-rpc without the lease: {runner}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = deploy.join().unwrap().assert_exit(0);
    let took = started.elapsed();
    let report: Value = out.json();
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert!(standby_samples > 0, "green was never seen as a standby");
    assert!(
        gate.is_open(),
        "blue was stopped without its stop being seen"
    );
    assert!(
        blue_released_samples > 0,
        "blue was never seen after the release"
    );
    let green = report["target"]["container"].as_str().unwrap().to_owned();
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));

    // Green resumes A's submit: the lookup by hash finds the transaction blue relayed.
    let released = buyer_a.wait_state(escrow_a, "released");
    assert_eq!(released["payout"]["tx_hash"], hash_a.as_str());
    let fee_a = released["payout"]["fee_xmr"].as_u64().unwrap();
    let green_log = logs(&green);
    let a_field = format!("escrow_id={escrow_a}");
    assert!(
        green_log
            .lines()
            .any(|l| l.contains("payout already known") && l.contains(&a_field)),
        "green did not find A's payout by hash:\n{green_log}"
    );
    assert!(
        !green_log
            .lines()
            .any(|l| l.contains("payout submitted") && l.contains(&a_field)),
        "green submitted A's payout again"
    );

    // B's setup finishes under green from its stored rounds; B pays out under green.
    fund(&chain, &buyer_b, escrow_b);
    buyer_b.confirm(order_b);
    let released_b = buyer_b.wait_state(escrow_b, "released");
    let hash_b = released_b["payout"]["tx_hash"].as_str().unwrap().to_owned();
    let fee_b = released_b["payout"]["fee_xmr"].as_u64().unwrap();
    let b_field = format!("escrow_id={escrow_b}");
    assert!(
        logs(&green)
            .lines()
            .any(|l| l.contains("multisig setup complete") && l.contains(&b_field)),
        "B's setup did not complete under green"
    );

    // Exactly one payout tx per escrow reached the vendor's wallet on chain.
    chain.mine(2);
    let received = chain.received();
    let expected = BTreeMap::from([(hash_a, PRICE - fee_a), (hash_b, PRICE - fee_b)]);
    assert_eq!(
        received, expected,
        "one payout per escrow, amount minus fee"
    );
    eprintln!("deploy took {took:?}");
}
