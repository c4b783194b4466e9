//! The README's walkthrough, run for real so it cannot rot: a development stack (compose
//! profile `dev`: regtest faucet and miner) comes up under its own project, `mmctl up` prints
//! only the plain-HTTP URL that answers, the README's ```` ```bash ```` block after the
//! walkthrough marker runs unchanged (only the published port and the project differ) from
//! register to payout, the payout transaction is found mined on the regtest chain, the dev
//! helpers (seed, arbiter create) work on the same stack, and the README's stop block stops it
//! and keeps the volumes. Also: the development helpers and the `dev` profile are refused in
//! other environments with exit 2, before anything is created.

mod harness;
mod stack_harness;

use std::process::Command;
use std::time::{Duration, Instant};

use stack_harness::*;

/// The marker line before the walkthrough's code block in README.md.
const MARKER: &str = "<!-- walkthrough";

/// The URL and the mmctl path the README uses.
const README_URL: &str = "http://127.0.0.1:8080";
const README_MMCTL: &str = "target/debug/mmctl";

/// The ```` ```bash ```` block following `after` in README.md.
fn bash_block(readme: &str, after: &str) -> String {
    let at = readme
        .find(after)
        .unwrap_or_else(|| panic!("README.md has no {after:?}"));
    let rest = &readme[at..];
    let start = rest.find("```bash\n").expect("a ```bash block") + "```bash\n".len();
    let len = rest[start..].find("```").expect("a closed block");
    rest[start..start + len].to_string()
}

/// Runs `script` with bash (-euo pipefail) in `dir`, where `target/debug/mmctl` is the mmctl
/// under test, acting on compose project `project` (at most `limit`).
fn run_bash(script: &str, dir: &std::path::Path, project: &str, limit: Duration) -> (bool, String) {
    let bin = dir.join("target/debug");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("mmctl");
    if !link.exists() {
        std::os::unix::fs::symlink(mmctl_path(), &link).unwrap();
    }
    let mut cmd = Command::new("timeout");
    cmd.arg(limit.as_secs().to_string())
        .args(["bash", "-euo", "pipefail", "-c", script])
        .current_dir(dir);
    for (key, _) in std::env::vars() {
        if ["MMKT_", "COMPOSE_", "MMCTL_", "DOCKER_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            cmd.env_remove(key);
        }
    }
    let compose = workspace_root().join("deploy/docker-compose.yml");
    let out = cmd
        .env("COMPOSE_PROJECT_NAME", project)
        .env("MMCTL_COMPOSE_FILE", compose)
        .env("NO_COLOR", "1")
        .output()
        .expect("run bash");
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The container ID of `service` in `project`.
fn container(project: &str, service: &str) -> String {
    let filter = |k: &str, v: &str| format!("label=com.docker.compose.{k}={v}");
    docker_lines(&[
        "ps",
        "-q",
        "--filter",
        &filter("project", project),
        "--filter",
        &filter("service", service),
    ])
    .into_iter()
    .next()
    .unwrap_or_else(|| panic!("no {service} container"))
}

/// Polls monerod's restricted RPC (inside its container) until `tx` is in a block.
fn wait_mined(project: &str, tx: &str) -> serde_json::Value {
    let monerod = container(project, "monerod");
    let body = format!("{{\"txs_hashes\":[\"{tx}\"]}}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, text) = docker_try(&[
            "exec",
            &monerod,
            "curl",
            "-s",
            "-d",
            &body,
            "http://127.0.0.1:18081/get_transactions",
        ]);
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let found = &answer["txs"][0];
        if found["in_pool"] == false && found["block_height"].as_u64().unwrap_or(0) > 0 {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "payout {tx} not mined: {text}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn readme_walkthrough_reaches_a_payout_on_the_regtest_chain() {
    if !docker_available() {
        return;
    }
    let _ = ensure_images();
    let guard = ProjectGuard::new(&unique_project("mmctl-walk"));
    let p = guard.project().to_string();
    let up = mmctl()
        .args(["up", "-p", &p, "--profile", "dev", "--timeout", "300"])
        .env("MMKT_DEV_MINE_INTERVAL_SECS", "2")
        .run()
        .assert_exit(0);
    // Only the listener that answers is printed, over the scheme that answers: plain HTTP
    // (no certificate in development, and the ACME listener only redirects). The URL lines name
    // a port (`nginx 8080/tcp URL`); `nginx pinned to ...` reports the pin, not a URL.
    let urls: Vec<&str> = up
        .stdout()
        .lines()
        .filter(|l| l.trim_start().starts_with("nginx ") && l.contains("/tcp"))
        .collect();
    assert_eq!(urls.len(), 1, "{}", up.stdout());
    assert!(
        urls[0].contains("8080/tcp") && urls[0].contains("http://127.0.0.1:"),
        "{}",
        urls[0]
    );
    assert!(!up.stdout().contains("https://"), "{}", up.stdout());
    let url = urls[0].split_whitespace().last().unwrap().to_string();

    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let walkthrough = bash_block(&readme, MARKER);
    assert!(walkthrough.contains(README_URL) && walkthrough.contains(README_MMCTL));
    let dir = tempfile::tempdir().unwrap();
    let script = walkthrough.replace(README_URL, &url);
    let (ok, out) = run_bash(&script, dir.path(), &p, Duration::from_secs(900));
    assert!(ok, "the README walkthrough failed:\n{out}");
    assert!(out.contains("\"released\""), "{out}");
    let tx = out
        .lines()
        .find_map(|l| l.strip_prefix("payout transaction: "))
        .unwrap_or_else(|| panic!("no payout line:\n{out}"))
        .trim()
        .to_string();
    assert_eq!(tx.len(), 64, "{tx}");
    let mined = wait_mined(&p, &tx);
    assert_eq!(mined["tx_hash"], tx.as_str(), "{mined}");

    // The other helpers on the same stack: demo data, and an arbiter from the environment.
    let seed: serde_json::Value = mmctl()
        .args(["dev", "seed", "-p", &p, "--url", &url, "--json"])
        .run()
        .assert_exit(0)
        .json();
    assert_eq!(seed["accounts"].as_array().unwrap().len(), 3, "{seed}");
    assert_eq!(seed["listing_ids"].as_array().unwrap().len(), 3, "{seed}");
    mmctl()
        .args(["dev", "seed", "-p", &p, "--url", &url])
        .run()
        .assert_exit(1)
        .assert_stderr_contains("--prefix");
    let secret = "walkthrough-arbiter-pw";
    let created = mmctl()
        .args(["dev", "arbiter", "create", "judge", "-p", &p])
        .env("MMKT_ARBITER_PASSWORD", secret)
        .run()
        .assert_exit(0)
        .assert_stdout_contains("created arbiter judge");
    assert!(
        !created.stdout().contains(secret),
        "the password is never printed back"
    );
    mmctl()
        .args(["arbiter", "create", "judge", "-p", &p])
        .stdin("short\n")
        .run()
        .assert_exit(1)
        .assert_stderr_contains("at least 10 characters");
    let (_, inspect) = docker_try(&["inspect", &container(&p, "server")]);
    assert!(
        !inspect.contains(secret),
        "the password reached the container's definition"
    );

    // The README's stop block: containers gone, volumes (database, wallets, chain) kept.
    let stop = bash_block(&readme, "Stop the stack with");
    let (ok, out) = run_bash(&stop, dir.path(), &p, Duration::from_secs(300));
    assert!(ok, "{out}");
    assert_containers_and_networks_gone(&guard);
    let volumes = guard.volume_names();
    for kept in ["server-data", "monerod-data", "faucet-wallet"] {
        assert!(
            volumes.iter().any(|v| v.ends_with(kept)),
            "{kept} not kept: {volumes:?}"
        );
    }
}

#[test]
fn development_helpers_are_refused_in_other_environments() {
    let address = "4".repeat(95);
    for env in ["staging", "production"] {
        for args in [
            vec!["dev", "pay", &address, "1"],
            vec!["dev", "mine", "5"],
            vec!["dev", "seed"],
            vec!["dev", "arbiter", "create", "judge"],
        ] {
            let mut all = args.clone();
            all.extend(["--env", env, "-p", "mmkt-never-created"]);
            run(&all)
                .assert_exit(2)
                .assert_stderr_contains(&format!("MMKT_ENV is {env}"));
        }
    }
    with_docker("mmctl-devprof", Images::NotNeeded, |t| {
        let p = t.guard.project();
        run(&["up", "--env", "production", "--profile", "dev", "-p", p])
            .assert_exit(2)
            .assert_stderr_contains("runs only in development");
        assert_nothing_created(&t.guard);
    });
    // Bad amounts are usage errors too, before any engine is asked.
    run(&["dev", "pay", &address, "1.5e3", "-p", "mmkt-never-created"])
        .assert_exit(2)
        .assert_stderr_contains("1500000000000pico");
}
