//! Incremental `mmctl backup db --full-every` against real SQLCipher files and the real binary:
//! a chain of one full backup and page deltas taken under concurrent writes, every point
//! restored (`restore db ID`, `--at TIME`) and compared with the live rows; a missing or
//! corrupt link named by `verify` and `restore` with the newest good point; kill -9 at every
//! fault-injection point of a delta; and retention that never leaves a delta without its base.

mod backup_support;
mod harness;

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backup_support::*;
use rusqlite::Connection;

/// Runs one chained `backup db` and returns its manifest.
fn chained_backup(ws: &Workspace) -> serde_json::Value {
    let manifests: Vec<serde_json::Value> = ws
        .run(&["backup", "db", "--full-every", "1h", "--json"])
        .assert_exit(0)
        .json();
    manifests.into_iter().next().unwrap()
}

fn id(manifest: &serde_json::Value) -> &str {
    manifest["id"].as_str().unwrap()
}

fn parent(manifest: &serde_json::Value) -> Option<&str> {
    manifest["db"]["chain"]["parent"].as_str()
}

/// The listings with id <= `upto`, as one text (rows are never updated, so a restore of any
/// point must show exactly the live rows up to its row count).
fn listings_upto(conn: &Connection, upto: u64) -> String {
    conn.query_row(
        "SELECT count(*) || ':' || coalesce(group_concat(id || '|' || title || '|' || description || '|' || price_atomic, ';'), '')
         FROM (SELECT * FROM listings WHERE id <= ?1 ORDER BY id)",
        [upto as i64],
        |r| r.get(0),
    )
    .unwrap()
}

/// Restores backup `id` with the real `restore db` into a new file and checks it against the
/// live rows: the rebuilt file's listings are exactly the live ones up to its row count (the
/// count the manifest records, for a full backup; a delta records none). Returns that count.
fn restore_and_compare(ws: &Workspace, selector: &[&str], manifest: &serde_json::Value) -> u64 {
    let dest = ws.path(&format!("restored-{}.db", id(manifest)));
    let mut args = vec!["restore", "db"];
    args.extend_from_slice(selector);
    args.extend(["--yes", "--no-docker", "--db", dest.to_str().unwrap()]);
    ws.run(&args).assert_exit(0);
    let restored = open(&dest, &ws.key);
    let rows = count(&restored, "listings");
    let recorded = manifest["db"]["row_counts"]["listings"].as_u64();
    match parent(manifest) {
        None => assert_eq!(Some(rows), recorded, "{}", id(manifest)),
        Some(_) => assert_eq!(recorded, None, "a delta records no row counts"),
    }
    assert_eq!(integrity(&restored), "ok");
    let same = listings_upto(&restored, i64::MAX as u64) == listings_upto(&ws.connect(), rows);
    assert!(same, "restored {} differs from the live rows", id(manifest));
    rows
}

#[test]
fn a_chain_taken_under_concurrent_writes_restores_every_point() {
    let ws = Workspace::new();
    ws.seed(20_000);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let conn = ws.connect();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                insert_listings(&conn, 50);
            }
        })
    };
    let manifests: Vec<serde_json::Value> = (0..4).map(|_| chained_backup(&ws)).collect();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let full = &manifests[0];
    assert_eq!(parent(full), None, "the first backup is a full one: {full}");
    assert!(full["data_file"].as_str().unwrap().ends_with(".db.zst.age"));
    for (i, delta) in manifests.iter().enumerate().skip(1) {
        assert_eq!(parent(delta), Some(id(&manifests[i - 1])), "{delta}");
        assert_eq!(delta["db"]["chain"]["base"], full["id"]);
        assert_eq!(delta["db"]["chain"]["depth"], i);
        assert!(
            delta["data_file"]
                .as_str()
                .unwrap()
                .ends_with(".delta.zst.age")
        );
        // Only changed pages: far fewer than the database has.
        let changed = delta["db"]["chain"]["changed_pages"].as_u64().unwrap();
        let pages = delta["db"]["page_count"].as_u64().unwrap();
        assert!(changed < pages / 2, "{changed} of {pages} pages in {delta}");
        assert_eq!(
            delta["db"]["database_size"].as_u64().unwrap(),
            pages * delta["db"]["page_size"].as_u64().unwrap()
        );
        assert!(delta["db"]["page_list_sha256"].as_str().unwrap().len() == 64);
    }

    let results: Vec<serde_json::Value> = ws
        .run(&["backup", "verify", "--all", "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    assert!(
        results[3]["checks"]
            .as_array()
            .unwrap()
            .contains(&"chain".into())
    );

    for manifest in &manifests {
        // Whole 50-row transactions only, even in a delta: counted in the rebuilt file.
        let rows = restore_and_compare(&ws, &[id(manifest)], manifest);
        assert_eq!((rows - 20_000) % 50, 0, "{manifest}");
    }
    // --at: the newest backup taken at or before that time.
    let at = manifests[2]["created_at"].as_str().unwrap();
    restore_and_compare(&ws, &["--at", at], &manifests[2]);
    ws.run(&[
        "restore",
        "db",
        "--at",
        "2000-01-01T00:00:00Z",
        "--yes",
        "--no-docker",
    ])
    .assert_exit(52)
    .assert_stderr_contains("no database backup was taken at or before");
    ws.run(&["restore", "db", "--at", "yesterday", "--yes", "--no-docker"])
        .assert_exit(2);
}

#[test]
fn a_missing_or_corrupt_link_is_named_and_the_newest_good_point_offered() {
    let ws = Workspace::new();
    ws.seed(5_000);
    let mut manifests = Vec::new();
    for _ in 0..4 {
        insert_listings(&ws.connect(), 300);
        manifests.push(chained_backup(&ws));
    }
    let (d1, d2, d3) = (id(&manifests[1]), id(&manifests[2]), id(&manifests[3]));

    // Corrupt link: one flipped byte in d2's data file.
    let d2_data = ws.data_file(&manifests[2]);
    let original = std::fs::read(&d2_data).unwrap();
    flip_byte(&d2_data);
    let out = ws.run(&["backup", "verify", d3, "--json"]).assert_exit(51);
    let results: Vec<serde_json::Value> = out.json();
    assert_eq!(results[0]["chain_break"]["first_bad"], d2, "{results:?}");
    assert_eq!(results[0]["chain_break"]["problem"]["kind"], "corrupt");
    assert_eq!(results[0]["chain_break"]["newest_good"], d1);
    // The default (newest of each kind) is d3 too.
    ws.run(&["backup", "verify"]).assert_exit(51);
    let restored = ws.path("restored.db");
    let restore = |selector: &str| {
        ws.run(&[
            "restore",
            "db",
            selector,
            "--yes",
            "--no-docker",
            "--db",
            restored.to_str().unwrap(),
        ])
    };
    let out = restore("latest").assert_exit(51);
    assert!(
        out.stderr().contains(d2) && out.stderr().contains(d1),
        "{}",
        out.stderr()
    );
    assert!(!restored.exists(), "nothing is written for a broken chain");
    // The offered point restores.
    restore_and_compare(&ws, &[d1], &manifests[1]);

    // Missing link: d2's manifest gone.
    std::fs::write(&d2_data, original).unwrap();
    ws.run(&["backup", "verify", d3]).assert_exit(0);
    std::fs::remove_file(ws.backups.join(format!("{d2}.json"))).unwrap();
    let out = ws.run(&["backup", "verify", d3, "--json"]).assert_exit(50);
    let results: Vec<serde_json::Value> = out.json();
    assert_eq!(results[0]["chain_break"]["first_bad"], d2);
    assert_eq!(results[0]["chain_break"]["problem"]["kind"], "missing");
    assert_eq!(results[0]["chain_break"]["newest_good"], d1);
    let out = ws
        .run(&[
            "restore",
            "db",
            d3,
            "--yes",
            "--no-docker",
            "--db",
            ws.path("other.db").to_str().unwrap(),
        ])
        .assert_exit(50);
    assert!(out.stderr().contains(d1), "{}", out.stderr());

    // The missing base: nothing before it is good.
    std::fs::remove_file(ws.data_file(&manifests[0])).unwrap();
    let results: Vec<serde_json::Value> = ws
        .run(&["backup", "verify", d1, "--json"])
        .assert_exit(50)
        .json();
    assert_eq!(results[0]["chain_break"]["first_bad"], manifests[0]["id"]);
    assert!(results[0]["chain_break"]["newest_good"].is_null());
}

/// Starts a chained backup that pauses at `point`, waits until it says so on stderr, then
/// kills it with SIGKILL (by PID) and reaps it.
fn kill_9_at(ws: &Workspace, point: &str) {
    let mut mmctl = ws
        .mmctl(&["backup", "db", "--full-every", "1h"])
        .env(mmkt_backup::chain::FAULT_PAUSE_ENV, point);
    let mut child = mmctl
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let paused = stderr
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(&format!("paused at {point}")));
    assert!(paused, "mmctl ended without reaching {point}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_9_at_any_step_of_a_delta_never_leaves_a_chain_that_restores_wrong() {
    let ws = Workspace::new();
    ws.seed(5_000);
    let mut head = chained_backup(&ws);
    // A writer keeps inserting while the backups are taken, killed and taken again.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let conn = ws.connect();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                insert_listings(&conn, 20);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    for point in [
        "data-written",
        "data-renamed",
        "signature-written",
        "manifest-written",
    ] {
        insert_listings(&ws.connect(), 200);
        let before: Vec<String> = ws.list().iter().map(|b| b["id"].to_string()).collect();
        kill_9_at(&ws, point);
        let after = ws.list();
        let killed_is_complete = point == "manifest-written";
        assert_eq!(
            after.len(),
            before.len() + usize::from(killed_is_complete),
            "{point}"
        );
        // Whatever the kill left, the next backup and every point of the chain check out.
        insert_listings(&ws.connect(), 200);
        let next = chained_backup(&ws);
        assert_eq!(
            parent(&next),
            Some(id(&head)),
            "{point}: the next delta builds on the last indexed head"
        );
        ws.run(&["backup", "verify", "--all"]).assert_exit(0);
        restore_and_compare(&ws, &[id(&next)], &next);
        head = next;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // prune removes what the killed runs left.
    ws.run(&["backup", "prune", "--local-only"]).assert_exit(0);
    let names: Vec<String> = std::fs::read_dir(&ws.backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| is_temp(n)), "{names:?}");
}

#[test]
fn retention_removes_whole_chains_and_never_leaves_a_delta_without_its_base() {
    let ws = Workspace::new();
    ws.seed(2_000);
    // Chain A (full + 2 deltas), then chain B: a full (forced by --max-deltas 0) + 1 delta.
    let mut ids = Vec::new();
    for _ in 0..3 {
        insert_listings(&ws.connect(), 100);
        ids.push(id(&chained_backup(&ws)).to_owned());
    }
    insert_listings(&ws.connect(), 100);
    let manifests: Vec<serde_json::Value> = ws
        .run(&[
            "backup",
            "db",
            "--full-every",
            "1h",
            "--max-deltas",
            "0",
            "--json",
        ])
        .assert_exit(0)
        .json();
    assert_eq!(
        parent(&manifests[0]),
        None,
        "--max-deltas 0 starts a new chain"
    );
    let chain_b = id(&manifests[0]).to_owned();
    ids.push(chain_b.clone());
    insert_listings(&ws.connect(), 100);
    ids.push(id(&chained_backup(&ws)).to_owned());

    // keep-last 1 keeps the newest delta: its whole chain B stays, chain A goes as a whole.
    let args = [
        "backup",
        "prune",
        "--local-only",
        "--keep-last",
        "1",
        "--keep-hourly",
        "0",
        "--keep-daily",
        "0",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
    ];
    ws.run(&args).assert_exit(0);
    let left: Vec<String> = ws.list().iter().map(|b| id(b).to_owned()).collect();
    assert_eq!(left, ids[3..].to_vec(), "chain B whole, chain A gone");
    ws.run(&["backup", "verify", "--all"]).assert_exit(0);
}

/// The `apply-deltas.py` script of docs/BACKUP.md ("Incremental backups", "Format").
fn documented_script() -> String {
    let doc = std::fs::read_to_string(harness::workspace_root().join("docs/BACKUP.md")).unwrap();
    let start = doc
        .find("```python\n#!/usr/bin/env python3\n# apply-deltas.py")
        .unwrap();
    let body = &doc[start + "```python\n".len()..];
    body[..body.find("```").unwrap()].to_owned()
}

#[test]
fn the_documented_script_rebuilds_a_chain_with_only_age_and_zstd() {
    let ws = Workspace::new();
    ws.seed(3_000);
    let mut manifests = Vec::new();
    for _ in 0..3 {
        insert_listings(&ws.connect(), 400);
        manifests.push(chained_backup(&ws));
    }
    // A shrinking database: the last delta must truncate the file.
    ws.connect()
        .execute_batch("DELETE FROM listings WHERE id > 100; VACUUM;")
        .unwrap();
    manifests.push(chained_backup(&ws));
    let last = manifests.last().unwrap();
    assert!(last["db"]["page_count"].as_u64() < manifests[2]["db"]["page_count"].as_u64());

    let decrypt = |manifest: &serde_json::Value, out: &std::path::Path| {
        let script = format!(
            "age -d -i '{}' '{}' | zstd -d -q > '{}'",
            ws.identity_file.display(),
            ws.data_file(manifest).display(),
            out.display()
        );
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    };
    let db = ws.path("by-hand.sqlite");
    decrypt(&manifests[0], &db);
    let script = ws.path("apply-deltas.py");
    std::fs::write(&script, documented_script()).unwrap();
    let mut apply = std::process::Command::new("python3");
    apply.arg(&script).arg(&db);
    for delta in &manifests[1..] {
        let pages = ws.path(&format!("{}.pages", id(delta)));
        decrypt(delta, &pages);
        apply
            .arg(ws.backups.join(format!("{}.json", id(delta))))
            .arg(&pages);
    }
    let out = apply.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Stock SQLite (Python's, no SQLCipher, no key) opens it and sees the last point's rows.
    let check = format!(
        "import sqlite3; c = sqlite3.connect('file:{}?mode=ro', uri=True); \
         print(c.execute('pragma integrity_check').fetchone()[0], c.execute('select count(*) from listings').fetchone()[0])",
        db.display()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&check)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok 100",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    restore_and_compare(&ws, &[id(last)], last);
}

#[test]
fn a_chained_backup_with_no_change_writes_nothing_and_still_succeeds() {
    let ws = Workspace::new();
    ws.seed(500);
    let head = chained_backup(&ws);
    let files = backup_files(&ws);
    let out = ws
        .run(&["backup", "db", "--full-every", "1h", "--json"])
        .assert_exit(0)
        .assert_stderr_contains(&format!("database unchanged since {}", id(&head)));
    let written: Vec<serde_json::Value> = out.json();
    assert!(written.is_empty(), "{written:?}");
    assert_eq!(
        backup_files(&ws),
        files,
        "no data file, signature or manifest"
    );
    // A change after it is a delta of the same head.
    insert_listings(&ws.connect(), 10);
    let next = chained_backup(&ws);
    assert_eq!(parent(&next), Some(id(&head)));
    restore_and_compare(&ws, &[id(&next)], &next);
}

/// The names in the backup directory, sorted.
fn backup_files(ws: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&ws.backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A `backup db --every` process, SIGKILLed (by PID) if the test panics before it stops.
struct Looping {
    child: std::process::Child,
    stderr: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Looping {
    fn stderr_count(&self, needle: &str) -> usize {
        let lines = self.stderr.lock().unwrap();
        lines.iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Looping {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `done` every 100 ms for up to two minutes.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn backup_every_interval_ships_changes_only_records_each_run_and_stops_cleanly_on_sigterm() {
    let ws = Workspace::new();
    ws.seed(500);
    let metrics = ws.path("textfile");
    std::fs::create_dir(&metrics).unwrap();
    let prom = metrics.join("mmctl_backup_db.prom");
    let mut mmctl = ws
        .mmctl(&["backup", "db", "--full-every", "1h", "--every", "1s"])
        .arg("--metrics-textfile-dir")
        .arg(&metrics);
    let mut child = mmctl
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (pipe, lines) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let looping = Looping { child, stderr };
    let succeeded = |prom: &std::path::Path, value: u8| {
        std::fs::read_to_string(prom).is_ok_and(|text| {
            text.contains(&format!(
                "mmctl_last_run_success{{job=\"backup_db\"}} {value}"
            ))
        })
    };
    wait_until("the first backup", || {
        ws.list().len() == 1 && succeeded(&prom, 1)
    });
    // Runs with no change write nothing and are fresh runs.
    wait_until("two unchanged runs", || {
        looping.stderr_count("database unchanged") >= 2
    });
    assert_eq!(ws.list().len(), 1);
    assert!(succeeded(&prom, 1));
    insert_listings(&ws.connect(), 10);
    wait_until("a delta of the change", || ws.list().len() == 2);
    // A failed run is reported and recorded, and the loop goes on.
    let moved = ws.path("key.moved");
    std::fs::rename(&ws.key_file, &moved).unwrap();
    wait_until("a failed run recorded", || succeeded(&prom, 0));
    assert!(looping.stderr_count("error: the backup failed") >= 1);
    std::fs::rename(&moved, &ws.key_file).unwrap();
    insert_listings(&ws.connect(), 10);
    wait_until("the loop recovering", || {
        ws.list().len() == 3 && succeeded(&prom, 1)
    });
    let mut looping = looping;
    let pid = i32::try_from(looping.child.id()).unwrap();
    // SAFETY: kill(2) on the PID of the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = looping.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{:?}",
        looping.stderr.lock().unwrap()
    );
    let names = backup_files(&ws);
    assert!(!names.iter().any(|n| is_temp(n)), "{names:?}");
    let series = mmkt_backup::manifest::Series {
        kind: mmkt_backup::manifest::BackupKind::Db,
        role: None,
    };
    let latest = serde_json::to_value(ws.find("latest", series).manifest).unwrap();
    restore_and_compare(&ws, &[id(&latest)], &latest);
}
