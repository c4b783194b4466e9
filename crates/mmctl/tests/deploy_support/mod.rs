//! Helpers of the deploy tests: a small real stack (the real server image, tagged v1, v2 and
//! a broken one that exits at start, and the real nginx image with deploy/nginx/nginx.conf)
//! in its own compose project, with the database and key file on the host (the backup
//! workspace's), an env file with short deploy timings, and plain HTTP through nginx.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub use crate::backup_support::Workspace;
pub use crate::harness::{Mmctl, Output};
pub use crate::stack_harness::{
    FileLock, ProjectGuard, docker_available, docker_lines, ensure_images, unique_project,
    workspace_root,
};

/// The server image repository the deploy tests tag.
pub const IMAGE: &str = "mmkt-deploytest/server";

/// Builds `IMAGE:v1` (the server image), `IMAGE:v2` (the same with a label: another image id)
/// and `IMAGE:broken` (exits at start), under the image-build lock; the project images are
/// built first only when missing (these builds have no RUN step, so they need no network).
pub fn ensure_test_images() {
    let present = |image: &str| {
        Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !present("mmkt/server:latest") || !present("mmkt/nginx:latest") {
        let _ = ensure_images();
    }
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-deploy-tests-images.lock"));
    docker_lines(&["tag", "mmkt/server:latest", &format!("{IMAGE}:v1")]);
    build(
        &format!("{IMAGE}:v2"),
        "FROM mmkt/server:latest\nLABEL org.mmkt.test-build=v2\n",
    );
    build(
        &format!("{IMAGE}:broken"),
        "FROM mmkt/server:latest\nENTRYPOINT [\"/bin/sh\", \"-c\", \"echo broken-marker >&2; exit 3\"]\n",
    );
}

/// Builds `tag` from `dockerfile` (no context: FROM and metadata only, so no network).
pub fn build(tag: &str, dockerfile: &str) {
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker build");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One deploy test stack: the workspace (DB, keys, backups), the compose file and env
/// `test`, and the project (removed by label at the end).
pub struct DeployStack {
    pub ws: Workspace,
    pub file: PathBuf,
    pub guard: ProjectGuard,
}

impl DeployStack {
    /// Writes the compose and env files and runs `mmctl up` (server v1 and nginx).
    pub fn up(prefix: &str) -> DeployStack {
        DeployStack::up_with(prefix, COMPOSE, ENV, &[])
    }

    /// [`DeployStack::up`] with another compose file (paths relative to the workspace), env
    /// file and extra `(name, content)` files written beside the compose file first. In the
    /// compose file, a line `{SERVER}` becomes [`SERVER`] (the server service up to its
    /// environment, which the file may continue), a line `{NGINX}` becomes [`NGINX`], and
    /// `{NGINX_CONF}` and `{IMAGE}` are replaced.
    pub fn up_with(prefix: &str, compose: &str, env: &str, files: &[(&str, &str)]) -> DeployStack {
        let ws = Workspace::new();
        for (name, content) in files {
            std::fs::write(ws.dir.path().join(name), content).unwrap();
        }
        let data = ws.dir.path().join("data");
        for path in [&data, &ws.key_file] {
            std::os::unix::fs::chown(path, Some(1000), Some(1000)).unwrap();
        }
        let conf = workspace_root().join("deploy/nginx/nginx.conf");
        let compose = compose
            .replace("{SERVER}\n", SERVER)
            .replace("{NGINX}\n", NGINX)
            .replace("{NGINX_CONF}", conf.to_str().unwrap())
            .replace("{IMAGE}", IMAGE);
        let file = ws.dir.path().join("docker-compose.yml");
        std::fs::write(&file, compose).unwrap();
        std::fs::create_dir(ws.dir.path().join("env")).unwrap();
        std::fs::write(ws.dir.path().join("env/test.env"), env).unwrap();
        let guard = ProjectGuard::new(&unique_project(prefix));
        let stack = DeployStack { ws, file, guard };
        stack.run(&["up", "--timeout", "120"]).assert_exit(0);
        stack
    }

    /// `mmctl ARGS -p PROJECT --file FILE --env test` with the workspace's DB and backup settings.
    pub fn mmctl(&self, args: &[&str]) -> Mmctl {
        self.ws.mmctl(args).args([
            "-p",
            self.guard.project(),
            "--file",
            self.file.to_str().unwrap(),
            "--env",
            "test",
        ])
    }

    /// Runs [`DeployStack::mmctl`].
    pub fn run(&self, args: &[&str]) -> Output {
        self.mmctl(args).run()
    }

    /// `(name, image, state)` of every server container of the project, running or not.
    pub fn servers(&self) -> Vec<(String, String, String)> {
        docker_lines(&[
            "ps",
            "-a",
            "--filter",
            &self.guard.filter(),
            "--filter",
            "label=com.docker.compose.service=server",
            "--format",
            "{{.Names}} {{.Image}} {{.State}}",
        ])
        .into_iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
    }

    /// The image of the only server container (panics unless exactly one exists and runs).
    #[track_caller]
    pub fn only_server_image(&self) -> String {
        let servers = self.servers();
        assert!(
            servers.len() == 1 && servers[0].2 == "running",
            "{servers:?}"
        );
        servers[0].1.clone()
    }

    /// The id of the project's (first running) container of `service`.
    #[track_caller]
    pub fn container(&self, service: &str) -> String {
        docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &self.guard.filter(),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {service} container"))
    }

    /// `127.0.0.1:PORT` of nginx's published 8080.
    pub fn nginx_addr(&self) -> String {
        docker_lines(&["port", &self.container("nginx"), "8080/tcp"])[0].clone()
    }

    /// The first column of the first row of `sql` with `params` on the stack's database.
    #[track_caller]
    pub fn query_i64(&self, sql: &str, params: impl rusqlite::Params) -> i64 {
        self.ws
            .connect()
            .query_row(sql, params, |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The last entry of `mmctl deploy history --json`.
    pub fn last_history(&self) -> serde_json::Value {
        let history: serde_json::Value = self
            .run(&["deploy", "history", "--json"])
            .assert_exit(0)
            .json();
        history.as_array().unwrap().last().unwrap().clone()
    }

    /// `GET path` through nginx's published port: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.nginx_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }

    /// Whether the project's deploy lock volume exists.
    pub fn lock_exists(&self) -> bool {
        !docker_lines(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{}_deploy-lock$", self.guard.project()),
        ])
        .is_empty()
    }
}

/// nginx's `pin` check in `mmctl health --json`: (ok, detail).
pub fn health_pin(stack: &DeployStack, code: i32) -> (bool, String) {
    let health: serde_json::Value = stack.run(&["health", "--json"]).assert_exit(code).json();
    let nginx = health
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "nginx")
        .unwrap_or_else(|| panic!("no nginx entry: {health:#}"));
    let pin = nginx["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pin")
        .unwrap_or_else(|| panic!("no pin check: {nginx:#}"));
    (
        pin["ok"].as_bool().unwrap(),
        pin["detail"].as_str().unwrap().to_owned(),
    )
}

/// Asserts that `out`'s step log (stderr) has a line of step `step` containing `text`.
#[track_caller]
pub fn assert_step(out: &Output, step: &str, text: &str) {
    assert!(
        out.stderr()
            .lines()
            .any(|l| l.starts_with(step) && l.contains(text)),
        "step {step} with {text:?}:\n{}",
        out.stderr()
    );
}

/// The tag of the server image whose SIGTERM waits for the test ([`StopGate`]).
pub const STOPGATE: &str = "stopgate";

/// The wrapper around the server image's entrypoint of [`STOPGATE`].
const GATE: &str = "/usr/local/bin/mmkt-server-entrypoint & pid=$!; \
trap 'touch /app/data/stopping; while [ ! -e /app/data/go ]; do sleep 0.1; done; kill -TERM $pid' TERM; \
wait $pid; wait $pid";

/// Builds `IMAGE:stopgate`: the server image whose entrypoint, on SIGTERM, writes `stopping`
/// into the data directory and waits for the file `go` there before passing the signal on to
/// the server. Call after [`ensure_test_images`].
pub fn ensure_stopgate_image() {
    let entrypoint = serde_json::to_string(&["/bin/sh", "-c", GATE]).unwrap();
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-deploy-tests-images.lock"));
    build(
        &format!("{IMAGE}:{STOPGATE}"),
        &format!("FROM mmkt/server:latest\nENTRYPOINT {entrypoint}\n"),
    );
}

/// The test's side of a [`STOPGATE`] server: the stack's data directory, where the server
/// says it got SIGTERM and waits for the test to let it stop.
pub struct StopGate {
    data: PathBuf,
}

impl StopGate {
    /// The gate of `stack`'s server.
    pub fn new(stack: &DeployStack) -> StopGate {
        StopGate {
            data: stack.ws.db.parent().unwrap().to_owned(),
        }
    }

    /// Whether the server got SIGTERM (it serves on until [`StopGate::open`]).
    pub fn stopping(&self) -> bool {
        self.data.join("stopping").exists()
    }

    /// Whether [`StopGate::open`] ran.
    pub fn is_open(&self) -> bool {
        self.data.join("go").exists()
    }

    /// Lets the server stop.
    pub fn open(&self) {
        std::fs::write(self.data.join("go"), "").unwrap();
    }
}

/// The server service of a deploy test compose file up to its environment (which a compose
/// file may continue): the test image, the host's data directory, the real healthcheck.
pub const SERVER: &str = r#"  server:
    image: {IMAGE}:${MMKT_VERSION:-v1}
    user: "1000:1000"
    restart: unless-stopped
    volumes:
      - ./data:/app/data
    healthcheck:
      test: ["CMD", "/usr/local/bin/mmkt-healthcheck"]
      interval: 1s
      retries: 30
    stop_grace_period: 5s
    environment:
      MMKT_ENV: development
      MMKT_MONERO_NETWORK: regtest
      MMKT_BIND: 0.0.0.0:8080
      MMKT_CLIENT_IP_SOURCE: x-real-ip
      MMKT_DB_PATH: /app/data/mmkt.db
      MMKT_DB_KEY_FILE: /app/data/mmkt.key
"#;

/// The nginx service of a deploy test compose file: the real image and config, published on
/// a free loopback port, on the `frontend` network (and the `nginx-upstream` volume; `tls-certs`
/// holds the self-signed certificate `mmctl up` makes, which nginx.conf loads at start).
pub const NGINX: &str = r#"  nginx:
    image: mmkt/nginx:latest
    user: www-data
    restart: unless-stopped
    volumes:
      - {NGINX_CONF}:/etc/nginx/nginx.conf:ro
      - nginx-upstream:/etc/nginx/mmkt
      - tls-certs:/etc/nginx/tls:ro
    tmpfs:
      - /tmp:size=16m,mode=1777
    networks: [frontend]
    ports:
      - "127.0.0.1:0:8080"
    depends_on:
      server:
        condition: service_started
"#;

/// The env file of [`DeployStack::up`].
pub const ENV: &str = "MMKT_VERSION=v1
MMKT_DEPLOY_READY_TIMEOUT_SECS=60
MMKT_DEPLOY_WATCH_SECS=2
MMKT_DEPLOY_DRAIN_SECS=1
MMKT_DEPLOY_LEASE_TIMEOUT_SECS=30
";

/// The compose file of [`DeployStack::up`] (server on `backend` first, then `frontend`).
pub const COMPOSE: &str = r#"services:
{SERVER}
    networks: [backend, frontend]
{NGINX}
networks:
  backend:
    internal: true
  frontend: {}
volumes:
  nginx-upstream: {}
  tls-certs: {}
"#;
