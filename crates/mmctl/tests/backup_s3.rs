//! Offsite copies on a real S3-compatible server (s3s-fs on loopback): upload with the backup,
//! multipart upload and download, `list --remote`, S3 down (exit 5, local kept), `upload` retry,
//! and retention applied locally and on S3.

mod backup_support;
mod harness;

use backup_support::*;
use mmkt_backup::s3::{MIN_PART_SIZE, Offsite, S3Config};
use mmkt_backup::signing::authenticate;
use mmkt_backup::store::BackupDir;
use mmkt_backup::verify::verify_backup;
use test_support::s3::S3Server;

fn config(s3: &S3Server) -> S3Config {
    S3Config {
        endpoint: Some(s3.endpoint()),
        bucket: s3.bucket().to_owned(),
        prefix: S3_PREFIX.into(),
        region: "us-east-1".into(),
        storage_class: None,
        access_key_id: Some(s3.access_key().to_owned()),
        secret_access_key: Some(s3.secret_key().to_owned()),
        path_style: true,
        part_size: MIN_PART_SIZE,
        max_attempts: 2,
    }
    .validate()
    .unwrap()
}

/// The object keys below the test prefix.
fn keys(s3: &S3Server) -> Vec<String> {
    s3.object_keys(&format!("{S3_PREFIX}/"))
}

/// `mmctl backup db --json` with offsite copies to `s3`; returns the backup id.
fn backup_to_s3(ws: &Workspace, s3: &S3Server) -> String {
    let manifests: Vec<serde_json::Value> = ws
        .mmctl_s3(s3, &["backup", "db", "--json"])
        .run()
        .assert_exit(0)
        .json();
    manifests[0]["id"].as_str().unwrap().to_owned()
}

/// Ids of `backup list --remote --json`.
fn remote_ids(ws: &Workspace, s3: &S3Server) -> Vec<String> {
    let remote: Vec<serde_json::Value> = ws
        .mmctl_s3(s3, &["backup", "list", "--remote", "--json"])
        .run()
        .assert_exit(0)
        .json();
    remote
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn backup_uploads_data_then_manifest_and_list_remote_shows_it() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(1000);
    let id = backup_to_s3(&ws, &s3);
    let keys = keys(&s3);
    assert!(keys.contains(&format!("prod/mmkt/{id}.json")), "{keys:?}");
    assert!(
        keys.contains(&format!("prod/mmkt/{id}.db.zst.age")),
        "{keys:?}"
    );
    assert!(
        keys.contains(&format!("prod/mmkt/{id}.manifest.sig")),
        "the signature goes up with the manifest: {keys:?}"
    );

    let remote: Vec<serde_json::Value> = ws
        .mmctl_s3(&s3, &["backup", "list", "--remote", "--json"])
        .run()
        .assert_exit(0)
        .json();
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0]["id"], id.as_str());
    assert_eq!(remote[0]["location"], "s3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_backups_go_up_in_parts_and_come_back_intact() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(100);
    // ~12 MiB of incompressible rows: the encrypted file spans three 5 MiB parts.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    ws.insert_blobs(1500, |_| {
        (0..8192)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    });
    let manifest: Vec<serde_json::Value> = ws
        .mmctl_s3(&s3, &["backup", "db", "--json"])
        .env("MMKT_S3_PART_SIZE", MIN_PART_SIZE.to_string())
        .run()
        .assert_exit(0)
        .json();
    assert!(manifest[0]["encrypted_size"].as_u64().unwrap() > 2 * MIN_PART_SIZE);

    // Download into an empty directory (as after a complete server loss) and verify it.
    let offsite = Offsite::connect(config(&s3)).await;
    let remote = offsite.list().await.unwrap();
    assert_eq!(remote.len(), 1);
    let fresh = tempfile::tempdir().unwrap();
    let dir = BackupDir::open(fresh.path()).unwrap();
    let local = offsite.download(&remote[0], &dir).await.unwrap();
    assert_eq!(
        std::fs::metadata(&local.data_path).unwrap().len(),
        remote[0].manifest.encrypted_size
    );
    let identities = ws.identities();
    let local = authenticate(&local, &ws.trusted()).unwrap();
    let outcome =
        tokio::task::block_in_place(|| verify_backup(&dir, &local, &identities, &ws.trusted()));
    assert!(outcome.ok, "{}", outcome.detail);
}

#[test]
fn s3_down_keeps_the_local_backup_and_exits_5_then_upload_catches_up() {
    let Some(mut s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(200);
    s3.stop();
    ws.mmctl_s3(&s3, &["backup", "db"])
        .env("MMKT_S3_MAX_ATTEMPTS", "2")
        .run()
        .assert_exit(5)
        .assert_stderr_contains("the local backup is kept");
    let local = ws.list();
    assert_eq!(local.len(), 1, "the local backup is complete");
    ws.run(&["backup", "verify"]).assert_exit(0);

    // Once S3 is back, `backup upload` sends what is missing.
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    ws.mmctl_s3(&s3, &["backup", "upload"]).run().assert_exit(0);
    let id = local[0]["id"].as_str().unwrap();
    assert!(keys(&s3).contains(&format!("prod/mmkt/{id}.json")));
    // Nothing left to upload.
    ws.mmctl_s3(&s3, &["backup", "upload"])
        .run()
        .assert_stdout_contains("already in the bucket");
}

#[test]
fn prune_applies_retention_locally_and_on_s3_and_keeps_the_newest_verified() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(100);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(backup_to_s3(&ws, &s3));
        insert_listings(&ws.connect(), 10);
    }
    // Only the oldest is verified; the policy keeps the last one only.
    ws.run(&["backup", "verify", &ids[0]]).assert_exit(0);
    let prune = |extra: &[&str]| {
        let mut args = vec!["backup", "prune"];
        args.extend(extra);
        args.extend([
            "--keep-last",
            "1",
            "--keep-daily",
            "0",
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ]);
        ws.mmctl_s3(&s3, &args).run().assert_exit(0)
    };

    let report: Vec<serde_json::Value> = prune(&["--dry-run", "--json"]).json();
    let removed: Vec<&str> = report
        .iter()
        .filter(|e| e["action"] == "remove")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 4, "{report:?}");
    assert_eq!(ws.list().len(), 4, "dry run deletes nothing");

    prune(&[]);
    let local: Vec<String> = ws
        .list()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        local,
        vec![ids[0].clone(), ids[3].clone()],
        "newest verified + newest kept"
    );
    assert_eq!(remote_ids(&ws, &s3), vec![ids[0].clone(), ids[3].clone()]);
    let keys = keys(&s3);
    assert!(
        !keys
            .iter()
            .any(|k| k.contains(&ids[1]) || k.contains(&ids[2])),
        "{keys:?}"
    );
}

/// `restore db ID --from-s3` on a new host (empty backup directory, its own key file).
fn restore_on_new_host(
    ws: &Workspace,
    s3: &S3Server,
    id: &str,
) -> (harness::Output, tempfile::TempDir) {
    let host = tempfile::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let args = [
        "restore",
        "db",
        id,
        "--from-s3",
        "--yes",
        "--no-docker",
        "--create-key-file",
    ];
    let out = ws
        .mmctl_s3(s3, &args)
        .env("MMKT_BACKUP_DIR", host.path().join("backups"))
        .env("MMKT_DB_PATH", data.join("mmkt.db"))
        .env("MMKT_DB_KEY_FILE", data.join("mmkt.key"))
        .run();
    (out, host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_go_offsite_and_a_restore_from_s3_fetches_the_missing_parents() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(300);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let manifests: Vec<serde_json::Value> = ws
            .mmctl_s3(&s3, &["backup", "db", "--full-every", "1h", "--json"])
            .run()
            .assert_exit(0)
            .json();
        ids.push(manifests[0]["id"].as_str().unwrap().to_owned());
        insert_listings(&ws.connect(), 25);
    }
    let keys = keys(&s3);
    for id in &ids[1..] {
        let delta = format!("prod/mmkt/{id}.{}", mmkt_backup::manifest::DB_DELTA_SUFFIX);
        assert!(keys.contains(&delta), "{delta} not in {keys:?}");
    }
    // The newest delta on a host with none of its chain: base and parent come down too.
    let (out, host) = restore_on_new_host(&ws, &s3, &ids[2]);
    out.assert_exit(0);
    let data = host.path().join("data");
    let key = mmkt_sqlcipher::read_key_file(&data.join("mmkt.key")).unwrap();
    assert_eq!(count(&open(&data.join("mmkt.db"), &key), "listings"), 350);
    let local = BackupDir::open(&host.path().join("backups")).unwrap();
    let mut fetched: Vec<String> = local
        .list()
        .unwrap()
        .iter()
        .map(|b| b.manifest.id.to_string())
        .collect();
    fetched.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(fetched, expected);

    // Without its base in the bucket either, the chain is broken (exit 50) and nothing is restored.
    let offsite = Offsite::connect(config(&s3)).await;
    let base = offsite
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.manifest.id.as_str() == ids[0])
        .unwrap();
    offsite.delete(&base).await.unwrap();
    let (out, host) = restore_on_new_host(&ws, &s3, &ids[2]);
    out.assert_exit(50);
    assert!(!host.path().join("data/mmkt.db").exists());
}
