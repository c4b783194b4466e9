//! The S3 keys taken from the environment's secrets file (`deploy/secrets/<env>.enc.yaml`)
//! when the process environment does not set them: `mmctl backup db` uploads offsite to a
//! real s3s-fs on loopback (it checks the request signatures) with keys found only in the
//! file; a wrong identity stops it with the secrets exit code before anything is written.

mod backup_support;
mod harness;

use std::path::{Path, PathBuf};

use backup_support::*;
use harness::Mmctl;
use test_support::s3::S3Server;

/// A fresh age identity file made by the real `age-keygen`, and its recipient.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = test_support::age::age_keygen(dir, name);
    (key.file, key.recipient)
}

/// `mmctl secrets ARGS` on `file` opened with `identity`.
fn secrets(file: &Path, identity: &Path, args: &[&str]) -> Mmctl {
    Mmctl::new()
        .arg("secrets")
        .args(args)
        .arg("--secrets-file")
        .arg(file)
        .env("MMCTL_SECRETS_IDENTITY_FILE", identity)
}

/// `mmctl backup db --json` for environment staging of `compose`, with the S3 server's
/// settings but not its keys.
fn backup_db(ws: &Workspace, s3: &S3Server, compose: &Path, identity: &Path) -> harness::Output {
    let without_keys = s3
        .env()
        .into_iter()
        .filter(|(k, _)| !k.ends_with("_KEY_ID") && !k.ends_with("_SECRET_ACCESS_KEY"));
    without_keys
        .fold(ws.mmctl(&["backup", "db", "--json"]), |m, (k, v)| {
            m.env(k, v)
        })
        .env("MMKT_S3_PREFIX", S3_PREFIX)
        .env("MMCTL_COMPOSE_FILE", compose)
        .env("MMCTL_ENV", "staging")
        .env("MMCTL_SECRETS_IDENTITY_FILE", identity)
        .run()
}

#[test]
fn backup_db_takes_the_s3_keys_from_the_secrets_file() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(100);
    let dir = tempfile::tempdir().unwrap();
    let (right, recipient) = keygen(dir.path(), "right");
    let (wrong, _) = keygen(dir.path(), "wrong");
    let compose = dir.path().join("deploy").join("docker-compose.yml");
    let file = dir.path().join("deploy/secrets/staging.enc.yaml");
    secrets(&file, &right, &["init", "--recipient", &recipient])
        .run()
        .assert_exit(0);
    for (name, value) in [
        ("MMKT_S3_ACCESS_KEY_ID", s3.access_key()),
        ("MMKT_S3_SECRET_ACCESS_KEY", s3.secret_key()),
    ] {
        secrets(&file, &right, &["set", name])
            .stdin(value)
            .run()
            .assert_exit(0);
    }

    // A wrong identity: the secrets exit code, no backup made, nothing uploaded.
    backup_db(&ws, &s3, &compose, &wrong)
        .assert_exit(30)
        .assert_stderr_contains("none of the age identities");
    assert!(ws.list().is_empty(), "no local backup either");
    assert!(s3.object_keys(&format!("{S3_PREFIX}/")).is_empty());

    // The right one: the keys exist only in the file, and the upload is signed with them.
    let out = backup_db(&ws, &s3, &compose, &right).assert_exit(0);
    let stderr = out.stderr();
    assert!(stderr.contains("2 S3 keys from"), "{stderr}");
    assert!(!stderr.contains(s3.secret_key()), "never a value: {stderr}");
    let manifests: Vec<serde_json::Value> = out.json();
    let id = manifests[0]["id"].as_str().unwrap();
    let keys = s3.object_keys(&format!("{S3_PREFIX}/"));
    assert!(keys.contains(&format!("{S3_PREFIX}/{id}.json")), "{keys:?}");
    assert!(
        keys.contains(&format!("{S3_PREFIX}/{id}.db.zst.age")),
        "{keys:?}"
    );
}
