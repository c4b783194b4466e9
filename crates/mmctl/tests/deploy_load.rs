//! Deploy and rollback under continuous bounded load through the stack's real nginx (loopback
//! only): every request counted, none may fail. The load is spread over several loopback
//! source addresses (127.0.0.2..) as separate clients; nginx's 429s are counted apart from
//! failures (the rate limit is kept as deployed).

mod backup_support;
mod deploy_support;
mod harness;
mod load_support;
mod stack_harness;

use std::time::Duration;

use deploy_support::*;
use load_support::*;

/// Load before and after each mmctl run, so requests straddle every step.
const SETTLE: Duration = Duration::from_secs(2);

#[test]
fn deploy_and_rollback_under_load_fail_no_request() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deployload");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));

    // v1 -> v2 under load.
    let UnderLoad { out, took, tally } = run_under_load(
        &stack,
        plan(&stack),
        &["deploy", "--version", "v2", "--yes", "--json"],
        SETTLE,
    );
    let report: serde_json::Value = out.assert_exit(0).json();
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    let t = &tally;
    eprintln!("deploy v1 -> v2 in {took:?}: {t}");
    assert!(t.ok > 0, "the load reached nothing: {t}");
    assert_eq!(t.failed(), 0, "requests failed during the deploy: {t}");
    assert_eq!(t.marked, 0, "{t}");
    // v2 serves afterwards: the only server container runs v2, and nginx answers through it.
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));
    let (status, body) = stack.get("/health");
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
    let status: serde_json::Value = stack
        .run(&["deploy", "status", "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(status["servers"][0]["version"], "v2", "{status:#}");

    // v2 -> v1 under the same load.
    let UnderLoad { out, took, tally } = run_under_load(
        &stack,
        plan(&stack),
        &["rollback", "--yes", "--json"],
        SETTLE,
    );
    let report: serde_json::Value = out.assert_exit(0).json();
    assert_eq!(report["target"]["version"], "v1", "{report:#}");
    let t = &tally;
    eprintln!("rollback v2 -> v1 in {took:?}: {t}");
    assert!(t.ok > 0, "the load reached nothing: {t}");
    assert_eq!(t.failed(), 0, "requests failed during the rollback: {t}");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);
}
