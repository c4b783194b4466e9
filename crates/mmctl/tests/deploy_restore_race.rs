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

fn escrow_events(stack: &DeployStack) -> i64 {
    stack.query_i64("SELECT count(*) FROM escrow_events", [])
}

#[test]
fn restore_db_refuses_when_escrow_events_arrive_while_blue_stops() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    ensure_stopgate_image();
    let stack = DeployStack::up("mmctl-restorerace");
    stack
        .run(&["deploy", "--version", STOPGATE, "--yes"])
        .assert_exit(0);
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:{STOPGATE}"));
    let before = escrow_events(&stack);
    let data = stack.ws.db.parent().unwrap().to_owned();
    let gate = StopGate::new(&stack);

    let rollback = stack.mmctl(&["rollback", "--restore-db", "--yes"]);
    let rollback = std::thread::spawn(move || rollback.run());
    // Blue got SIGTERM: the first count found nothing, the second has not run yet.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !gate.stopping() {
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
    gate.open();

    let out = rollback
        .join()
        .unwrap()
        .assert_exit(15)
        .assert_stderr_contains(
            "2 escrow event(s) were written after the pre-deploy backup while blue was stopping",
        )
        .assert_stderr_contains("Deploy a fixed version");
    assert_step(&out, "stop_blue", " ok ");
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
    let last = stack.last_history();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("rollback"), Some("failed")),
        "{last:#}"
    );
}
