//! The one harness for running the REAL `mmctl` binary in tests and checking its exit code.
//!
//! Usage, from any test file of this crate:
//!
//! ```ignore
//! mod harness;
//! use harness::Mmctl;
//!
//! let out = Mmctl::new()
//!     .args(["backup", "verify", "--json"])
//!     .env("MMKT_BACKUP_DIR", &backups)
//!     .run()
//!     .assert_exit(0); // panics with stdout and stderr when the code differs
//! assert!(out.stdout().contains("verified"));
//! let report: serde_json::Value = out.json();
//! Mmctl::new().args(["restore", "db"]).run().assert_exit(4).assert_stderr_contains("--yes");
//! ```
//!
//! [`Mmctl::new`] runs from the workspace root (so `deploy/docker-compose.yml` is the default
//! compose file), sets `NO_COLOR=1`, and removes from the inherited environment every
//! variable mmctl reads (`DOCKER_*`, `COMPOSE_*`, `MMCTL_*`, `MMKT_*`, `AWS_*`, `SOPS_*`,
//! `RUST_LOG`), so a test sees only what it sets with [`Mmctl::env`]. [`Mmctl::stdin`] feeds input (answers
//! to confirmation prompts); [`Mmctl::command`] gives the raw `Command` for anything else
//! (e.g. `spawn` to kill mmctl mid-run). Exit codes are the contract of `src/exit.rs`.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use test_support::docker::workspace_root;

/// Prefixes of the environment variables mmctl (or the compose file it reads) looks at.
const CLEARED_PREFIXES: [&str; 6] = ["DOCKER_", "COMPOSE_", "MMCTL_", "MMKT_", "AWS_", "SOPS_"];

/// Single variables mmctl (or the compose file) looks at.
const CLEARED_VARS: [&str; 1] = ["RUST_LOG"];

/// The mmctl binary cargo built for these tests.
pub fn mmctl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mmctl"))
}

/// One mmctl invocation being prepared (builder); [`Mmctl::run`] starts it and waits.
#[derive(Debug)]
pub struct Mmctl {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Default for Mmctl {
    fn default() -> Self {
        Mmctl::new()
    }
}

impl Mmctl {
    /// `mmctl` with no arguments, a clean environment (see the module docs) and the workspace
    /// root as working directory.
    pub fn new() -> Mmctl {
        let mut cmd = Command::new(mmctl_path());
        cmd.current_dir(workspace_root()).env("NO_COLOR", "1");
        for (key, _) in std::env::vars_os() {
            let Some(name) = key.to_str() else { continue };
            if CLEARED_PREFIXES.iter().any(|p| name.starts_with(p)) || CLEARED_VARS.contains(&name)
            {
                cmd.env_remove(&key);
            }
        }
        Mmctl { cmd, stdin: None }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Mmctl {
        self.cmd.arg(arg);
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Mmctl
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable for mmctl (also one the constructor cleared).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Mmctl {
        self.cmd.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Mmctl {
        self.cmd.env_remove(key);
        self
    }

    /// Runs mmctl in `dir` instead of the workspace root.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Mmctl {
        self.cmd.current_dir(dir);
        self
    }

    /// Writes `input` to mmctl's stdin (then closes it). Without it stdin is empty.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Mmctl {
        self.stdin = Some(input.into());
        self
    }

    /// The prepared command, for what the builder does not cover (e.g. `spawn`).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Starts mmctl, waits for it and captures its output.
    pub fn run(mut self) -> Output {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("cannot start the mmctl binary");
        let mut stdin = child.stdin.take().expect("piped stdin");
        if let Some(input) = &self.stdin {
            // mmctl may exit without reading (a refused command): a broken pipe is fine.
            let _ = stdin.write_all(input);
        }
        drop(stdin);
        let out = child.wait_with_output().expect("wait for mmctl");
        Output {
            args: self
                .cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What one mmctl run printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    /// Panics, showing the command line, stdout and stderr, unless mmctl exited with `code`.
    #[track_caller]
    pub fn assert_exit(self, code: i32) -> Output {
        assert_eq!(
            self.code, code,
            "mmctl {:?}: expected exit code {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// The exit code (-1 when mmctl was killed by a signal).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Everything mmctl wrote to stdout (lossy UTF-8).
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    /// Everything mmctl wrote to stderr (lossy UTF-8).
    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// Panics, showing both streams, unless stdout contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(self, needle: &str) -> Output {
        self.assert_contains(Stream::Stdout, needle)
    }

    /// Panics, showing both streams, unless stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(self, needle: &str) -> Output {
        self.assert_contains(Stream::Stderr, needle)
    }

    #[track_caller]
    fn assert_contains(self, stream: Stream, needle: &str) -> Output {
        let (name, text) = match stream {
            Stream::Stdout => ("stdout", &self.stdout),
            Stream::Stderr => ("stderr", &self.stderr),
        };
        assert!(
            text.contains(needle),
            "mmctl {:?}: {name} lacks {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Parses stdout as JSON (for `--json` commands); panics with the output when it is not.
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "mmctl {:?}: stdout is not the expected JSON ({e}):\n{}\nstderr:\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }
}

/// One of mmctl's output streams.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}
