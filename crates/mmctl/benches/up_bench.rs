//! `mmctl up` benchmark (docs/BENCHMARKS.md): the real stack (`deploy/docker-compose.yml`,
//! development env file, its 10 s healthcheck interval, the project images present) brought up
//! from nothing to every service healthy, alternately by `mmctl up` and by Debian's
//! docker-compose v1 (`docker-compose up -d`, then `docker ps` polled every 200 ms until every
//! container of the project shows `(healthy)`), several times each, in one run. Prints a
//! Markdown table, the medians and their ratio, and each tool's per-service ready times.
//!
//! ```sh
//! cargo bench -p mmctl --bench up_bench --profile dev
//! UP_BENCH_ITERATIONS=5 cargo bench -p mmctl --bench up_bench --profile dev
//! ```
//!
//! Each run gets its own compose project and fresh volumes (so both tools create monerod's
//! chain and the server's database every time), removed by the tool that made it. Published
//! ports are ephemeral (`127.0.0.1:0`), so a stack already running on the host does not
//! collide.

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "../tests/stack_harness/mod.rs"]
mod stack_harness;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::Mmctl;
use stack_harness::{ProjectGuard, docker_available, docker_lines, ensure_images};

/// Debian's docker-compose v1.
const DOCKER_COMPOSE: &str = "/usr/bin/docker-compose";
const COMPOSE_FILE: &str = "deploy/docker-compose.yml";
const ENV_FILE: &str = "deploy/env/development.env";
/// How often `docker ps` is polled while docker-compose's stack comes up.
const POLL: Duration = Duration::from_millis(200);
/// Ephemeral loopback ports for everything published.
const PORTS: [(&str, &str); 4] = [
    ("MMKT_HTTP_BIND", "127.0.0.1:0"),
    ("MMKT_HTTPS_BIND", "127.0.0.1:0"),
    ("MMKT_ACME_BIND", "127.0.0.1:0"),
    ("GRAFANA_BIND", "127.0.0.1:0"),
];

/// One tool's run: total time; per service, seconds from the run's start until it was ready,
/// and (mmctl only) from its own container's start.
struct Run {
    took: Duration,
    ready: BTreeMap<String, f64>,
    own: BTreeMap<String, f64>,
}

/// `docker-compose -p PROJECT --env-file ... -f ... ARGS`, ports ephemeral, from the
/// workspace root.
fn compose(project: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(DOCKER_COMPOSE);
    cmd.current_dir(harness::workspace_root())
        .args(["-p", project, "--env-file", ENV_FILE, "-f", COMPOSE_FILE])
        .args(args)
        .envs(PORTS);
    cmd
}

/// `mmctl ARGS` with the development env and ephemeral ports (Docker's healthcheck keeps the
/// env file's 10 s interval).
fn mmctl(args: &[&str]) -> harness::Output {
    PORTS
        .iter()
        .fold(Mmctl::new(), |m, (k, v)| m.env(k, v))
        .args(args)
        .run()
}

/// `mmctl up` to every service ready; its per-service lines give the ready times.
fn mmctl_up(project: &str) -> Run {
    let start = Instant::now();
    let out = mmctl(&[
        "up",
        "-p",
        project,
        "--env",
        "development",
        "--timeout",
        "300",
    ]);
    let took = start.elapsed();
    let out = out.assert_exit(0);
    // service NAME healthy (probe answered, A s after its start, B s into up)
    let times: Vec<(String, f64, f64)> = out
        .stdout()
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("service ")?;
            let (service, what) = rest.split_once(' ')?;
            let detail = what.trim().strip_prefix("healthy (")?;
            let mut parts = detail.split(", ").skip(1);
            let own = parts.next()?.strip_suffix(" s after its start")?;
            let into = parts.next()?.strip_suffix(" s into up)")?;
            Some((service.to_string(), own.parse().ok()?, into.parse().ok()?))
        })
        .collect();
    mmctl(&["down", "-p", project, "--volumes"]).assert_exit(0);
    Run {
        took,
        ready: times
            .iter()
            .map(|(s, _, into)| (s.clone(), *into))
            .collect(),
        own: times.into_iter().map(|(s, own, _)| (s, own)).collect(),
    }
}

/// Every container of the project: service -> whether `docker ps` shows it healthy (or up,
/// without a healthcheck).
fn compose_states(guard: &ProjectGuard) -> BTreeMap<String, bool> {
    docker_lines(&[
        "ps",
        "-a",
        "--filter",
        &guard.filter(),
        "--format",
        "{{.Label \"com.docker.compose.service\"}}\t{{.Status}}",
    ])
    .into_iter()
    .filter_map(|l| {
        let (service, status) = l.split_once('\t')?;
        let healthy = status.starts_with("Up")
            && (status.contains("(healthy)") || !status.contains("(health"));
        Some((service.to_string(), healthy))
    })
    .collect()
}

/// `docker-compose up -d`, then `docker ps` until every container shows healthy.
fn compose_up(guard: &ProjectGuard) -> Run {
    let project = guard.project();
    let start = Instant::now();
    // docker-compose's own output goes to the bench's stderr.
    let mut child = compose(project, &["up", "-d"])
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot start docker-compose");
    let mut ready = BTreeMap::new();
    let mut compose_done = false;
    loop {
        let states = compose_states(guard);
        for (service, healthy) in &states {
            if *healthy && !ready.contains_key(service) {
                ready.insert(service.clone(), start.elapsed().as_secs_f64());
            }
        }
        if !compose_done && let Some(status) = child.try_wait().expect("docker-compose") {
            assert!(status.success(), "docker-compose up -d failed: {status}");
            compose_done = true;
        }
        if compose_done && !states.is_empty() && states.values().all(|h| *h) {
            break;
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("docker-compose's stack not healthy after 300 s: {states:?}");
        }
        std::thread::sleep(POLL);
    }
    let _ = child.wait();
    let took = start.elapsed();
    let down = compose(project, &["down", "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cannot run docker-compose down");
    assert!(down.success(), "docker-compose down -v failed");
    Run {
        took,
        ready,
        own: BTreeMap::new(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn iterations() -> usize {
    match std::env::var("UP_BENCH_ITERATIONS") {
        Err(_) => 3,
        Ok(v) => v.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
            eprintln!("up_bench: UP_BENCH_ITERATIONS={v:?}: give a whole number, 1 or more");
            std::process::exit(2);
        }),
    }
}

fn main() {
    let iterations = iterations();
    if !docker_available() {
        eprintln!("up_bench: no Docker Engine reachable");
        std::process::exit(1);
    }
    let check = compose("mmkt-upbench-check", &["config", "-q"])
        .status()
        .expect("cannot run /usr/bin/docker-compose");
    assert!(
        check.success(),
        "docker-compose does not accept {COMPOSE_FILE}"
    );
    ensure_images();
    let mut mmctl_runs = Vec::new();
    let mut compose_runs = Vec::new();
    for i in 0..iterations {
        // Alternate which tool goes first, so neither always meets a warm page cache.
        let mmctl_guard = ProjectGuard::new(&format!("mmkt-upbench-m{i}"));
        let compose_guard = ProjectGuard::new(&format!("mmkt-upbench-c{i}"));
        if i % 2 == 0 {
            mmctl_runs.push(mmctl_up(mmctl_guard.project()));
            compose_runs.push(compose_up(&compose_guard));
        } else {
            compose_runs.push(compose_up(&compose_guard));
            mmctl_runs.push(mmctl_up(mmctl_guard.project()));
        }
        eprintln!(
            "iteration {i}: mmctl {:.1} s, docker-compose {:.1} s",
            mmctl_runs[i].took.as_secs_f64(),
            compose_runs[i].took.as_secs_f64()
        );
    }
    println!(
        "{iterations} iterations, {} cores, images present, fresh volumes each run",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| run | mmctl up (s) | docker-compose up -d + healthy (s) | ratio |");
    println!("|---|---|---|---|");
    for (i, (m, c)) in mmctl_runs.iter().zip(&compose_runs).enumerate() {
        let (m, c) = (m.took.as_secs_f64(), c.took.as_secs_f64());
        println!("| {} | {m:.1} | {c:.1} | {:.2} |", i + 1, m / c);
    }
    let secs = |runs: &[Run]| runs.iter().map(|r| r.took.as_secs_f64()).collect();
    let (m, c) = (median(secs(&mmctl_runs)), median(secs(&compose_runs)));
    println!("| median | {m:.1} | {c:.1} | **{:.2}** |", m / c);
    println!();
    println!(
        "Median seconds until each service was ready, from the start of the run (and, for \
         mmctl, from its own container's start):"
    );
    println!();
    println!("| service | mmctl (probe) | its own start | docker-compose (`docker ps` healthy) |");
    println!("|---|---|---|---|");
    let at = |runs: &[Run], times: fn(&Run) -> &BTreeMap<String, f64>, service: &str| {
        let v: Vec<f64> = runs
            .iter()
            .filter_map(|r| times(r).get(service))
            .copied()
            .collect();
        if v.is_empty() { f64::NAN } else { median(v) }
    };
    for service in mmctl_runs[0].ready.keys() {
        println!(
            "| {service} | {:.1} | {:.1} | {:.1} |",
            at(&mmctl_runs, |r| &r.ready, service),
            at(&mmctl_runs, |r| &r.own, service),
            at(&compose_runs, |r| &r.ready, service)
        );
    }
}
