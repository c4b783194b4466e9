//! A private regtest Monero network for one test: `monerod --regtest --offline` plus N
//! `monero-wallet-rpc` processes on free 127.0.0.1 ports in a temp dir, killed by PID on drop.
//!
//! ```no_run
//! # async fn demo() {
//! use test_support::regtest::{Regtest, RegtestConfig};
//! // None: binaries missing and MMKT_REQUIRE_SERVICES is not set (the test is skipped).
//! let Some(net) = Regtest::start_for_test(RegtestConfig { wallets: 2, ..Default::default() }).await
//! else { return };
//! let miner = net.create_miner(0).await.expect("funded miner wallet");
//! let buyer = net.wallet(1).with_label("buyer");
//! # }
//! ```
//!
//! Flags (measured on Debian's monero 0.18.0.0): monerod runs with `--no-zmq` (regtest uses
//! mainnet ports and ZMQ would take 18082) and `--rpc-ssl disabled` (saves ~4 s of certificate
//! generation); wallet-rpc has no regtest flag and runs in mainnet mode against the regtest
//! daemon with `--trusted-daemon` and a per-network `--shared-ringdb-dir` (keeps it out of
//! `$HOME`). The chain is wiped at every start. Coinbase unlocks after 60 blocks, other
//! outputs after 10; `generateblocks` mines ~6 blocks/s on two cores. Creating or opening a
//! wallet costs 2-5 s of CPU (an RSA certificate per load), so tests should create wallets on
//! different wallet-rpcs concurrently.
//!
//! Processes are killed by PID when the [`Regtest`] is dropped, panics included. Each is also
//! started with `PR_SET_PDEATHSIG` = SIGKILL as a second line of defence: it dies when the
//! thread that started it exits. Start the network from the test's own thread (a
//! `#[tokio::test]` body), not from `spawn_blocking`.

use std::fs::{self, File};
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use monero_rpc::{
    Address, DaemonClient, DigestCredentials, RpcError, WalletClient, WalletName, WalletPassword,
};

/// Environment variable naming the monerod binary (default: `monerod` on `PATH`).
pub const MONEROD_ENV: &str = "MMKT_MONEROD_BIN";
/// Environment variable naming the monero-wallet-rpc binary (default: on `PATH`).
pub const WALLET_RPC_ENV: &str = "MMKT_WALLET_RPC_BIN";

/// Blocks after which a coinbase output unlocks (Monero consensus rule).
pub const COINBASE_UNLOCK_BLOCKS: u64 = 60;
/// Confirmations after which a normal output is spendable.
pub const SPENDABLE_AFTER_BLOCKS: u64 = 10;

/// Per-call timeout of the clients the harness hands out. Generous on purpose: on a loaded
/// 2-core CI machine, wallet creation and multisig calls slow down several-fold, and a slow
/// call must not fail a test that checks behaviour (tests of the timeout itself set their own).
pub const TEST_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long to wait for a started process to answer RPC.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts to start a process (a free port can be taken by another test between probing
/// and binding).
const START_ATTEMPTS: usize = 3;

/// Digest credentials every wallet-rpc of the network requires (`--rpc-login user:pass`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcLogin {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegtestConfig {
    /// Number of monero-wallet-rpc processes (each holds one open wallet at a time).
    pub wallets: usize,
    /// `Some`: wallet-rpcs require digest auth (`--rpc-login`) and [`Regtest::wallet`] clients
    /// carry the credentials; `None`: `--disable-rpc-login`.
    pub rpc_login: Option<RpcLogin>,
}

impl Default for RegtestConfig {
    /// Three wallet-rpcs (buyer, vendor, arbiter), no RPC login.
    fn default() -> Self {
        RegtestConfig {
            wallets: 3,
            rpc_login: None,
        }
    }
}

/// Why the network could not be started or driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegtestError {
    /// A Monero binary is not installed (`apt-get install -y monero`) or the override
    /// environment variable points nowhere.
    #[error(
        "{binary} not found (install Debian's `monero` package, or set {env}); needed by regtest tests"
    )]
    MissingBinary {
        /// Binary name.
        binary: &'static str,
        /// Environment variable that overrides its path.
        env: &'static str,
    },
    /// Filesystem or process-spawn error.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// A process exited before answering RPC; the log tail says why.
    #[error("{name} exited with {status} before answering RPC; log tail:\n{log_tail}")]
    ExitedEarly {
        /// Process name, e.g. "wallet-rpc 2".
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// Last lines of its output and log.
        log_tail: String,
    },
    /// A process did not answer RPC within the start-up timeout.
    #[error("{name} did not answer RPC within {} s; log tail:\n{log_tail}", timeout.as_secs())]
    NotReady {
        /// Process name.
        name: String,
        /// Time waited.
        timeout: Duration,
        /// Last lines of its output and log.
        log_tail: String,
    },
    /// An RPC call of the harness failed.
    #[error("regtest harness RPC call failed: {0}")]
    Rpc(#[from] RpcError),
    /// The miner wallet has no unlocked balance after mining.
    #[error("miner wallet has no unlocked balance after mining {blocks} blocks")]
    MinerNotFunded {
        /// Blocks mined.
        blocks: u64,
    },
}

/// A running child process, killed (SIGKILL) and reaped by PID on drop.
struct ChildGuard {
    name: String,
    child: Option<Child>,
    output: PathBuf,
    log: PathBuf,
}

impl ChildGuard {
    fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    fn signal(&self, signal: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on the PID of a child we spawned and have not reaped yet
            // (it cannot have been recycled while it is our unreaped child).
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// SIGSTOP, then waits until the whole process has stopped. kill(2) only queues the
    /// signal: on a loaded machine some threads keep serving requests until the group stop
    /// completes, which `waitpid(WUNTRACED)` reports.
    fn freeze(&mut self) {
        let Some(pid) = self.pid() else {
            return;
        };
        self.signal(libc::SIGSTOP);
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own unreaped child; `status` is a valid out-pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if r == pid && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
                // Reaped here: forget the handle so no signal can reach a recycled PID.
                self.child = None;
            }
            return;
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let mut tail = String::new();
        for path in [&self.output, &self.log] {
            let text = fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(15);
            tail.push_str(&format!("--- {} ---\n", path.display()));
            for line in &lines[start..] {
                tail.push_str(line);
                tail.push('\n');
            }
        }
        tail
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!(
                "[regtest] {} log tail (test panicked):\n{}",
                self.name,
                self.log_tail()
            );
        }
        self.kill();
    }
}

struct WalletProcess {
    guard: ChildGuard,
    port: u16,
}

/// A running regtest network. Dropping it kills every process it started (also during a
/// panic) and deletes its temp dir.
pub struct Regtest {
    // Field order matters: processes are dropped (killed) before the directory is removed.
    daemon: ChildGuard,
    daemon_port: u16,
    wallets: Vec<WalletProcess>,
    rpc_login: Option<RpcLogin>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Regtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regtest")
            .field("dir", &self.dir.path())
            .field("daemon_port", &self.daemon_port)
            .field(
                "wallet_ports",
                &self.wallets.iter().map(|w| w.port).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A wallet with spendable regtest coins, from [`Regtest::create_miner`].
#[derive(Debug, Clone)]
pub struct Miner {
    /// Client of the wallet-rpc holding the miner wallet (label "miner").
    pub wallet: WalletClient,
    /// The miner's primary address (also a convenient target for confirmation blocks).
    pub address: Address,
}

impl Regtest {
    /// Starts monerod and `config.wallets` wallet-rpcs and waits until all answer RPC.
    ///
    /// # Errors
    /// [`RegtestError::MissingBinary`] if monerod or monero-wallet-rpc is not installed;
    /// other variants if a process fails to start or answer within 120 s.
    pub async fn start(config: RegtestConfig) -> Result<Regtest, RegtestError> {
        let monerod = find_binary("monerod", MONEROD_ENV)?;
        let wallet_rpc = find_binary("monero-wallet-rpc", WALLET_RPC_ENV)?;
        let dir = tempfile::Builder::new()
            .prefix("mmkt-regtest-")
            .tempdir()
            .map_err(io_error("create regtest temp dir"))?;
        let ringdb = dir.path().join("ringdb");
        mkdir(&ringdb)?;

        let (daemon, daemon_port) = start_ready(
            "monerod",
            |attempt| {
                let port = free_port()?;
                let p2p = free_port()?;
                let data = dir.path().join(format!("monerod-{attempt}"));
                mkdir(&data)?;
                let mut cmd = Command::new(&monerod);
                cmd.args(["--regtest", "--offline", "--fixed-difficulty", "1"])
                    .args(["--non-interactive", "--no-igd", "--no-zmq"])
                    .args([
                        "--p2p-bind-ip",
                        "127.0.0.1",
                        "--p2p-bind-port",
                        &p2p.to_string(),
                    ])
                    .args([
                        "--rpc-bind-ip",
                        "127.0.0.1",
                        "--rpc-bind-port",
                        &port.to_string(),
                    ])
                    .args(["--rpc-ssl", "disabled", "--disable-rpc-ban"])
                    .arg("--data-dir")
                    .arg(&data)
                    .arg("--log-file")
                    .arg(data.join("monerod.log"))
                    .args(["--log-level", "0"]);
                let guard = spawn(
                    "monerod",
                    cmd,
                    &data.join("stdout.txt"),
                    &data.join("monerod.log"),
                )?;
                Ok((guard, port))
            },
            |port| async move {
                let daemon =
                    DaemonClient::new(&local_url(port))?.with_timeout(Duration::from_secs(2));
                daemon.get_info().await.map(|_| ())
            },
        )
        .await?;

        let launch_wallet = |index: usize, attempt: usize| {
            let port = free_port()?;
            let wallet_dir = dir.path().join(format!("wallet-{index}-{attempt}"));
            mkdir(&wallet_dir)?;
            let mut cmd = Command::new(&wallet_rpc);
            cmd.args(["--daemon-address", &format!("127.0.0.1:{daemon_port}")])
                .args(["--trusted-daemon", "--daemon-ssl", "disabled"])
                .args([
                    "--rpc-bind-ip",
                    "127.0.0.1",
                    "--rpc-bind-port",
                    &port.to_string(),
                ])
                .args(["--rpc-ssl", "disabled", "--non-interactive"])
                .arg("--wallet-dir")
                .arg(&wallet_dir)
                .arg("--shared-ringdb-dir")
                .arg(&ringdb)
                .arg("--log-file")
                .arg(wallet_dir.join("wallet-rpc.log"))
                .args(["--log-level", "0"]);
            match &config.rpc_login {
                Some(login) => cmd.args([
                    "--rpc-login",
                    &format!("{}:{}", login.username, login.password),
                ]),
                None => cmd.arg("--disable-rpc-login"),
            };
            let guard = spawn(
                &format!("wallet-rpc {index}"),
                cmd,
                &wallet_dir.join("stdout.txt"),
                &wallet_dir.join("wallet-rpc.log"),
            )?;
            Ok((guard, port))
        };
        let probe_wallet = |port: u16| {
            let login = config.rpc_login.clone();
            async move {
                let mut client =
                    WalletClient::new(&local_url(port))?.with_timeout(Duration::from_secs(2));
                if let Some(login) = login {
                    client = client
                        .with_credentials(DigestCredentials::new(login.username, login.password));
                }
                client.get_version().await.map(|_| ())
            }
        };
        // Launch every wallet-rpc first so they start in parallel, then wait for each.
        let mut launched = Vec::with_capacity(config.wallets);
        for index in 0..config.wallets {
            launched.push(launch_wallet(index, 0)?);
        }
        let mut wallets = Vec::with_capacity(config.wallets);
        for (index, first) in launched.into_iter().enumerate() {
            let (guard, port) = wait_ready(
                &format!("wallet-rpc {index}"),
                first,
                |attempt| launch_wallet(index, attempt),
                probe_wallet,
            )
            .await?;
            wallets.push(WalletProcess { guard, port });
        }

        Ok(Regtest {
            daemon,
            daemon_port,
            wallets,
            rpc_login: config.rpc_login,
            dir,
        })
    }

    /// [`Regtest::start`] for tests: `None` (with a note on stderr) when a Monero binary is
    /// missing and [`crate::require_services`] is false, so the test can return early.
    ///
    /// # Panics
    /// When binaries are missing and `MMKT_REQUIRE_SERVICES=1` (CI), or when the network
    /// fails to start for any other reason: the test must fail, not skip.
    pub async fn start_for_test(config: RegtestConfig) -> Option<Regtest> {
        match Regtest::start(config).await {
            Ok(net) => Some(net),
            Err(error @ RegtestError::MissingBinary { .. }) => {
                if crate::require_services() {
                    panic!("MMKT_REQUIRE_SERVICES=1 but the regtest services are missing: {error}");
                }
                eprintln!("SKIPPED (set MMKT_REQUIRE_SERVICES=1 to fail instead): {error}");
                None
            }
            Err(error) => panic!("cannot start the regtest network: {error}"),
        }
    }

    /// Base URL of monerod's RPC, e.g. `http://127.0.0.1:41234`.
    pub fn daemon_url(&self) -> String {
        local_url(self.daemon_port)
    }

    /// Base URL of wallet-rpc `index` (0-based).
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn wallet_url(&self, index: usize) -> String {
        local_url(self.wallets[index].port)
    }

    /// Number of wallet-rpc processes.
    pub fn wallet_count(&self) -> usize {
        self.wallets.len()
    }

    /// PID of monerod, or `None` once stopped.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.pid().map(|p| p as u32)
    }

    /// PID of wallet-rpc `index`, or `None` once stopped.
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn wallet_pid(&self, index: usize) -> Option<u32> {
        self.wallets[index].guard.pid().map(|p| p as u32)
    }

    /// The temp dir holding chain data, wallet dirs and logs (deleted on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client for monerod, with a [`TEST_CALL_TIMEOUT`] for status calls.
    pub fn daemon(&self) -> DaemonClient {
        DaemonClient::new(&self.daemon_url())
            .unwrap_or_else(|e| unreachable_url(e))
            .with_timeout(TEST_CALL_TIMEOUT)
    }

    /// A client for wallet-rpc `index`, labelled `wallet-<index>`, with the network's digest
    /// credentials if it has any and a [`TEST_CALL_TIMEOUT`] per call.
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn wallet(&self, index: usize) -> WalletClient {
        let client = WalletClient::new(&self.wallet_url(index))
            .unwrap_or_else(|e| unreachable_url(e))
            .with_label(&format!("wallet-{index}"))
            .with_timeout(TEST_CALL_TIMEOUT);
        match &self.rpc_login {
            Some(login) => client.with_credentials(DigestCredentials::new(
                login.username.clone(),
                login.password.clone(),
            )),
            None => client,
        }
    }

    /// Mines `blocks` blocks paying `address` and returns the height of the new top block
    /// (= block count - 1; daemon `generateblocks`).
    ///
    /// # Errors
    /// [`RpcError`] from the daemon.
    pub async fn mine(&self, blocks: u64, address: &Address) -> Result<u64, RpcError> {
        Ok(self.daemon().generate_blocks(blocks, address).await?.height)
    }

    /// Mines `blocks` blocks to `address`, then refreshes each of `wallets` so they see them.
    /// Returns the height of the new top block.
    ///
    /// # Errors
    /// [`RpcError`] from the daemon or a wallet.
    pub async fn mine_and_refresh(
        &self,
        blocks: u64,
        address: &Address,
        wallets: &[&WalletClient],
    ) -> Result<u64, RpcError> {
        let height = self.mine(blocks, address).await?;
        for wallet in wallets {
            wallet.refresh(None).await?;
        }
        Ok(height)
    }

    /// Creates wallet "miner" (empty password) on wallet-rpc `index`, mines
    /// `COINBASE_UNLOCK_BLOCKS + 20` blocks to it (about 2800 XMR on regtest, 20 coinbase
    /// outputs spendable) and refreshes it.
    ///
    /// # Errors
    /// [`RegtestError::Rpc`] on an RPC failure, [`RegtestError::MinerNotFunded`] if no
    /// balance is unlocked afterwards.
    pub async fn create_miner(&self, index: usize) -> Result<Miner, RegtestError> {
        let wallet = self.wallet(index).with_label("miner");
        let name: WalletName = "miner".parse().map_err(|e| RegtestError::Io {
            what: format!("wallet name: {e}"),
            source: io::Error::other("invalid wallet name"),
        })?;
        wallet
            .create_wallet(&name, &WalletPassword::new(""))
            .await?;
        let address = wallet.get_address(0).await?;
        let blocks = COINBASE_UNLOCK_BLOCKS + 20;
        self.mine_and_refresh(blocks, &address, &[&wallet]).await?;
        let balance = wallet.get_balance(0).await?;
        if balance.unlocked_balance.is_zero() {
            return Err(RegtestError::MinerNotFunded { blocks });
        }
        Ok(Miner { wallet, address })
    }

    /// Kills monerod now (SIGKILL by PID), e.g. to test "daemon down" errors.
    pub fn stop_daemon(&mut self) {
        self.daemon.kill();
    }

    /// Kills wallet-rpc `index` now (SIGKILL by PID).
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn stop_wallet(&mut self, index: usize) {
        self.wallets[index].guard.kill();
    }

    /// Freezes wallet-rpc `index` with SIGSTOP and returns once every thread has stopped: it
    /// keeps its port (connections are accepted by the kernel) but answers nothing, like a
    /// hung server. [`Regtest::resume_wallet`]
    /// undoes it; drop kills it either way.
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn pause_wallet(&mut self, index: usize) {
        self.wallets[index].guard.freeze();
    }

    /// Resumes wallet-rpc `index` after [`Regtest::pause_wallet`] (SIGCONT).
    ///
    /// # Panics
    /// If `index >= wallet_count()`.
    pub fn resume_wallet(&self, index: usize) {
        self.wallets[index].guard.signal(libc::SIGCONT);
    }
}

fn unreachable_url(error: RpcError) -> ! {
    panic!("harness built an invalid loopback URL: {error}")
}

fn local_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn io_error(what: &str) -> impl FnOnce(io::Error) -> RegtestError + '_ {
    move |source| RegtestError::Io {
        what: what.to_owned(),
        source,
    }
}

fn mkdir(path: &Path) -> Result<(), RegtestError> {
    fs::create_dir_all(path).map_err(|source| RegtestError::Io {
        what: format!("create {}", path.display()),
        source,
    })
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, RegtestError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_error("probe a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("probe a free port"))?
        .port();
    Ok(port)
}

/// `$env` if set, else the first `name` on `PATH`.
fn find_binary(name: &'static str, env: &'static str) -> Result<PathBuf, RegtestError> {
    let missing = RegtestError::MissingBinary { binary: name, env };
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(missing)
}

/// Spawns `cmd` with stdout/stderr to `output`, in our process group (so nextest's timeout
/// kill reaches it) and with PR_SET_PDEATHSIG = SIGKILL.
fn spawn(
    name: &str,
    mut cmd: Command,
    output: &Path,
    log: &Path,
) -> Result<ChildGuard, RegtestError> {
    let out = File::create(output).map_err(|source| RegtestError::Io {
        what: format!("create {}", output.display()),
        source,
    })?;
    let err = out.try_clone().map_err(io_error("duplicate output file"))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    crate::die_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|source| RegtestError::Io {
        what: format!("spawn {name}"),
        source,
    })?;
    Ok(ChildGuard {
        name: name.to_owned(),
        child: Some(child),
        output: output.to_owned(),
        log: log.to_owned(),
    })
}

/// Starts a process with `launch(attempt)` and waits until `probe(port)` succeeds
/// (see [`wait_ready`]).
async fn start_ready<L, P, F>(
    name: &str,
    mut launch: L,
    probe: P,
) -> Result<(ChildGuard, u16), RegtestError>
where
    L: FnMut(usize) -> Result<(ChildGuard, u16), RegtestError>,
    P: Fn(u16) -> F,
    F: Future<Output = Result<(), RpcError>>,
{
    let first = launch(0)?;
    wait_ready(name, first, launch, probe).await
}

/// Polls `probe(port)` until the already launched `first` process answers. If the process
/// exits first (typically: its port was taken meanwhile by another test), relaunches it with
/// `launch(attempt)` on new ports, up to [`START_ATTEMPTS`] processes in all.
async fn wait_ready<L, P, F>(
    name: &str,
    first: (ChildGuard, u16),
    mut launch: L,
    probe: P,
) -> Result<(ChildGuard, u16), RegtestError>
where
    L: FnMut(usize) -> Result<(ChildGuard, u16), RegtestError>,
    P: Fn(u16) -> F,
    F: Future<Output = Result<(), RpcError>>,
{
    let mut current = first;
    let mut attempt = 0;
    loop {
        let (mut guard, port) = current;
        let deadline = Instant::now() + READY_TIMEOUT;
        let exited = loop {
            if let Some(status) = guard.exited() {
                break RegtestError::ExitedEarly {
                    name: name.to_owned(),
                    status,
                    log_tail: guard.log_tail(),
                };
            }
            if probe(port).await.is_ok() {
                return Ok((guard, port));
            }
            if Instant::now() >= deadline {
                let log_tail = guard.log_tail();
                guard.kill();
                return Err(RegtestError::NotReady {
                    name: name.to_owned(),
                    timeout: READY_TIMEOUT,
                    log_tail,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        guard.kill();
        attempt += 1;
        if attempt >= START_ATTEMPTS {
            return Err(exited);
        }
        current = launch(attempt)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_loopback_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
