//! Network namespaces a test creates (`ip netns add`), so firewall rules are loaded and real
//! connections made without touching the host's own ruleset. Each [`NetNs`] is deleted on
//! drop, also when the test panics.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A network namespace made for one test; `Drop` deletes it (`ip netns del`).
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `true` (after a note on stderr) when this machine cannot run the firewall tests: they need
/// root, `ip netns` and `nft` (Debian package nftables). With `MMKT_REQUIRE_SERVICES=1` a
/// missing piece fails the test instead.
pub fn unavailable() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success());
    let nft = std::env::split_paths(&std::env::var("PATH").unwrap_or_default())
        .any(|d| d.join("nft").is_file());
    if root && netns && nft {
        return false;
    }
    assert!(
        !crate::require_services(),
        "the firewall tests need root ({root}), ip netns ({netns}) and nft ({nft})"
    );
    eprintln!("note: skipped: needs root, ip netns and nft (Debian package nftables)");
    true
}

impl NetNs {
    /// Creates `mmkt-fw-<tag>-<pid>-<n>` with its loopback up.
    ///
    /// # Panics
    /// When `ip netns add` fails.
    pub fn create(tag: &str) -> NetNs {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("mmkt-fw-{tag}-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (for `ip netns exec` and `mmctl firewall --netns`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS..` and panics when it fails.
    pub fn ip(&self, args: &[&str]) {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// Runs `PROGRAM ARGS..` inside the namespace (`ip netns exec`), returning its output.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("ip netns exec runs")
    }

    /// Like [`NetNs::exec`], panicking with its stderr when it fails.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.exec(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Connects this namespace (interface `here`, address `here_addr` like `10.0.0.1/24`) to
    /// `other` (`there`, `there_addr`) with a veth pair created directly inside both, so no
    /// interface name is ever taken on the host.
    pub fn link(&self, here: &str, here_addr: &str, other: &NetNs, there: &str, there_addr: &str) {
        self.ip(&[
            "link",
            "add",
            here,
            "type",
            "veth",
            "peer",
            "name",
            there,
            "netns",
            &other.name,
        ]);
        self.ip(&["addr", "add", here_addr, "dev", here]);
        self.ip(&["link", "set", here, "up"]);
        other.ip(&["addr", "add", there_addr, "dev", there]);
        other.ip(&["link", "set", there, "up"]);
    }

    /// Runs `f` on a thread that entered this namespace (`setns`); sockets it opens stay in
    /// the namespace whichever thread uses them later.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        std::thread::spawn(move || {
            // SAFETY: setns on a file descriptor we own changes only this thread's namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the thread in the namespace")
    }

    /// A TCP listener inside the namespace on `addr`, answering every connection with `hello`
    /// on a background thread (it ends with the process).
    pub fn serve(&self, addr: &str) -> SocketAddr {
        let addr: SocketAddr = addr.parse().expect("a socket address");
        let listener = self.enter(move || TcpListener::bind(addr).expect("bind in the netns"));
        let local = listener.local_addr().expect("local addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                use std::io::Write;
                let mut stream = stream;
                let _ = stream.write_all(b"hello\n");
            }
        });
        local
    }

    /// Whether a TCP connection from this namespace to `addr` completes and reads `hello`
    /// within `timeout` (a dropped SYN times out; a generous timeout never makes a reachable
    /// port look closed).
    pub fn connects(&self, addr: &str, timeout: Duration) -> bool {
        let addr: SocketAddr = addr.parse().expect("a socket address");
        self.enter(move || {
            let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
                return false;
            };
            use std::io::Read;
            let _ = stream.set_read_timeout(Some(timeout));
            let mut buf = [0u8; 6];
            stream.read_exact(&mut buf).is_ok() && &buf == b"hello\n"
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("ip runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
