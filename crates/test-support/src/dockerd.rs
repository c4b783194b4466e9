//! A second Docker Engine for tests: `dockerd` started as a child process with its own data
//! root, exec root, pidfile, config file and unix socket in a temp dir, plus a TCP listener on
//! a free 127.0.0.1 port that requires TLS with a client certificate (`--tlsverify`). Its
//! default network is a bridge of its own that the test creates and deletes (dockerd started with
//! `--bridge=none` deletes the machine's `docker0`, breaking the main engine's builds), and it
//! adds no iptables rules or sysctls, so it runs beside the machine's engine without touching it. Stopped by PID on drop (SIGTERM, then SIGKILL after a generous wait),
//! also when the test panics.
//!
//! ```ignore
//! let tls = DaemonTls { ca, cert, key }; // PEM files: the CA clients must be signed by, the
//!                                        // server certificate (for 127.0.0.1) and its key
//! let Some(engine) = SecondDockerd::start_or_skip(&tls) else { return };
//! engine.tcp_host();  // "tcp://127.0.0.1:PORT" (TLS)
//! engine.unix_host(); // "unix:///tmp/.../docker.sock" (no TLS; for the docker CLI)
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_services;

/// How long the daemon may take to answer on both listeners.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How long a SIGTERM'd daemon may take to stop (it stops its containerd first).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Daemons started in all, when the free port is taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// The daemon's TLS files (PEM).
#[derive(Debug, Clone)]
pub struct DaemonTls {
    /// CA whose certificates the daemon accepts from clients (`--tlscacert`).
    pub ca: PathBuf,
    /// The daemon's certificate, valid for 127.0.0.1 (`--tlscert`).
    pub cert: PathBuf,
    /// Its private key (`--tlskey`).
    pub key: PathBuf,
}

/// A running second dockerd. Dropping it stops it and removes its directory.
#[derive(Debug)]
pub struct SecondDockerd {
    // Field order matters: the daemon is stopped (Drop) before the directory is removed.
    child: Option<Child>,
    port: u16,
    // Held for its Drop: the bridge goes after the daemon that used it.
    _bridge: OwnBridge,
    dir: tempfile::TempDir,
}

impl SecondDockerd {
    /// Starts dockerd (`$DOCKERD`, else `dockerd` on PATH) and waits until its unix socket
    /// answers `GET /_ping` and its TLS port accepts connections.
    ///
    /// # Errors
    /// A message when dockerd is missing, mmctl's tests do not run as root, or the daemon
    /// exits or does not answer within 90 s (with the tail of its log).
    pub fn start(tls: &DaemonTls) -> Result<SecondDockerd, String> {
        let binary = find_dockerd()?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("a second dockerd needs root (run the tests as root, as CI does)".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("mmkt-dockerd-")
            .tempdir_in(short_temp_root())
            .map_err(|e| format!("temp dir: {e}"))?;
        fs::write(dir.path().join("daemon.json"), "{}\n")
            .map_err(|e| format!("daemon.json: {e}"))?;
        let bridge = OwnBridge::create()?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(|e| format!("free port: {e}"))?;
            let mut child = spawn(&binary, dir.path(), port, tls, &bridge.name)?;
            match wait_ready(&mut child, dir.path(), port) {
                Ok(()) => {
                    return Ok(SecondDockerd {
                        child: Some(child),
                        port,
                        _bridge: bridge,
                        dir,
                    });
                }
                Err(e) => last_error = e,
            }
            stop(child, dir.path());
        }
        Err(last_error)
    }

    /// Starts the daemon; when it cannot start, panics if `MMKT_REQUIRE_SERVICES=1` (CI),
    /// otherwise prints why and returns `None` so the caller can skip.
    pub fn start_or_skip(tls: &DaemonTls) -> Option<SecondDockerd> {
        match SecondDockerd::start(tls) {
            Ok(daemon) => Some(daemon),
            Err(e) => {
                assert!(
                    !require_services(),
                    "a second dockerd is required (MMKT_REQUIRE_SERVICES=1) but did not start: {e}"
                );
                eprintln!("note: skipping, a second dockerd did not start: {e}");
                None
            }
        }
    }

    /// The TLS endpoint, `tcp://127.0.0.1:PORT`.
    pub fn tcp_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The unix socket endpoint (plain, for the docker CLI as an independent observer).
    pub fn unix_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The daemon's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines of the daemon's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.path().join("dockerd.log"))
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }
}

impl Drop for SecondDockerd {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!(
                "[second dockerd] log tail (test panicked):\n{}",
                self.log_tail()
            );
        }
        if let Some(child) = self.child.take() {
            stop(child, self.dir.path());
        }
    }
}

/// A Linux bridge made for one second daemon (`ip link add ... type bridge`), with a /24 of
/// its own in 10.200.0.0/13 picked from the test's PID, deleted on drop.
#[derive(Debug)]
struct OwnBridge {
    name: String,
}

impl OwnBridge {
    fn create() -> Result<OwnBridge, String> {
        let pid = std::process::id();
        let bridge = OwnBridge {
            name: format!("mmkt-d{}", pid % 100_000),
        };
        let address = format!("10.{}.{}.1/24", 200 + pid % 8, (pid / 8) % 250);
        let name = bridge.name.as_str();
        ip(&["link", "add", name, "type", "bridge"])?;
        ip(&["addr", "add", &address, "dev", name])?;
        ip(&["link", "set", name, "up"])?;
        Ok(bridge)
    }
}

impl Drop for OwnBridge {
    fn drop(&mut self) {
        let _ = ip(&["link", "delete", &self.name, "type", "bridge"]);
    }
}

/// Runs `ip ARGS` (iproute2), mapping a failure to a message naming the command.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (Debian package iproute2): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Waits until the daemon in `dir` answers `GET /_ping` on its socket and accepts TCP
/// connections on `port`.
fn wait_ready(child: &mut Child, dir: &Path, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let tcp = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let log = dir.join("dockerd.log");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("dockerd exited with {status}:\n{}", log_tail(&log)));
        }
        let tcp_open = TcpStream::connect_timeout(&tcp, Duration::from_millis(200)).is_ok();
        if tcp_open && ping(&dir.join("docker.sock")) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "dockerd did not answer within {} s:\n{}",
                READY_TIMEOUT.as_secs(),
                log_tail(&log)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops the daemon of `dir`: SIGTERM, a wait of up to [`STOP_TIMEOUT`], then SIGKILL; then
/// detaches the data root's bind mount in case the daemon died without removing it.
fn stop(mut child: Child, dir: &Path) {
    // SAFETY: kill(2) on the PID of our unreaped child (it cannot have been recycled).
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let data = dir.join("data");
    if let Ok(path) = std::ffi::CString::new(data.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid NUL-terminated path; failure (not mounted) is fine.
        unsafe {
            libc::umount2(path.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// `$DOCKERD` if set, else `dockerd` on PATH.
fn find_dockerd() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DOCKERD") {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("dockerd"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "dockerd is not installed (Debian package docker.io; scripts/bootstrap.sh)".into()
        })
}

/// A short directory for the daemon's sockets: unix socket paths are limited to 108 bytes and
/// containerd nests its own under the exec root.
fn short_temp_root() -> PathBuf {
    let tmp = std::env::temp_dir();
    match tmp.as_os_str().len() <= 40 {
        true => tmp,
        false => PathBuf::from("/tmp"),
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Spawns dockerd with everything of its own under `dir`, output to `dir/dockerd.log`, dying
/// with the test (PR_SET_PDEATHSIG).
fn spawn(
    binary: &Path,
    dir: &Path,
    port: u16,
    tls: &DaemonTls,
    bridge: &str,
) -> Result<Child, String> {
    let log = File::create(dir.join("dockerd.log")).map_err(|e| format!("dockerd.log: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("dockerd.log: {e}"))?;
    let path = |name: &str| dir.join(name).into_os_string();
    let mut cmd = Command::new(binary);
    cmd.arg("--data-root")
        .arg(path("data"))
        .arg("--exec-root")
        .arg(path("exec"))
        .arg("--pidfile")
        .arg(path("dockerd.pid"))
        .arg("--config-file")
        .arg(path("daemon.json"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("docker.sock").display()))
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--tlsverify")
        .arg("--tlscacert")
        .arg(&tls.ca)
        .arg("--tlscert")
        .arg(&tls.cert)
        .arg("--tlskey")
        .arg(&tls.key)
        .arg(format!("--bridge={bridge}"))
        .args(["--iptables=false", "--ip-forward=false", "--ip-masq=false"])
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_TLS_VERIFY")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    crate::die_with_parent(&mut cmd);
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))
}

/// `GET /_ping` over the unix socket answers 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
