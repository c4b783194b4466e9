//! `mmctl restore db` on a host-run database (--no-docker): confirmation, round trip with a
//! pre-restore snapshot, tampering and wrong identity leave the live DB untouched, kill -9 in
//! the middle of a restore leaves the old DB in place, restore --from-s3 on an empty host.

mod backup_support;
mod harness;

use backup_support::*;
use test_support::s3::S3Server;

/// Whether the database's directory holds a temporary file.
fn has_temp(ws: &Workspace) -> bool {
    ws.data_dir_names().iter().any(|n| is_temp(n))
}

#[test]
fn restore_swaps_in_the_backup_and_keeps_the_previous_db() {
    let ws = Workspace::new();
    ws.seed(1000);
    ws.backup_db();
    insert_listings(&ws.connect(), 500);

    ws.run(&["restore", "db", "latest", "--yes", "--no-docker"])
        .assert_exit(0)
        .assert_stdout_contains("start the server now");
    let conn = ws.connect();
    assert_eq!(count(&conn, "listings"), 1000);
    assert_eq!(integrity(&conn), "ok");
    // The server keeps working on the restored file (WAL writes).
    insert_listings(&conn, 1);
    assert_eq!(count(&conn, "listings"), 1001);

    let kept = ws.pre_restore_copies();
    assert_eq!(kept.len(), 1, "{:?}", ws.data_dir_names());
    assert_eq!(
        count(&open(&kept[0], &ws.key), "listings"),
        1500,
        "the pre-restore snapshot holds the old state"
    );
    assert!(!has_temp(&ws), "{:?}", ws.data_dir_names());
}

#[test]
fn without_a_terminal_restore_refuses_unless_yes() {
    let ws = Workspace::new();
    ws.seed(10);
    ws.backup_db();
    insert_listings(&ws.connect(), 5);
    ws.run(&["restore", "db", "--no-docker"])
        .assert_exit(4)
        .assert_stderr_contains("refusing without --yes");
    assert_eq!(count(&ws.connect(), "listings"), 15);
    assert!(ws.pre_restore_copies().is_empty());
}

#[test]
fn a_tampered_backup_or_wrong_identity_leaves_the_live_db_untouched() {
    let ws = Workspace::new();
    ws.seed(300);
    let manifest = ws.backup_db();
    insert_listings(&ws.connect(), 7);
    let before = ws.data_dir_names();

    let other = Workspace::new();
    let out = ws
        .mmctl(&["restore", "db", "--yes", "--no-docker"])
        .env("MMKT_BACKUP_IDENTITY_FILE", &other.identity_file)
        .run()
        .assert_exit(1);
    assert!(
        out.stderr().contains("untouched") && out.stderr().contains("wrong identity"),
        "{}",
        out.stderr()
    );

    flip_byte(&ws.data_file(&manifest));
    let id = manifest["id"].as_str().unwrap();
    ws.run(&["restore", "db", id, "--yes", "--no-docker"])
        .assert_exit(1)
        .assert_stderr_contains("checksum mismatch");
    assert_eq!(count(&ws.connect(), "listings"), 307);
    assert_eq!(ws.data_dir_names(), before, "no snapshot, no temp file");

    let unknown = "db-20200101T000000Z-000000";
    ws.run(&["restore", "db", unknown, "--yes", "--no-docker"])
        .assert_exit(1)
        .assert_stderr_contains("no complete backup");
}

#[test]
fn kill_9_during_a_restore_leaves_the_old_db_in_place() {
    let ws = Workspace::new();
    ws.seed(2000);
    ws.seed_slow_blobs();
    ws.backup_db();
    insert_listings(&ws.connect(), 11);
    kill_9_when(
        ws.mmctl(&["restore", "db", "--yes", "--no-docker"]),
        || {
            ws.data_dir_names()
                .iter()
                .any(|n| n.contains(".restore.tmp-"))
        },
        "restore finished before it could be interrupted",
        "no restore temp file appeared",
    );

    let conn = ws.connect();
    assert_eq!(
        count(&conn, "listings"),
        2011,
        "the old database is still in place"
    );
    assert_eq!(integrity(&conn), "ok");
    drop(conn);
    // The next restore cleans the leftover and succeeds.
    ws.run(&["restore", "db", "--yes", "--no-docker"])
        .assert_exit(0);
    assert_eq!(count(&ws.connect(), "listings"), 2000);
    assert!(!has_temp(&ws), "{:?}", ws.data_dir_names());
}

#[test]
fn restore_from_s3_rebuilds_a_lost_host_under_a_new_key() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(800);
    ws.mmctl_s3(&s3, &["backup", "db"]).run().assert_exit(0);

    // A new host: empty backup directory, no database, no key file.
    let host = tempfile::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let args = [
        "restore",
        "db",
        "latest",
        "--from-s3",
        "--yes",
        "--no-docker",
        "--create-key-file",
    ];
    ws.mmctl_s3(&s3, &args)
        .env("MMKT_BACKUP_DIR", host.path().join("backups"))
        .env("MMKT_DB_PATH", data.join("mmkt.db"))
        .env("MMKT_DB_KEY_FILE", data.join("mmkt.key"))
        .run()
        .assert_exit(0);
    let key = mmkt_sqlcipher::read_key_file(&data.join("mmkt.key")).unwrap();
    assert_ne!(key, ws.key, "a new key");
    assert_eq!(count(&open(&data.join("mmkt.db"), &key), "listings"), 800);
}

#[test]
fn wallet_restore_brings_files_back_keeps_newer_wallets_and_backs_up_the_current_dir() {
    let ws = Workspace::new();
    let wallets = ws.path("wallets-arbiter");
    let dir = wallets.to_str().unwrap();
    std::fs::create_dir(&wallets).unwrap();
    std::fs::write(wallets.join("arbiter.keys"), b"keys v1").unwrap();
    std::fs::write(wallets.join("arbiter"), b"cache v1").unwrap();
    ws.run(&["backup", "wallets", "arbiter", "--wallet-dir", dir])
        .assert_exit(0);

    // Disaster: the keys file is damaged; meanwhile a new escrow wallet appeared.
    std::fs::write(wallets.join("arbiter.keys"), b"garbage").unwrap();
    std::fs::write(wallets.join("escrow-7.keys"), b"new wallet").unwrap();
    ws.run(&[
        "restore",
        "wallet",
        "arbiter",
        "--no-docker",
        "--wallet-dir",
        dir,
    ])
    .assert_exit(4);
    assert_eq!(
        std::fs::read(wallets.join("arbiter.keys")).unwrap(),
        b"garbage"
    );

    let restore = [
        "restore",
        "wallet",
        "arbiter",
        "latest",
        "--yes",
        "--no-docker",
        "--wallet-dir",
        dir,
    ];
    ws.run(&restore).assert_exit(0);
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
    ws.run(&["backup", "verify", "--all"]).assert_exit(0);
    // --no-docker without --wallet-dir is a usage error.
    ws.run(&["restore", "wallet", "arbiter", "--yes", "--no-docker"])
        .assert_exit(2);
}
