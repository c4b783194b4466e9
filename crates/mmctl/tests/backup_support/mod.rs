//! Shared helpers of the backup tests: real SQLCipher files, real age keys, and the real mmctl
//! binary run as a child process with a controlled environment.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use age::secrecy::ExposeSecret;
use mmctl::backup::keyfile::{DbKey, write_key_file};
use rusqlite::Connection;

/// A test workspace: temp dir with a DB, its key file, a backup dir and an age key pair.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub key_file: PathBuf,
    pub key: DbKey,
    pub backups: PathBuf,
    pub identity_file: PathBuf,
    pub recipient: String,
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
        Workspace {
            db: data.join("mmkt.db"),
            key_file,
            key,
            backups: dir.path().join("backups"),
            identity_file,
            recipient,
            dir,
        }
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

    /// Runs the real mmctl binary with MMKT_* pointing at this workspace.
    pub fn mmctl(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The mmctl command, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmctl"));
        for (k, _) in std::env::vars() {
            if k.starts_with("MMKT_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args)
            .env("MMKT_DB_PATH", &self.db)
            .env("MMKT_DB_KEY_FILE", &self.key_file)
            .env("MMKT_BACKUP_DIR", &self.backups)
            .env("MMKT_BACKUP_RECIPIENTS", &self.recipient)
            .env("MMKT_BACKUP_IDENTITY_FILE", &self.identity_file);
        cmd
    }

    /// Complete backups as `mmctl backup list --json` reports them.
    pub fn list(&self) -> Vec<serde_json::Value> {
        let out = self.mmctl(&["backup", "list", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    }
}

pub fn open(path: &Path, key: &DbKey) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA cipher_log_level = NONE;",
        key.expose_hex()
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

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `mmctl backup db --json` and returns the manifest.
pub fn backup_db(ws: &Workspace) -> serde_json::Value {
    let out = ws.mmctl(&["backup", "db", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "backup db failed: {}",
        stderr(&out)
    );
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    manifests.into_iter().next().unwrap()
}

/// Flips one byte in the middle of a file.
pub fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}
