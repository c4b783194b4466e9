//! `PartyCli`: one party's real `mmkt-party` binary (its market, its own wallet-rpc of the
//! regtest network, its state directory), shared by the end-to-end suites. Needs the escrow
//! suites' harness declared as `escrow_support` at the test crate's root.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use serde_json::Value;

use crate::escrow_support::{Chain, PASSWORD, Server};

/// The market for non-custodial escrows on `chain` (database in `dir`): the real server binary
/// with only the arbiter's wallet-rpc, offering both modes, ready to serve.
pub async fn non_custodial_market(chain: &Chain, dir: &std::path::Path) -> Server {
    let (arbiter, daemon) = (chain.net.wallet_url(ARBITER_RPC), chain.net.daemon_url());
    let server = Server::start_without_chain(
        dir,
        &[
            ("MMKT_WALLET_RPC_ARBITER_URL", arbiter.as_str()),
            ("MMKT_MONEROD_URL", daemon.as_str()),
            ("MMKT_ESCROW_MODES", "hosted,non_custodial"),
        ],
    );
    server.wait_ready().await;
    server
}

/// The `mmkt-party` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mmkt-party");

/// wallet-rpc indexes: the parties' own (the server never gets them) and the arbiter's.
pub const BUYER_RPC: usize = 0;
/// The vendor's own wallet-rpc.
pub const VENDOR_RPC: usize = 1;
/// The arbiter's wallet-rpc (the server's only one).
pub const ARBITER_RPC: usize = 2;

/// One party's `mmkt-party`: its market, its own wallet-rpc and its state directory.
pub struct PartyCli {
    market: String,
    wallet_rpc: String,
    /// The party's state directory.
    pub state: tempfile::TempDir,
}

impl PartyCli {
    /// A party on wallet-rpc `index` of `chain`, at `server`, with a fresh state directory.
    pub fn new(server: &Server, chain: &Chain, index: usize) -> PartyCli {
        PartyCli {
            market: server.base.clone(),
            wallet_rpc: chain.net.wallet_url(index),
            state: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .env_remove("MMKT_PARTY_PASSWORD")
            .args(["--market", &self.market, "--wallet-rpc", &self.wallet_rpc])
            .arg("--state-dir")
            .arg(self.state.path())
            .args(["--wallet", "e2e", "--json"])
            .args(args)
            .output()
            .await
            .expect("run mmkt-party")
    }

    /// Runs `args`, expects exit 0 and returns the JSON report.
    pub async fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "mmkt-party {args:?}: {stderr}");
        serde_json::from_slice(&out.stdout).expect("one JSON report")
    }

    pub async fn login(&self, username: &str) {
        let file = self.state.path().join("login-password");
        std::fs::write(&file, PASSWORD).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let report = self
            .ok(&["login", username, "--password-file", file.to_str().unwrap()])
            .await;
        assert_eq!(report["account"]["username"], username);
    }

    /// `mmkt-party watch --yes` in the background (killed when dropped), its events in
    /// `DIR/watch.jsonl`.
    pub fn watch(&self) -> tokio::process::Child {
        let events = std::fs::File::create(self.state.path().join("watch.jsonl")).unwrap();
        tokio::process::Command::new(BIN)
            .args(["--market", &self.market, "--wallet-rpc", &self.wallet_rpc])
            .arg("--state-dir")
            .arg(self.state.path())
            .args([
                "--wallet",
                "e2e",
                "--json",
                "watch",
                "--yes",
                "--reconnect-secs",
                "1",
            ])
            .stdout(events)
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start mmkt-party watch")
    }

    /// The events `watch` printed.
    pub fn watch_events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state.path().join("watch.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The wallet password mmkt-party made for escrow `escrow_id`.
    pub fn wallet_password(&self, escrow_id: i64) -> String {
        let path = self
            .state
            .path()
            .join(format!("wallets/e2e-escrow-{escrow_id}.password"));
        std::fs::read_to_string(path).expect("the wallet password stays in the state dir")
    }
}
