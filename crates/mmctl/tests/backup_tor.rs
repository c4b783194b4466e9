//! The tor onion service against a real Docker Engine and the real `mmkt/tor` image (Debian's
//! tor, built offline by `mmctl image build tor`): tor starts with DisableNetwork 1 and makes
//! its keys and hostname; `mmctl tor address` prints the v3 address; `mmctl backup tor` seals
//! the keys (opened here with the real `age` CLI); a fresh volume gets another address, and
//! `mmctl restore tor` brings the original one back. A wrong identity or a tampered archive is
//! exit 1 with the live keys untouched; no tor service is exit 45, no keys yet exit 46.

mod backup_support;
mod harness;
mod stack_harness;

use std::process::Command;

use backup_support::*;
use mmkt_stack::tor::OnionAddress;
use test_support::docker::{FileLock, ProjectGuard, docker_available, unique_project};

/// The tor service as deploy/docker-compose.yml defines it (image, user, DisableNetwork 1,
/// hardening, volume, healthcheck), with a stand-in `nginx` whose name tor resolves at start.
const COMPOSE: &str = r#"services:
  nginx:
    image: debian:bookworm-slim
    command: [sleep, infinity]
    init: true
    stop_grace_period: 1s
    networks: [frontend]
  tor:
    image: mmkt/tor:latest
    user: debian-tor
    command: ["--DisableNetwork", "1"]
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    volumes:
      - tor-data:/var/lib/tor
    networks: [frontend]
    depends_on:
      nginx:
        condition: service_started
    stop_grace_period: 10s
    healthcheck:
      test: ["CMD", "test", "-s", "/var/lib/tor/hidden_service/hostname"]
      interval: 1s
      retries: 120
networks:
  frontend:
    internal: true
volumes:
  tor-data: {}
"#;

/// Stand-ins for the three wallet-rpc services (an empty `/wallets` each), for `backup all`.
const WALLET_SERVICES: &str = r#"  wallet-rpc-buyer: &wallet
    image: debian:bookworm-slim
    command: [bash, -c, 'touch /tmp/up; exec sleep infinity']
    init: true
    stop_grace_period: 1s
    volumes:
      - wallets-buyer:/wallets
    healthcheck:
      test: [CMD, test, -f, /tmp/up]
      interval: 1s
      retries: 30
  wallet-rpc-vendor:
    <<: *wallet
    volumes:
      - wallets-vendor:/wallets
  wallet-rpc-arbiter:
    <<: *wallet
    volumes:
      - wallets-arbiter:/wallets
"#;

/// A `tor` service that never makes keys (its hidden-service directory stays empty).
const NO_KEYS_COMPOSE: &str = r#"services:
  tor:
    image: debian:bookworm-slim
    command: [sleep, infinity]
    init: true
    stop_grace_period: 1s
"#;

/// `docker ARGS` (the independent observer), its output lines joined.
fn docker(args: &[&str]) -> String {
    stack_harness::docker_lines(args).join("\n")
}

/// The container of `service` in `project`.
fn container(project: &str, service: &str) -> String {
    let project = format!("label=com.docker.compose.project={project}");
    let service = format!("label=com.docker.compose.service={service}");
    docker(&["ps", "-aq", "--filter", &project, "--filter", &service])
}

/// The base image and the real tor image, built under the stack tests' image lock.
fn ensure_tor_image() {
    let _lock = FileLock::acquire(&std::env::temp_dir().join("mmkt-stack-tests-images.lock"));
    Mmctl::new()
        .args(["image", "bootstrap-base"])
        .run()
        .assert_exit(0);
    Mmctl::new()
        .args(["image", "build", "--quiet", "tor"])
        .run()
        .assert_exit(0);
}

/// `mmctl tor address -p PROJECT`, checked as a v3 onion address.
fn onion_address(ws: &Workspace, project: &str) -> String {
    let out = ws.run(&["tor", "address", "-p", project]).assert_exit(0);
    let address = out.stdout().trim().to_owned();
    let label = address.strip_suffix(".onion").expect(".onion");
    assert_eq!(label.len(), 56, "{address}");
    assert!(
        label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
        "{address}"
    );
    OnionAddress::parse(&address).expect("a valid v3 address");
    address
}

/// Mode and owner of each key file in the tor container.
fn key_file_modes(tor: &str) -> String {
    docker(&[
        "exec",
        tor,
        "stat",
        "-c",
        "%n %a %U",
        "/var/lib/tor/hidden_service",
        "/var/lib/tor/hidden_service/hostname",
        "/var/lib/tor/hidden_service/hs_ed25519_public_key",
        "/var/lib/tor/hidden_service/hs_ed25519_secret_key",
    ])
}

fn started_at(id: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", id])
}

#[test]
fn onion_keys_survive_backup_and_restore_with_the_same_address() {
    if !docker_available() {
        return;
    }
    ensure_tor_image();
    let ws = Workspace::new();
    let guard = ProjectGuard::new(&unique_project("mmctl-tor"));
    let project = guard.project().to_owned();
    let compose = ws.path("docker-compose.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    let compose = compose.to_str().unwrap().to_owned();
    let up = || {
        ws.run(&["up", "-p", &project, "--file", &compose, "--timeout", "180"])
            .assert_exit(0);
    };
    up();
    let tor = container(&project, "tor");
    let (_, logs) = stack_harness::docker_try(&["logs", &tor]);
    assert!(
        logs.contains("DisableNetwork is set"),
        "tor runs without network access: {logs}"
    );

    // Keys and hostname exist, private to debian-tor; the address is a valid v3 one.
    let modes = key_file_modes(&tor);
    for line in [
        "/var/lib/tor/hidden_service 700 debian-tor",
        "/var/lib/tor/hidden_service/hostname 600 debian-tor",
        "/var/lib/tor/hidden_service/hs_ed25519_public_key 600 debian-tor",
        "/var/lib/tor/hidden_service/hs_ed25519_secret_key 600 debian-tor",
    ] {
        assert!(modes.contains(line), "{line} in {modes}");
    }
    let original = onion_address(&ws, &project);
    assert_eq!(
        docker(&["exec", &tor, "cat", "/var/lib/tor/hidden_service/hostname"]),
        original
    );
    let json: serde_json::Value = ws
        .run(&["tor", "address", "-p", &project, "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(json["onion_address"], original.as_str());

    // The backup: kind tor, the address in its manifest, verified, readable with age.
    let manifests: Vec<serde_json::Value> = ws
        .run(&["backup", "tor", "-p", &project, "--json"])
        .assert_exit(0)
        .json();
    let manifest = &manifests[0];
    assert_eq!(manifest["kind"], "tor");
    assert_eq!(manifest["tor"]["onion_address"], original.as_str());
    let id = manifest["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tor-"), "{id}");
    let data = ws.data_file(manifest);
    let plain = ws.path("tor.tar.gz");
    let age = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&ws.identity_file)
        .arg("-o")
        .arg(&plain)
        .arg(&data)
        .status()
        .unwrap();
    assert!(age.success(), "the age CLI decrypts the backup");
    let extracted = ws.path("extracted");
    std::fs::create_dir(&extracted).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&plain)
        .arg("-C")
        .arg(&extracted)
        .status()
        .unwrap();
    assert!(tar.success());
    let hostname = std::fs::read_to_string(extracted.join("hostname")).unwrap();
    assert_eq!(hostname.trim(), original);
    assert_eq!(
        std::fs::metadata(extracted.join("hs_ed25519_secret_key"))
            .unwrap()
            .len(),
        96
    );
    ws.run(&["backup", "verify", &id])
        .assert_exit(0)
        .assert_stdout_contains("onion_keys");

    // Bad input: a wrong identity, then a tampered data file. Exit 1, tor untouched.
    let before = started_at(&tor);
    let wrong = ws.path("wrong-identity.txt");
    let identity = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &wrong,
            format!("{}\n", identity.to_string().expose_secret()),
        )
        .unwrap();
    }
    ws.mmctl(&["restore", "tor", "latest", "--yes", "-p", &project])
        .env("MMKT_BACKUP_IDENTITY_FILE", &wrong)
        .run()
        .assert_exit(1)
        .assert_stderr_contains("before touching the tor service");
    let genuine = std::fs::read(&data).unwrap();
    let mut tampered = genuine.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x40;
    std::fs::write(&data, &tampered).unwrap();
    ws.run(&["restore", "tor", &id, "--yes", "-p", &project])
        .assert_exit(1)
        .assert_stderr_contains("checksum");
    std::fs::write(&data, &genuine).unwrap();
    assert_eq!(started_at(&tor), before, "tor was not restarted");
    assert_eq!(onion_address(&ws, &project), original);

    // A new host: the stack and its volume are gone; tor makes another address.
    ws.run(&["down", "-p", &project, "--file", &compose])
        .assert_exit(0);
    docker(&["volume", "rm", &format!("{project}_tor-data")]);
    up();
    let fresh = onion_address(&ws, &project);
    assert_ne!(fresh, original, "a new volume gets new keys");

    // The restore brings the original address back, the fresh keys kept as a backup.
    let out = ws
        .run(&["restore", "tor", &id, "--yes", "-p", &project])
        .assert_exit(0)
        .assert_stdout_contains(&original);
    assert!(
        out.stdout().contains("previous keys kept as backup tor-"),
        "{}",
        out.stdout()
    );
    assert_eq!(onion_address(&ws, &project), original);
    let tor = container(&project, "tor");
    let modes = key_file_modes(&tor);
    assert!(
        modes.contains("/var/lib/tor/hidden_service/hs_ed25519_secret_key 600 debian-tor"),
        "{modes}"
    );
    let previous = out
        .stdout()
        .split("previous keys kept as backup ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();
    let kept: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.backups.join(format!("{previous}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        kept["tor"]["onion_address"],
        fresh.as_str(),
        "the replaced keys can be restored too"
    );
    ws.run(&["backup", "verify", &previous]).assert_exit(0);

    // Tor stopped: exit 45.
    docker(&["stop", "-t", "10", &tor]);
    ws.run(&["tor", "address", "-p", &project])
        .assert_exit(45)
        .assert_stderr_contains("not running");
}

#[test]
fn no_tor_service_is_exit_45_and_no_keys_yet_is_exit_46() {
    if !docker_available() {
        return;
    }
    ensure_tor_image();
    let ws = Workspace::new();
    let guard = ProjectGuard::new(&unique_project("mmctl-tor-none"));
    let project = guard.project().to_owned();
    ws.run(&["tor", "address", "-p", &project])
        .assert_exit(45)
        .assert_stderr_contains("has no tor container");
    ws.run(&["backup", "tor", "-p", &project])
        .assert_exit(45)
        .assert_stderr_contains("has no tor container");
    ws.run(&["restore", "tor", "--yes", "-p", &project])
        .assert_exit(1)
        .assert_stderr_contains("no complete backup");

    let compose = ws.path("docker-compose.yml");
    std::fs::write(&compose, NO_KEYS_COMPOSE).unwrap();
    let compose = compose.to_str().unwrap();
    ws.run(&["up", "-p", &project, "--file", compose, "--timeout", "120"])
        .assert_exit(0);
    ws.run(&["tor", "address", "-p", &project])
        .assert_exit(46)
        .assert_stderr_contains("has not made its onion-service keys");
    ws.run(&["backup", "tor", "-p", &project])
        .assert_exit(46)
        .assert_stderr_contains("no onion-service keys yet");
    assert!(ws.list().is_empty(), "nothing was written");
}

#[test]
fn development_runs_tor_off_the_network_and_production_on_it() {
    let root = harness::workspace_root();
    let compose = root.join("deploy/docker-compose.yml");
    for (env, value) in [("development", "1"), ("staging", "0"), ("production", "0")] {
        let project = mmkt_stack::load_project(&compose, Some(env), "mmkt", &[]).unwrap();
        let tor = project.compose.file.service("tor").unwrap();
        let command = tor.command.as_ref().unwrap().to_words().unwrap();
        assert_eq!(command, ["--DisableNetwork", value], "{env}");
    }
}

#[test]
fn backup_all_of_the_stack_includes_the_onion_keys() {
    if !docker_available() {
        return;
    }
    ensure_tor_image();
    let ws = Workspace::new();
    ws.seed(20);
    let guard = ProjectGuard::new(&unique_project("mmctl-tor-all"));
    let project = guard.project().to_owned();
    let compose = COMPOSE
        .replace(
            "networks:\n  frontend:\n",
            &format!("{WALLET_SERVICES}networks:\n  frontend:\n"),
        )
        .replace(
            "  tor-data: {}\n",
            "  tor-data: {}\n  wallets-buyer: {}\n  wallets-vendor: {}\n  wallets-arbiter: {}\n",
        );
    let file = ws.path("docker-compose.yml");
    std::fs::write(&file, compose).unwrap();
    ws.run(&[
        "up",
        "-p",
        &project,
        "--file",
        file.to_str().unwrap(),
        "--timeout",
        "180",
    ])
    .assert_exit(0);
    let address = onion_address(&ws, &project);
    let manifests: Vec<serde_json::Value> = ws
        .run(&["backup", "all", "-p", &project, "--json"])
        .assert_exit(0)
        .json();
    let kinds: Vec<&str> = manifests
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["db", "wallets", "wallets", "wallets", "tor"]);
    assert_eq!(manifests[4]["tor"]["onion_address"], address.as_str());
    let results: Vec<serde_json::Value> = ws
        .run(&["backup", "verify", "--all", "--json"])
        .assert_exit(0)
        .json();
    assert_eq!(results.len(), 5);
}
