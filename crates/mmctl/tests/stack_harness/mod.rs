//! Shared harness of the stack tests: runs the REAL `mmctl` binary against the real Docker
//! Engine, builds the project's images once at a time (file lock), and gives each test a
//! unique compose project that is removed (by label) when the test ends or panics.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub use test_support::docker::{
    FileLock, ProjectGuard, docker_available, unique_project, workspace_root,
};

/// Output of one mmctl run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl Run {
    /// Panics with the full output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The mmctl binary cargo built for these tests.
pub fn mmctl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mmctl"))
}

/// A `mmctl` command run from the workspace root with test-friendly settings: no colour,
/// ephemeral loopback ports for nginx (tests run in parallel), fast healthchecks.
pub fn mmctl() -> Command {
    let mut cmd = Command::new(mmctl_path());
    cmd.current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env("MMKT_HTTP_BIND", "127.0.0.1:0")
        .env("MMKT_HTTPS_BIND", "127.0.0.1:0")
        .env("MMKT_ACME_BIND", "127.0.0.1:0")
        .env("GRAFANA_BIND", "127.0.0.1:0")
        .env("HEALTHCHECK_INTERVAL", "2s")
        .env_remove("DOCKER_HOST")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .env_remove("MMCTL_ENV")
        .env_remove("MMCTL_COMPOSE_FILE")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs `mmctl ARGS` and captures its output.
pub fn run(args: &[&str]) -> Run {
    run_cmd(mmctl().args(args))
}

/// Runs a prepared command and captures its output.
pub fn run_cmd(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("cannot start the mmctl binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a docker CLI command (the independent observer) and returns its stdout lines.
pub fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("cannot run the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The cargo-built server binary next to the mmctl binary (same profile directory), built on
/// demand when a `cargo nextest run -p mmctl` did not build it.
pub fn server_binary() -> PathBuf {
    let path = mmctl_path()
        .parent()
        .expect("target dir")
        .join("mmkt-server");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "mmkt-server"])
            .current_dir(workspace_root())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "cargo build -p mmkt-server failed");
    }
    assert!(
        path.is_file(),
        "{} missing after cargo build",
        path.display()
    );
    path
}

/// Makes sure the base image and every project image exist, running
/// `mmctl image bootstrap-base` and `mmctl image build` under a file lock so parallel test
/// processes build once at a time (a cached rebuild takes seconds). Returns both runs.
pub fn ensure_images() -> (Run, Run) {
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-stack-tests-images.lock"));
    let base = run(&["image", "bootstrap-base"]).expect_code(0);
    let binary = format!("mmkt-server={}", server_binary().display());
    let build = run(&["image", "build", "--quiet", "--binary", &binary]).expect_code(0);
    (base, build)
}

/// A temporary directory holding a compose file with `content` (and returns its path).
pub fn compose_file(dir: &Path, content: &str) -> PathBuf {
    let path = dir.join("docker-compose.yml");
    std::fs::write(&path, content).expect("write compose file");
    path
}

/// Asserts that no container, network or volume carries the project's label.
#[track_caller]
pub fn assert_nothing_created(guard: &ProjectGuard) {
    assert!(
        guard.container_ids().is_empty(),
        "containers were created: {:?}",
        guard.container_ids()
    );
    assert!(
        guard.network_names().is_empty(),
        "networks were created: {:?}",
        guard.network_names()
    );
    assert!(
        guard.volume_names().is_empty(),
        "volumes were created: {:?}",
        guard.volume_names()
    );
}
