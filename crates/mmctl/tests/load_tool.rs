//! `mmkt-load`'s CI profile against a real stack (the server image behind the real nginx image
//! with deploy/nginx/nginx.conf): both scenarios must meet their thresholds (exit 0) and write
//! their JSON, text and HTML reports, and nginx must have seen the load from many source
//! addresses. The tool runs inside nginx's network namespace (`nsenter -n`), where 127.0.0.x
//! reaches nginx directly: through the published port Docker's proxy would hide every client
//! address behind one, and nginx's per-address limits would apply to the whole load.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use std::collections::HashSet;
use std::process::Command;

use deploy_support::*;
use stack_harness::cargo_binary;

/// The nginx container's id and its main process's PID (for `nsenter -t PID -n`).
fn nginx(stack: &DeployStack) -> (String, String) {
    let id = stack.container("nginx");
    let pid = docker_lines(&["inspect", "-f", "{{.State.Pid}}", &id]);
    (id, pid[0].clone())
}

#[test]
fn the_ci_profile_meets_its_thresholds_through_nginx_from_many_addresses() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let binary = cargo_binary("mmkt-loadtest", "mmkt-load");
    let stack = DeployStack::up("loadtool");
    let (nginx_id, pid) = nginx(&stack);
    let reports = tempfile::tempdir().expect("temp dir");
    for scenario in ["http-endpoints", "escrow-flow"] {
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-n"])
            .arg(&binary)
            .args([
                "--scenario",
                scenario,
                "--profile",
                "ci",
                "--base-url",
                "http://127.0.0.1:8080",
                "--out",
            ])
            .arg(reports.path())
            .output()
            .expect("run nsenter mmkt-load");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{scenario}:\n{text}");
        assert!(text.contains("PASSED"), "{text}");
        let json = std::fs::read_to_string(reports.path().join(format!("{scenario}.json")))
            .expect("JSON report");
        let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report parses");
        assert_eq!(report["passed"], true, "{json}");
        assert_eq!(report["profile"], "ci");
        assert!(report["total"]["requests"].as_u64().unwrap() > 0, "{json}");
        assert!(
            report["requests"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["p95_ms"].as_f64().is_some()),
            "{json}"
        );
        let summary =
            std::fs::read_to_string(reports.path().join(format!("{scenario}-summary.txt")))
                .unwrap();
        assert!(
            summary.contains("req/s") && summary.contains("p99 ms"),
            "{summary}"
        );
        let html =
            std::fs::read_to_string(reports.path().join(format!("{scenario}.html"))).unwrap();
        assert!(
            html.contains("<svg") && html.contains("response time (ms)"),
            "latency plots"
        );
        assert!(
            reports
                .path()
                .join(format!("{scenario}-goose.html"))
                .is_file()
        );
    }
    // nginx's access log (JSON lines): the requests came from many source addresses.
    let log = Command::new("docker")
        .args(["logs", &nginx_id])
        .output()
        .expect("docker logs");
    let addresses: HashSet<String> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["uri"].as_str().is_some_and(|u| u.starts_with("/api/")))
        .filter_map(|v| v["remote_addr"].as_str().map(str::to_string))
        .collect();
    assert!(
        addresses.len() >= 50,
        "nginx saw {} client addresses: {addresses:?}",
        addresses.len()
    );
    assert!(
        addresses
            .iter()
            .all(|a| a.starts_with("127.0.0.") && a != "127.0.0.1"),
        "{addresses:?}"
    );
}
