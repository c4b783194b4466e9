//! Logins under load, against the real `mmkt-server` binary: 64 clients log in as fast as they
//! can for 20 s, each from its own address (`X-Real-IP`, as nginx sets it), so the per-IP limit
//! does not hide the password hashing. The server's resident memory, read from
//! `/proc/<pid>/status`, must stay under the container's 512 MiB limit (`mem_limit` in
//! deploy/docker-compose.yml) and fall back near its idle size afterwards, and every request must
//! get an answer: 200, or 429 when the hashing queue is full. The numbers printed here are the
//! ones in docs/BENCHMARKS.md, "Logins under load".

mod escrow_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use escrow_support::*;
use reqwest::{Client, StatusCode};
use serde_json::json;

/// The server container's memory limit (`SERVER_MEM_LIMIT`, default 512m).
const CONTAINER_LIMIT_KIB: u64 = 512 * 1024;
/// Concurrent clients.
const CLIENTS: usize = 64;
/// How long they keep logging in.
const LOAD: Duration = Duration::from_secs(20);
/// Accounts the clients log in to (round robin).
const ACCOUNTS: usize = 8;
/// How far above its idle size the server may stay once the load is over.
const SETTLED_MARGIN_KIB: u64 = 64 * 1024;

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server is running");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    throttled: AtomicU64,
    other: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_parallel_logins_stay_under_the_container_limit_and_give_memory_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_without_chain(
        dir.path(),
        &[("MMKT_CLIENT_IP_SOURCE", "x-real-ip"), ("RUST_LOG", "warn")],
    );
    server.wait_ready().await;
    let pid = server.pid().expect("server pid");
    for n in 0..ACCOUNTS {
        register(&server, &format!("load_user_{n}"), "buyer").await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = status_kib(pid, "VmRSS");

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut curve = Vec::new();
            while !stop.load(Ordering::Acquire) {
                let rss = status_kib(pid, "VmRSS");
                curve.push((started.elapsed().as_millis(), rss));
                if rss > CONTAINER_LIMIT_KIB {
                    // The container would be killed now; stop loading this machine.
                    stop.store(true, Ordering::Release);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            curve
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (tally, stop, url) = (tally.clone(), stop.clone(), server.url("/api/auth/login"));
            tokio::spawn(async move {
                // Not a timed assertion: a request that has no answer in 60 s failed.
                let http = Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap();
                let body = json!({"username": format!("load_user_{}", n % ACCOUNTS), "password": PASSWORD});
                let ip = format!("198.51.100.{}", n + 1);
                while started.elapsed() < LOAD && !stop.load(Ordering::Acquire) {
                    let sent = http
                        .post(&url)
                        .header("x-real-ip", &ip)
                        .json(&body)
                        .send()
                        .await;
                    let counter = match sent.as_ref().map(|r| r.status()) {
                        Ok(StatusCode::OK) => &tally.ok,
                        Ok(StatusCode::TOO_MANY_REQUESTS) => {
                            let r = sent.unwrap();
                            assert!(r.headers().contains_key("retry-after"), "429 without Retry-After");
                            let body: serde_json::Value = r.json().await.unwrap();
                            assert_eq!(body["error"]["code"], "login_queue_full", "{body}");
                            &tally.throttled
                        }
                        Ok(status) => {
                            eprintln!("client {n}: unexpected status {status}");
                            &tally.other
                        }
                        Err(e) => {
                            eprintln!("client {n}: no answer: {e}");
                            &tally.other
                        }
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Release);
    let curve = sampler.await.unwrap();
    let peak = status_kib(pid, "VmHWM");

    // Back near idle: polled, with a generous bound on how long the allocator may take.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = status_kib(pid, "VmRSS");
    while settled > idle + SETTLED_MARGIN_KIB && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        settled = status_kib(pid, "VmRSS");
    }

    let (ok, throttled, other) = (
        tally.ok.load(Ordering::Relaxed),
        tally.throttled.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    let secs = elapsed.as_millis().max(1);
    eprintln!(
        "logins: {CLIENTS} clients for {} ms: {ok} x 200, {throttled} x 429, {other} other; {} req/s answered, {} logins/s",
        elapsed.as_millis(),
        u128::from(ok + throttled + other) * 1000 / secs,
        u128::from(ok) * 1000 / secs,
    );
    eprintln!(
        "rss: idle {} MiB, peak {} MiB, after {} MiB",
        idle / 1024,
        peak / 1024,
        settled / 1024
    );
    let points: Vec<String> = curve
        .iter()
        .map(|(ms, kib)| format!("{}.{}s={}MiB", ms / 1000, ms % 1000 / 100, kib / 1024))
        .collect();
    eprintln!("rss curve: {}", points.join(" "));

    assert!(
        peak < CONTAINER_LIMIT_KIB,
        "peak RSS {} MiB reached the container limit of 512 MiB",
        peak / 1024
    );
    assert_eq!(other, 0, "every request gets 200 or 429");
    assert!(ok > 0, "some logins succeeded");
    assert!(
        settled <= idle + SETTLED_MARGIN_KIB,
        "RSS stayed at {} MiB after the load (idle {} MiB)",
        settled / 1024,
        idle / 1024
    );
}
