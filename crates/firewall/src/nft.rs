//! `nft` run as a subprocess (Debian package `nftables`), on the host or, for tests and
//! rehearsals, inside a named network namespace through `ip netns exec`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::FirewallError;
use crate::render::TABLE;

/// Where the ruleset is read and loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The host's own network namespace.
    Host,
    /// A named network namespace (`/run/netns/NAME`, made by `ip netns add`).
    Netns(String),
}

impl Target {
    /// `Host` for `None`, else the namespace named `name` (letters, digits, `-`, `_`, `.`).
    ///
    /// # Errors
    /// [`FirewallError::InvalidSetting`] for a name `ip netns` would not accept.
    pub fn from_netns(name: Option<&str>) -> Result<Target, FirewallError> {
        let Some(name) = name else {
            return Ok(Target::Host);
        };
        let ok = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        match ok {
            true => Ok(Target::Netns(name.to_string())),
            false => Err(FirewallError::invalid(
                "--netns",
                name,
                "a namespace name of `ip netns list`: letters, digits, '-', '_', '.'",
            )),
        }
    }
}

/// Whether Docker's `DOCKER-USER` chain (`table ip filter`, made by Docker through
/// iptables-nft) exists where the ruleset goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerUser {
    /// Docker runs here: published ports bypass the input chain, which the forward chain covers.
    Present,
    /// No Docker chains (the forward chain still covers any DNAT).
    Absent,
}

/// The `nft` program found on `PATH`, aimed at one [`Target`].
#[derive(Debug, Clone)]
pub struct Nft {
    program: PathBuf,
    target: Target,
}

impl Nft {
    /// Finds `nft` on `PATH` and checks that this process is root (reading and loading
    /// rulesets needs CAP_NET_ADMIN).
    ///
    /// # Errors
    /// [`FirewallError::NftMissing`], [`FirewallError::NotRoot`] (with `action`).
    pub fn locate(target: Target, action: &'static str) -> Result<Nft, FirewallError> {
        let path = std::env::var("PATH").unwrap_or_default();
        let program = std::env::split_paths(&path)
            .map(|dir| dir.join("nft"))
            .find(|p| p.is_file())
            .ok_or(FirewallError::NftMissing { path })?;
        if !is_root() {
            return Err(FirewallError::NotRoot { action });
        }
        if let Target::Netns(name) = &target
            && !Path::new("/run/netns").join(name).exists()
        {
            return Err(FirewallError::invalid(
                "--netns",
                name,
                "no such network namespace (see `ip netns list`)",
            ));
        }
        Ok(Nft { program, target })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.target {
            Target::Host => Command::new(&self.program),
            Target::Netns(name) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", name]).arg(&self.program);
                c
            }
        };
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output, FirewallError> {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let io = |source| FirewallError::Io {
            what: "running nft",
            path: self.program.clone(),
            source,
        };
        let mut child = cmd.spawn().map_err(io)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).map_err(io)?;
        }
        child.wait_with_output().map_err(io)
    }

    fn failure(&self, args: &[&str], out: &Output) -> FirewallError {
        FirewallError::Nft {
            command: format!("{} {}", self.describe(), args.join(" ")),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }
    }

    /// How the program is run, for messages: `nft` or `ip netns exec NAME nft`.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Host => self.program.display().to_string(),
            Target::Netns(name) => format!("ip netns exec {name} {}", self.program.display()),
        }
    }

    /// Loads `script` (`nft -f -`), or with `Mode::Check` only checks it (`nft -c -f -`):
    /// either way nft takes the whole file as one transaction.
    ///
    /// # Errors
    /// [`FirewallError::Rejected`] with nft's message; [`FirewallError::Io`].
    pub fn load(&self, script: &str, mode: Mode) -> Result<(), FirewallError> {
        let args: &[&str] = match mode {
            Mode::Check => &["-c", "-f", "-"],
            Mode::Apply => &["-f", "-"],
        };
        let out = self.run(args, Some(script))?;
        if out.status.success() {
            return Ok(());
        }
        Err(FirewallError::Rejected {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    /// Our table as loaded (`nft -s list table inet mmkt`, counters left out); `None` when
    /// it is not loaded.
    ///
    /// # Errors
    /// [`FirewallError::Nft`] when nft fails otherwise.
    pub fn list_table(&self) -> Result<Option<String>, FirewallError> {
        let args = ["-s", "list", "table", TABLE];
        self.optional(&args)
    }

    /// Whether Docker's `DOCKER-USER` chain exists.
    ///
    /// # Errors
    /// [`FirewallError::Nft`] when nft fails otherwise.
    pub fn docker_user(&self) -> Result<DockerUser, FirewallError> {
        let args = ["list", "chain", "ip", "filter", "DOCKER-USER"];
        Ok(match self.optional(&args)? {
            Some(_) => DockerUser::Present,
            None => DockerUser::Absent,
        })
    }

    /// Runs a `list` command; a missing table or chain is `None`.
    fn optional(&self, args: &[&str]) -> Result<Option<String>, FirewallError> {
        let out = self.run(args, None)?;
        if out.status.success() {
            return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
        }
        if String::from_utf8_lossy(&out.stderr).contains("No such file or directory") {
            return Ok(None);
        }
        Err(self.failure(args, &out))
    }
}

/// Whether [`Nft::load`] only checks or also loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `nft -c`: parse and check against the kernel, change nothing.
    Check,
    /// Load the script.
    Apply,
}

/// Whether the effective user id is 0 (`Uid:` of `/proc/self/status`, second field).
fn is_root() -> bool {
    std::fs::read_to_string(Path::new("/proc/self/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
