//! Helpers of the backup tests on top of the shared mmctl harness (`tests/harness`): a
//! workspace with a real SQLCipher database, its key file, real age keys and a real backup
//! signing key (outside the backup directory) whose public key is trusted; the real mmctl
//! binary run against it (signing and verifying through MMKT_BACKUP_SIGNING_KEY_FILE and
//! MMKT_BACKUP_VERIFY_KEYS); an S3 server's settings; and the real monero-wallet-rpc binary.
//!
//! A test file declares `mod harness; mod backup_support;` and `use backup_support::*;`.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use mmkt_backup::crypto::Identities;
use mmkt_backup::manifest::{BackupKind, Selector, Series, WalletRole};
use mmkt_backup::signing::{AuthenticBackup, SigningKey, TrustedKeys, authenticate};
use mmkt_backup::store::{BackupDir, LocalBackup};
use mmkt_sqlcipher::{DbKey, write_key_file};
use rusqlite::Connection;
use test_support::s3::S3Server;

pub use crate::harness::{Mmctl, Output};

/// The S3 key prefix the offsite tests use.
pub const S3_PREFIX: &str = "prod/mmkt";

/// A test workspace: temp dir with a DB, its key file, a backup dir and an age key pair.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub key_file: PathBuf,
    pub key: DbKey,
    pub backups: PathBuf,
    pub identity_file: PathBuf,
    pub recipient: String,
    /// The backup signing key file (mode 0600, outside the backup directory).
    pub signing_key: PathBuf,
    /// Its public key, base64: the verify key the workspace trusts.
    pub verify_key: String,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("mmkt-backup-test-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let key = DbKey::generate();
        let key_file = data.join("mmkt.key");
        write_key_file(&key_file, &key).unwrap();
        let identity = age::x25519::Identity::generate();
        let identity_file = dir.path().join("backup-identity.txt");
        std::fs::write(
            &identity_file,
            format!(
                "# test identity\n{}\n",
                identity.to_string().expose_secret()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&identity_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let recipient = identity.to_public().to_string();
        let (signing_key, verify_key) = new_signing_key(dir.path(), "backup-signing.key");
        Workspace {
            signing_key,
            verify_key,
            db: data.join("mmkt.db"),
            key_file,
            key,
            backups: dir.path().join("backups"),
            identity_file,
            recipient,
            dir,
        }
    }

    /// A path inside the workspace's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Opens the live DB with its key (WAL, like the server).
    pub fn connect(&self) -> Connection {
        open(&self.db, &self.key)
    }

    /// Creates the listings table and `rows` realistic rows; schema version 7.
    pub fn seed(&self, rows: u64) {
        let conn = self.connect();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS listings (id INTEGER PRIMARY KEY, vendor TEXT NOT NULL, title TEXT NOT NULL,
                 description TEXT NOT NULL, price_atomic INTEGER NOT NULL, created_at TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS listings_vendor ON listings(vendor);
             CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
             PRAGMA user_version = 7;",
        )
        .unwrap();
        insert_listings(&conn, rows);
    }

    /// Adds `count` rows of 8 KiB to the `blobs` table in one transaction, each from `blob(i)`.
    pub fn insert_blobs(&self, count: u32, mut blob: impl FnMut(u32) -> Vec<u8>) {
        let conn = self.connect();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..count {
            conn.execute("INSERT INTO blobs (data) VALUES (?1)", [blob(i)])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }

    /// 3000 rows of barely compressible blobs (~24 MiB): long enough for a backup or restore
    /// to be interrupted by a test.
    pub fn seed_slow_blobs(&self) {
        self.insert_blobs(3000, |i| {
            (0..8192u32)
                .map(|j| (j.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8)
                .collect()
        });
    }

    /// The real mmctl binary (shared harness) with MMKT_* pointing at this workspace, not started.
    pub fn mmctl(&self, args: &[&str]) -> Mmctl {
        Mmctl::new()
            .args(args)
            .env("MMKT_DB_PATH", &self.db)
            .env("MMKT_DB_KEY_FILE", &self.key_file)
            .env("MMKT_BACKUP_DIR", &self.backups)
            .env("MMKT_BACKUP_RECIPIENTS", &self.recipient)
            .env("MMKT_BACKUP_IDENTITY_FILE", &self.identity_file)
            .env("MMKT_BACKUP_SIGNING_KEY_FILE", &self.signing_key)
            .env("MMKT_BACKUP_VERIFY_KEYS", &self.verify_key)
    }

    /// Runs mmctl against this workspace and captures its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.mmctl(args).run()
    }

    /// Like [`Workspace::mmctl`], with the S3 server's settings and [`S3_PREFIX`].
    pub fn mmctl_s3(&self, s3: &S3Server, args: &[&str]) -> Mmctl {
        s3.env()
            .into_iter()
            .fold(self.mmctl(args), |m, (k, v)| m.env(k, v))
            .env("MMKT_S3_PREFIX", S3_PREFIX)
    }

    /// Complete backups as `mmctl backup list --json` reports them.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.run(&["backup", "list", "--json"])
            .assert_exit(0)
            .json()
    }

    /// Runs `mmctl backup db --json` and returns the manifest.
    pub fn backup_db(&self) -> serde_json::Value {
        let manifests: Vec<serde_json::Value> =
            self.run(&["backup", "db", "--json"]).assert_exit(0).json();
        manifests.into_iter().next().unwrap()
    }

    /// The encrypted data file a manifest names.
    pub fn data_file(&self, manifest: &serde_json::Value) -> PathBuf {
        self.backups.join(manifest["data_file"].as_str().unwrap())
    }

    /// The backup directory, opened by the library.
    pub fn backup_dir(&self) -> BackupDir {
        BackupDir::open(&self.backups).unwrap()
    }

    /// The workspace's age identities, read by the library.
    pub fn identities(&self) -> Identities {
        Identities::from_file(&self.identity_file).unwrap()
    }

    /// A complete backup by id or "latest", found by the library.
    pub fn find(&self, selector: &str, series: Series) -> LocalBackup {
        let selector = Selector::parse(selector).unwrap();
        self.backup_dir().find(&selector, series).unwrap()
    }

    /// The keys the workspace trusts: its own signing key's public key.
    pub fn trusted(&self) -> TrustedKeys {
        TrustedKeys::collect(std::slice::from_ref(&self.verify_key)).unwrap()
    }

    /// Like [`Workspace::find`], with its signature checked (what restore primitives take).
    pub fn find_authentic(&self, selector: &str, series: Series) -> AuthenticBackup {
        authenticate(&self.find(selector, series), &self.trusted()).unwrap()
    }

    /// Names of the files in the database's directory, sorted.
    pub fn data_dir_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.db.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The pre-restore copies next to the database (without their `-wal`), by name.
    pub fn pre_restore_copies(&self) -> Vec<PathBuf> {
        let data = self.db.parent().unwrap();
        self.data_dir_names()
            .into_iter()
            .filter(|n| n.contains(".pre-restore-") && !n.ends_with("-wal"))
            .map(|n| data.join(n))
            .collect()
    }

    /// Writes a new random key file in the workspace (a key that does not open the DB).
    pub fn wrong_key_file(&self) -> PathBuf {
        let wrong = self.path("wrong.key");
        write_key_file(&wrong, &DbKey::generate()).unwrap();
        wrong
    }
}

/// Writes a new signing key file `name` in `dir`; returns its path and public key (base64).
pub fn new_signing_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = SigningKey::generate();
    let path = dir.join(name);
    key.write_new(&path).unwrap();
    (path, key.public_key().to_string())
}

/// The series of database backups.
pub const DB_SERIES: Series = Series {
    kind: BackupKind::Db,
    role: None,
};

/// The series of one role's wallet backups.
pub fn wallet_series(role: WalletRole) -> Series {
    Series {
        kind: BackupKind::Wallets,
        role: Some(role),
    }
}

/// Opens a database file with a raw key and no check of the key (so a test can observe that a
/// wrong key fails on the first read).
pub fn open(path: &Path, key: &DbKey) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA cipher_log_level = NONE;",
        key.to_hex()
    ))
    .unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn
}

pub fn insert_listings(conn: &Connection, rows: u64) {
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut stmt = conn
            .prepare("INSERT INTO listings (vendor, title, description, price_atomic, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap();
        for i in 0..rows {
            stmt.execute(rusqlite::params![
                format!("vendor-{}", i % 97),
                format!("Listing {i}: hand-made item number {}", i * 7),
                format!("A realistic description of item {i}, shipped worldwide, escrow accepted. Condition: {}.", ["new", "used", "refurbished"][(i % 3) as usize]),
                (i as i64 + 1) * 1_000_000_000,
                format!("2026-11-{:02}T12:{:02}:00Z", 1 + i % 28, i % 60),
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
}

pub fn count(conn: &Connection, table: &str) -> u64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as u64
}

/// `PRAGMA integrity_check` of an open database ("ok" when sound).
pub fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Flips one byte in the middle of a file.
pub fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// Whether a file name in the backup directory is a temporary (in-progress) file.
pub fn is_temp(name: &str) -> bool {
    name.contains(".tmp-")
}

/// The monero-wallet-rpc binary (MMKT_WALLET_RPC_BIN or on PATH); `None` (the test skips)
/// when it is not installed, a panic when MMKT_REQUIRE_SERVICES=1.
pub fn wallet_rpc_bin() -> Option<PathBuf> {
    let bin = std::env::var("MMKT_WALLET_RPC_BIN").unwrap_or_else(|_| "monero-wallet-rpc".into());
    let found = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from(bin));
    }
    if std::env::var("MMKT_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("monero-wallet-rpc is required (MMKT_REQUIRE_SERVICES=1) but not found");
    }
    eprintln!("skipping: monero-wallet-rpc not installed");
    None
}

/// The roles' names, in stack order.
pub const ROLES: [&str; 3] = ["buyer", "vendor", "arbiter"];

/// Starts `mmctl` with its output discarded, waits (60 s at most) until `reached()` holds
/// while it still runs, then kills it with SIGKILL by PID (`Child::kill`) and reaps it.
/// Panics with `finished_early` if mmctl ends first, with `never` on timeout.
pub fn kill_9_when(
    mut mmctl: Mmctl,
    reached: impl Fn() -> bool,
    finished_early: &str,
    never: &str,
) {
    let mut child = mmctl
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reached() {
        assert!(child.try_wait().unwrap().is_none(), "{finished_early}");
        assert!(std::time::Instant::now() < deadline, "{never}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
