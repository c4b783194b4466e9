//! `mmctl backup db`, `list` and `verify` against real SQLCipher files, real age keys and the
//! Debian `age` CLI: round trips, consistency under concurrent writes, tampering, wrong keys,
//! kill -9 in the middle of a backup, and recovery without mmctl.

mod backup_support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup_support::*;
use mmctl::backup::crypto::Identities;
use mmctl::backup::db::restore_db_file;
use mmctl::backup::keyfile::DbKey;
use mmctl::backup::manifest::{BackupKind, Series};
use mmctl::backup::store::BackupDir;

fn data_file(ws: &Workspace, manifest: &serde_json::Value) -> PathBuf {
    ws.backups.join(manifest["data_file"].as_str().unwrap())
}

#[test]
fn backup_restores_with_a_new_key_and_every_row() {
    let ws = Workspace::new();
    ws.seed(3000);
    let manifest = backup_db(&ws);

    assert_eq!(manifest["kind"], "db");
    assert_eq!(manifest["db"]["schema_version"], 7);
    assert_eq!(manifest["db"]["integrity_check"], "ok");
    assert_eq!(manifest["db"]["row_counts"]["listings"], 3000);
    assert_eq!(manifest["recipients"][0], ws.recipient.as_str());
    let encrypted = std::fs::metadata(data_file(&ws, &manifest)).unwrap().len();
    assert_eq!(manifest["encrypted_size"], encrypted);
    // Compressing plaintext pages inside mmctl pays: the backup is far smaller than the DB.
    assert!(
        manifest["plain_size"].as_u64().unwrap() > 4 * encrypted,
        "{manifest}"
    );

    let listed = ws.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], manifest["id"]);

    let out = ws.mmctl(&["backup", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results[0]["ok"], true);
    assert_eq!(ws.list()[0]["verified"], true);

    // Restore primitive: a new file under a different key, every row present.
    let dir = BackupDir::open(&ws.backups).unwrap();
    let backup = dir
        .find(
            "latest",
            Series {
                kind: BackupKind::Db,
                role: None,
            },
        )
        .unwrap();
    let identities = Identities::from_file(&ws.identity_file).unwrap();
    let new_key = DbKey::generate();
    let dest = ws.dir.path().join("restored.db");
    let restored = restore_db_file(&backup, &identities, &dest, &new_key, &|_| {}).unwrap();
    assert_eq!(restored.row_counts["listings"], 3000);
    let conn = open(&dest, &new_key);
    assert_eq!(count(&conn, "listings"), 3000);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    // ...and the old key does not open it.
    let old = open(&dest, &ws.key);
    assert!(
        old.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
            .is_err()
    );
}

#[test]
fn backup_during_concurrent_writes_restores_the_snapshot_it_recorded() {
    let ws = Workspace::new();
    ws.seed(20_000);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let conn = ws.connect();
        std::thread::spawn(move || {
            let mut batches = 0u64;
            while !stop.load(Ordering::Relaxed) {
                insert_listings(&conn, 50);
                batches += 1;
            }
            batches
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let manifest = backup_db(&ws);
    stop.store(true, Ordering::Relaxed);
    let batches = writer.join().unwrap();
    assert!(batches > 0);
    let live = count(&ws.connect(), "listings");
    let recorded = manifest["db"]["row_counts"]["listings"].as_u64().unwrap();
    assert!(
        recorded >= 20_000 && recorded <= live,
        "recorded {recorded}, live {live}"
    );
    // Whole 50-row transactions only: a snapshot never sees half a transaction.
    assert_eq!((recorded - 20_000) % 50, 0, "recorded {recorded}");

    let dir = BackupDir::open(&ws.backups).unwrap();
    let backup = dir
        .find(
            manifest["id"].as_str().unwrap(),
            Series {
                kind: BackupKind::Db,
                role: None,
            },
        )
        .unwrap();
    let identities = Identities::from_file(&ws.identity_file).unwrap();
    let dest = ws.dir.path().join("restored.db");
    let key = DbKey::generate();
    restore_db_file(&backup, &identities, &dest, &key, &|_| {}).unwrap();
    let conn = open(&dest, &key);
    assert_eq!(count(&conn, "listings"), recorded);
    let max: i64 = conn
        .query_row("SELECT max(id) FROM listings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        max as u64, recorded,
        "ids are contiguous: no gap, no extra row"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_flipped_byte_fails_verify_and_restore_clearly() {
    let ws = Workspace::new();
    ws.seed(1000);
    let manifest = backup_db(&ws);
    flip_byte(&data_file(&ws, &manifest));

    let out = ws.mmctl(&["backup", "verify", manifest["id"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("checksum mismatch"),
        "{}",
        stdout(&out)
    );
    assert_eq!(ws.list()[0]["verified"], false);

    let dir = BackupDir::open(&ws.backups).unwrap();
    let backup = dir
        .find(
            "latest",
            Series {
                kind: BackupKind::Db,
                role: None,
            },
        )
        .unwrap();
    let identities = Identities::from_file(&ws.identity_file).unwrap();
    let dest = ws.dir.path().join("restored.db");
    let err =
        restore_db_file(&backup, &identities, &dest, &DbKey::generate(), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(!dest.exists(), "nothing is written when the checksum fails");
    // Live data untouched.
    assert_eq!(count(&ws.connect(), "listings"), 1000);
}

#[test]
fn a_tampered_manifest_and_payload_still_fail_on_decryption() {
    let ws = Workspace::new();
    ws.seed(500);
    let manifest = backup_db(&ws);
    let path = data_file(&ws, &manifest);
    flip_byte(&path);
    // An attacker who also rewrites the checksum in the manifest is stopped by age's authentication.
    let (sha, _) = mmctl::backup::crypto::sha256_file(&path).unwrap();
    let manifest_path = ws
        .backups
        .join(format!("{}.json", manifest["id"].as_str().unwrap()));
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace(manifest["sha256"].as_str().unwrap(), &sha);
    std::fs::write(&manifest_path, text).unwrap();

    let out = ws.mmctl(&["backup", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("corrupt or was tampered with"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_wrong_identity_is_a_clear_error() {
    let ws = Workspace::new();
    ws.seed(100);
    backup_db(&ws);
    let other = Workspace::new();
    let out = ws
        .command(&["backup", "verify"])
        .env("MMKT_BACKUP_IDENTITY_FILE", &other.identity_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("can decrypt it (wrong identity file"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_inputs_fail_with_the_documented_exit_codes_and_write_nothing() {
    let ws = Workspace::new();
    ws.seed(10);
    // No recipient: usage error (2).
    let out = ws
        .command(&["backup", "db"])
        .env_remove("MMKT_BACKUP_RECIPIENTS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no age recipient"),
        "{}",
        stderr(&out)
    );
    // Malformed recipient: usage error (2).
    let out = ws
        .command(&["backup", "db"])
        .env("MMKT_BACKUP_RECIPIENTS", "age1notakey")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid age recipient"),
        "{}",
        stderr(&out)
    );
    // Key file readable by others: refused (1).
    std::fs::set_permissions(
        &ws.key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let out = ws.mmctl(&["backup", "db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("must be 600"), "{}", stderr(&out));
    std::fs::set_permissions(
        &ws.key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // Wrong DB key (1).
    let wrong = ws.dir.path().join("wrong.key");
    mmctl::backup::keyfile::write_key_file(&wrong, &DbKey::generate()).unwrap();
    let out = ws
        .command(&["backup", "db"])
        .env("MMKT_DB_KEY_FILE", &wrong)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("with the given key"),
        "{}",
        stderr(&out)
    );
    // Missing DB (1).
    let out = ws
        .command(&["backup", "db"])
        .env("MMKT_DB_PATH", ws.dir.path().join("nope.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    // No identity for verify: usage error (2).
    let out = ws
        .command(&["backup", "verify"])
        .env_remove("MMKT_BACKUP_IDENTITY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // None of this left a file behind.
    let leftovers: Vec<_> = std::fs::read_dir(&ws.backups)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn kill_9_during_a_backup_leaves_nothing_list_or_verify_accept() {
    let ws = Workspace::new();
    ws.seed(5_000);
    // Incompressible rows make the backup long enough to be interrupted.
    {
        let conn = ws.connect();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..3000 {
            let blob: Vec<u8> = (0..8192u32)
                .map(|j| (j.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8)
                .collect();
            conn.execute("INSERT INTO blobs (data) VALUES (?1)", [blob])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let mut child = ws
        .command(&["backup", "db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let temp_exists = std::fs::read_dir(&ws.backups)
            .map(|d| {
                d.flatten().any(|e| {
                    e.file_name().to_string_lossy().contains(".tmp-")
                        && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if temp_exists {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "backup finished before it could be interrupted"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no temp file appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL by PID (std's kill sends SIGKILL).
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(ws.list().is_empty());
    let out = ws.mmctl(&["backup", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no complete backup"),
        "{}",
        stderr(&out)
    );
    // The leftover is cleaned by prune, and a new backup works.
    let out = ws.mmctl(&["backup", "prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("leftover of an interrupted run"),
        "{}",
        stderr(&out)
    );
    let leftovers: Vec<_> = std::fs::read_dir(&ws.backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_backup_is_recovered_with_the_age_cli_and_gunzip_without_mmctl_or_the_db_key() {
    let ws = Workspace::new();
    ws.seed(2000);
    let manifest = backup_db(&ws);
    let plain = ws.dir.path().join("recovered.sqlite");
    let script = format!(
        "age -d -i '{}' '{}' | gunzip > '{}'",
        ws.identity_file.display(),
        data_file(&ws, &manifest).display(),
        plain.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("sh");
    assert!(out.status.success(), "age/gunzip failed: {}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&plain).unwrap().len(),
        manifest["plain_size"].as_u64().unwrap()
    );
    // Python's stock sqlite3 (no SQLCipher, no key) opens the result.
    let py = format!(
        "import sqlite3; c = sqlite3.connect('file:{}?mode=ro', uri=True); \
         print(c.execute('pragma integrity_check').fetchone()[0], c.execute('select count(*) from listings').fetchone()[0])",
        plain.display()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py)
        .output()
        .expect("python3");
    assert!(out.status.success(), "python3 failed: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok 2000");
}
