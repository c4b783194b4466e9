//! `mmctl firewall` through the real binary, inside network namespaces this test creates
//! (`--netns`), never the host's ruleset: a bad setting exits 2 and applies nothing, status
//! says 44 before apply, apply loads the plan and keeps the SSH session's address, status then
//! matches (0) and after a change differs (43) with the diff, plan prints the ruleset; no nft
//! on PATH is 40, not root is 42.

mod harness;

use harness::Mmctl;
use test_support::netns::{self, NetNs};

fn firewall(action: &str, ns: &NetNs) -> Mmctl {
    Mmctl::new()
        .args([
            "firewall",
            action,
            "--env",
            "production",
            "--netns",
            ns.name(),
        ])
        .env("SSH_CONNECTION", "")
}

fn table(ns: &NetNs) -> Option<String> {
    let out = ns.exec("nft", &["list", "table", "inet", "mmkt"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn bad_settings_exit_2_and_apply_nothing() {
    if netns::unavailable() {
        return;
    }
    let ns = NetNs::create("clibad");
    for (name, value) in [
        ("MMKT_FIREWALL_PUBLIC_PORTS", "443,70000"),
        ("MMKT_FIREWALL_ADMIN_CIDRS", "10.0.0.0/33"),
        ("MMKT_FIREWALL_PUBLIC_PORTS", "443,18081"),
    ] {
        firewall("apply", &ns)
            .env(name, value)
            .run()
            .assert_exit(2)
            .assert_stderr_contains(name);
        assert_eq!(table(&ns), None, "{name}={value} applied something");
    }
    firewall("apply", &ns)
        .env("SSH_CONNECTION", "garbage")
        .run()
        .assert_exit(2)
        .assert_stderr_contains("SSH_CONNECTION");
    Mmctl::new()
        .args([
            "firewall",
            "apply",
            "--env",
            "production",
            "--netns",
            "mmkt-fw-no-such-ns",
        ])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("no such network namespace");
    assert_eq!(table(&ns), None);
}

#[test]
fn apply_then_status_matches_and_a_change_differs() {
    if netns::unavailable() {
        return;
    }
    let ns = NetNs::create("cli");
    firewall("status", &ns)
        .run()
        .assert_exit(44)
        .assert_stdout_contains("not loaded");

    let out = firewall("apply", &ns)
        .env("SSH_CONNECTION", "203.0.113.9 50000 198.51.100.1 2222")
        .run()
        .assert_exit(0)
        .assert_stdout_contains("from 203.0.113.9 to port 2222");
    assert!(
        out.stdout()
            .contains("DOCKER-USER chain (table ip filter): absent"),
        "{}",
        out.stdout()
    );
    let set = ns.exec_ok("nft", &["list", "set", "inet", "mmkt", "session_v4"]);
    assert!(set.contains("203.0.113.9 . 2222"), "{set}");

    firewall("status", &ns)
        .run()
        .assert_exit(0)
        .assert_stdout_contains("matches the plan");
    ns.exec_ok(
        "nft",
        &[
            "insert", "rule", "inet", "mmkt", "input", "tcp", "dport", "8080", "accept",
        ],
    );
    firewall("status", &ns)
        .run()
        .assert_exit(43)
        .assert_stdout_contains("-\t\ttcp dport 8080 accept");
    let plan = firewall("plan", &ns).run().assert_exit(0);
    assert!(
        plan.stdout()
            .starts_with("table inet mmkt\ndelete table inet mmkt\n"),
        "{}",
        plan.stdout()
    );
    assert!(
        plan.stdout().contains("differs from the plan"),
        "{}",
        plan.stdout()
    );
    // plan changes nothing; apply puts the plan back.
    assert!(table(&ns).is_some_and(|t| t.contains("tcp dport 8080 accept")));
    firewall("apply", &ns).run().assert_exit(0);
    firewall("status", &ns).run().assert_exit(0);
}

#[test]
fn no_nft_is_40_and_not_root_is_42() {
    if netns::unavailable() {
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    Mmctl::new()
        .args(["firewall", "status", "--env", "production"])
        .env("PATH", empty.path())
        .run()
        .assert_exit(40)
        .assert_stderr_contains("nftables");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(harness::mmctl_path())
        .args(["firewall", "status", "--env", "production"])
        .current_dir(harness::workspace_root())
        .env_remove("MMKT_FIREWALL_PUBLIC_PORTS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(42), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
}
