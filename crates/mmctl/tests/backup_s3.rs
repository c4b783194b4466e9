//! Offsite copies on a real S3-compatible server (s3s-fs on loopback): upload with the backup,
//! multipart upload and download, `list --remote`, S3 down (exit 5, local kept), `upload` retry,
//! and retention applied locally and on S3.

mod backup_support;

use backup_support::*;
use mmctl::backup::crypto::Identities;
use mmctl::backup::store::BackupDir;
use mmctl::backup::verify::verify_backup;
use mmctl::s3::{MIN_PART_SIZE, Offsite, S3Config};
use test_support::s3::S3Server;

fn with_s3(cmd: &mut std::process::Command, s3: &S3Server) {
    for (k, v) in s3.env() {
        cmd.env(k, v);
    }
    cmd.env("MMKT_S3_PREFIX", "prod/mmkt");
}

fn run_s3(ws: &Workspace, s3: &S3Server, args: &[&str]) -> std::process::Output {
    let mut cmd = ws.command(args);
    with_s3(&mut cmd, s3);
    cmd.output().unwrap()
}

fn config(s3: &S3Server) -> S3Config {
    S3Config {
        endpoint: Some(s3.endpoint()),
        bucket: s3.bucket().to_owned(),
        prefix: "prod/mmkt".into(),
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

#[test]
fn backup_uploads_data_then_manifest_and_list_remote_shows_it() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(1000);
    let out = run_s3(&ws, &s3, &["backup", "db", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let id = manifest[0]["id"].as_str().unwrap();
    let keys = s3.object_keys("prod/mmkt/");
    assert!(keys.contains(&format!("prod/mmkt/{id}.json")), "{keys:?}");
    assert!(
        keys.contains(&format!("prod/mmkt/{id}.db.gz.age")),
        "{keys:?}"
    );

    let out = run_s3(&ws, &s3, &["backup", "list", "--remote", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let remote: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0]["id"], id);
    assert_eq!(remote[0]["location"], "s3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_backups_go_up_in_parts_and_come_back_intact() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(100);
    {
        // ~12 MiB of incompressible rows: the encrypted file spans three 5 MiB parts.
        let conn = ws.connect();
        conn.execute_batch("BEGIN").unwrap();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..1500 {
            let blob: Vec<u8> = (0..8192)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            conn.execute("INSERT INTO blobs (data) VALUES (?1)", [blob])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let mut cmd = ws.command(&["backup", "db", "--json"]);
    with_s3(&mut cmd, &s3);
    cmd.env("MMKT_S3_PART_SIZE", MIN_PART_SIZE.to_string());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
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
    let identities = Identities::from_file(&ws.identity_file).unwrap();
    let outcome = tokio::task::block_in_place(|| verify_backup(&dir, &local, &identities));
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
    let mut cmd = ws.command(&["backup", "db"]);
    with_s3(&mut cmd, &s3);
    cmd.env("MMKT_S3_MAX_ATTEMPTS", "2");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the local backup is kept"),
        "{}",
        stderr(&out)
    );
    let local = ws.list();
    assert_eq!(local.len(), 1, "the local backup is complete");
    let out = ws.mmctl(&["backup", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Once S3 is back, `backup upload` sends what is missing.
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let out = run_s3(&ws, &s3, &["backup", "upload"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = local[0]["id"].as_str().unwrap();
    assert!(
        s3.object_keys("prod/mmkt/")
            .contains(&format!("prod/mmkt/{id}.json"))
    );
    // Nothing left to upload.
    let out = run_s3(&ws, &s3, &["backup", "upload"]);
    assert!(
        stdout(&out).contains("already in the bucket"),
        "{}",
        stdout(&out)
    );
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
        let out = run_s3(&ws, &s3, &["backup", "db", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let m: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(m[0]["id"].as_str().unwrap().to_owned());
        insert_listings(&ws.connect(), 10);
    }
    // Only the oldest is verified; the policy keeps the last one only.
    let out = ws.mmctl(&["backup", "verify", &ids[0]]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let policy = [
        "--keep-last",
        "1",
        "--keep-daily",
        "0",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
    ];

    let mut args = vec!["backup", "prune", "--dry-run", "--json"];
    args.extend(policy);
    let out = run_s3(&ws, &s3, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let removed: Vec<&str> = report
        .iter()
        .filter(|e| e["action"] == "remove")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 4, "{report:?}");
    assert_eq!(ws.list().len(), 4, "dry run deletes nothing");

    let mut args = vec!["backup", "prune"];
    args.extend(policy);
    let out = run_s3(&ws, &s3, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
    let out = run_s3(&ws, &s3, &["backup", "list", "--remote", "--json"]);
    let remote: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let remote: Vec<&str> = remote.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(remote, vec![ids[0].as_str(), ids[3].as_str()]);
    let keys = s3.object_keys("prod/mmkt/");
    assert!(
        !keys
            .iter()
            .any(|k| k.contains(&ids[1]) || k.contains(&ids[2])),
        "{keys:?}"
    );
}
