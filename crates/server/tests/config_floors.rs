//! Per-environment configuration floors of the real `mmkt-server` binary: production refuses fewer
//! than 10 confirmations, staging requires the wallet-rpc login, staging and production never
//! create a DB key and refuse one inside the database's directory; development still creates its
//! key beside the database on first start. Each refusal exits 1 with a message naming the
//! variable and the fix, and writes nothing (no database, no key).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use mmkt_server::db::key::DbKey;

const LOGIN: &str = "mmkt:7f3a9c1e5b2d8f4a6c0e";

/// The outcome of one run: exit code and standard error.
struct Run {
    code: Option<i32>,
    stderr: String,
}

impl Run {
    /// Asserts a refusal: exit code 1 and every one of `needles` in the message.
    fn refused(&self, needles: &[&str]) {
        assert_eq!(self.code, Some(1), "{}", self.stderr);
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "missing {needle:?} in: {}",
                self.stderr
            );
        }
    }
}

/// Runs `mmkt-server create-arbiter` (opens the database and exits) with only the given
/// `MMKT_*` variables, the database at `data/mmkt.db`.
fn run(data: &Path, vars: &[(&str, String)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmkt-server"));
    cmd.args(["create-arbiter", "--username", "arbiter_floor"])
        .current_dir(data);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MMKT_")) {
        cmd.env_remove(k);
    }
    cmd.env("MMKT_DB_PATH", data.join("mmkt.db"))
        .env("MMKT_ARBITER_PASSWORD", "correct-horse-battery");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mmkt-server");
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Production settings that pass every check, the key at `key`.
fn production(key: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("MMKT_ENV", "production".into()),
        ("MMKT_DB_KEY_FILE", key.display().to_string()),
        ("MMKT_WALLET_RPC_BUYER_URL", "http://127.0.0.1:9".into()),
        ("MMKT_WALLET_RPC_VENDOR_URL", "http://127.0.0.1:9".into()),
        ("MMKT_WALLET_RPC_ARBITER_URL", "http://127.0.0.1:9".into()),
        ("MMKT_WALLET_RPC_LOGIN", LOGIN.into()),
    ]
}

/// Staging settings that pass every check, the key at `key`.
fn staging(key: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("MMKT_ENV", "staging".into()),
        ("MMKT_DB_KEY_FILE", key.display().to_string()),
        ("MMKT_WALLET_RPC_LOGIN", LOGIN.into()),
    ]
}

fn with(
    mut vars: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    vars.retain(|(k, _)| *k != name);
    vars.push((name, value.into()));
    vars
}

fn without(mut vars: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    vars.retain(|(k, _)| *k != name);
    vars
}

fn write_key(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{}\n", DbKey::generate().to_hex())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn assert_nothing_written(data: &Path, key: &Path) {
    assert!(!data.join("mmkt.db").exists(), "no database written");
    assert!(!key.exists(), "no key written at {}", key.display());
}

#[test]
fn production_refuses_fewer_than_ten_confirmations() {
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("db.key");
    write_key(&key);
    for low in ["1", "9"] {
        let r = run(
            data.path(),
            &with(production(&key), "MMKT_ESCROW_CONFIRMATIONS", low),
        );
        r.refused(&[
            &format!("MMKT_ESCROW_CONFIRMATIONS={low} is below 10"),
            "MMKT_ENV=production",
        ]);
        assert!(
            !data.path().join("mmkt.db").exists(),
            "{low}: no database written"
        );
    }
    // Staging has no such floor; production accepts 10 (each on a fresh database).
    let fresh = tempfile::tempdir().unwrap();
    let r = run(
        fresh.path(),
        &with(staging(&key), "MMKT_ESCROW_CONFIRMATIONS", "2"),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let fresh = tempfile::tempdir().unwrap();
    let r = run(
        fresh.path(),
        &with(production(&key), "MMKT_ESCROW_CONFIRMATIONS", "10"),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn staging_requires_the_wallet_rpc_login() {
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("db.key");
    write_key(&key);
    let r = run(
        data.path(),
        &without(staging(&key), "MMKT_WALLET_RPC_LOGIN"),
    );
    r.refused(&["MMKT_WALLET_RPC_LOGIN must be set when MMKT_ENV=staging"]);
    let r = run(
        data.path(),
        &with(staging(&key), "MMKT_WALLET_RPC_LOGIN", "mmkt:password"),
    );
    r.refused(&["MMKT_WALLET_RPC_LOGIN is a default or weak secret"]);
    assert!(!r.stderr.contains("mmkt:password"), "{}", r.stderr);
    assert!(!data.path().join("mmkt.db").exists(), "no database written");
    let r = run(data.path(), &staging(&key));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn staging_and_production_never_create_a_key() {
    for (env, vars) in [
        ("staging", staging as fn(&Path) -> _),
        ("production", production),
    ] {
        let data = tempfile::tempdir().unwrap();
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("db.key");
        let r = run(data.path(), &vars(&key));
        r.refused(&["does not exist", "never creates one", "own mount"]);
        assert_nothing_written(data.path(), &key);
        // Once provisioned, the same settings start.
        write_key(&key);
        let r = run(data.path(), &vars(&key));
        assert_eq!(r.code, Some(0), "{env}: {}", r.stderr);
    }
}

#[test]
fn staging_and_production_refuse_a_key_inside_the_database_directory() {
    for vars in [staging as fn(&Path) -> _, production] {
        let data = tempfile::tempdir().unwrap();
        // Present, valid, and refused all the same; also below the data directory and when
        // reached through `..` from elsewhere.
        let beside = data.path().join("db.key");
        let below = data.path().join("keys/db.key");
        for key in [&beside, &below] {
            write_key(key);
            let r = run(data.path(), &vars(key));
            r.refused(&[
                "is inside the directory of MMKT_DB_PATH",
                "mount the key on its own",
                "server-key",
            ]);
            assert!(!data.path().join("mmkt.db").exists(), "no database written");
        }
        let dotted = data.path().join("keys/../db.key");
        let r = run(data.path(), &vars(&dotted));
        r.refused(&["mount the key on its own"]);
        // A relative key path resolves against the working directory (here the data directory).
        let r = run(
            data.path(),
            &with(vars(&beside), "MMKT_DB_KEY_FILE", "db.key"),
        );
        r.refused(&["mount the key on its own"]);
        assert!(!data.path().join("mmkt.db").exists(), "no database written");
    }
}

#[test]
fn development_still_creates_its_key_beside_the_database() {
    let data = tempfile::tempdir().unwrap();
    let key = data.path().join("mmkt.key");
    let r = run(data.path(), &[("MMKT_ENV", "development".into())]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("generated a new database key file"),
        "{}",
        r.stderr
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(data.path().join("mmkt.db").exists());
}
