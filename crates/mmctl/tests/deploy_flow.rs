//! Deploys against the real Docker Engine: v1 -> v2 blue/green with a pre-deploy backup,
//! served through the real nginx afterwards; a rollback back to v1 from the local image; and
//! `--restore-db` refused once escrow events were written after the pre-deploy backup.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use deploy_support::*;

fn json(out: &Output) -> serde_json::Value {
    out.json()
}

#[test]
fn deploy_v2_then_rollback_then_restore_db_refused_after_escrow_events() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deploy");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);

    // v1 -> v2: one line per step on stderr, the report as JSON.
    let out = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0);
    let report = json(&out);
    assert_eq!(report["outcome"], "deployed", "{report:#}");
    assert_eq!(report["target"]["version"], "v2");
    assert_eq!(report["previous"]["version"], "v1");
    assert!(report["backup_id"].is_string(), "{report:#}");
    // Green joins nginx's network only after its checks: no pin, two reloads (switch, unpin).
    assert!(
        out.stderr()
            .lines()
            .any(|l| l.starts_with("pin") && l.contains("skipped") && l.contains("no pin needed")),
        "{}",
        out.stderr()
    );
    for step in [
        "lock", "backup", "image", "green", "ready", "smoke", "switch", "watch", "drain", "unpin",
        "history",
    ] {
        assert!(
            out.stderr()
                .lines()
                .any(|l| l.starts_with(step) && l.contains(" ok ")),
            "step {step}:\n{}",
            out.stderr()
        );
    }
    let green = report["target"]["container"].as_str().unwrap().to_string();
    assert_eq!(
        stack.servers(),
        vec![(green.clone(), format!("{IMAGE}:v2"), "running".into())]
    );
    let (status, body) = stack.get("/health");
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
    assert_eq!(stack.get("/api/listings").0, 200);
    assert!(!stack.lock_exists(), "the lock was not released");

    // History and status, read back from the target host.
    let history = json(&stack.run(&["deploy", "history", "--json"]).assert_exit(0));
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{history:#}");
    assert_eq!(entries[0]["outcome"], "deployed");
    assert_eq!(entries[0]["backup_id"], report["backup_id"]);
    assert_eq!(entries[0]["migrated"], false, "same schema: {history:#}");
    let status = json(&stack.run(&["deploy", "status", "--json"]).assert_exit(0));
    assert_eq!(status["servers"][0]["version"], "v2", "{status:#}");
    assert!(status["lock"].is_null());

    // Rollback: back to v1 from its local image.
    let out = stack.run(&["rollback", "--yes", "--json"]).assert_exit(0);
    assert_eq!(json(&out)["target"]["version"], "v1");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);

    // Deploy v2 again, then escrow events happen after its pre-deploy backup.
    stack
        .run(&["deploy", "--version", "v2", "--yes"])
        .assert_exit(0);
    let conn = stack.ws.connect();
    // Events of escrows this test does not create: no escrow rows to reference.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for (escrow, event) in [(42, "funded"), (42, "confirmed"), (7, "disputed")] {
        conn.execute(
            "INSERT INTO escrow_events (escrow_id, event, actor, from_state, to_state, created_at) VALUES (?1, ?2, 'system', 'a', 'b', 0)",
            rusqlite::params![escrow, event],
        )
        .unwrap();
    }
    drop(conn);
    stack
        .run(&["rollback", "--restore-db", "--yes"])
        .assert_exit(15)
        .assert_stderr_contains("3 escrow event(s)")
        .assert_stderr_contains("escrow 7 (1), escrow 42 (2)")
        .assert_stderr_contains("deploy a fixed version");
    assert_eq!(
        stack.only_server_image(),
        format!("{IMAGE}:v2"),
        "the refused rollback changed the stack"
    );
    assert!(!stack.lock_exists());
    let history = json(&stack.run(&["deploy", "history", "--json"]).assert_exit(0));
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("rollback"), Some("failed")),
        "{last:#}"
    );
}
