//! `mmctl drill` proves escrow wallets: on a real regtest chain with real wallet-rpcs, three
//! escrows in different states (setup not started, a ready 2-of-3 multisig awaiting funding,
//! a funded one) whose nine wallets each have their own random password, recorded only in the
//! server's database (the server's own migrations applied to a real SQLCipher file). The drill
//! reads the passwords from the database, records every wallet's address in the manifests,
//! and checks address, multisig readiness and balance of all nine restored wallets against
//! the restored database. (Records that contradict their wallets are refused by the unit
//! tests of `mmkt_backup::escrow_wallets`, which need no chain.)

mod backup_support;
mod harness;

use std::path::{Path, PathBuf};

use backup_support::*;
use monero_rpc::{
    Amount, Destination, MultisigInfo, TransferOptions, WalletClient, WalletPassword,
};
use test_support::regtest::{Regtest, RegtestConfig};

/// One escrow amount: 1 XMR, piconero.
const AMOUNT: u64 = 1_000_000_000_000;

/// Applies the server's migrations, in order, to the workspace's database.
fn apply_server_schema(ws: &Workspace) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let conn = ws.connect();
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    for file in files {
        conn.execute_batch(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// Records escrow `id` (state, multisig address) and its three wallets with their passwords.
fn record_escrow(
    ws: &Workspace,
    id: i64,
    state: &str,
    address: Option<&str>,
    passwords: &[String; 3],
) {
    let conn = ws.connect();
    // The order, listing and accounts behind an escrow play no part in its wallets.
    conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
    conn.execute(
        "INSERT INTO escrows (id, order_id, state, amount_atomic, required_confirmations, funding_window_secs, address, record, created_at, updated_at)
         VALUES (?1, ?1, ?2, ?3, 10, 86400, ?4, '{}', 0, 0)",
        rusqlite::params![id, state, AMOUNT as i64, address],
    )
    .unwrap();
    for (role, password) in ROLES.iter().zip(passwords) {
        conn.execute(
            "INSERT INTO escrow_wallets (escrow_id, role, attempt, wallet_name, password, created_at) VALUES (?1, ?2, 1, ?3, ?4, 0)",
            rusqlite::params![id, role, wallet_name(id, role), password],
        )
        .unwrap();
    }
}

fn wallet_name(escrow: i64, role: &str) -> String {
    format!("escrow-{escrow}-{role}")
}

/// Runs `f` on the three role wallets at once (each wallet-rpc holds one open wallet).
async fn on_all<T, F, Fut>(wallets: &[WalletClient; 3], f: F) -> Vec<T>
where
    F: Fn(usize, WalletClient) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (a, b, c) = tokio::join!(
        f(0, wallets[0].clone()),
        f(1, wallets[1].clone()),
        f(2, wallets[2].clone())
    );
    vec![a, b, c]
}

/// Creates escrow `id`'s three wallets (left open), each with its own password.
async fn create_wallets(wallets: &[WalletClient; 3], id: i64, passwords: &[String; 3]) {
    on_all(wallets, |i, w| {
        let password = WalletPassword::new(passwords[i].clone());
        async move {
            let name = wallet_name(id, ROLES[i]).parse().unwrap();
            w.create_wallet(&name, &password).await.unwrap();
        }
    })
    .await;
}

/// The other two participants' messages of a round.
fn others(infos: &[MultisigInfo], me: usize) -> Vec<MultisigInfo> {
    (0..3)
        .filter(|&j| j != me)
        .map(|j| infos[j].clone())
        .collect()
}

/// Runs the 2-of-3 key exchange on the open wallets; returns the multisig address.
async fn make_multisig(wallets: &[WalletClient; 3], passwords: &[String; 3]) -> String {
    let prepared = on_all(wallets, |_, w| async move {
        w.prepare_multisig().await.unwrap()
    })
    .await;
    let made = on_all(wallets, |i, w| {
        let (others, password) = (
            others(&prepared, i),
            WalletPassword::new(passwords[i].clone()),
        );
        async move { w.make_multisig(&others, 2, &password).await.unwrap() }
    })
    .await;
    let mut round = made;
    let mut address = None;
    for _ in 0..2 {
        let results = on_all(wallets, |i, w| {
            let (others, password) = (others(&round, i), WalletPassword::new(passwords[i].clone()));
            async move { w.exchange_multisig_keys(&others, &password).await.unwrap() }
        })
        .await;
        address = results[0].address.clone().map(|a| a.to_string());
        round = results
            .into_iter()
            .filter_map(|r| r.multisig_info)
            .collect();
        if round.len() < 3 {
            break;
        }
    }
    address.expect("the key exchange gave the multisig address")
}

fn random_passwords(id: i64) -> [String; 3] {
    ROLES.map(|role| format!("{role}-{id}-{}", mmkt_sqlcipher::DbKey::generate().to_hex()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_proves_the_nine_wallets_of_three_escrows_against_the_restored_database() {
    let Some(net) = Regtest::start_for_test(RegtestConfig {
        wallets: 4,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let Some(bin) = wallet_rpc_bin() else { return };
    let ws = Workspace::new();
    apply_server_schema(&ws);
    let wallets = [net.wallet(0), net.wallet(1), net.wallet(2)];
    let miner = net.create_miner(3).await.unwrap();

    // Escrow 1: wallets created, setup not started.
    let p1 = random_passwords(1);
    create_wallets(&wallets, 1, &p1).await;
    record_escrow(&ws, 1, "awaiting_setup", None, &p1);
    // Escrow 2: a ready 2-of-3 multisig wallet waiting for the buyer's money.
    let p2 = random_passwords(2);
    create_wallets(&wallets, 2, &p2).await;
    let address2 = make_multisig(&wallets, &p2).await;
    record_escrow(&ws, 2, "awaiting_funding", Some(&address2), &p2);
    // Escrow 3: funded with its amount, confirmed, seen by every wallet.
    let p3 = random_passwords(3);
    create_wallets(&wallets, 3, &p3).await;
    let address3 = make_multisig(&wallets, &p3).await;
    let destination = Destination {
        amount: Amount::from_atomic(AMOUNT),
        address: address3.parse().unwrap(),
    };
    miner
        .wallet
        .transfer(&[destination], TransferOptions::default())
        .await
        .unwrap();
    let refs: Vec<&WalletClient> = wallets.iter().collect();
    net.mine_and_refresh(10, &miner.address, &refs)
        .await
        .unwrap();
    record_escrow(&ws, 3, "funded", Some(&address3), &p3);
    on_all(
        &wallets,
        |_, w| async move { w.close_wallet().await.unwrap() },
    )
    .await;

    // The role directories as the stack lays them out: <root>/buyer, vendor, arbiter.
    let root = ws.path("wallets");
    std::fs::create_dir(&root).unwrap();
    for (index, role) in ROLES.iter().enumerate() {
        let dir = std::fs::read_dir(net.dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("wallet-{index}-"))
            })
            .unwrap();
        std::os::unix::fs::symlink(dir, root.join(role)).unwrap();
    }

    let out = ws
        .mmctl(&["drill", "--json"])
        .env("MMKT_WALLET_ROOT", &root)
        .env("MMKT_WALLET_RPC_BIN", &bin)
        .env_remove("MMKT_WALLET_PASSWORD_FILE")
        .run()
        .assert_exit(0);
    let report: serde_json::Value = out.json();
    assert_eq!(report["ok"], true, "{report:#}\n{}", out.stderr());
    let steps = report["steps"].as_array().unwrap();
    let escrow_step = steps.last().unwrap();
    assert_eq!(
        escrow_step["name"],
        "check escrow wallets against the restored database"
    );
    assert!(
        escrow_step["detail"]
            .as_str()
            .unwrap()
            .starts_with("9 escrow wallet(s) of 3 escrow(s) match"),
        "{escrow_step}"
    );
    // Every manifest entry carries its wallet's address, read through the wallet's own password.
    for role in ROLES {
        let listed: Vec<serde_json::Value> = ws.list();
        let backup = listed
            .iter()
            .find(|b| b["kind"] == format!("wallets-{role}"))
            .unwrap_or_else(|| panic!("no {role} backup in {listed:?}"));
        let id = backup["id"].as_str().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ws.backups.join(format!("{id}.json"))).unwrap())
                .unwrap();
        let entries = manifest["wallets"]["wallets"].as_array().unwrap();
        assert_eq!(entries.len(), 3, "{manifest:#}");
        for entry in entries {
            assert_eq!(entry["address_source"], "wallet-rpc", "{entry}");
        }
        let address_of = |escrow: i64| {
            entries
                .iter()
                .find(|e| e["name"] == wallet_name(escrow, role))
                .unwrap()["address"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(address_of(2), address2);
        assert_eq!(address_of(3), address3);
    }

    for password in p1.iter().chain(&p2).chain(&p3) {
        assert!(
            !out.stdout().contains(password.as_str()),
            "a wallet password was printed"
        );
        assert!(
            !out.stderr().contains(password.as_str()),
            "a wallet password was printed"
        );
    }
}
