//! Docker Engine helpers for tests: check the engine is there (failing under
//! `MMKT_REQUIRE_SERVICES=1`), make unique compose project names, serialise expensive image
//! builds across test processes with a file lock, and remove exactly what a test created —
//! the containers, networks and volumes labelled with its project — also when it panics.
//!
//! Inspection and cleanup go through the docker CLI (an independent observer of what mmctl
//! did through the Engine API); nothing here starts containers itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::require_services;

/// The compose project label every mmctl object carries.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

/// `true` when `docker info` answers. When it does not and `MMKT_REQUIRE_SERVICES=1`, panics
/// with a clear message; otherwise prints a note and returns `false` (the caller skips).
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            !require_services(),
            "the Docker Engine is not reachable (docker info failed) and MMKT_REQUIRE_SERVICES=1: run scripts/bootstrap.sh"
        );
        eprintln!(
            "note: Docker Engine not reachable; skipping (set MMKT_REQUIRE_SERVICES=1 to fail instead)"
        );
    }
    ok
}

/// A compose project name no other test (or test run) uses: `PREFIX-<pid>-<n>-<random>`,
/// lowercase, valid for compose.
pub fn unique_project(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos & 0xffff)
}

/// Removes, on drop, every container, network and volume labelled
/// `com.docker.compose.project=<project>` — only those (by ID), also when the test panics.
#[derive(Debug)]
pub struct ProjectGuard {
    project: String,
}

impl ProjectGuard {
    /// Guards `project` (from [`unique_project`]).
    pub fn new(project: &str) -> Self {
        ProjectGuard {
            project: project.to_string(),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// IDs of the project's containers (running or not).
    pub fn container_ids(&self) -> Vec<String> {
        ids(&["ps", "-aq", "--no-trunc", "--filter", &self.filter()])
    }

    /// Names of the project's networks.
    pub fn network_names(&self) -> Vec<String> {
        ids(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &self.filter(),
            "--format",
            "{{.Name}}",
        ])
    }

    /// Names of the project's volumes.
    pub fn volume_names(&self) -> Vec<String> {
        ids(&["volume", "ls", "-q", "--filter", &self.filter()])
    }

    /// `label=com.docker.compose.project=<project>`.
    pub fn filter(&self) -> String {
        format!("label={PROJECT_LABEL}={}", self.project)
    }

    /// Removes everything now (also done on drop).
    pub fn cleanup(&self) {
        for id in self.container_ids() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", &id])
                .output();
        }
        for net in self.network_names() {
            let _ = Command::new("docker")
                .args(["network", "rm", &net])
                .output();
        }
        for vol in self.volume_names() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", &vol])
                .output();
        }
    }
}

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn ids(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// An exclusive advisory lock on a file (flock), released on drop. Used to run expensive
/// image builds once at a time across the test processes nextest starts in parallel.
#[derive(Debug)]
pub struct FileLock {
    file: std::fs::File,
}

impl FileLock {
    /// Blocks until the lock on `path` is held (the file is created if needed).
    ///
    /// # Panics
    /// When the file cannot be opened or locked.
    pub fn acquire(path: &Path) -> FileLock {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()));
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock({}) failed: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        FileLock { file }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor we locked.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// The workspace root (the directory holding the top-level Cargo.toml), from this crate's
/// manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
