//! Shared harness: starts the real app on 127.0.0.1:0 over a real SQLCipher file in a temp dir.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use mmkt_server::auth::password::{self, Password};
use mmkt_server::config::{Config, KeyFilePolicy};
use mmkt_server::db::key::{self, DbKey};
use mmkt_server::db::pool::open_keyed;
use mmkt_server::db::users::{self, InsertOutcome, Role};
use mmkt_server::{AppState, Db};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Password used by every test account.
pub const PASSWORD: &str = "correct-horse-battery";

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

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
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

    /// Creates an arbiter through the operator path (library call used by `mmkt-server create-arbiter`).
    pub fn create_arbiter(&self, username: &str) -> i64 {
        let hash = password::hash(&Password::new(PASSWORD.into())).unwrap();
        let conn = open_keyed(&self.db_path, &self.key).unwrap();
        match users::insert(&conn, username, &hash, Role::Arbiter).unwrap() {
            InsertOutcome::Created(u) => u.id,
            InsertOutcome::UsernameTaken => panic!("arbiter {username} exists"),
        }
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

/// A client with its own cookie store (one per simulated user).
pub fn client() -> Client {
    Client::builder().cookie_store(true).build().unwrap()
}

/// Sends a request and returns status and JSON body (Value::Null when the body is empty or not JSON).
pub async fn send(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers and returns (logged-in client, user id).
pub async fn register(server: &TestServer, username: &str, role: &str) -> (Client, i64) {
    let c = client();
    let (status, body) = send(
        &c,
        Method::POST,
        &server.url("/api/auth/register"),
        Some(json!({"username": username, "password": PASSWORD, "role": role})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "register {username}: {body}");
    (c, body["id"].as_i64().unwrap())
}

/// Logs in and returns the client.
pub async fn login(server: &TestServer, username: &str) -> Client {
    let c = client();
    let (status, body) = send(
        &c,
        Method::POST,
        &server.url("/api/auth/login"),
        Some(json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login {username}: {body}");
    c
}

/// Creates a listing as `vendor` and returns its id.
pub async fn create_listing(
    server: &TestServer,
    vendor: &Client,
    title: &str,
    price: u64,
    stock: u32,
) -> i64 {
    let (status, body) = send(
        vendor,
        Method::POST,
        &server.url("/api/listings"),
        Some(json!({"title": title, "description": format!("{title} description"), "price_xmr": price, "stock": stock})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "create listing: {body}");
    body["listing_id"].as_i64().unwrap()
}

/// Asserts the error body shape and code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "body: {body}");
    assert_eq!(body["error"]["code"], want_code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
}
