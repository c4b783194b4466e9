//! `mmctl backup wallets` on wallet directories served by a real monero-wallet-rpc: the
//! manifest records each wallet's address, verify reads the whole archive, and the restored
//! wallets open in a fresh wallet-rpc with the same addresses. Also the Debian `age` + tar path.

mod backup_support;
mod harness;

use std::path::Path;

use backup_support::*;
use mmkt_backup::manifest::WalletRole;
use mmkt_backup::wallet_rpc::ThrowawayWalletRpc;
use mmkt_backup::wallets::extract_wallets;
use monero_rpc::WalletPassword;

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

/// `mmctl backup wallets ROLE --wallet-dir DIR ARGS... --json` with the wallet password in
/// `password`; returns the manifest.
fn backup_dir_wallets(
    ws: &Workspace,
    role: &str,
    wallets: &Path,
    password: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "backup",
        "wallets",
        role,
        "--wallet-dir",
        wallets.to_str().unwrap(),
    ];
    args.extend(extra);
    args.push("--json");
    let manifests: Vec<serde_json::Value> = ws
        .mmctl(&args)
        .env("MMKT_WALLET_PASSWORD_FILE", password)
        .run()
        .assert_exit(0)
        .json();
    manifests.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_directory_round_trip_reopens_with_the_same_addresses() {
    let Some(bin) = wallet_rpc_bin() else { return };
    let ws = Workspace::new();
    let wallets = ws.path("wallets-buyer");
    let created = create_wallets(
        &bin,
        &wallets,
        &ws.path("rpc1"),
        &["market-buyer", "escrow-42-buyer"],
    )
    .await;

    let password = ws.path("wallet-password");
    std::fs::write(&password, "test-password\n").unwrap();
    let manifest = backup_dir_wallets(&ws, "buyer", &wallets, &password, &[]);
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

    ws.run(&["backup", "verify", "--json"]).assert_exit(0);

    // Restore into a fresh directory and open each wallet in a fresh wallet-rpc.
    let backup = ws.find_authentic("latest", wallet_series(WalletRole::Buyer));
    let restored = ws.path("restored");
    extract_wallets(&backup, &ws.identities(), &restored).unwrap();
    let rpc = ThrowawayWalletRpc::start(&bin, &restored, &ws.path("rpc2"))
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
    let plain = ws.path("plain");
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let wallets = ws.path("wallets-vendor");
    std::fs::create_dir_all(&wallets).unwrap();
    let rpc = ThrowawayWalletRpc::start(&bin, &wallets, &ws.path("rpc"))
        .await
        .unwrap();
    let address = rpc
        .rpc()
        .create_wallet("vendor-main", &WalletPassword::new("pw"))
        .await
        .unwrap();

    let password = ws.path("wallet-password");
    std::fs::write(&password, "pw").unwrap();
    let rpc_flags = ["--wallet-rpc", rpc.rpc().url()];
    let manifest = backup_dir_wallets(&ws, "vendor", &wallets, &password, &rpc_flags);
    let details = &manifest["wallets"];
    assert_eq!(details["consistency"], "rpc-store");
    assert_eq!(details["wallets"][0]["name"], "vendor-main");
    assert_eq!(details["wallets"][0]["address"], address.as_str());
    assert_eq!(details["wallets"][0]["address_source"], "wallet-rpc");
}

#[test]
fn tampered_wallet_archive_and_bad_inputs_fail_clearly() {
    let ws = Workspace::new();
    let wallets = ws.path("w");
    let dir = wallets.to_str().unwrap();
    std::fs::create_dir(&wallets).unwrap();
    std::fs::write(wallets.join("hot.keys"), b"not really keys but bytes").unwrap();
    std::fs::write(wallets.join("hot"), vec![7u8; 100_000]).unwrap();
    std::fs::write(wallets.join("hot.address.txt"), b"4ExampleAddress\n").unwrap();
    let manifests: Vec<serde_json::Value> = ws
        .run(&[
            "backup",
            "wallets",
            "arbiter",
            "--wallet-dir",
            dir,
            "--json",
        ])
        .assert_exit(0)
        .json();
    assert_eq!(
        manifests[0]["wallets"]["wallets"][0]["address"],
        "4ExampleAddress"
    );
    assert_eq!(manifests[0]["wallets"]["file_count"], 3);
    flip_byte(&ws.data_file(&manifests[0]));
    ws.run(&["backup", "verify"])
        .assert_exit(1)
        .assert_stdout_contains("checksum mismatch");

    // Escrow wallets' passwords come from the database: a database the key does not open
    // stops the wallet backup before anything is written.
    ws.seed(1);
    let before = ws.list().len();
    let wrong_key = ws.wrong_key_file();
    ws.mmctl(&["backup", "wallets", "arbiter", "--wallet-dir", dir])
        .env("MMKT_DB_KEY_FILE", &wrong_key)
        .run()
        .assert_exit(1)
        .assert_stderr_contains("cannot read the escrow wallets' passwords from the database");
    assert_eq!(ws.list().len(), before, "nothing was backed up");

    // --wallet-dir without a role is ambiguous: usage error.
    ws.run(&["backup", "wallets", "--wallet-dir", dir])
        .assert_exit(2);
    // A missing directory fails and leaves no backup.
    let before = ws.list().len();
    let missing = ws.path("missing");
    ws.run(&[
        "backup",
        "wallets",
        "buyer",
        "--wallet-dir",
        missing.to_str().unwrap(),
    ])
    .assert_exit(1)
    .assert_stderr_contains("is not a directory");
    assert_eq!(ws.list().len(), before);
}

#[test]
fn backup_all_takes_the_db_and_every_role() {
    let ws = Workspace::new();
    ws.seed(50);
    let root = ws.path("wallet-root");
    for role in ROLES {
        std::fs::create_dir_all(root.join(role)).unwrap();
        std::fs::write(
            root.join(role).join(format!("{role}.keys")),
            role.as_bytes(),
        )
        .unwrap();
    }
    let manifests: Vec<serde_json::Value> = ws
        .mmctl(&["backup", "all", "--json"])
        .env("MMKT_WALLET_ROOT", &root)
        .run()
        .assert_exit(0)
        .json();
    let kinds: Vec<String> = ws
        .list()
        .iter()
        .map(|b| b["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(manifests.len(), 4);
    for kind in ["db", "wallets-buyer", "wallets-vendor", "wallets-arbiter"] {
        assert!(kinds.iter().any(|k| k == kind), "{kinds:?}");
    }
    let results: Vec<serde_json::Value> = ws
        .run(&["backup", "verify", "--all", "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(results.len(), 4);
}
