//! Deploys that must not go through, against the real Docker Engine: a second concurrent
//! deploy fails on the lock (exit 10) and leaves nothing behind; a stale lock is named and
//! cleared by `deploy unlock`; a broken image (the server exits at start) aborts with exit 12
//! while v1 keeps serving; bad input is a usage error (exit 2) before anything is touched.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use std::time::{Duration, Instant};

use deploy_support::*;

#[test]
fn bad_input_is_a_usage_error() {
    let root = workspace_root();
    let compose = root.join("deploy/docker-compose.yml");
    let file = compose.to_str().unwrap();
    Mmctl::new()
        .args(["deploy", "--env", "nowhere", "--file", file, "--yes"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("unknown environment \"nowhere\"");
    Mmctl::new()
        .args(["deploy", "--env", "development", "--skip-backup", "--yes"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("--reason");
    Mmctl::new()
        .args(["deploy", "--yes"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("needs --env");
    Mmctl::new()
        .args(["rollback", "--env", "nowhere", "--file", file, "--yes"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("unknown environment");
    Mmctl::new()
        .args(["deploy", "--env", "development", "--file", file])
        .run()
        .assert_exit(4)
        .assert_stderr_contains("refusing without --yes");
}

#[test]
fn lock_stale_lock_and_broken_image() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deployfail");

    // Two deploys at once: the second fails on the lock, naming holder and start time.
    let mut first = stack
        .mmctl(&["deploy", "--version", "v2", "--yes"])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stack.lock_exists() {
        assert!(
            Instant::now() < deadline,
            "the first deploy never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stack
        .run(&["deploy", "--version", "v2", "--yes"])
        .assert_exit(10)
        .assert_stderr_contains("held by")
        .assert_stderr_contains("since")
        .assert_stderr_contains("mmctl deploy unlock");
    assert!(first.wait().unwrap().success(), "the first deploy failed");
    assert_eq!(
        stack.only_server_image(),
        format!("{IMAGE}:v2"),
        "the locked-out deploy left something behind"
    );
    assert!(!stack.lock_exists());

    // A stale lock (an interrupted run) is named, then cleared by `deploy unlock`.
    docker_lines(&[
        "volume",
        "create",
        "--label",
        &format!("com.docker.compose.project={}", stack.guard.project()),
        "--label",
        "org.mmkt.deploy.holder=ops@old-host",
        "--label",
        "org.mmkt.deploy.since=2026-01-01T00:00:00Z",
        &format!("{}_deploy-lock", stack.guard.project()),
    ]);
    stack
        .run(&["deploy", "--version", "v1", "--yes"])
        .assert_exit(10)
        .assert_stderr_contains("ops@old-host since 2026-01-01T00:00:00Z");
    stack
        .run(&["deploy", "unlock"])
        .assert_exit(0)
        .assert_stdout_contains("cleared the deploy lock");
    assert!(!stack.lock_exists());

    // A broken image: green exits at start; the deploy aborts, v2 keeps serving, nothing left.
    stack
        .run(&[
            "deploy",
            "--version",
            "broken",
            "--skip-backup",
            "--reason",
            "test",
            "--yes",
        ])
        .assert_exit(12)
        .assert_stderr_contains("did not become ready")
        .assert_stderr_contains("broken-marker");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));
    assert_eq!(stack.get("/health").0, 200);
    assert!(!stack.lock_exists());
    let last = stack.last_history();
    assert_eq!(
        (last["outcome"].as_str(), last["backup_skipped"].as_str()),
        (Some("failed"), Some("test")),
        "{last:#}"
    );
}
