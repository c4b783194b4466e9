//! `mmctl backup db`, `list` and `verify` against real SQLCipher files, real age keys and the
//! Debian `age` CLI: round trips, consistency under concurrent writes, tampering, wrong keys,
//! kill -9 in the middle of a backup, and recovery without mmctl.

mod backup_support;
mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup_support::*;
use mmkt_backup::db::restore_db_file;
use mmkt_sqlcipher::DbKey;

#[test]
fn backup_restores_with_a_new_key_and_every_row() {
    let ws = Workspace::new();
    ws.seed(3000);
    let manifest = ws.backup_db();

    assert_eq!(manifest["kind"], "db");
    assert_eq!(manifest["db"]["schema_version"], 7);
    assert_eq!(manifest["db"]["integrity_check"], "ok");
    assert_eq!(manifest["db"]["row_counts"]["listings"], 3000);
    assert_eq!(manifest["recipients"][0], ws.recipient.as_str());
    let encrypted = std::fs::metadata(ws.data_file(&manifest)).unwrap().len();
    assert_eq!(manifest["encrypted_size"], encrypted);
    // Compressing plaintext pages inside mmctl pays: the backup is far smaller than the DB.
    assert!(
        manifest["plain_size"].as_u64().unwrap() > 4 * encrypted,
        "{manifest}"
    );

    let listed = ws.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], manifest["id"]);

    let results: Vec<serde_json::Value> = ws
        .run(&["backup", "verify", "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(results[0]["ok"], true);
    assert_eq!(ws.list()[0]["verified"], true);

    // Restore primitive: a new file under a different key, every row present.
    let backup = ws.find_authentic("latest", DB_SERIES);
    let new_key = DbKey::generate();
    let dest = ws.path("restored.db");
    let restored = restore_db_file(&backup, &ws.identities(), &dest, &new_key, &|_| {}).unwrap();
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
    let manifest = ws.backup_db();
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

    let backup = ws.find_authentic(manifest["id"].as_str().unwrap(), DB_SERIES);
    let dest = ws.path("restored.db");
    let key = DbKey::generate();
    restore_db_file(&backup, &ws.identities(), &dest, &key, &|_| {}).unwrap();
    let conn = open(&dest, &key);
    assert_eq!(count(&conn, "listings"), recorded);
    let max: i64 = conn
        .query_row("SELECT max(id) FROM listings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        max as u64, recorded,
        "ids are contiguous: no gap, no extra row"
    );
    assert_eq!(integrity(&conn), "ok");
}

#[test]
fn a_flipped_byte_fails_verify_and_restore_clearly() {
    let ws = Workspace::new();
    ws.seed(1000);
    let manifest = ws.backup_db();
    flip_byte(&ws.data_file(&manifest));

    ws.run(&["backup", "verify", manifest["id"].as_str().unwrap()])
        .assert_exit(1)
        .assert_stdout_contains("checksum mismatch");
    assert_eq!(ws.list()[0]["verified"], false);

    let backup = ws.find_authentic("latest", DB_SERIES);
    let dest = ws.path("restored.db");
    let err = restore_db_file(
        &backup,
        &ws.identities(),
        &dest,
        &DbKey::generate(),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(!dest.exists(), "nothing is written when the checksum fails");
    // Live data untouched.
    assert_eq!(count(&ws.connect(), "listings"), 1000);
}

#[test]
fn a_tampered_manifest_and_payload_fail_on_the_signature_and_then_on_decryption() {
    let ws = Workspace::new();
    ws.seed(500);
    let manifest = ws.backup_db();
    let path = ws.data_file(&manifest);
    flip_byte(&path);
    // An attacker who also rewrites the checksum in the manifest is stopped by the signature.
    let (sha, _) = mmkt_backup::crypto::sha256_file(&path).unwrap();
    let id = manifest["id"].as_str().unwrap();
    let manifest_path = ws.backups.join(format!("{id}.json"));
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap()
        .replace(manifest["sha256"].as_str().unwrap(), &sha);
    std::fs::write(&manifest_path, &text).unwrap();
    ws.run(&["backup", "verify"])
        .assert_exit(1)
        .assert_stdout_contains("does not verify with any trusted key");

    // Even re-signed with the trusted key (a stolen signing key), age's authentication stops it.
    let signer = mmkt_backup::signing::SigningKey::from_file(&ws.signing_key).unwrap();
    let signature = ws.backups.join(format!("{id}.manifest.sig"));
    std::fs::write(&signature, signer.sign(text.as_bytes())).unwrap();
    ws.run(&["backup", "verify"])
        .assert_exit(1)
        .assert_stdout_contains("corrupt or was tampered with");
}

#[test]
fn a_wrong_identity_is_a_clear_error() {
    let ws = Workspace::new();
    ws.seed(100);
    ws.backup_db();
    let other = Workspace::new();
    ws.mmctl(&["backup", "verify"])
        .env("MMKT_BACKUP_IDENTITY_FILE", &other.identity_file)
        .run()
        .assert_exit(1)
        .assert_stdout_contains("can decrypt it (wrong identity file");
}

#[test]
fn bad_inputs_fail_with_the_documented_exit_codes_and_write_nothing() {
    let ws = Workspace::new();
    ws.seed(10);
    let wrong_key = ws.wrong_key_file();
    let missing_db = ws.path("nope.db");
    // (what is wrong, the change to the environment, exit code, stderr fragment)
    let cases: [(&str, &str, Option<&std::path::Path>, i32, &str); 4] = [
        (
            "no recipient",
            "MMKT_BACKUP_RECIPIENTS",
            None,
            2,
            "no age recipient",
        ),
        (
            "wrong DB key",
            "MMKT_DB_KEY_FILE",
            Some(&wrong_key),
            1,
            "with the given key",
        ),
        (
            "missing DB",
            "MMKT_DB_PATH",
            Some(&missing_db),
            1,
            "no such file",
        ),
        (
            "malformed recipient",
            "MMKT_BACKUP_RECIPIENTS",
            Some("age1notakey".as_ref()),
            2,
            "invalid age recipient",
        ),
    ];
    for (what, var, value, code, message) in cases {
        let mmctl = ws.mmctl(&["backup", "db"]);
        let mmctl = match value {
            Some(value) => mmctl.env(var, value),
            None => mmctl.env_remove(var),
        };
        let out = mmctl.run();
        assert_eq!(out.code(), code, "{what}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{what}: {}", out.stderr());
    }
    // Key file readable by others: refused (1).
    let mode = |m| {
        std::fs::set_permissions(
            &ws.key_file,
            std::os::unix::fs::PermissionsExt::from_mode(m),
        )
    };
    mode(0o644).unwrap();
    ws.run(&["backup", "db"])
        .assert_exit(1)
        .assert_stderr_contains("must be 600");
    mode(0o600).unwrap();
    // No identity for verify: usage error (2).
    ws.mmctl(&["backup", "verify"])
        .env_remove("MMKT_BACKUP_IDENTITY_FILE")
        .run()
        .assert_exit(2);
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
    ws.seed_slow_blobs();
    let temp_file_written = || {
        std::fs::read_dir(&ws.backups)
            .map(|d| {
                d.flatten().any(|e| {
                    is_temp(&e.file_name().to_string_lossy())
                        && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    kill_9_when(
        ws.mmctl(&["backup", "db"]),
        temp_file_written,
        "backup finished before it could be interrupted",
        "no temp file appeared",
    );

    assert!(ws.list().is_empty());
    ws.run(&["backup", "verify", "--all"])
        .assert_exit(1)
        .assert_stderr_contains("no complete backup");
    // The leftover is cleaned by prune, and a new backup works.
    ws.run(&["backup", "prune"])
        .assert_exit(0)
        .assert_stderr_contains("leftover of an interrupted run");
    let leftovers: Vec<_> = std::fs::read_dir(&ws.backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_backup_is_recovered_with_the_age_cli_and_zstd_without_mmctl_or_the_db_key() {
    let ws = Workspace::new();
    ws.seed(2000);
    let manifest = ws.backup_db();
    let plain = ws.path("recovered.sqlite");
    let script = format!(
        "age -d -i '{}' '{}' | zstd -d -q > '{}'",
        ws.identity_file.display(),
        ws.data_file(&manifest).display(),
        plain.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "age/zstd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok 2000");
}
