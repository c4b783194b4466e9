//! Signals that tell the truth, against the real `mmkt-server` binary: logs carry no colour codes
//! when stderr is not a terminal; escrow times are RFC 3339 as docs/API.md says (OpenAPI
//! `format: date-time`); and, on a real regtest network, a payout released before the escrow's
//! money unlocks shows `waiting_for` `unlock` with the blocks left, then pays out without the
//! expected "transaction not found" of the lookup before submission counting as an RPC error.

mod escrow_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use escrow_support::*;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Kills the server by PID when the test ends, also on panic.
struct Child9(Child);

impl Drop for Child9 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asserts `line` holds no ESC byte (the start of every ANSI escape sequence).
fn assert_plain(line: &str) {
    assert!(
        !line.contains('\u{1b}'),
        "ANSI escape code in a log line: {line:?}"
    );
}

#[tokio::test]
async fn logs_have_no_ansi_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmkt-server"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MMKT_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    // Development writes text logs, the format that colours its output on a terminal.
    let child = cmd
        .arg("serve")
        .env("MMKT_ENV", "development")
        .env("MMKT_BIND", "127.0.0.1:0")
        .env("MMKT_DB_PATH", dir.path().join("mmkt.db"))
        .env("MMKT_DB_KEY_FILE", dir.path().join("mmkt.key"))
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Child9(child);
    let stderr = server.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let listening = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server logs its listen address");
        assert_plain(&line);
        if line.contains("mmkt-server listening") {
            break line;
        }
    };
    let bind = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bind="))
        .unwrap_or_else(|| panic!("no bind= field: {listening}"));
    // A request, an error answer and a warning-level path all log.
    let client = reqwest::Client::new();
    for path in ["/health", "/api/escrows/1", "/no/such/route"] {
        client
            .get(format!("http://{bind}{path}"))
            .send()
            .await
            .unwrap();
    }
    let _ = server.0.kill();
    let _ = server.0.wait();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(!rest.is_empty(), "the requests logged nothing");
    rest.iter().for_each(|l| assert_plain(l));
}

/// Parses an RFC 3339 time from the JSON value, failing with the whole `context`.
fn rfc3339(value: &Value, context: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not an RFC 3339 string: {value} in {context}"));
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339 ({e}) in {context}"))
}

#[tokio::test]
async fn escrow_times_are_rfc3339_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(dir.path(), &[]);
    server.wait_ready().await;
    let vendor = register(&server, "vendor_times", "vendor").await;
    let buyer = register(&server, "buyer_times", "buyer").await;
    let listing_id = create_listing(&vendor, "Timed goods", 1_000_000_000, 3).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;

    let (status, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(status, StatusCode::OK, "{escrow}");
    let created = rfc3339(&escrow["created_at"], &escrow);
    let updated = rfc3339(&escrow["updated_at"], &escrow);
    assert!(created <= updated, "{escrow}");
    assert!(
        escrow["created_at"].as_str().unwrap().ends_with('Z'),
        "UTC: {escrow}"
    );
    assert!(
        escrow["funding_deadline"].is_null(),
        "no window before setup: {escrow}"
    );
    // The escrow's time is the order's, in the same format.
    let (_, order_view) = buyer.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(rfc3339(&order_view["created_at"], &order_view), created);

    // The OpenAPI document says so too.
    let (_, doc) = buyer.get("/api/openapi.json").await;
    let schema = &doc["components"]["schemas"]["EscrowDetail"]["properties"];
    for field in ["created_at", "updated_at", "funding_deadline"] {
        let property = &schema[field];
        assert_eq!(property["format"], "date-time", "{field}: {property}");
        let types = property["type"].to_string();
        assert!(types.contains("string"), "{field}: {property}");
    }
    let dispute = &doc["components"]["schemas"]["DisputeView"]["properties"];
    for field in ["opened_at", "resolved_at"] {
        assert_eq!(dispute[field]["format"], "date-time", "{field}: {dispute}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_before_unlock_waits_for_unlock_and_its_lookup_counts_no_error() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_unlock", "vendor").await;
    let buyer = register(&server, "buyer_unlock", "buyer").await;
    set_address(&vendor, "payout", &chain.payout_address).await;
    let listing_id = create_listing(&vendor, "Fresh coins", 300_000_000_000, 2).await;
    let (order_id, escrow_id) = order(&buyer, listing_id, 1).await;

    // Funded with one confirmation (the harness requires one), released at once: the money
    // unlocks only 10 blocks after the block that includes it.
    let ready = wait_escrow(&buyer, escrow_id, "awaiting_funding").await;
    let address = ready["address"].as_str().unwrap().to_owned();
    let amount = ready["amount_xmr"].as_u64().unwrap();
    chain.pay(&address, amount).await;
    chain.mine(1).await;
    wait_escrow(&buyer, escrow_id, "funded").await;
    let (status, body) = confirm(&buyer, order_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["waiting_for"].is_null(), "nothing tried yet: {body}");

    let waiting = wait_waiting(&buyer, escrow_id).await;
    assert_eq!(waiting["state"], "releasing", "{waiting}");
    assert_eq!(waiting["waiting_for"]["reason"], "unlock", "{waiting}");
    let left = waiting["waiting_for"]["blocks_left"]
        .as_u64()
        .unwrap_or_else(|| panic!("the wallet tells the blocks left: {waiting}"));
    assert!((1..=10).contains(&left), "{waiting}");
    assert!(waiting["payout"]["tx_hash"].is_null(), "{waiting}");
    // The vendor sees the same wait.
    let (_, seen) = vendor.get(&format!("/api/escrows/{escrow_id}")).await;
    assert_eq!(seen["waiting_for"]["reason"], "unlock", "{seen}");

    // Once the money unlocks, the payout goes ahead on its own and the wait is gone.
    chain.mine(left + 1).await;
    let released = wait_escrow(&buyer, escrow_id, "released").await;
    assert!(released["waiting_for"].is_null(), "{released}");
    assert!(released["payout"]["tx_hash"].is_string(), "{released}");

    // The submitter looked the payout up before submitting it ("not found" is the expected
    // answer), and that lookup is not an RPC error.
    let metrics = metrics_text(&server).await;
    let not_found: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("monero_rpc_errors_total{") && l.contains("transaction_not_found")
        })
        .collect();
    assert!(
        not_found.is_empty(),
        "expected answers counted as errors: {not_found:?}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("monero_rpc_duration_seconds")
                && l.contains("get_transfer_by_txid")),
        "the lookup ran and was timed:\n{metrics}"
    );
}

/// Polls the escrow until it shows a `waiting_for` reason.
async fn wait_waiting(user: &User, escrow_id: i64) -> Value {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let (_, escrow) = user.get(&format!("/api/escrows/{escrow_id}")).await;
        if !escrow["waiting_for"].is_null() {
            return escrow;
        }
        assert!(
            Instant::now() < deadline && escrow["state"] == "releasing",
            "escrow {escrow_id} never showed what its payout waits for: {escrow}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
