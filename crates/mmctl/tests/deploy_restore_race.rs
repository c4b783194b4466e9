//! `mmctl rollback --restore-db` counts the escrow events after the pre-deploy backup twice:
//! before anything changes (step `restore_db`) and again once blue has stopped (step
//! `restore`). Events written between the two, while blue stops, must make it refuse, start
//! blue again on its own database and restore nothing.
//!
//! Made deterministic without timing: blue runs the image `stopgate`, the server image whose
//! entrypoint, on SIGTERM, writes `stopping` into the data directory and waits for the file
//! `go` there before passing the signal on to the server. The test writes the events between
//! the two files, that is after the first count and before blue has stopped.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use std::time::{Duration, Instant};

use deploy_support::*;

/// The tag of the server image whose SIGTERM waits for the test.
const STOPGATE: &str = "stopgate";

/// The wrapper around the server image's entrypoint.
const GATE: &str = "/usr/local/bin/mmkt-server-entrypoint & pid=$!; \
trap 'touch /app/data/stopping; while [ ! -e /app/data/go ]; do sleep 0.1; done; kill -TERM $pid' TERM; \
wait $pid; wait $pid";

fn escrow_events(stack: &DeployStack) -> i64 {
    stack
        .ws
        .connect()
        .query_row("SELECT count(*) FROM escrow_events", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn restore_db_refuses_when_escrow_events_arrive_while_blue_stops() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let entrypoint = serde_json::to_string(&["/bin/sh", "-c", GATE]).unwrap();
    build(
        &format!("{IMAGE}:{STOPGATE}"),
        &format!("FROM mmkt/server:latest\nENTRYPOINT {entrypoint}\n"),
    );
    let stack = DeployStack::up("mmctl-restorerace");
    stack
        .run(&["deploy", "--version", STOPGATE, "--yes"])
        .assert_exit(0);
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:{STOPGATE}"));
    let before = escrow_events(&stack);
    let data = stack.ws.db.parent().unwrap().to_owned();

    let rollback = stack.mmctl(&["rollback", "--restore-db", "--yes"]);
    let rollback = std::thread::spawn(move || rollback.run());
    // Blue got SIGTERM: the first count found nothing, the second has not run yet.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !data.join("stopping").exists() {
        assert!(
            !rollback.is_finished(),
            "the rollback ended before stopping blue: {:?}",
            rollback.join().unwrap()
        );
        assert!(Instant::now() < deadline, "blue was never stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    let conn = stack.ws.connect();
    // Events of an escrow this test does not create: no escrow row to reference.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for event in ["funded", "confirmed"] {
        conn.execute(
            "INSERT INTO escrow_events (escrow_id, event, actor, from_state, to_state, created_at) VALUES (9, ?1, 'system', 'a', 'b', 0)",
            [event],
        )
        .unwrap();
    }
    drop(conn);
    std::fs::write(data.join("go"), "").unwrap();

    let out = rollback
        .join()
        .unwrap()
        .assert_exit(15)
        .assert_stderr_contains(
            "2 escrow event(s) were written after the pre-deploy backup while blue was stopping",
        )
        .assert_stderr_contains("Deploy a fixed version");
    assert!(
        out.stderr()
            .lines()
            .any(|l| l.starts_with("stop_blue") && l.contains(" ok ")),
        "{}",
        out.stderr()
    );
    // Blue serves again on its own database: the events are kept, nothing was restored.
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:{STOPGATE}"));
    assert_eq!(stack.get("/health").0, 200);
    assert_eq!(escrow_events(&stack), before + 2);
    let copies = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".pre-restore-"))
        .count();
    assert_eq!(copies, 0, "a refused rollback made a pre-restore copy");
    assert!(!stack.lock_exists());
    let history: serde_json::Value = stack
        .run(&["deploy", "history", "--json"])
        .assert_exit(0)
        .json();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("rollback"), Some("failed")),
        "{last:#}"
    );
}
