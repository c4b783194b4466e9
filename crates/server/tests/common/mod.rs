//! In-process harness: starts the real app on 127.0.0.1:0 over a real SQLCipher file in a temp
//! dir. The helpers shared with the real-binary harness (users, register, login, arbiters, error
//! assertions) come from `shared/`.
#![allow(dead_code)]

#[path = "../shared/mod.rs"]
mod shared;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use mmkt_server::config::{Config, KeyFilePolicy, RunnerSettings};
use mmkt_server::db::key::{self, DbKey};
use mmkt_server::db::pool::open_keyed;
use mmkt_server::escrow::lease::{Hosting, RunnerLease};
use mmkt_server::{AppState, Db};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use shared::*;

/// A running server; stops (graceful shutdown) and deletes its files on drop.
pub struct TestServer {
    pub base: String,
    pub dir: TempDir,
    pub db_path: PathBuf,
    pub key: DbKey,
    pub db: Db,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Config for a fresh temp dir: development defaults, DB and generated key inside `dir`.
pub fn test_config(dir: &TempDir, extra: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert(
        "MMKT_DB_PATH".into(),
        dir.path().join("mmkt.db").display().to_string(),
    );
    vars.insert(
        "MMKT_DB_KEY_FILE".into(),
        dir.path().join("mmkt.key").display().to_string(),
    );
    vars.insert("MMKT_BIND".into(), "127.0.0.1:0".into());
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_vars(&vars).expect("test config is valid")
}

impl TestServer {
    /// Development config.
    pub async fn start() -> Self {
        Self::start_with(&[], |_| {}).await
    }

    /// Config from `vars` (on top of the temp paths), then `tweak`.
    pub async fn start_with(vars: &[(&str, &str)], tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&dir, vars);
        tweak(&mut config);
        let (key, _) =
            key::load_or_create(&config.db_key_file, KeyFilePolicy::GenerateIfMissing).unwrap();
        let db = Db::open(&config.db_path, &key, config.db_pool_size).unwrap();
        let db_path = config.db_path.clone();
        let state = AppState::new(config, db.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            mmkt_server::serve(listener, state, async move {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            base,
            dir,
            db_path,
            key,
            db,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Row count of `table`, read through a separate keyed connection.
    pub fn count(&self, table: &str) -> i64 {
        let conn = open_keyed(&self.db_path, &self.key).unwrap();
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Row counts of every table the API writes, plus the sum of listing stock and a digest of listing
    /// contents (so an UPDATE that should not happen is caught too).
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let conn = open_keyed(&self.db_path, &self.key).unwrap();
        let mut out = Vec::new();
        for table in ["users", "sessions", "listings", "orders", "escrows"] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            out.push((table.to_owned(), n.to_string()));
        }
        let digest: String = conn
            .query_row(
                "SELECT coalesce(group_concat(id || ':' || title || ':' || description || ':' || price_atomic || ':' || stock || ':' || coalesce(deleted_at, '-'), '|'), '') FROM listings",
                [],
                |r| r.get(0),
            )
            .unwrap();
        out.push(("listings_content".into(), digest));
        out
    }

    /// An anonymous client of this server.
    pub fn anonymous(&self) -> User {
        User::anonymous(self)
    }
}

impl Harness for TestServer {
    fn base(&self) -> &str {
        &self.base
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmkt-server"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MMKT_")) {
            cmd.env_remove(k);
        }
        cmd.env("MMKT_DB_PATH", &self.db_path)
            .env("MMKT_DB_KEY_FILE", self.dir.path().join("mmkt.key"));
        cmd
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The escrow runner lease on `db`, taken by the test as runner `id` (30 s lifetime, renewed by
/// its keeper), for tests that drive wallet workers or participants themselves.
pub async fn hold_runner_lease(db: &Db, id: &str) -> RunnerLease {
    let lease = RunnerLease::new(
        db.clone(),
        &RunnerSettings {
            id: Some(id.into()),
            lease_ttl: std::time::Duration::from_secs(30),
        },
        Hosting::Hosted,
    );
    lease.spawn_keeper();
    lease
        .acquire()
        .await
        .expect("the test holds the runner lease");
    lease
}
