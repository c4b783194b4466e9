//! Backup and restore against a real Docker Engine: the `server` and `wallet-rpc-buyer`
//! containers of a throwaway compose project (debian:bookworm-slim, made by
//! `mmctl image bootstrap-base`) are stopped and started through the Engine API, the wallet
//! volume is read and written through the archive endpoints, and an unreachable daemon is exit 3.

mod backup_support;
mod harness;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use backup_support::*;
use test_support::docker::{FileLock, ProjectGuard, docker_available, unique_project};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn container(project: &str, service: &str) -> String {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ])
}

fn started_at(id: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", id])
}

/// Answers 200 to every HTTP request: stands in for the server's /ready on the host.
fn ready_responder() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}");
        }
    });
    url
}

const COMPOSE: &str = "services:
  server:
    image: debian:bookworm-slim
    command: [bash, -c, 'touch /tmp/up; exec sleep infinity']
    init: true
    stop_grace_period: 2s
    healthcheck:
      test: [CMD, test, -f, /tmp/up]
      interval: 1s
      retries: 30
  wallet-rpc-buyer:
    image: debian:bookworm-slim
    command: [bash, -c, 'touch /tmp/up; exec sleep infinity']
    init: true
    stop_grace_period: 2s
    volumes:
      - wallets-buyer:/wallets
    healthcheck:
      test: [CMD, test, -f, /tmp/up]
      interval: 1s
      retries: 30
volumes:
  wallets-buyer: {}
";

#[test]
fn restore_and_wallet_backup_drive_the_stack_containers_through_the_engine_api() {
    if !docker_available() {
        return;
    }
    {
        let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-stack-tests-images.lock"));
        Mmctl::new()
            .args(["image", "bootstrap-base"])
            .run()
            .assert_exit(0);
    }
    let ws = Workspace::new();
    let guard = ProjectGuard::new(&unique_project("mmctl-backup"));
    let project = guard.project().to_owned();
    let compose = ws.dir.path().join("docker-compose.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    ws.run(&[
        "up",
        "-p",
        &project,
        "--file",
        compose.to_str().unwrap(),
        "--timeout",
        "120",
    ])
    .assert_exit(0);
    let server = container(&project, "server");
    let wallet_rpc = container(&project, "wallet-rpc-buyer");

    // Database restore with the server container stopped and started by mmctl.
    ws.seed(400);
    ws.backup_db();
    insert_listings(&ws.connect(), 3);
    let before = started_at(&server);
    let ready = ready_responder();
    ws.run(&[
        "restore",
        "db",
        "latest",
        "--yes",
        "-p",
        &project,
        "--server-url",
        &ready,
    ])
    .assert_exit(0)
    .assert_stdout_contains("server ready");
    assert_ne!(
        started_at(&server),
        before,
        "the server container was restarted"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &server]),
        "true"
    );
    assert_eq!(count(&ws.connect(), "listings"), 400);

    // Wallet backup through the Engine API: container stopped during the archive, running after.
    docker(&[
        "exec",
        &wallet_rpc,
        "bash",
        "-c",
        "echo keys-v1 > /wallets/hot.keys; head -c 200000 /dev/urandom > /wallets/hot; chown -R 1000:1000 /wallets",
    ]);
    let before = started_at(&wallet_rpc);
    let manifests: Vec<serde_json::Value> = ws
        .run(&["backup", "wallets", "buyer", "-p", &project, "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(manifests[0]["wallets"]["consistency"], "container-stopped");
    assert_eq!(manifests[0]["wallets"]["file_count"], 2);
    assert_eq!(manifests[0]["wallets"]["wallets"][0]["name"], "hot");
    assert_ne!(
        started_at(&wallet_rpc),
        before,
        "stopped and started for a consistent archive"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &wallet_rpc]),
        "true"
    );
    ws.run(&["backup", "verify"]).assert_exit(0);

    // Wallet restore into the container: damaged file back, newer wallet kept, owner kept.
    docker(&[
        "exec",
        &wallet_rpc,
        "bash",
        "-c",
        "echo garbage > /wallets/hot.keys; echo new > /wallets/escrow-9.keys",
    ]);
    ws.run(&[
        "restore", "wallet", "buyer", "latest", "--yes", "-p", &project,
    ])
    .assert_exit(0);
    assert_eq!(
        docker(&["exec", &wallet_rpc, "cat", "/wallets/hot.keys"]),
        "keys-v1"
    );
    assert_eq!(
        docker(&["exec", &wallet_rpc, "cat", "/wallets/escrow-9.keys"]),
        "new"
    );
    assert_eq!(
        docker(&[
            "exec",
            &wallet_rpc,
            "stat",
            "-c",
            "%u:%g",
            "/wallets/hot.keys"
        ]),
        "1000:1000"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &wallet_rpc]),
        "true"
    );
    // The damaged state was kept as a regular backup first.
    assert_eq!(
        ws.list()
            .iter()
            .filter(|b| b["kind"] == "wallets-buyer")
            .count(),
        2
    );
}

#[test]
fn an_unreachable_docker_daemon_is_exit_3() {
    let ws = Workspace::new();
    ws.seed(10);
    ws.backup_db();
    let sock = format!("unix://{}/no-such-docker.sock", ws.dir.path().display());
    ws.run(&["--docker-host", &sock, "backup", "wallets", "buyer"])
        .assert_exit(3);
    ws.run(&["--docker-host", &sock, "restore", "db", "--yes"])
        .assert_exit(3);
    assert_eq!(
        count(&ws.connect(), "listings"),
        10,
        "nothing swapped when the server could not be stopped"
    );
}
