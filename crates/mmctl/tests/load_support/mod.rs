//! Helpers of the deploy load and fault tests (and the deploy benchmark) on top of the deploy
//! stack (`deploy_support`): the fault images (test-support's `fault-server` in place of the
//! server binary, on the server image), the nginx URL of a deploy stack, and mmctl runs under
//! a bounded load through that nginx (test-support's `load`), every request counted.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub use test_support::load::{Load, LoadPlan, Tally, loopback_sources};

use crate::deploy_support::{DeployStack, FileLock, IMAGE, Output};
use crate::stack_harness::cargo_binary;

/// The fault image tag that passes `/ready` and fails the smoke check `GET /api/openapi.json`.
pub const SMOKE_FAULT: &str = "fault-smoke";
/// The fault image tag that passes the smoke checks, then answers 500 on every `/api/*`.
pub const SPIKE_FAULT: &str = "fault-spike";
/// The header every fault-server answer carries (its mode as the value).
pub const FAULT_HEADER: &str = "x-mmkt-fault";

/// Requests per second of the test load, over every source address.
pub const RATE: u32 = 16;
/// Paths of the test load, in turn: half of [`RATE`] on `/api/` (rate-limited by nginx to
/// 10 r/s per client address), half on `/health` (not limited).
pub const PATHS: [&str; 2] = ["/health", "/api/listings"];
/// Source addresses of the test load (127.0.0.2 ..).
pub const SOURCES: u8 = 4;

/// test-support's `fault-server`, next to the mmctl binary (same profile directory), built on
/// demand (a `cargo nextest run -p mmctl` builds only mmctl's own binaries).
pub fn fault_binary() -> PathBuf {
    cargo_binary("test-support", "fault-server")
}

/// Builds `IMAGE:fault-smoke` and `IMAGE:fault-spike`: the deploy test server image
/// (`IMAGE:v1`, its healthcheck and user kept) running `fault-server` in the given mode.
/// Call after `ensure_test_images`.
pub fn ensure_fault_images() {
    let binary = fault_binary();
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-deploy-fault-images.lock"));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&binary, dir.path().join("fault-server")).expect("copy fault-server");
    for (tag, mode) in [(SMOKE_FAULT, "smoke"), (SPIKE_FAULT, "spike")] {
        let dockerfile = format!(
            "FROM {IMAGE}:v1\nCOPY fault-server /usr/local/bin/fault-server\nENV FAULT_MODE={mode}\nENTRYPOINT [\"/usr/local/bin/fault-server\"]\n"
        );
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &format!("{IMAGE}:{tag}")])
            .arg(dir.path())
            .output()
            .expect("docker build");
        assert!(
            out.status.success(),
            "docker build {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `http://127.0.0.1:PORT` of the stack's nginx (its published 8080).
pub fn nginx_url(stack: &DeployStack) -> String {
    format!("http://{}", stack.nginx_addr())
}

/// The test load against the stack's nginx: [`RATE`] over [`PATHS`] from [`SOURCES`]
/// loopback addresses, fresh connections, fault-server answers counted as marked.
pub fn plan(stack: &DeployStack) -> LoadPlan {
    let mut plan = LoadPlan::new(&nginx_url(stack), &PATHS, RATE);
    plan.sources = loopback_sources(SOURCES);
    plan.marker_header = Some(FAULT_HEADER.into());
    plan
}

/// What one mmctl run under load gave.
pub struct UnderLoad {
    /// The mmctl run.
    pub out: Output,
    /// How long the mmctl run took.
    pub took: Duration,
    /// Every request of the load, from `settle` before the run to `settle` after it.
    pub tally: Tally,
}

/// Runs `mmctl ARGS` against the stack while `plan`'s load runs, from `settle` before the
/// run to `settle` after it.
pub fn run_under_load(
    stack: &DeployStack,
    plan: LoadPlan,
    args: &[&str],
    settle: Duration,
) -> UnderLoad {
    let load = Load::start(plan).expect("start the load");
    std::thread::sleep(settle);
    let started = Instant::now();
    let out = stack.run(args);
    let took = started.elapsed();
    std::thread::sleep(settle);
    UnderLoad {
        out,
        took,
        tally: load.stop(),
    }
}

/// Counts of a short load with no deploy running: what the stack serves now.
pub fn idle_tally(stack: &DeployStack, secs: u64) -> Tally {
    let load = Load::start(plan(stack)).expect("start the load");
    std::thread::sleep(Duration::from_secs(secs));
    load.stop()
}
