//! Backups the store cannot forge, tested as an attacker with write access to the backup
//! directory (or the S3 bucket) would try, through the real mmctl binary: a genuine data file
//! put under another backup's manifest with its checksum and sizes rewritten, an unsigned
//! manifest, a manifest signed by another key, malformed ids, and missing or misplaced keys.
//! verify, restore and drill refuse them with exit 1 (2 for bad input) and the live database
//! does not change. Also: the documented by-hand check of a signature with openssl.

mod backup_support;
mod harness;

use std::path::{Path, PathBuf};

use backup_support::*;
use serde_json::Value;
use test_support::s3::S3Server;

/// The manifest fields that describe a data file's content: what a forger must rewrite so
/// that another backup's data file passes every check but the signature.
const CONTENT_FIELDS: [&str; 6] = [
    "sha256",
    "encrypted_size",
    "compressed_size",
    "plain_size",
    "db",
    "duration_seconds",
];

/// `victim`'s manifest (id, time, data file name) describing `donor`'s data file.
fn forged(victim: &Value, donor: &Value) -> Value {
    let mut forged = victim.clone();
    for field in CONTENT_FIELDS {
        forged[field] = donor[field].clone();
    }
    forged
}

fn id(manifest: &Value) -> &str {
    manifest["id"].as_str().unwrap()
}

fn manifest_path(ws: &Workspace, manifest: &Value) -> PathBuf {
    ws.backups.join(format!("{}.json", id(manifest)))
}

fn signature_path(ws: &Workspace, manifest: &Value) -> PathBuf {
    ws.backups.join(format!("{}.manifest.sig", id(manifest)))
}

/// Two genuine backups (300 rows, then 500), then 7 more live rows; returns both manifests.
fn two_backups(ws: &Workspace) -> (Value, Value) {
    ws.seed(300);
    let first = ws.backup_db();
    insert_listings(&ws.connect(), 200);
    let second = ws.backup_db();
    insert_listings(&ws.connect(), 7);
    (first, second)
}

/// In the backup directory: the second backup's data file under the first's manifest.
fn swap_data_file_under_first(ws: &Workspace, first: &Value, second: &Value) -> Value {
    std::fs::copy(ws.data_file(second), ws.data_file(first)).unwrap();
    let forged = forged(first, second);
    std::fs::write(
        manifest_path(ws, first),
        serde_json::to_vec_pretty(&forged).unwrap(),
    )
    .unwrap();
    forged
}

/// The live database's row count and the names in its directory (a snapshot, a temp file or
/// a swapped file would show).
fn live_state(ws: &Workspace) -> (u64, Vec<String>) {
    (count(&ws.connect(), "listings"), ws.data_dir_names())
}

/// Runs `restore db ID --yes --no-docker` and asserts exit 1 with `message` on stderr.
fn restore_refused(ws: &Workspace, id: &str, message: &str) {
    ws.run(&["restore", "db", id, "--yes", "--no-docker"])
        .assert_exit(1)
        .assert_stderr_contains(message);
}

#[test]
fn a_data_file_swapped_under_a_rewritten_manifest_is_refused_by_verify_restore_and_drill() {
    let ws = Workspace::new();
    let (first, second) = two_backups(&ws);
    let forged = swap_data_file_under_first(&ws, &first, &second);
    let before = live_state(&ws);
    assert_eq!(before.0, 507);

    ws.run(&["backup", "verify", id(&first)])
        .assert_exit(1)
        .assert_stdout_contains("does not verify with any trusted key");
    ws.run(&["backup", "verify", "--all"]).assert_exit(1);
    restore_refused(&ws, id(&first), "does not verify with any trusted key");
    assert_eq!(live_state(&ws), before, "nothing written or swapped");

    let report: Value = ws
        .run(&["drill", "--skip-wallets", "--json"])
        .assert_exit(1)
        .json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["unsigned"], serde_json::json!([id(&first)]));
    let step = &report["steps"][0];
    assert_eq!(step["name"], "check signatures of existing backups");
    assert!(
        step["detail"].as_str().unwrap().contains(id(&first)),
        "{report}"
    );
    assert_eq!(live_state(&ws).0, 507, "the drill does not touch live data");
    assert_eq!(
        ws.list()
            .iter()
            .find(|b| b["id"] == id(&first))
            .map(|b| b["verified"].clone()),
        Some(Value::Bool(false)),
        "the refusal is recorded"
    );

    // The control: the forgery is consistent in every other respect. Signed with the trusted
    // key (which only the signer holds), the same manifest verifies and restores, so the
    // signature is what stops it.
    let signer = mmkt_backup::signing::SigningKey::from_file(&ws.signing_key).unwrap();
    let bytes = std::fs::read(manifest_path(&ws, &first)).unwrap();
    std::fs::write(signature_path(&ws, &first), signer.sign(&bytes)).unwrap();
    assert_eq!(forged["sha256"], second["sha256"]);
    ws.run(&["backup", "verify", id(&first)]).assert_exit(0);
    ws.run(&["restore", "db", id(&first), "--yes", "--no-docker"])
        .assert_exit(0);
    assert_eq!(count(&ws.connect(), "listings"), 500);
}

#[test]
fn an_unsigned_backup_is_refused() {
    let ws = Workspace::new();
    let (first, _) = two_backups(&ws);
    std::fs::remove_file(signature_path(&ws, &first)).unwrap();
    let before = live_state(&ws);

    ws.run(&["backup", "verify", id(&first)])
        .assert_exit(1)
        .assert_stdout_contains("is not signed");
    restore_refused(&ws, id(&first), "is not signed");
    assert_eq!(live_state(&ws), before);
    let report: Value = ws
        .run(&["drill", "--skip-wallets", "--json"])
        .assert_exit(1)
        .json();
    assert_eq!(report["unsigned"], serde_json::json!([id(&first)]));
    // A signature of the wrong length is refused too.
    std::fs::write(signature_path(&ws, &first), b"short").unwrap();
    restore_refused(&ws, id(&first), "holds 5 bytes");
    assert_eq!(live_state(&ws).0, before.0);
}

#[test]
fn a_backup_signed_by_another_key_is_refused_until_that_key_is_trusted() {
    let ws = Workspace::new();
    ws.seed(120);
    let (other_key, other_public) = new_signing_key(ws.dir.path(), "other-signing.key");
    let signed_by_other: Vec<Value> = ws
        .mmctl(&["backup", "db", "--json"])
        .env("MMKT_BACKUP_SIGNING_KEY_FILE", &other_key)
        .run()
        .assert_exit(0)
        .json();
    let manifest = &signed_by_other[0];
    assert_eq!(manifest["signing_key"], other_public.as_str());
    insert_listings(&ws.connect(), 3);
    let before = live_state(&ws);

    let out = ws
        .run(&["backup", "verify", id(manifest)])
        .assert_exit(1)
        .assert_stdout_contains("does not verify with any trusted key");
    assert!(out.stdout().contains(&other_public), "{}", out.stdout());
    restore_refused(&ws, id(manifest), "does not verify with any trusted key");
    assert_eq!(live_state(&ws), before);

    // A drill whose signing key is not trusted fails on its own fresh backup.
    let report: Value = ws
        .mmctl(&["drill", "--skip-wallets", "--json"])
        .env("MMKT_BACKUP_SIGNING_KEY_FILE", &other_key)
        .run()
        .assert_exit(1)
        .json();
    let restore = &report["steps"][2];
    assert_eq!(restore["name"], "restore db to scratch");
    assert_eq!(restore["ok"], false);
    assert!(
        restore["detail"]
            .as_str()
            .unwrap()
            .contains("does not verify with any trusted key"),
        "{report}"
    );

    // Trusting both keys (env: comma-separated; or a file of keys) accepts it.
    let both = format!("{},{other_public}", ws.verify_key);
    ws.mmctl(&["backup", "verify", id(manifest)])
        .env("MMKT_BACKUP_VERIFY_KEYS", &both)
        .run()
        .assert_exit(0);
    let keys_file = ws.path("trusted.pub");
    std::fs::write(&keys_file, format!("# old host\n{other_public}\n")).unwrap();
    ws.mmctl(&["backup", "verify", id(manifest)])
        .env_remove("MMKT_BACKUP_VERIFY_KEYS")
        .arg("--verify-key")
        .arg(&keys_file)
        .run()
        .assert_exit(0);
}

#[test]
fn malformed_ids_are_refused_before_anything_is_read_or_written() {
    let ws = Workspace::new();
    ws.seed(50);
    ws.backup_db();
    let before = live_state(&ws);
    for bad in [
        "../x",
        "/abs",
        "",
        "db-20261121T193000Z-a1b2c3/../../x",
        "db-20261121T193000Z-A1B2C3",
        "db;rm -rf /",
    ] {
        ws.run(&["restore", "db", bad, "--yes", "--no-docker"])
            .assert_exit(2)
            .assert_stderr_contains("is not a backup id");
        ws.run(&["restore", "wallet", "buyer", bad, "--yes", "--no-docker"])
            .assert_exit(2)
            .assert_stderr_contains("is not a backup id");
        ws.run(&["backup", "verify", bad])
            .assert_exit(2)
            .assert_stderr_contains("is not a backup id");
        ws.run(&["backup", "upload", bad])
            .assert_exit(2)
            .assert_stderr_contains("is not a backup id");
    }
    assert_eq!(live_state(&ws), before);

    // Manifests in the directory whose id or data file would leave it are not backups.
    let genuine = &ws.list()[0];
    let text = std::fs::read_to_string(manifest_path(&ws, genuine)).unwrap();
    let mut escaping: Value = serde_json::from_str(&text).unwrap();
    let planted = "db-20260101T000000Z-abcdef";
    escaping["id"] = planted.into();
    escaping["data_file"] = "../data/mmkt.db".into();
    escaping["encrypted_size"] = std::fs::metadata(&ws.db).unwrap().len().into();
    std::fs::write(
        ws.backups.join(format!("{planted}.json")),
        serde_json::to_vec(&escaping).unwrap(),
    )
    .unwrap();
    let mut renamed: Value = serde_json::from_str(&text).unwrap();
    renamed["id"] = "../../outside".into();
    std::fs::write(
        ws.backups.join("db-20260101T000001Z-abcdef.json"),
        serde_json::to_vec(&renamed).unwrap(),
    )
    .unwrap();
    let out = ws.run(&["backup", "list"]).assert_exit(0);
    assert!(
        out.stderr()
            .contains("is not \"db-20260101T000000Z-abcdef.db.zst.age\"")
            && out.stderr().contains("is not a backup id"),
        "{}",
        out.stderr()
    );
    assert_eq!(ws.list().len(), 1, "only the genuine backup is listed");
    ws.run(&["restore", "db", planted, "--yes", "--no-docker"])
        .assert_exit(1)
        .assert_stderr_contains("incomplete");
    assert_eq!(live_state(&ws), before);
}

/// Removes the checksums s3s-fs keeps beside its objects (`.bucket-*.internal.json`), as a
/// PutObject by the attacker would have replaced them: the objects written above as files
/// then read back as they are.
fn forget_checksums(s3: &S3Server) {
    for entry in std::fs::read_dir(s3.root()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".bucket-") && name.ends_with(".internal.json") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
}

#[test]
fn a_forged_remote_backup_is_refused_before_its_data_is_downloaded() {
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let ws = Workspace::new();
    ws.seed(300);
    let backup_to_s3 = || {
        let manifests: Vec<Value> = ws
            .mmctl_s3(&s3, &["backup", "db", "--json"])
            .run()
            .assert_exit(0)
            .json();
        manifests.into_iter().next().unwrap()
    };
    let first = &backup_to_s3();
    insert_listings(&ws.connect(), 200);
    let second = &backup_to_s3();

    // The attacker writes the bucket: the second data object under the first's manifest.
    let objects = s3.root().join(s3.bucket()).join(S3_PREFIX);
    let object = |name: String| objects.join(name);
    let data = |m: &Value| object(m["data_file"].as_str().unwrap().to_owned());
    std::fs::copy(data(second), data(first)).unwrap();
    let forged = forged(first, second);
    std::fs::write(
        object(format!("{}.json", id(first))),
        serde_json::to_vec_pretty(&forged).unwrap(),
    )
    .unwrap();

    forget_checksums(&s3);

    // A new host restores from the bucket.
    let host = tempfile::tempdir().unwrap();
    let backups = host.path().join("backups");
    let db = host.path().join("mmkt.db");
    let restore = |selector: &str| {
        ws.mmctl_s3(
            &s3,
            &[
                "restore",
                "db",
                selector,
                "--from-s3",
                "--yes",
                "--no-docker",
            ],
        )
        .arg("--create-key-file")
        .env("MMKT_BACKUP_DIR", &backups)
        .env("MMKT_DB_PATH", &db)
        .env("MMKT_DB_KEY_FILE", host.path().join("mmkt.key"))
        .run()
    };
    restore(id(first))
        .assert_exit(1)
        .assert_stderr_contains("does not verify with any trusted key");
    assert!(!db.exists(), "no database was restored");
    assert!(
        !host.path().join("mmkt.key").exists(),
        "no key file was created"
    );
    let downloaded: Vec<_> = std::fs::read_dir(&backups)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        downloaded.is_empty(),
        "nothing was downloaded: {downloaded:?}"
    );

    // A remote manifest whose data file leaves the directory is refused, and nothing lands there.
    let mut escaping = second.clone();
    escaping["data_file"] = "../pwned.db.gz.age".into();
    std::fs::write(
        object(format!("{}.json", id(second))),
        serde_json::to_vec_pretty(&escaping).unwrap(),
    )
    .unwrap();
    forget_checksums(&s3);
    restore("latest")
        .assert_exit(1)
        .assert_stderr_contains("data file name");
    assert!(!host.path().join("pwned.db.gz.age").exists());
    assert!(!db.exists());
}

#[test]
fn keys_are_required_kept_off_the_store_and_checked() {
    let ws = Workspace::new();
    ws.seed(20);
    let backup_db = |var: &str, value: Option<&Path>| {
        let mmctl = ws.mmctl(&["backup", "db"]);
        let mmctl = match value {
            Some(value) => mmctl.env(var, value),
            None => mmctl.env_remove(var),
        };
        mmctl.run()
    };
    backup_db("MMKT_BACKUP_SIGNING_KEY_FILE", None)
        .assert_exit(2)
        .assert_stderr_contains("no backup signing key");
    std::fs::create_dir_all(&ws.backups).unwrap();
    let (inside, _) = new_signing_key(&ws.backups, "signing.key");
    backup_db("MMKT_BACKUP_SIGNING_KEY_FILE", Some(&inside))
        .assert_exit(2)
        .assert_stderr_contains("keep it off the backup store");
    std::fs::remove_file(&inside).unwrap();
    let (open_key, _) = new_signing_key(ws.dir.path(), "open.key");
    std::fs::set_permissions(
        &open_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    backup_db("MMKT_BACKUP_SIGNING_KEY_FILE", Some(&open_key))
        .assert_exit(1)
        .assert_stderr_contains("must be 600");
    backup_db(
        "MMKT_BACKUP_SIGNING_KEY_FILE",
        Some(&ws.path("missing.key")),
    )
    .assert_exit(1)
    .assert_stderr_contains("cannot read it");
    let nothing: Vec<_> = std::fs::read_dir(&ws.backups).unwrap().flatten().collect();
    assert!(nothing.is_empty(), "{nothing:?}");

    ws.backup_db();
    for (value, message) in [
        (None, "no trusted verify key"),
        (Some("not-a-key-nor-a-file"), "invalid verify key"),
    ] {
        for args in [
            &["backup", "verify"][..],
            &["restore", "db", "--yes", "--no-docker"],
        ] {
            let mmctl = ws.mmctl(args);
            let mmctl = match value {
                Some(value) => mmctl.env("MMKT_BACKUP_VERIFY_KEYS", value),
                None => mmctl.env_remove("MMKT_BACKUP_VERIFY_KEYS"),
            };
            mmctl.run().assert_exit(2).assert_stderr_contains(message);
        }
    }
    assert_eq!(count(&ws.connect(), "listings"), 20);
}

#[test]
fn keygen_writes_a_private_key_once_and_prints_the_key_that_verifies_its_backups() {
    let ws = Workspace::new();
    ws.seed(30);
    let key = ws.path("keygen.key");
    let key_arg = key.to_str().unwrap();
    let out = ws
        .run(&["backup", "keygen", "--out", key_arg])
        .assert_exit(0);
    let public = out.stdout().trim().to_owned();
    assert_eq!(public.len(), 44, "{public}");
    let mode = std::fs::metadata(&key).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let first = std::fs::read(&key).unwrap();
    ws.run(&["backup", "keygen", "--out", key_arg])
        .assert_exit(1)
        .assert_stderr_contains("never overwritten");
    assert_eq!(std::fs::read(&key).unwrap(), first, "the key is unchanged");

    ws.mmctl(&["backup", "db"])
        .env("MMKT_BACKUP_SIGNING_KEY_FILE", &key)
        .run()
        .assert_exit(0);
    ws.mmctl(&["backup", "verify"])
        .env("MMKT_BACKUP_VERIFY_KEYS", &public)
        .run()
        .assert_exit(0);
}

#[test]
fn a_signature_verifies_by_hand_with_openssl_as_docs_disaster_recovery_shows() {
    let ws = Workspace::new();
    ws.seed(40);
    let manifest = ws.backup_db();
    // The commands of docs/DISASTER-RECOVERY.md, "Check a backup's signature by hand".
    let script = r#"set -e
cd "$BACKUPS"
printf -- '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA%s\n-----END PUBLIC KEY-----\n' "$VERIFY_KEY" > "$WORK/verify.pem"
openssl pkeyutl -verify -pubin -inkey "$WORK/verify.pem" -rawin -in "$ID.json" -sigfile "$ID.manifest.sig"
test "$(sha256sum "$ID.db.zst.age" | cut -d' ' -f1)" = "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$ID.json")"
"#;
    let run = || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("BACKUPS", &ws.backups)
            .env("WORK", ws.dir.path())
            .env("VERIFY_KEY", &ws.verify_key)
            .env("ID", id(&manifest))
            .output()
            .expect("sh")
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));

    // One changed byte in the manifest and openssl refuses it too.
    let path = manifest_path(&ws, &manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"plain_size\": ", "\"plain_size\":  ", 1),
    )
    .unwrap();
    assert!(!run().status.success());
}

#[test]
fn a_wallet_restore_encrypts_its_safety_snapshot_to_the_configured_recipients_only() {
    let ws = Workspace::new();
    let wallets = ws.path("wallets-arbiter");
    let dir = wallets.to_str().unwrap();
    std::fs::create_dir(&wallets).unwrap();
    std::fs::write(wallets.join("arbiter.keys"), b"keys v1").unwrap();
    ws.run(&["backup", "wallets", "arbiter", "--wallet-dir", dir])
        .assert_exit(0);
    std::fs::write(wallets.join("arbiter.keys"), b"keys v2").unwrap();

    // The operator's recipients are now another key pair's (e.g. after a key rotation).
    let rotated = Workspace::new();
    let restore = [
        "restore",
        "wallet",
        "arbiter",
        "--yes",
        "--no-docker",
        "--wallet-dir",
        dir,
    ];
    ws.mmctl(&restore)
        .env("MMKT_BACKUP_RECIPIENTS", &rotated.recipient)
        .run()
        .assert_exit(0);
    assert_eq!(
        std::fs::read(wallets.join("arbiter.keys")).unwrap(),
        b"keys v1"
    );
    let listed = ws.list();
    let snapshot = listed.last().unwrap();
    let text = std::fs::read_to_string(manifest_path(&ws, snapshot)).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        manifest["recipients"],
        serde_json::json!([rotated.recipient]),
        "not the restored backup's recipients"
    );
    // It is signed, and only the configured recipients' identity opens it.
    ws.mmctl(&["backup", "verify", id(snapshot)])
        .env("MMKT_BACKUP_IDENTITY_FILE", &rotated.identity_file)
        .run()
        .assert_exit(0);
    ws.run(&["backup", "verify", id(snapshot)])
        .assert_exit(1)
        .assert_stdout_contains("wrong identity");

    // Without a signing key the restore refuses before touching the directory.
    std::fs::write(wallets.join("arbiter.keys"), b"keys v3").unwrap();
    ws.mmctl(&restore)
        .env_remove("MMKT_BACKUP_SIGNING_KEY_FILE")
        .run()
        .assert_exit(2)
        .assert_stderr_contains("no backup signing key");
    assert_eq!(
        std::fs::read(wallets.join("arbiter.keys")).unwrap(),
        b"keys v3"
    );
}
