//! `mmctl drill`: fresh backups restored into scratch (SQLCipher file, throwaway
//! monero-wallet-rpc), RTO/RPO reported as JSON, exit 1 when a step fails, live data unchanged.

mod backup_support;
mod harness;

use std::collections::BTreeMap;
use std::path::Path;

use backup_support::*;
use mmkt_backup::wallet_rpc::ThrowawayWalletRpc;
use monero_rpc::WalletPassword;

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().is_file() {
            files.insert(
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    files
}

fn trees(root: &Path) -> Vec<BTreeMap<String, Vec<u8>>> {
    ROLES.iter().map(|r| tree(&root.join(r))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_restores_db_and_every_wallet_into_scratch_and_reports_rto_rpo() {
    let Some(bin) = wallet_rpc_bin() else { return };
    let ws = Workspace::new();
    ws.seed(1500);
    let root = ws.path("wallets");
    let mut starts = Vec::new();
    for role in ROLES {
        let dir = root.join(role);
        std::fs::create_dir_all(&dir).unwrap();
        let (bin, work) = (bin.clone(), ws.path(&format!("rpc-{role}")));
        starts.push(tokio::spawn(async move {
            let rpc = ThrowawayWalletRpc::start(&bin, &dir, &work).await.unwrap();
            rpc.rpc()
                .create_wallet(&format!("{role}-main"), &WalletPassword::new("drill-pw"))
                .await
                .unwrap();
            rpc.rpc().close_wallet().await.unwrap();
        }));
    }
    for s in starts {
        s.await.unwrap();
    }
    let password = ws.path("wallet-password");
    std::fs::write(&password, "drill-pw\n").unwrap();
    let before = trees(&root);
    ws.backup_db();

    let report: serde_json::Value = ws
        .mmctl(&["drill", "--json"])
        .env("MMKT_WALLET_ROOT", &root)
        .env("MMKT_WALLET_PASSWORD_FILE", &password)
        .run()
        .assert_exit(0)
        .json();
    assert_eq!(report["ok"], true);
    assert!(report["rto_seconds"].as_f64().unwrap() > 0.0);
    assert!(
        report["rpo_seconds"]["db"].as_f64().is_some(),
        "a DB backup existed before: {report}"
    );
    assert!(
        report["rpo_seconds"]["wallets-buyer"].is_null(),
        "no wallet backup existed before"
    );
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1 + 2 + 4 + 1, "{report}");
    assert_eq!(steps[0]["name"], "check signatures of existing backups");
    assert_eq!(steps[0]["ok"], true, "{report}");
    let wallet_steps: Vec<&str> = steps
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("restore wallets"))
        .map(|s| s["detail"].as_str().unwrap())
        .collect();
    assert_eq!(wallet_steps.len(), 3);
    assert!(
        wallet_steps
            .iter()
            .all(|d| d.contains("1 wallet(s) open with their recorded addresses")),
        "{wallet_steps:?}"
    );

    // The drill's fresh backups count as verified; live data did not change.
    let listed = ws.list();
    assert_eq!(listed.iter().filter(|b| b["verified"] == true).count(), 4);
    assert_eq!(before, trees(&root));
    assert_eq!(count(&ws.connect(), "listings"), 1500);
    // No scratch left behind.
    assert!(
        !std::fs::read_dir(&ws.backups)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with('.'))
    );
}

#[test]
fn a_failing_step_fails_the_drill_with_exit_1() {
    let ws = Workspace::new();
    ws.seed(100);
    let report: serde_json::Value = ws
        .run(&["drill", "--skip-wallets", "--json"])
        .assert_exit(0)
        .json();
    assert!(report["rpo_seconds"]["db"].is_null());
    assert_eq!(report["steps"].as_array().unwrap().len(), 3);

    // A DB that cannot be read with its key: the backup step fails, the drill fails.
    let wrong_key = ws.wrong_key_file();
    let report: serde_json::Value = ws
        .mmctl(&["drill", "--skip-wallets", "--json"])
        .env("MMKT_DB_KEY_FILE", &wrong_key)
        .run()
        .assert_exit(1)
        .json();
    assert_eq!(report["ok"], false);
    assert!(
        report["steps"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("with the given key"),
        "{report}"
    );

    // Escrow wallet passwords come from the database: one that cannot be read is a clear
    // error before anything is backed up.
    let before = ws.list().len();
    ws.mmctl(&["drill"])
        .env("MMKT_DB_KEY_FILE", &wrong_key)
        .run()
        .assert_exit(1)
        .assert_stderr_contains("cannot read the escrow wallets' passwords from the database");
    assert_eq!(ws.list().len(), before, "nothing was backed up");
}

#[test]
fn drill_reports_the_achieved_rpo_of_the_chain_and_a_chain_without_its_base_has_no_point() {
    let ws = Workspace::new();
    ws.seed(200);
    let chained = || {
        let manifests: Vec<serde_json::Value> = ws
            .run(&["backup", "db", "--full-every", "1h", "--json"])
            .assert_exit(0)
            .json();
        manifests[0]["id"].as_str().unwrap().to_owned()
    };
    let base = chained();
    insert_listings(&ws.connect(), 20);
    chained();
    insert_listings(&ws.connect(), 20);
    chained();
    let drill = || -> serde_json::Value {
        ws.run(&["drill", "--skip-wallets", "--json"])
            .assert_exit(0)
            .json()
    };
    let report = drill();
    let rpo = &report["chain_rpo"];
    assert_eq!(rpo["points_last_24h"], 3, "{report}");
    let age = rpo["newest_point_age_seconds"].as_f64().unwrap();
    let gap = rpo["largest_gap_seconds"].as_f64().unwrap();
    assert!(age >= 0.0 && gap >= age, "{rpo}");
    let text = ws
        .run(&["drill", "--skip-wallets"])
        .assert_exit(0)
        .assert_stdout_contains("RPO db chain: newest restorable point");
    assert!(
        text.stdout().contains("over the last 24 h ("),
        "{}",
        text.stdout()
    );

    // Without the chain's full backup, its deltas are not restorable points; the drill's own
    // standalone fulls (taken by the two drills above) still are.
    for entry in std::fs::read_dir(&ws.backups).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&base) {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let report = drill();
    assert_eq!(report["chain_rpo"]["points_last_24h"], 2, "{report}");
}
