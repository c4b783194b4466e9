//! `mmctl restore db` on a host-run database (--no-docker): confirmation, round trip with a
//! pre-restore snapshot, tampering and wrong identity leave the live DB untouched, kill -9 in
//! the middle of a restore leaves the old DB in place, restore --from-s3 on an empty host.

mod backup_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use backup_support::*;
use test_support::s3::S3Server;

fn snapshots(ws: &Workspace) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(ws.db.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(".pre-restore-")
                && !p.to_string_lossy().ends_with("-wal")
        })
        .collect();
    found.sort();
    found
}

fn data_dir_names(ws: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ws.db.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn restore_swaps_in_the_backup_and_keeps_the_previous_db() {
    let ws = Workspace::new();
    ws.seed(1000);
    backup_db(&ws);
    insert_listings(&ws.connect(), 500);

    let out = ws.mmctl(&["restore", "db", "latest", "--yes", "--no-docker"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("start the server now"),
        "{}",
        stdout(&out)
    );
    let conn = ws.connect();
    assert_eq!(count(&conn, "listings"), 1000);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The server keeps working on the restored file (WAL writes).
    insert_listings(&conn, 1);
    assert_eq!(count(&conn, "listings"), 1001);

    let kept = snapshots(&ws);
    assert_eq!(kept.len(), 1, "{:?}", data_dir_names(&ws));
    assert_eq!(
        count(&open(&kept[0], &ws.key), "listings"),
        1500,
        "the pre-restore snapshot holds the old state"
    );
    assert!(
        !data_dir_names(&ws).iter().any(|n| n.contains(".tmp-")),
        "{:?}",
        data_dir_names(&ws)
    );
}

#[test]
fn without_a_terminal_restore_refuses_unless_yes() {
    let ws = Workspace::new();
    ws.seed(10);
    backup_db(&ws);
    insert_listings(&ws.connect(), 5);
    let out = ws
        .command(&["restore", "db", "--no-docker"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing without --yes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&ws.connect(), "listings"), 15);
    assert!(snapshots(&ws).is_empty());
}

#[test]
fn a_tampered_backup_or_wrong_identity_leaves_the_live_db_untouched() {
    let ws = Workspace::new();
    ws.seed(300);
    let manifest = backup_db(&ws);
    insert_listings(&ws.connect(), 7);
    let before = data_dir_names(&ws);

    let other = Workspace::new();
    let out = ws
        .command(&["restore", "db", "--yes", "--no-docker"])
        .env("MMKT_BACKUP_IDENTITY_FILE", &other.identity_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("untouched") && stderr(&out).contains("wrong identity"),
        "{}",
        stderr(&out)
    );

    flip_byte(&ws.backups.join(manifest["data_file"].as_str().unwrap()));
    let out = ws.mmctl(&[
        "restore",
        "db",
        manifest["id"].as_str().unwrap(),
        "--yes",
        "--no-docker",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&ws.connect(), "listings"), 307);
    assert_eq!(data_dir_names(&ws), before, "no snapshot, no temp file");

    let out = ws.mmctl(&[
        "restore",
        "db",
        "db-20200101T000000Z-000000",
        "--yes",
        "--no-docker",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no complete backup"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kill_9_during_a_restore_leaves_the_old_db_in_place() {
    let ws = Workspace::new();
    ws.seed(2000);
    {
        let conn = ws.connect();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..3000u32 {
            let blob: Vec<u8> = (0..8192u32)
                .map(|j| (j.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8)
                .collect();
            conn.execute("INSERT INTO blobs (data) VALUES (?1)", [blob])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    backup_db(&ws);
    insert_listings(&ws.connect(), 11);
    let mut child = ws
        .command(&["restore", "db", "--yes", "--no-docker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !data_dir_names(&ws)
        .iter()
        .any(|n| n.contains(".restore.tmp-"))
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "restore finished before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "no restore temp file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let conn = ws.connect();
    assert_eq!(
        count(&conn, "listings"),
        2011,
        "the old database is still in place"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    // The next restore cleans the leftover and succeeds.
    let out = ws.mmctl(&["restore", "db", "--yes", "--no-docker"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&ws.connect(), "listings"), 2000);
    assert!(
        !data_dir_names(&ws).iter().any(|n| n.contains(".tmp-")),
        "{:?}",
        data_dir_names(&ws)
    );
}

#[test]
fn restore_from_s3_rebuilds_a_lost_host_under_a_new_key() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(800);
    let mut cmd = ws.command(&["backup", "db"]);
    for (k, v) in s3.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A new host: empty backup directory, no database, no key file.
    let host = tempfile::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut cmd = ws.command(&[
        "restore",
        "db",
        "latest",
        "--from-s3",
        "--yes",
        "--no-docker",
        "--create-key-file",
    ]);
    for (k, v) in s3.env() {
        cmd.env(k, v);
    }
    cmd.env("MMKT_BACKUP_DIR", host.path().join("backups"))
        .env("MMKT_DB_PATH", data.join("mmkt.db"))
        .env("MMKT_DB_KEY_FILE", data.join("mmkt.key"));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = mmctl::backup::keyfile::read_key_file(&data.join("mmkt.key")).unwrap();
    assert_ne!(key, ws.key, "a new key");
    assert_eq!(count(&open(&data.join("mmkt.db"), &key), "listings"), 800);
}

#[test]
fn wallet_restore_brings_files_back_keeps_newer_wallets_and_backs_up_the_current_dir() {
    let ws = Workspace::new();
    let wallets = ws.dir.path().join("wallets-arbiter");
    std::fs::create_dir(&wallets).unwrap();
    std::fs::write(wallets.join("arbiter.keys"), b"keys v1").unwrap();
    std::fs::write(wallets.join("arbiter"), b"cache v1").unwrap();
    let out = ws.mmctl(&[
        "backup",
        "wallets",
        "arbiter",
        "--wallet-dir",
        wallets.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Disaster: the keys file is damaged; meanwhile a new escrow wallet appeared.
    std::fs::write(wallets.join("arbiter.keys"), b"garbage").unwrap();
    std::fs::write(wallets.join("escrow-7.keys"), b"new wallet").unwrap();
    let dir = wallets.to_str().unwrap();
    let out = ws
        .command(&[
            "restore",
            "wallet",
            "arbiter",
            "--no-docker",
            "--wallet-dir",
            dir,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(wallets.join("arbiter.keys")).unwrap(),
        b"garbage"
    );

    let out = ws.mmctl(&[
        "restore",
        "wallet",
        "arbiter",
        "latest",
        "--yes",
        "--no-docker",
        "--wallet-dir",
        dir,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(wallets.join("arbiter.keys")).unwrap(),
        b"keys v1"
    );
    assert_eq!(std::fs::read(wallets.join("arbiter")).unwrap(), b"cache v1");
    assert_eq!(
        std::fs::read(wallets.join("escrow-7.keys")).unwrap(),
        b"new wallet",
        "a restore never deletes a wallet"
    );
    // The damaged state was backed up first, as a regular (listed, verifiable) backup.
    let listed = ws.list();
    assert_eq!(
        listed
            .iter()
            .filter(|b| b["kind"] == "wallets-arbiter")
            .count(),
        2
    );
    let out = ws.mmctl(&["backup", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // --no-docker without --wallet-dir is a usage error.
    let out = ws.mmctl(&["restore", "wallet", "arbiter", "--yes", "--no-docker"]);
    assert_eq!(out.status.code(), Some(2));
}
