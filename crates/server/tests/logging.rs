//! Logs of the real binary in staging: JSON lines, request ids on request lines, and never a password,
//! session token or DB key.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{PASSWORD, User, register_raw, session_set_cookie, session_token};
use mmkt_server::db::key::DbKey;
use serde_json::{Value, json};

/// The wallet-rpc digest login staging requires; its password must never be logged.
const WALLET_LOGIN: &str = "mmkt:7f3a9c1e5b2d8f4a6c0e";

/// Kills the server by PID when the test ends, also on panic.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn staging_logs_are_json_with_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let key = DbKey::generate();
    // Staging wants the key on its own mount (outside the database's directory).
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("db.key");
    std::fs::write(&key_path, format!("{}\n", key.to_hex())).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmkt-server"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MMKT_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    let child = cmd
        .arg("serve")
        .env("MMKT_ENV", "staging")
        .env("MMKT_BIND", "127.0.0.1:0")
        .env("MMKT_DB_PATH", dir.path().join("mmkt.db"))
        .env("MMKT_DB_KEY_FILE", &key_path)
        .env("MMKT_WALLET_RPC_LOGIN", WALLET_LOGIN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = server.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server logs its listen address");
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        lines.push(line);
        if parsed["message"] == "mmkt-server listening" {
            break parsed["bind"].as_str().unwrap().to_owned();
        }
    };
    let base = format!("http://{addr}");

    let c = User::at(&base);
    let resp = register_raw(&c, "logan", "vendor").await;
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let token = session_token(&session_set_cookie(resp.headers()));
    let (status, _) = c
        .post(
            "/api/auth/login",
            json!({"username": "logan", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c.get("/api/auth/me").await;
    assert_eq!(status, 200);

    // Collect what the requests logged.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(line);
    }
    let all = lines.join("\n");
    assert!(
        !all.contains(PASSWORD),
        "a password reached the log:\n{all}"
    );
    assert!(
        !all.contains(&token),
        "a session token reached the log:\n{all}"
    );
    assert!(
        !all.contains(&key.to_hex()),
        "the DB key reached the log:\n{all}"
    );
    assert!(
        !all.contains("7f3a9c1e5b2d8f4a6c0e"),
        "the wallet-rpc password reached the log:\n{all}"
    );
    let mut with_id = 0;
    for line in &lines {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if v["span"]["request_id"] == request_id.as_str() {
            with_id += 1;
        }
    }
    assert!(
        with_id >= 2,
        "the register request's lines carry its request id {request_id}:\n{all}"
    );
    assert!(all.contains("account registered"), "{all}");
}
