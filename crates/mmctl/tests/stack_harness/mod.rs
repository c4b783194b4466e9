//! Helpers of the stack tests on top of the shared mmctl harness (`tests/harness`): test-friendly
//! stack settings, the project images built once at a time (file lock), the docker CLI as an
//! independent observer, and unique compose projects removed (by label) when a test ends or
//! panics.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::harness::{Mmctl, Output, mmctl_path, workspace_root};
pub use test_support::docker::{FileLock, ProjectGuard, docker_available, unique_project};

pub mod hardening;

/// Settings every stack test runs with: ephemeral loopback ports for nginx and grafana (tests
/// run in parallel) and fast healthchecks.
const STACK_ENV: [(&str, &str); 5] = [
    ("MMKT_HTTP_BIND", "127.0.0.1:0"),
    ("MMKT_HTTPS_BIND", "127.0.0.1:0"),
    ("MMKT_ACME_BIND", "127.0.0.1:0"),
    ("GRAFANA_BIND", "127.0.0.1:0"),
    ("HEALTHCHECK_INTERVAL", "2s"),
];

/// `mmctl` with the shared harness's clean environment plus [`STACK_ENV`], not started.
pub fn mmctl() -> Mmctl {
    STACK_ENV
        .iter()
        .fold(Mmctl::new(), |m, (key, value)| m.env(key, value))
}

/// Runs `mmctl ARGS` with the stack settings.
pub fn run(args: &[&str]) -> Output {
    mmctl().args(args).run()
}

/// Runs `mmctl up -p PROJECT --file FILE` (a test compose file) and checks the exit code.
#[track_caller]
pub fn up_file(project: &str, file: &Path, code: i32) -> Output {
    let file = file.to_str().expect("UTF-8 temp path");
    run(&["up", "-p", project, "--file", file]).assert_exit(code)
}

/// The line `mmctl up` prints for a service, e.g. `service server        created`.
pub fn service_line(service: &str, what: &str) -> String {
    format!("service {service:<28} {what}")
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

/// Runs `docker ARGS` without asserting: whether it succeeded, and its stdout and stderr.
pub fn docker_try(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("cannot run the docker CLI");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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

/// A workspace binary `bin` of `package`, next to the mmctl binary (same profile directory),
/// always asked of cargo (which rebuilds only when the source changed: a stale binary would
/// test yesterday's code), unless `MMKT_PREBUILT_BINARIES` says this run built every workspace
/// target beforehand (scripts/test.sh): a `-p` build resolves its own features and would
/// recompile the shared dependencies under the running tests.
pub fn cargo_binary(package: &str, bin: &str) -> PathBuf {
    let path = mmctl_path().parent().expect("target dir").join(bin);
    if std::env::var_os("MMKT_PREBUILT_BINARIES").is_some() {
        assert!(
            path.is_file(),
            "{} missing though MMKT_PREBUILT_BINARIES is set: run cargo build --workspace --all-targets",
            path.display()
        );
        return path;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile = if path.parent().is_some_and(|d| d.ends_with("release")) {
        "release"
    } else {
        "dev"
    };
    let status = Command::new(cargo)
        .args(["build", "-p", package, "--bin", bin, "--profile", profile])
        .current_dir(workspace_root())
        .status()
        .expect("cannot run cargo");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    path
}

/// Makes sure the base image and every project image exist, running
/// `mmctl image bootstrap-base` and `mmctl image build` under a file lock so parallel test
/// processes build once at a time (a cached rebuild takes seconds). Returns both runs.
pub fn ensure_images() -> (Output, Output) {
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-stack-tests-images.lock"));
    let base = run(&["image", "bootstrap-base"]).assert_exit(0);
    let binary = format!("mmkt-server={}", server_binary().display());
    let build = run(&["image", "build", "--quiet", "--binary", &binary]).assert_exit(0);
    (base, build)
}

/// Whether a test needs the project images built before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Images {
    /// Run [`ensure_images`] first.
    Built,
    /// The test makes no container from the project images.
    NotNeeded,
}

/// What a Docker test starts with: a scratch directory and its own compose project (removed
/// by label when the test ends or panics).
pub struct DockerTest {
    /// Scratch directory for compose files and archives.
    pub dir: tempfile::TempDir,
    /// The test's compose project.
    pub guard: ProjectGuard,
}

/// Runs a Docker test body with its [`DockerTest`] setup; returns without running it when no
/// Docker engine is reachable (with MMKT_REQUIRE_SERVICES=1 a missing engine fails instead).
pub fn with_docker(prefix: &str, images: Images, test: impl FnOnce(DockerTest)) {
    if !docker_available() {
        return;
    }
    if images == Images::Built {
        let _ = ensure_images();
    }
    test(DockerTest {
        dir: tempfile::tempdir().expect("temp dir"),
        guard: ProjectGuard::new(&unique_project(prefix)),
    });
}

/// A compose file with `content` in `dir` (returns its path).
pub fn compose_file(dir: &Path, content: &str) -> PathBuf {
    let path = dir.join("docker-compose.yml");
    std::fs::write(&path, content).expect("write compose file");
    path
}

/// Asserts that no container or network carries the project's label (volumes may remain).
#[track_caller]
pub fn assert_containers_and_networks_gone(guard: &ProjectGuard) {
    let containers = guard.container_ids();
    assert!(containers.is_empty(), "containers left: {containers:?}");
    let networks = guard.network_names();
    assert!(networks.is_empty(), "networks left: {networks:?}");
}

/// Asserts that no container, network or volume carries the project's label.
#[track_caller]
pub fn assert_nothing_created(guard: &ProjectGuard) {
    assert_containers_and_networks_gone(guard);
    let volumes = guard.volume_names();
    assert!(volumes.is_empty(), "volumes were created: {volumes:?}");
}
