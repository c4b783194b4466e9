//! Deploys of faulty versions under load through the real nginx, against the real Docker
//! Engine: a version that passes `/ready` but fails a smoke check is never switched to (exit
//! 13, no request reaches it, nothing fails); a version that answers 5xx after the switch is
//! rolled back automatically within the watch window (exit 14, the old version serves again).
//! The faulty versions are test-support's `fault-server` in the server image; every answer it
//! gives carries `x-mmkt-fault`, so the load counts exactly the requests it served.

mod backup_support;
mod deploy_support;
mod harness;
mod load_support;
mod stack_harness;

use std::time::Duration;

use deploy_support::*;
use load_support::*;

const SETTLE: Duration = Duration::from_secs(2);

fn last_history(stack: &DeployStack) -> serde_json::Value {
    let history: serde_json::Value = stack
        .run(&["deploy", "history", "--json"])
        .assert_exit(0)
        .json();
    history.as_array().unwrap().last().unwrap().clone()
}

#[test]
fn a_smoke_failure_is_never_switched_to_and_a_5xx_spike_is_rolled_back() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    ensure_fault_images();
    let stack = DeployStack::up("mmctl-deployfault");
    let skip = ["--skip-backup", "--reason", "fault test", "--yes"];

    // Passes /ready, fails GET /api/openapi.json: refused before the switch.
    let args = [&["deploy", "--version", SMOKE_FAULT][..], &skip].concat();
    let UnderLoad { out, tally, .. } = run_under_load(&stack, plan(&stack), &args, SETTLE);
    out.assert_exit(13)
        .assert_stderr_contains("GET /api/openapi.json")
        .assert_stderr_contains("HTTP 500");
    eprintln!("smoke fault: {tally}");
    assert_eq!(
        tally.marked, 0,
        "nginx sent requests to the smoke-failed green: {tally}"
    );
    assert_eq!(tally.failed(), 0, "{tally}");
    assert!(tally.ok > 0, "{tally}");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert!(!stack.lock_exists());
    let last = last_history(&stack);
    assert_eq!(last["outcome"], "failed", "{last:#}");

    // Passes the smoke checks, then answers 500 on /api/*: rolled back by the watch.
    let args = [&["deploy", "--version", SPIKE_FAULT, "--json"][..], &skip].concat();
    let UnderLoad { out, tally, .. } = run_under_load(&stack, plan(&stack), &args, SETTLE);
    let report: serde_json::Value = out
        .assert_exit(14)
        .assert_stderr_contains("rolled back automatically")
        .json();
    eprintln!("5xx spike: {tally}");
    assert_eq!(report["outcome"], "rolled_back", "{report:#}");
    assert!(
        report["reason"].as_str().unwrap_or("").contains("5xx"),
        "{report:#}"
    );
    let steps = report["steps"].as_array().expect("steps");
    let status_of = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .map(|s| s["status"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(status_of("switch").as_deref(), Some("ok"), "{report:#}");
    assert_eq!(status_of("watch").as_deref(), Some("failed"), "{report:#}");
    assert_eq!(status_of("rollback").as_deref(), Some("ok"), "{report:#}");
    assert_eq!(
        status_of("drain"),
        None,
        "blue must not be drained: {report:#}"
    );
    // The spike reached clients (it was switched to), and only through the faulty version.
    assert!(tally.marked > 0, "the faulty green never served: {tally}");
    assert!(tally.server_errors > 0, "{tally}");
    assert!(
        tally.server_errors <= tally.marked,
        "a 5xx came from v1: {tally}"
    );
    assert_eq!(
        tally.connect_errors + tally.timeouts + tally.broken,
        0,
        "{tally}"
    );
    // Back on v1: the faulty container is gone and nothing it serves is left.
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert!(!stack.lock_exists());
    let after = idle_tally(&stack, 2);
    assert_eq!((after.failed(), after.marked), (0, 0), "{after}");
    assert!(after.ok > 0, "{after}");
    let last = last_history(&stack);
    assert_eq!(last["outcome"], "rolled_back", "{last:#}");
}
