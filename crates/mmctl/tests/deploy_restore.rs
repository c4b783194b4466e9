//! `mmctl rollback --restore-db` against the real Docker Engine when no escrow event postdates
//! the pre-deploy backup: a backup no trusted key signed changes nothing; a target that never
//! becomes ready brings blue back on its own database, with nginx pinned to it; then the real
//! rollback restores the backup, so v1 serves on v1's schema after v2 "migrated" it (its
//! `user_version` bumped).
//! The refusal after escrow events is in deploy_flow.rs.

mod backup_support;
mod deploy_support;
mod harness;
mod stack_harness;

use deploy_support::*;

fn user_version(stack: &DeployStack) -> i64 {
    stack.query_i64("PRAGMA user_version", [])
}

fn has_marker(stack: &DeployStack) -> bool {
    let sql = "SELECT count(*) FROM sqlite_schema WHERE name = 'written_after_backup'";
    stack.query_i64(sql, []) == 1
}

#[test]
fn rollback_restore_db_restores_the_backup_and_brings_blue_back_on_failure() {
    if !docker_available() {
        return;
    }
    ensure_test_images();
    let stack = DeployStack::up("mmctl-deployrestore");
    let v1_schema = user_version(&stack);
    let report: serde_json::Value = stack
        .run(&["deploy", "--version", "v2", "--yes", "--json"])
        .assert_exit(0)
        .json();
    let backup = report["backup_id"].as_str().unwrap().to_string();
    // v2 writes after its pre-deploy backup (no escrow event): a table the backup lacks.
    stack
        .ws
        .connect()
        .execute_batch("CREATE TABLE written_after_backup (x INTEGER)")
        .unwrap();

    // A backup no trusted key signed: refused before blue is touched.
    let other = stack.ws.path("other-signing.key");
    let other_public = stack
        .ws
        .run(&["backup", "keygen", "--out", other.to_str().unwrap()])
        .assert_exit(0)
        .stdout()
        .trim()
        .to_owned();
    stack
        .mmctl(&["rollback", "--restore-db", "--yes"])
        .env("MMKT_BACKUP_VERIFY_KEYS", &other_public)
        .run()
        .assert_exit(1)
        .assert_stderr_contains("does not verify with any trusted key");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));
    assert!(
        has_marker(&stack),
        "the refused restore changed the database"
    );
    assert!(!stack.lock_exists());

    // No identity: a usage error, nothing changed.
    stack
        .mmctl(&["rollback", "--restore-db", "--yes"])
        .env_remove("MMKT_BACKUP_IDENTITY_FILE")
        .run()
        .assert_exit(2);
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));

    // The restored target never becomes ready: blue (v2) is started again on its own
    // database, the pre-restore copy put back.
    let out = stack
        .run(&["rollback", "--to", "broken", "--restore-db", "--yes"])
        .assert_exit(12)
        .assert_stderr_contains("broken-marker");
    assert_step(&out, "rollback", "serves again");
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v2"));
    // Blue restarted with a new address, and nginx is pinned to it, not left on the service
    // name or an address nobody has.
    let blue = stack.servers().remove(0).0;
    let (ok, detail) = health_pin(&stack, 0);
    assert!(
        ok && detail.starts_with(&format!("pinned to {blue} at ")),
        "{detail}"
    );
    assert_eq!(stack.get("/health").0, 200);
    assert!(has_marker(&stack), "blue's database was not put back");
    assert!(!stack.lock_exists());
    let last = stack.last_history();
    assert_eq!(last["outcome"], "failed", "{last:#}");
    assert!(last.get("restored_db").is_none(), "{last:#}");

    // v2 "migrated": v1 refuses a database newer than it knows, so v1 serves below only on
    // the restored backup.
    stack
        .ws
        .connect()
        .execute_batch(&format!("PRAGMA user_version = {}", v1_schema + 1))
        .unwrap();
    let out = stack
        .run(&["rollback", "--restore-db", "--yes", "--json"])
        .assert_exit(0);
    let report: serde_json::Value = out.json();
    assert_eq!(report["target"]["version"], "v1", "{report:#}");
    assert_eq!(report["restored_db"], backup.as_str(), "{report:#}");
    for step in [
        "restore_db",
        "stop_blue",
        "restore",
        "green",
        "ready",
        "smoke",
        "switch",
    ] {
        assert_step(&out, step, " ok ");
    }
    assert_eq!(stack.only_server_image(), format!("{IMAGE}:v1"));
    assert_eq!(stack.get("/health").0, 200);
    assert_eq!(stack.get("/api/listings").0, 200);
    assert_eq!(user_version(&stack), v1_schema);
    assert!(!has_marker(&stack), "the backup was not restored");
    let data = stack.ws.db.parent().unwrap();
    let kept = std::fs::read_dir(data)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".pre-restore-"));
    assert!(kept, "no pre-restore copy of the replaced database");
    assert!(!stack.lock_exists());
    let last = stack.last_history();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("rollback"), Some("deployed")),
        "{last:#}"
    );
    assert_eq!(last["restored_db"], backup.as_str(), "{last:#}");
}
