//! Encryption at rest, key file rules, migrations, and fail-fast configuration of the real binary.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use mmkt_server::config::KeyFilePolicy;
use mmkt_server::db::key::{self, DbKey};
use mmkt_server::db::migrations::SCHEMA_VERSION;
use mmkt_server::db::pool::open_keyed;
use mmkt_server::db::{Db, DbError};

const TITLE: &str = "Plaintext-Canary-Zebra-Title";

#[tokio::test]
async fn database_is_encrypted_and_refuses_a_wrong_key() {
    let s = TestServer::start().await;
    let vendor = register(&s, "vendy", "vendor").await;
    create_listing(&vendor, TITLE, 1_000_000_000, 1).await;
    let (_, r) = s.anonymous().get("/api/listings/search?q=canary").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 1);

    // Checkpoint the WAL into the main file, then scan every file of the database for the title.
    let conn = open_keyed(&s.db_path, &s.key).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let mut scanned = 0;
    for entry in std::fs::read_dir(s.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mmkt.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        assert!(
            !bytes.windows(TITLE.len()).any(|w| w == TITLE.as_bytes()),
            "{name} contains the title in plaintext"
        );
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{name} has a plaintext SQLite header"
        );
    }
    assert!(
        scanned > 4096,
        "database files were scanned ({scanned} bytes)"
    );
    let mode = std::fs::metadata(&s.db_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "database file is private");

    // A different key cannot open it, and the error says so.
    let wrong = DbKey::generate();
    let err = Db::open(&s.db_path, &wrong, 1).unwrap_err();
    assert!(matches!(err, DbError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("MMKT_DB_KEY_FILE"), "{err}");
    assert!(
        !err.to_string().contains(&wrong.to_hex()),
        "error must not contain the key"
    );
    assert_eq!(
        open_keyed(&s.db_path, &wrong)
            .unwrap_err()
            .sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    );

    // The right key opens it; WAL mode and the schema version are set.
    let conn = open_keyed(&s.db_path, &s.key).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    for index in [
        "idx_listings_vendor_id",
        "idx_listings_created_at",
        "idx_orders_buyer_id",
        "idx_orders_status",
        "idx_escrows_state",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [index],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "missing index {index}");
    }
}

#[test]
fn reopening_keeps_data_and_does_not_remigrate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mmkt.db");
    let key = DbKey::generate();
    let db = Db::open(&path, &key, 2).unwrap();
    db.connection().unwrap().execute("INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', 'h', 'buyer', 0)", []).unwrap();
    drop(db);
    let db = Db::open(&path, &key, 2).unwrap();
    let n: i64 = db
        .connection()
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // A file from a newer binary is refused instead of being written with an old schema.
    db.connection()
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(db);
    let err = Db::open(&path, &key, 2).unwrap_err();
    assert!(matches!(err, DbError::NewerSchema { .. }), "{err}");
}

/// Runs the real binary with only the given MMKT_* variables; returns (success, stderr).
fn run_server(dir: &std::path::Path, vars: &[(&str, String)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmkt-server"));
    cmd.arg("serve").current_dir(dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MMKT_")) {
        cmd.env_remove(k);
    }
    cmd.env("MMKT_BIND", "127.0.0.1:0")
        .env("MMKT_DB_PATH", dir.join("mmkt.db"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn production_refuses_to_start_without_key_or_wallets() {
    let dir = tempfile::tempdir().unwrap();
    // The key on its own mount, outside the database's directory.
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("db.key");
    let prod = ("MMKT_ENV", "production".to_owned());

    let (ok, err) = run_server(dir.path(), std::slice::from_ref(&prod));
    assert!(!ok);
    assert!(err.contains("MMKT_DB_KEY_FILE must be set"), "{err}");

    let wallets = [
        ("MMKT_WALLET_RPC_BUYER_URL", "http://127.0.0.1:9".to_owned()),
        (
            "MMKT_WALLET_RPC_VENDOR_URL",
            "http://127.0.0.1:9".to_owned(),
        ),
        (
            "MMKT_WALLET_RPC_ARBITER_URL",
            "http://127.0.0.1:9".to_owned(),
        ),
        (
            "MMKT_WALLET_RPC_LOGIN",
            "mmkt:7f3a9c1e5b2d8f4a6c0e".to_owned(),
        ),
    ];
    let with_key = |extra: &[(&'static str, String)]| {
        let mut v = vec![
            prod.clone(),
            ("MMKT_DB_KEY_FILE", key_path.display().to_string()),
        ];
        v.extend_from_slice(extra);
        v
    };
    // Key file path set but missing: refused, never generated outside development.
    let (ok, err) = run_server(dir.path(), &with_key(&wallets));
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!key_path.exists(), "production must not generate a key");

    // Missing wallet URLs: refused before touching the key.
    let (ok, err) = run_server(dir.path(), &with_key(&wallets[1..]));
    assert!(!ok);
    assert!(err.contains("MMKT_WALLET_RPC_BUYER_URL"), "{err}");
    let (ok, err) = run_server(
        dir.path(),
        &with_key(&[wallets[0].clone(), wallets[1].clone(), wallets[3].clone()]),
    );
    assert!(!ok);
    assert!(err.contains("MMKT_WALLET_RPC_ARBITER_URL"), "{err}");

    // A default wallet RPC password: refused, and not echoed.
    let mut weak = wallets.to_vec();
    weak[3] = ("MMKT_WALLET_RPC_LOGIN", "monero:password".to_owned());
    let (ok, err) = run_server(dir.path(), &with_key(&weak));
    assert!(!ok);
    assert!(err.contains("weak secret"), "{err}");
    assert!(!err.contains("monero:password"), "{err}");

    // A weak (all-zero) key file: refused.
    std::fs::write(&key_path, "00".repeat(32)).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, err) = run_server(dir.path(), &with_key(&wallets));
    assert!(!ok);
    assert!(err.contains("weak key"), "{err}");
    assert!(
        !dir.path().join("mmkt.db").exists(),
        "nothing written before the checks pass"
    );
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("db.key");
    std::fs::write(&key_path, format!("{}\n", DbKey::generate().to_hex())).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    for env in ["development", "staging"] {
        let (ok, err) = run_server(
            dir.path(),
            &[
                ("MMKT_ENV", env.to_owned()),
                ("MMKT_DB_KEY_FILE", key_path.display().to_string()),
                (
                    "MMKT_WALLET_RPC_LOGIN",
                    "mmkt:7f3a9c1e5b2d8f4a6c0e".to_owned(),
                ),
            ],
        );
        assert!(!ok, "{env}");
        assert!(
            err.contains("mode 0644") && err.contains("chmod 600"),
            "{env}: {err}"
        );
    }
    assert!(!dir.path().join("mmkt.db").exists());
    // Development generates a missing key with mode 0600 (library path used by `serve`).
    let generated = dir.path().join("new.key");
    let (_, origin) = key::load_or_create(&generated, KeyFilePolicy::GenerateIfMissing).unwrap();
    assert_eq!(origin, key::KeyOrigin::Generated);
    assert_eq!(
        std::fs::metadata(&generated).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn staging_sets_secure_cookie_and_shorter_ttl() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("db.key");
    let vars = [
        ("MMKT_ENV", "staging"),
        ("MMKT_DB_KEY_FILE", key_file.to_str().unwrap()),
        ("MMKT_WALLET_RPC_LOGIN", "mmkt:7f3a9c1e5b2d8f4a6c0e"),
    ];
    let s = TestServer::start_with(&vars, |_| {}).await;
    let resp = register_raw(&s.anonymous(), "sally", "buyer").await;
    let cookie = session_set_cookie(resp.headers());
    assert!(
        cookie.contains("Secure") && cookie.contains("Max-Age=28800"),
        "{cookie}"
    );
}

#[test]
fn listing_pages_and_order_lists_read_through_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("mmkt.db"), &DbKey::generate(), 1).unwrap();
    let conn = db.connection().unwrap();
    let plan = |sql: &str| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.join(" | ")
    };
    let listings = plan(
        "SELECT l.id FROM listings l JOIN users u ON u.id = l.vendor_id WHERE l.deleted_at IS NULL \
         ORDER BY l.created_at DESC, l.id DESC LIMIT 21 OFFSET 0",
    );
    assert!(
        listings.contains("idx_listings_created_at") && !listings.contains("TEMP B-TREE"),
        "{listings}"
    );
    let orders = plan(
        "SELECT o.id FROM orders o WHERE o.buyer_id = 1 OR o.vendor_id = 1 ORDER BY o.id DESC LIMIT 21",
    );
    assert!(
        orders.contains("idx_orders_buyer_id") && orders.contains("idx_orders_vendor_id"),
        "{orders}"
    );
}

#[test]
fn every_pooled_connection_is_durable_and_enforces_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("mmkt.db"), &DbKey::generate(), 2).unwrap();
    let conn = db.connection().unwrap();
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous = FULL");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let err = conn
        .execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (x'00', 999, 0, 1)", [])
        .unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
}
