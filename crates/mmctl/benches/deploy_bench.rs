//! Deploy benchmark (docs/BENCHMARKS.md), one run against the real Docker Engine and the
//! stack's real nginx: `mmctl deploy` v1 -> v2, `mmctl rollback` back to v1, then the naive
//! way, `mmctl up` with the env file's tag changed to v2 (the server recreated in place), and
//! `mmctl restart server`, each under the same bounded load (test-support's `load`: every
//! request counted), printed as a Markdown table with the deploy and rollback steps' times.
//!
//! ```sh
//! cargo bench -p mmctl --bench deploy_bench --profile dev
//! DEPLOY_BENCH_CONNECTIONS=keep-alive cargo bench -p mmctl --bench deploy_bench --profile dev
//! ```
//!
//! `DEPLOY_BENCH_CONNECTIONS`: `fresh` (default, a new connection per request) or
//! `keep-alive` (connections reused per source address, as browsers do).
//!
//! The stack is the deploy tests' (crates/mmctl/tests/deploy_support/): its env file sets
//! `MMKT_DEPLOY_WATCH_SECS=2` and `MMKT_DEPLOY_DRAIN_SECS=1`, so deploy and rollback times
//! here are the switch itself; production's watch (60 s) and drain (30 s) add to them.

#[path = "../tests/backup_support/mod.rs"]
mod backup_support;
#[path = "../tests/deploy_support/mod.rs"]
mod deploy_support;
#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "../tests/load_support/mod.rs"]
mod load_support;
#[path = "../tests/stack_harness/mod.rs"]
mod stack_harness;

use std::time::Duration;

use deploy_support::*;
use load_support::*;
use test_support::load::Connections;

/// Load before and after each command, so requests straddle every step.
const SETTLE: Duration = Duration::from_secs(2);

/// One table row.
struct Row {
    what: &'static str,
    exit: i32,
    took: Duration,
    tally: Tally,
}

/// The `step ms` list of a `--json` deploy report.
fn steps(out: &Output) -> String {
    let report: serde_json::Value = out.json();
    report["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| format!("{} {} ms", s["step"].as_str().unwrap_or("?"), s["millis"]))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The connection mode `DEPLOY_BENCH_CONNECTIONS` asks for.
fn connections() -> Connections {
    match std::env::var("DEPLOY_BENCH_CONNECTIONS").as_deref() {
        Err(_) | Ok("fresh") => Connections::Fresh,
        Ok("keep-alive") => Connections::KeepAlive,
        Ok(other) => {
            eprintln!("deploy_bench: DEPLOY_BENCH_CONNECTIONS={other:?}: use fresh or keep-alive");
            std::process::exit(2);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this target takes no other argument.
    let connections = connections();
    if !docker_available() {
        eprintln!("deploy_bench: no Docker Engine reachable");
        std::process::exit(1);
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deploybench");
    let mut rows = Vec::new();
    let mut breakdown = Vec::new();
    let mut measure = |what: &'static str, args: &[&str]| {
        let mut plan = plan(&stack);
        plan.connections = connections;
        let UnderLoad { out, took, tally } = run_under_load(&stack, plan, args, SETTLE);
        eprintln!("{what}: exit {} in {took:?}: {tally}", out.code());
        if args.contains(&"--json") {
            breakdown.push((what, steps(&out)));
        }
        rows.push(Row {
            what,
            exit: out.code(),
            took,
            tally,
        });
    };
    measure(
        "mmctl deploy --version v2 (v1 -> v2)",
        &["deploy", "--version", "v2", "--yes", "--json"],
    );
    measure(
        "mmctl rollback (v2 -> v1)",
        &["rollback", "--yes", "--json"],
    );
    let env_file = stack.ws.dir.path().join("env/test.env");
    let env = std::fs::read_to_string(&env_file).expect("read the env file");
    std::fs::write(&env_file, env.replace("MMKT_VERSION=v1", "MMKT_VERSION=v2"))
        .expect("write the env file");
    measure(
        "naive: mmctl up, MMKT_VERSION v1 -> v2",
        &["up", "--timeout", "120"],
    );
    measure(
        "mmctl restart server",
        &["restart", "server", "--timeout", "120"],
    );
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));

    println!(
        "load: {RATE} req/s through nginx ({} on /api/listings, {} on /health), {SOURCES} loopback \
         source addresses, connections {connections:?}, {} s before and after each command; \
         {} cores",
        RATE / 2,
        RATE / 2,
        SETTLE.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| command | exit | took (s) | requests | 2xx | 429 | failed | of which 5xx | connect errors | timeouts | broken |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let t = &r.tally;
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.what,
            r.exit,
            r.took.as_secs_f64(),
            t.sent,
            t.ok,
            t.rate_limited,
            t.failed(),
            t.server_errors,
            t.connect_errors,
            t.timeouts,
            t.broken
        );
    }
    println!();
    for (what, steps) in breakdown {
        println!("- {what}: {steps}");
    }
    for r in rows.iter().filter(|r| !r.tally.first_failures.is_empty()) {
        println!("\nfirst failures of {}:", r.what);
        for f in &r.tally.first_failures {
            println!("    {f}");
        }
    }
}
