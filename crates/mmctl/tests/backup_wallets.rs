//! `mmctl backup wallets` on wallet directories served by a real monero-wallet-rpc: the
//! manifest records each wallet's address, verify reads the whole archive, and the restored
//! wallets open in a fresh wallet-rpc with the same addresses. Also the Debian `age` + tar path.

mod backup_support;

use std::path::{Path, PathBuf};

use backup_support::*;
use mmctl::backup::crypto::Identities;
use mmctl::backup::manifest::{BackupKind, Series, WalletRole};
use mmctl::backup::store::BackupDir;
use mmctl::backup::wallet_rpc::ThrowawayWalletRpc;
use mmctl::backup::wallets::extract_wallets;
use monero_rpc::WalletPassword;

fn wallet_rpc_bin() -> Option<PathBuf> {
    let bin = std::env::var("MMKT_WALLET_RPC_BIN").unwrap_or_else(|_| "monero-wallet-rpc".into());
    let found = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from(bin));
    }
    if std::env::var("MMKT_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("monero-wallet-rpc is required (MMKT_REQUIRE_SERVICES=1) but not found");
    }
    eprintln!("skipping: monero-wallet-rpc not installed");
    None
}

/// Creates wallets in `dir` with a throwaway wallet-rpc; returns (name, address) pairs.
async fn create_wallets(
    bin: &Path,
    dir: &Path,
    work: &Path,
    names: &[&str],
) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir).unwrap();
    let rpc = ThrowawayWalletRpc::start(bin, dir, work).await.unwrap();
    let mut created = Vec::new();
    for name in names {
        let address = rpc
            .rpc()
            .create_wallet(name, &WalletPassword::new("test-password"))
            .await
            .unwrap();
        created.push((name.to_string(), address));
    }
    rpc.rpc().close_wallet().await.unwrap();
    created
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_directory_round_trip_reopens_with_the_same_addresses() {
    let Some(bin) = wallet_rpc_bin() else { return };
    let ws = Workspace::new();
    let wallets = ws.dir.path().join("wallets-buyer");
    let created = create_wallets(
        &bin,
        &wallets,
        &ws.dir.path().join("rpc1"),
        &["market-buyer", "escrow-42-buyer"],
    )
    .await;

    let password = ws.dir.path().join("wallet-password");
    std::fs::write(&password, "test-password\n").unwrap();
    let out = ws
        .command(&[
            "backup",
            "wallets",
            "buyer",
            "--wallet-dir",
            wallets.to_str().unwrap(),
            "--json",
        ])
        .env("MMKT_WALLET_PASSWORD_FILE", &password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = &manifests[0];
    assert_eq!(manifest["kind"], "wallets");
    assert_eq!(manifest["wallets"]["role"], "buyer");
    assert_eq!(manifest["wallets"]["consistency"], "quiescent");
    let recorded: Vec<(String, String)> = manifest["wallets"]["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_owned(),
                w["address"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(recorded, expected);

    let out = ws.mmctl(&["backup", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Restore into a fresh directory and open each wallet in a fresh wallet-rpc.
    let dir = BackupDir::open(&ws.backups).unwrap();
    let backup = dir
        .find(
            "latest",
            Series {
                kind: BackupKind::Wallets,
                role: Some(WalletRole::Buyer),
            },
        )
        .unwrap();
    let identities = Identities::from_file(&ws.identity_file).unwrap();
    let restored = ws.dir.path().join("restored");
    extract_wallets(&backup, &identities, &restored).unwrap();
    let rpc = ThrowawayWalletRpc::start(&bin, &restored, &ws.dir.path().join("rpc2"))
        .await
        .unwrap();
    for (name, address) in &created {
        let reopened = rpc
            .rpc()
            .wallet_address(name, &WalletPassword::new("test-password"))
            .await
            .unwrap();
        assert_eq!(&reopened, address, "wallet {name}");
    }

    // Without mmctl: age -d | tar xz gives the same files.
    let plain = ws.dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let script = format!(
        "age -d -i '{}' '{}' | tar -xz -C '{}'",
        ws.identity_file.display(),
        backup.data_path.display(),
        plain.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, _) in &created {
        assert_eq!(
            std::fs::read(plain.join(format!("{name}.keys"))).unwrap(),
            std::fs::read(wallets.join(format!("{name}.keys"))).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_through_the_running_wallet_rpc_records_its_open_wallet() {
    let Some(bin) = wallet_rpc_bin() else { return };
    let ws = Workspace::new();
    let wallets = ws.dir.path().join("wallets-vendor");
    std::fs::create_dir_all(&wallets).unwrap();
    let rpc = ThrowawayWalletRpc::start(&bin, &wallets, &ws.dir.path().join("rpc"))
        .await
        .unwrap();
    let address = rpc
        .rpc()
        .create_wallet("vendor-main", &WalletPassword::new("pw"))
        .await
        .unwrap();

    let password = ws.dir.path().join("wallet-password");
    std::fs::write(&password, "pw").unwrap();
    let out = ws
        .command(&[
            "backup",
            "wallets",
            "vendor",
            "--wallet-dir",
            wallets.to_str().unwrap(),
            "--wallet-rpc",
            rpc.rpc().url(),
            "--json",
        ])
        .env("MMKT_WALLET_PASSWORD_FILE", &password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let details = &manifests[0]["wallets"];
    assert_eq!(details["consistency"], "rpc-store");
    assert_eq!(details["wallets"][0]["name"], "vendor-main");
    assert_eq!(details["wallets"][0]["address"], address.as_str());
    assert_eq!(details["wallets"][0]["address_source"], "wallet-rpc");
}

#[test]
fn tampered_wallet_archive_and_bad_inputs_fail_clearly() {
    let ws = Workspace::new();
    let wallets = ws.dir.path().join("w");
    std::fs::create_dir(&wallets).unwrap();
    std::fs::write(wallets.join("hot.keys"), b"not really keys but bytes").unwrap();
    std::fs::write(wallets.join("hot"), vec![7u8; 100_000]).unwrap();
    std::fs::write(wallets.join("hot.address.txt"), b"4ExampleAddress\n").unwrap();
    let out = ws.mmctl(&[
        "backup",
        "wallets",
        "arbiter",
        "--wallet-dir",
        wallets.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        manifests[0]["wallets"]["wallets"][0]["address"],
        "4ExampleAddress"
    );
    assert_eq!(manifests[0]["wallets"]["file_count"], 3);
    let data = ws.backups.join(manifests[0]["data_file"].as_str().unwrap());
    flip_byte(&data);
    let out = ws.mmctl(&["backup", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("checksum mismatch"),
        "{}",
        stdout(&out)
    );

    // --wallet-dir without a role is ambiguous: usage error.
    let out = ws.mmctl(&[
        "backup",
        "wallets",
        "--wallet-dir",
        wallets.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A missing directory fails and leaves no backup.
    let before = ws.list().len();
    let out = ws.mmctl(&[
        "backup",
        "wallets",
        "buyer",
        "--wallet-dir",
        ws.dir.path().join("missing").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ws.list().len(), before);
}

#[test]
fn backup_all_takes_the_db_and_every_role() {
    let ws = Workspace::new();
    ws.seed(50);
    let root = ws.dir.path().join("wallet-root");
    for role in ["buyer", "vendor", "arbiter"] {
        std::fs::create_dir_all(root.join(role)).unwrap();
        std::fs::write(
            root.join(role).join(format!("{role}.keys")),
            role.as_bytes(),
        )
        .unwrap();
    }
    let out = ws
        .command(&["backup", "all", "--json"])
        .env("MMKT_WALLET_ROOT", &root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifests: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<String> = ws
        .list()
        .iter()
        .map(|b| b["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(manifests.len(), 4);
    for kind in ["db", "wallets-buyer", "wallets-vendor", "wallets-arbiter"] {
        assert!(kinds.iter().any(|k| k == kind), "{kinds:?}");
    }
    let out = ws.mmctl(&["backup", "verify", "--all", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), 4);
}
