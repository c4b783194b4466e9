//! The pre-restore copies `mmctl restore db` leaves are bounded: `mmctl backup prune` reports
//! them and keeps the newest N (default 5, `--keep-pre-restore` / MMKT_BACKUP_KEEP_PRE_RESTORE),
//! a dry run removes none, and a retention of 0 or garbage is refused with nothing removed.

mod backup_support;
mod harness;

use backup_support::*;

/// The prune report's entries of kind `pre-restore`: (file name, action).
fn pre_restore_entries(report: &[serde_json::Value]) -> Vec<(String, String)> {
    report
        .iter()
        .filter(|e| e["kind"] == "pre-restore")
        .map(|e| {
            assert_eq!(e["location"], "local", "{e}");
            (
                e["id"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn prune_keeps_the_newest_pre_restore_copies_and_reports_them() {
    let ws = Workspace::new();
    ws.seed(10);
    ws.backup_db();
    // Six restores; before restore i the live DB holds 10 + i listings, so each copy is
    // recognisable by its row count.
    for i in 1..=6 {
        insert_listings(&ws.connect(), i);
        ws.run(&["restore", "db", "latest", "--yes", "--no-docker"])
            .assert_exit(0);
    }
    let all = ws.pre_restore_copies();
    assert_eq!(all.len(), 6, "{:?}", ws.data_dir_names());

    // A retention of 0 or a garbage value: usage error, nothing removed.
    ws.run(&["backup", "prune", "--keep-pre-restore", "0"])
        .assert_exit(2)
        .assert_stderr_contains("--keep-pre-restore");
    ws.mmctl(&["backup", "prune"])
        .env("MMKT_BACKUP_KEEP_PRE_RESTORE", "many")
        .run()
        .assert_exit(2)
        .assert_stderr_contains("many");
    assert_eq!(ws.pre_restore_copies(), all);

    // A dry run reports all six (five kept by default, the oldest to remove) and removes none.
    let report: Vec<serde_json::Value> = ws
        .run(&["backup", "prune", "--dry-run", "--json"])
        .assert_exit(0)
        .json();
    let entries = pre_restore_entries(&report);
    assert_eq!(entries.len(), 6, "{report:?}");
    let removed: Vec<&str> = entries
        .iter()
        .filter(|(_, a)| a == "remove")
        .map(|(n, _)| n.as_str())
        .collect();
    let oldest = all.iter().map(|p| p.file_name().unwrap()).min().unwrap();
    assert_eq!(removed, [oldest.to_str().unwrap()]);
    assert_eq!(ws.pre_restore_copies(), all);

    // Keep the newest two: exactly the copies of the last two restores remain.
    ws.run(&["backup", "prune", "--keep-pre-restore", "2"])
        .assert_exit(0)
        .assert_stdout_contains("pre-restore");
    let kept = ws.pre_restore_copies();
    assert_eq!(kept.len(), 2, "{:?}", ws.data_dir_names());
    let mut rows: Vec<u64> = kept
        .iter()
        .map(|p| count(&open(p, &ws.key), "listings"))
        .collect();
    rows.sort();
    assert_eq!(rows, [15, 16], "the newest copies are kept");
    assert!(
        !ws.data_dir_names().iter().any(|n| n.ends_with("-wal")
            && n.contains(".pre-restore-")
            && !kept
                .iter()
                .any(|k| n.starts_with(k.file_name().unwrap().to_str().unwrap()))),
        "a removed copy's -wal is removed too: {:?}",
        ws.data_dir_names()
    );
    // The live database and the backups are untouched.
    assert_eq!(count(&ws.connect(), "listings"), 10);
    assert_eq!(ws.list().len(), 1);
}
