//! Stack tests: the real `mmctl` binary against the real Docker Engine (Debian's docker.io),
//! with the real images built offline from deploy/. Each test uses its own compose project
//! and removes exactly its own containers, networks and volumes (by label), also on panic.

mod harness;
mod stack_harness;

use std::collections::BTreeMap;

use stack_harness::*;

const CORE_SERVICES: [&str; 11] = [
    "alertmanager",
    "blackbox-exporter",
    "monerod",
    "nginx",
    "node-exporter",
    "prometheus",
    "server",
    "tor",
    "wallet-rpc-arbiter",
    "wallet-rpc-buyer",
    "wallet-rpc-vendor",
];

/// service -> container ID, from `docker ps` filtered by the compose labels.
fn containers_by_service(guard: &ProjectGuard) -> BTreeMap<String, String> {
    docker_lines(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &guard.filter(),
        "--format",
        "{{.Label \"com.docker.compose.service\"}} {{.ID}}",
    ])
    .into_iter()
    .filter_map(|l| {
        l.split_once(' ')
            .map(|(s, id)| (s.to_string(), id.to_string()))
    })
    .collect()
}

/// Byte offset of `needle` in `text`; panics with the text when it is missing.
#[track_caller]
fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle} missing:\n{text}"))
}

/// The images were built offline, and the server image carries nothing besides its binary,
/// libcrypto and a CA bundle: no duplicated layers, no build tools.
fn check_images(base: &Output, build: &Output) {
    assert!(
        base.stdout().contains("debian:bookworm-slim"),
        "{}",
        base.stdout()
    );
    for image in [
        "mmkt/server:latest",
        "mmkt/monero:latest",
        "mmkt/nginx:latest",
        "mmkt/prometheus:latest",
        "mmkt/alertmanager:latest",
    ] {
        assert!(
            build.stdout().contains(&format!("built {image}")),
            "{image} not built:\n{}",
            build.stdout()
        );
    }
    let size = |image: &str| -> u64 {
        docker_lines(&["image", "inspect", "-f", "{{.Size}}", image])[0]
            .parse()
            .unwrap()
    };
    let binary: u64 = docker_lines(&[
        "run",
        "--rm",
        "--entrypoint",
        "stat",
        "mmkt/server:latest",
        "-c",
        "%s",
        "/usr/local/bin/mmkt-server",
    ])[0]
        .parse()
        .unwrap();
    let overhead = size("mmkt/server:latest") - size("debian:bookworm-slim") - binary;
    assert!(
        overhead < 8_000_000,
        "mmkt/server adds {overhead} bytes besides its {binary}-byte binary"
    );
}

/// `up` created every core service, in dependency order, healthy at the end, URLs printed.
fn check_first_up(up: &Output) {
    let out = up.stdout();
    for svc in CORE_SERVICES {
        let created = service_line(svc, "created and started");
        assert!(out.contains(&created), "{svc} not created:\n{out}");
        let healthy = service_line(svc, "healthy");
        assert!(out.contains(&healthy), "{svc} not healthy:\n{out}");
    }
    let order = ["monerod", "wallet-rpc-buyer", "server", "nginx"];
    for pair in order.windows(2) {
        assert!(
            position(out, &service_line(pair[0], "created"))
                < position(out, &service_line(pair[1], "created"))
        );
    }
    assert!(
        out.contains("URLs:") && out.contains("http://127.0.0.1:"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "colour codes with NO_COLOR set");
}

/// `health`: all green, each probe for real, also as JSON.
fn check_health(p: &str) {
    let health = run(&["health", "-p", p])
        .assert_exit(0)
        .assert_stdout_contains(&format!("all {} services healthy", CORE_SERVICES.len()));
    for probe in [
        "GET /health",
        "GET /ready",
        "get_info",
        "get_version",
        "GET /-/healthy",
    ] {
        assert!(
            health.stdout().contains(probe),
            "probe {probe} missing:\n{}",
            health.stdout()
        );
    }
    let json: serde_json::Value = run(&["health", "-p", p, "--json"]).assert_exit(0).json();
    assert_eq!(json.as_array().unwrap().len(), CORE_SERVICES.len());
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|s| s["healthy"] == true)
    );
}

/// docker ps shows the compose labels; internal services publish nothing, nginx publishes on
/// loopback only; the backend network is internal; nothing runs as root.
fn check_labels_and_isolation(
    p: &str,
    by_service: &BTreeMap<String, String>,
    guard: &ProjectGuard,
) {
    assert_eq!(
        by_service.keys().map(String::as_str).collect::<Vec<_>>(),
        CORE_SERVICES.to_vec()
    );
    let labelled = docker_lines(&[
        "ps",
        "--filter",
        &guard.filter(),
        "--filter",
        "label=com.docker.compose.service=server",
        "--filter",
        "label=com.docker.compose.oneoff=False",
        "--format",
        "{{.Names}} {{.Label \"com.docker.compose.container-number\"}} {{.Label \"com.docker.compose.config-hash\"}}",
    ]);
    assert_eq!(labelled.len(), 1, "{labelled:?}");
    let fields: Vec<&str> = labelled[0].split(' ').collect();
    assert_eq!(fields[0], format!("{p}-server-1"));
    assert_eq!(fields[1], "1");
    assert_eq!(fields[2].len(), 64, "config hash is a sha256: {labelled:?}");
    for svc in ["monerod", "wallet-rpc-buyer", "server", "prometheus"] {
        let ports = docker_lines(&["port", &by_service[svc]]);
        assert!(ports.is_empty(), "{svc} publishes {ports:?}");
    }
    let nginx_ports = docker_lines(&["port", &by_service["nginx"]]);
    assert!(
        !nginx_ports.is_empty() && nginx_ports.iter().all(|l| l.contains("127.0.0.1:")),
        "{nginx_ports:?}"
    );
    let internal = docker_lines(&[
        "network",
        "inspect",
        "-f",
        "{{.Internal}}",
        &format!("{p}_backend"),
    ]);
    assert_eq!(internal, vec!["true"]);
    // Non-root everywhere: the compose user or the image's USER, and the process really runs so.
    for (svc, id) in by_service {
        let user = docker_lines(&["inspect", "-f", "{{.Config.User}}", id]);
        assert!(
            user.len() == 1 && user[0] != "root" && !user[0].starts_with("0"),
            "{svc} runs as {user:?}"
        );
        let uid = docker_lines(&["exec", id, "id", "-u"]);
        assert_ne!(uid, vec!["0"], "{svc} runs as uid 0");
    }
}

/// `logs`: output of a service, `--since` with a duration and a future RFC 3339 time.
fn check_logs(p: &str) {
    let logs = run(&["logs", "-p", p, "monerod", "--tail", "5"]).assert_exit(0);
    assert!(
        !(logs.stdout().trim().is_empty() && logs.stderr().trim().is_empty()),
        "no monerod logs"
    );
    let recent = run(&["logs", "-p", p, "nginx", "--since", "10m", "--timestamps"]).assert_exit(0);
    assert!(
        recent.stdout().contains("\"uri\":\"/health\""),
        "nginx access log of the /health probe:\n{}",
        recent.stdout()
    );
    let future = run(&["logs", "-p", p, "nginx", "--since", "2099-01-01T00:00:00Z"]).assert_exit(0);
    assert!(future.stdout().trim().is_empty(), "{}", future.stdout());
}

/// docker-compose itself (when installed) sees the stack as its own.
fn check_docker_compose_sees_it(p: &str) {
    let Ok(out) = std::process::Command::new("docker-compose")
        .current_dir(workspace_root())
        .args([
            "-p",
            p,
            "--env-file",
            "deploy/env/development.env",
            "-f",
            "deploy/docker-compose.yml",
            "ps",
            "-q",
        ])
        .output()
    else {
        return;
    };
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        listed.len(),
        CORE_SERVICES.len(),
        "docker-compose ps: {listed:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `down` removes containers and networks (server before monerod) and keeps the volumes; a
/// second `down` has nothing to do.
fn check_down(p: &str, guard: &ProjectGuard) {
    let volumes_before = guard.volume_names();
    assert!(
        volumes_before
            .iter()
            .any(|v| v == &format!("{p}_server-data")),
        "{volumes_before:?}"
    );
    let down = run(&["down", "-p", p])
        .assert_exit(0)
        .assert_stdout_contains("volumes kept");
    let server_stop = down
        .stdout()
        .find(&format!("stopping {p}-server-1"))
        .expect("server stopped");
    let monerod_stop = down
        .stdout()
        .find(&format!("stopping {p}-monerod-1"))
        .expect("monerod stopped");
    assert!(
        server_stop < monerod_stop,
        "server must stop before monerod:\n{}",
        down.stdout()
    );
    assert_containers_and_networks_gone(guard);
    assert_eq!(
        guard.volume_names(),
        volumes_before,
        "down must keep volumes"
    );
    run(&["down", "-p", p])
        .assert_exit(0)
        .assert_stdout_contains("nothing to do");
}

#[test]
fn full_cycle_bootstrap_build_up_health_labels_heal_down() {
    if !docker_available() {
        return;
    }
    // Bootstrap the base (kept when present) and build every image, offline.
    let (base, build) = ensure_images();
    check_images(&base, &build);

    let guard = ProjectGuard::new(&unique_project("mmctl-full"));
    let p = guard.project().to_string();
    check_first_up(&run(&["up", "-p", &p, "--timeout", "240"]).assert_exit(0));
    check_health(&p);
    let by_service = containers_by_service(&guard);
    check_labels_and_isolation(&p, &by_service, &guard);
    hardening::check_hardening(&p, &by_service);

    // status: data for every service.
    let status: serde_json::Value = run(&["status", "-p", &p, "--json"]).assert_exit(0).json();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), CORE_SERVICES.len());
    assert!(
        rows.iter().all(|r| r["state"] == "running"
            && r["health"] == "healthy"
            && r["uptime_seconds"].is_number()),
        "{status:#}"
    );

    // Idempotent: a second up changes nothing.
    run(&["up", "-p", &p])
        .assert_exit(0)
        .assert_stdout_contains("nothing to change");
    assert_eq!(
        containers_by_service(&guard),
        by_service,
        "a second up replaced containers"
    );

    // A changed definition (RUST_LOG feeds only the server) recreates only that service.
    let up_debug = || {
        mmctl()
            .args(["up", "-p", &p])
            .env("RUST_LOG", "debug")
            .run()
    };
    up_debug()
        .assert_exit(0)
        .assert_stdout_contains(&service_line("server", "recreated"));
    let after = containers_by_service(&guard);
    for svc in CORE_SERVICES {
        if svc == "server" {
            assert_ne!(after[svc], by_service[svc], "server was not recreated");
        } else {
            assert_eq!(
                after[svc], by_service[svc],
                "{svc} was recreated although unchanged"
            );
        }
    }

    // Failure and healing: kill one wallet-rpc; health exits 1 naming it; up heals it.
    docker_lines(&["kill", &after["wallet-rpc-buyer"]]);
    let sick = run(&["health", "-p", &p])
        .assert_exit(1)
        .assert_stdout_contains("FAIL wallet-rpc-buyer");
    assert!(
        sick.stderr().contains("unhealthy:") && sick.stderr().contains("wallet-rpc-buyer"),
        "{}",
        sick.stderr()
    );
    up_debug()
        .assert_exit(0)
        .assert_stdout_contains(&service_line("wallet-rpc-buyer", "started"));
    run(&["health", "-p", &p]).assert_exit(0);

    check_logs(&p);
    check_docker_compose_sees_it(&p);
    run(&["restart", "-p", &p, "wallet-rpc-vendor", "--timeout", "120"])
        .assert_exit(0)
        .assert_stdout_contains("restarted and healthy");
    check_down(&p, &guard);
}

#[test]
fn malformed_compose_file_is_a_usage_error_and_creates_nothing() {
    with_docker(
        "mmctl-bad",
        Images::NotNeeded,
        |DockerTest { dir, guard }| {
            let cases = [
                // Broken YAML.
                (
                    "services:\n  web:\n    image: [unclosed\n",
                    "not a valid compose file",
                ),
                // Well-formed YAML, inconsistent stack: dependency on a service that does not exist.
                (
                    "services:\n  web:\n    image: mmkt/nginx:latest\n    depends_on: [db]\n",
                    "depends on unknown service db",
                ),
                // A key mmctl does not implement is refused, not ignored.
                (
                    "services:\n  web:\n    image: mmkt/nginx:latest\n    privileged: true\n",
                    "unsupported compose key `privileged`",
                ),
            ];
            for (content, message) in cases {
                let file = compose_file(dir.path(), content);
                up_file(guard.project(), &file, 2).assert_stderr_contains(message);
            }
            assert_nothing_created(&guard);
        },
    );
}

#[test]
fn unknown_service_or_environment_is_a_usage_error_and_creates_nothing() {
    with_docker(
        "mmctl-unknown",
        Images::NotNeeded,
        |DockerTest { guard, .. }| {
            let p = guard.project();
            let r = run(&["up", "-p", p, "no-such-service"])
                .assert_exit(2)
                .assert_stderr_contains("unknown service no-such-service");
            assert!(
                r.stderr().contains("wallet-rpc-buyer"),
                "the message lists the known services: {}",
                r.stderr()
            );
            run(&["logs", "-p", p, "no-such-service"]).assert_exit(2);
            run(&["restart", "-p", p, "no-such-service"]).assert_exit(2);
            run(&["image", "build", "no-such-service"]).assert_exit(2);
            let r = run(&["up", "-p", p, "--env", "moon"]).assert_exit(2);
            assert!(
                r.stderr().contains("unknown environment \"moon\"")
                    && r.stderr().contains("development"),
                "{}",
                r.stderr()
            );
            run(&["up", "-p", p, "--profile", "nope"])
                .assert_exit(2)
                .assert_stderr_contains("no service uses profile");
            run(&["up", "-p", "Bad Name!"])
                .assert_exit(2)
                .assert_stderr_contains("invalid project name");
            assert_nothing_created(&guard);
        },
    );
}

#[test]
fn unreachable_daemon_exits_3_with_a_clear_message() {
    let guard = ProjectGuard::new(&unique_project("mmctl-nodaemon"));
    let r = run(&[
        "--docker-host",
        "unix:///nonexistent.sock",
        "up",
        "-p",
        guard.project(),
    ])
    .assert_exit(3)
    .assert_stderr_contains("cannot reach the Docker daemon at unix:///nonexistent.sock");
    assert!(
        r.stderr().contains("DOCKER_HOST"),
        "the message says what to check: {}",
        r.stderr()
    );
    for args in [
        vec!["status"],
        vec!["health"],
        vec!["down"],
        vec!["image", "bootstrap-base"],
    ] {
        let r = mmctl()
            .args(&args)
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .run()
            .assert_exit(3);
        assert!(
            r.stderr().contains("cannot reach the Docker daemon"),
            "{args:?}: {}",
            r.stderr()
        );
    }
    // tcp with TLS (DOCKER_CERT_PATH) but no certificate files: named, exit 3.
    let certs = tempfile::tempdir().unwrap();
    let r = mmctl()
        .args(["--docker-host", "tcp://127.0.0.1:2376", "status"])
        .env("DOCKER_CERT_PATH", certs.path())
        .run()
        .assert_exit(3);
    assert!(
        r.stderr().contains("TLS file") && r.stderr().contains("key.pem"),
        "{}",
        r.stderr()
    );
    // A scheme mmctl does not speak is a usage error.
    run(&["--docker-host", "ftp://example", "status"])
        .assert_exit(2)
        .assert_stderr_contains("unsupported Docker host");
    // tcp endpoint where nothing listens.
    run(&["--docker-host", "tcp://127.0.0.1:1", "status"])
        .assert_exit(3)
        .assert_stderr_contains("cannot reach the Docker daemon at tcp://127.0.0.1:1");
    if docker_available() {
        assert_nothing_created(&guard);
    }
}

#[test]
fn missing_image_fails_before_anything_is_created() {
    with_docker(
        "mmctl-noimage",
        Images::NotNeeded,
        |DockerTest { dir, guard }| {
            let file = compose_file(
                dir.path(),
                "services:\n  absent:\n    image: mmkt-test-absent/none:never\n    volumes: [data:/data]\n  other:\n    image: mmkt-test-absent/other:never\n    depends_on: [absent]\nvolumes:\n  data: {}\n",
            );
            up_file(guard.project(), &file, 1)
                .assert_stderr_contains(
                    "image mmkt-test-absent/none:never (service absent) is not present locally",
                )
                .assert_stderr_contains("mmctl image build");
            assert_nothing_created(&guard);
        },
    );
}

#[test]
fn observability_profile_without_its_registry_images_fails_cleanly() {
    with_docker(
        "mmctl-obs",
        Images::Built,
        |DockerTest { guard, .. }| {
            let present = |image: &str| {
                std::process::Command::new("docker")
                    .args(["image", "inspect", image])
                    .output()
                    .unwrap()
                    .status
                    .success()
            };
            if present("grafana/grafana:10.2.2") {
                eprintln!(
                    "note: grafana/grafana:10.2.2 is loaded on this host; the missing-image path is covered elsewhere"
                );
                return;
            }
            let r =
                run(&["up", "-p", guard.project(), "--profile", "observability"]).assert_exit(1);
            assert!(
                r.stderr().contains("grafana/grafana:10.2.2")
                    && r.stderr().contains("mmctl image load"),
                "{}",
                r.stderr()
            );
            assert_nothing_created(&guard);
        },
    );
}

/// A two-service stack: `app` waits for `db` to be healthy; `marker` changes only `app`.
fn small_stack(marker: &str) -> String {
    format!(
        "x-common: &common\n  restart: unless-stopped\n  cap_drop: [ALL]\n  init: true\n  stop_grace_period: 5s\n  logging: {{driver: json-file, options: {{max-size: 1m, max-file: \"2\", labels: \"com.docker.compose.project,com.docker.compose.service\"}}}}\n\
services:\n  db:\n    <<: *common\n    image: debian:bookworm-slim\n    user: \"1000\"\n    command: [bash, -c, 'echo db-starting; sleep 3; touch /tmp/ready; exec sleep infinity']\n    healthcheck:\n      test: [CMD, test, -f, /tmp/ready]\n      interval: 1s\n      retries: 30\n    networks: [inner]\n    mem_limit: 64m\n  app:\n    <<: *common\n    image: debian:bookworm-slim\n    user: \"1000\"\n    environment:\n      MARKER: {marker}\n    command: [sleep, infinity]\n    depends_on:\n      db:\n        condition: service_healthy\n    networks: [inner, outer]\n    deploy:\n      resources:\n        limits: {{cpus: \"0.25\", memory: 32M, pids: 50}}\nnetworks:\n  inner: {{internal: true}}\n  outer: {{}}\n"
    )
}

#[test]
fn small_stack_orders_by_health_and_recreates_only_what_changed() {
    with_docker("mmctl-small", Images::Built, |DockerTest { dir, guard }| {
        let p = guard.project();
        let file = compose_file(dir.path(), &small_stack("one"));
        let f = file.to_str().unwrap();
        let up = run(&["up", "-p", p, "--file", f, "--timeout", "60"]).assert_exit(0);
        let out = up.stdout();
        let wait = out.find("waiting for db to be healthy").expect(out);
        let app_created = out
            .find("created and started\n")
            .and_then(|_| out.find(&service_line("app", "created")))
            .expect(out);
        let db_created = out.find(&service_line("db", "created")).expect(out);
        assert!(db_created < wait, "db starts first:\n{out}");
        assert!(wait < app_created, "app must wait for db:\n{out}");
        let before = containers_by_service(&guard);
        // Limits from deploy.resources.limits reach the engine.
        let limits = docker_lines(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
            &before["app"],
        ]);
        assert_eq!(limits, vec![format!("{} 250000000 50", 32 * 1024 * 1024)]);
        let nets = docker_lines(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            &before["app"],
        ]);
        assert_eq!(nets, vec![format!("{p}_inner {p}_outer")]);
        // The log rotation reached the engine, and each line carries the compose service in its
        // attrs, where promtail's pipeline reads it (monitoring/promtail/promtail.yml).
        let log = hardening::check_log_config("db", &before["db"], "1m", "2");
        let text = std::fs::read_to_string(&log).expect("read the json-file log (as root)");
        let line: serde_json::Value = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|l: &serde_json::Value| l["log"] == "db-starting\n")
            .unwrap_or_else(|| panic!("no db-starting line in {log}:\n{text}"));
        assert_eq!(line["attrs"]["com.docker.compose.service"], "db", "{line}");
        assert_eq!(line["attrs"]["com.docker.compose.project"], p, "{line}");
        assert!(
            line["stream"] == "stdout" && line["time"].is_string(),
            "{line}"
        );

        std::fs::write(&file, small_stack("two")).unwrap();
        up_file(p, &file, 0)
            .assert_stdout_contains(&service_line("app", "recreated"))
            .assert_stdout_contains(&service_line("db", "unchanged"));
        let after = containers_by_service(&guard);
        assert_eq!(after["db"], before["db"]);
        assert_ne!(after["app"], before["app"]);
        run(&["down", "-p", p, "--file", f, "--volumes"]).assert_exit(0);
        assert_nothing_created(&guard);
    });
}

#[test]
fn crash_looping_or_exited_service_fails_up_with_its_last_output() {
    with_docker("mmctl-crash", Images::Built, |DockerTest { dir, guard }| {
        let file = compose_file(
            dir.path(),
            "services:\n  crasher:\n    image: debian:bookworm-slim\n    restart: always\n    command: [bash, -c, 'echo boom-marker >&2; exit 3']\n",
        );
        let f = file.to_str().unwrap();
        let r = run(&["up", "-p", guard.project(), "--file", f, "--timeout", "120"]).assert_exit(1);
        assert!(
            r.stderr().contains("service crasher failed to start")
                && r.stderr().contains("keeps exiting"),
            "{}",
            r.stderr()
        );
        assert!(
            r.stderr().contains("exit code 3") && r.stderr().contains("boom-marker"),
            "{}",
            r.stderr()
        );

        // Runs that last: an inspect almost always catches the container running again (its
        // State.ExitCode then 0), so the code must come from the run's die event. Each run
        // exits with 10 + its number (kept in the container's own filesystem across restarts).
        std::fs::write(
            &file,
            "services:\n  crasher:\n    image: debian:bookworm-slim\n    restart: always\n    command: [bash, -c, 'n=$$(( $$(cat /tmp/n 2>/dev/null || echo 0) + 1 )); echo $$n > /tmp/n; echo slow-run-$$n >&2; sleep 1; exit $$(( 10 + n ))']\n",
        )
        .unwrap();
        let r = run(&["up", "-p", guard.project(), "--file", f, "--timeout", "120"]).assert_exit(1);
        let code: i64 = r
            .stderr()
            .split("last exit code ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("no exit code in: {}", r.stderr()));
        // 3 restarts while waiting: the last run that ended is the third or a later one.
        assert!(
            (13..100).contains(&code) && r.stderr().contains("slow-run-"),
            "{}",
            r.stderr()
        );

        std::fs::write(&file, "services:\n  once:\n    image: debian:bookworm-slim\n    restart: \"no\"\n    command: [bash, -c, 'echo bye-marker; exit 4']\n").unwrap();
        let r = up_file(guard.project(), &file, 1);
        assert!(
            r.stderr().contains("exited with code 4") && r.stderr().contains("bye-marker"),
            "{}",
            r.stderr()
        );
        run(&["down", "-p", guard.project(), "--file", f]).assert_exit(0);
        assert!(guard.container_ids().is_empty() && guard.network_names().is_empty());
    });
}

/// `docker run` of the wallet-rpc entrypoint as compose runs it (read-only root, uid 1000,
/// the given tmpfs mounts: /run/mmkt, and /wallets in place of the wallet volume), labelled
/// with the test's project so its guard removes it.
fn run_wallet_rpc(project: &str, login: &str, mode: &str, tmpfs: &[&str]) -> (bool, String) {
    let label = format!("com.docker.compose.project={project}");
    let env = format!("WALLET_RPC_LOGIN={login}");
    let mut args = vec![
        "run",
        mode,
        "--label",
        &label,
        "--read-only",
        "--user",
        "1000:1000",
    ];
    for t in tmpfs {
        args.extend(["--tmpfs", t]);
    }
    args.extend(["-e", &env, "--entrypoint", "/usr/local/bin/mmkt-wallet-rpc"]);
    args.push("mmkt/monero:latest");
    docker_try(&args)
}

/// Polls (1 s apart, up to 2 min) until the wallet-rpc in `id` answers `get_version` with the
/// healthcheck's curl config, or the container stopped; true when it answered.
fn wallet_rpc_answers(id: &str) -> bool {
    for _ in 0..120 {
        let (answered, _) = docker_try(&[
            "exec",
            id,
            "curl",
            "-fs",
            "-K",
            "/run/mmkt/curl.conf",
            "-d",
            r#"{"jsonrpc":"2.0","id":"0","method":"get_version"}"#,
            "http://127.0.0.1:18083/json_rpc",
        ]);
        if answered {
            return true;
        }
        if docker_lines(&["inspect", "-f", "{{.State.Running}}", id]) != ["true"] {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    false
}

#[test]
fn wallet_rpc_login_is_read_from_a_0600_file_and_bad_settings_fail_cleanly() {
    with_docker(
        "mmctl-entry",
        Images::Built,
        |DockerTest { guard, .. }| {
            let p = guard.project();
            let tmpfs = [
                "/run/mmkt:size=1m,mode=0700,uid=1000,gid=1000",
                "/wallets:size=16m,uid=1000,gid=1000",
            ];
            let login = "mmkt-entry-test:Zq7-wallet-rpc-login";
            let (started, id) = run_wallet_rpc(p, login, "-d", &tmpfs);
            assert!(started, "{id}");
            let id = id.trim();
            assert!(
                wallet_rpc_answers(id),
                "wallet-rpc never answered: {}",
                docker_try(&["logs", id]).1
            );
            hardening::check_wallet_rpc_login(id, login);

            for (bad, message) in [
                ("rpc:pass#word-long-enough", "must not contain spaces, '#'"),
                ("rpc:pass word-long-enough", "must not contain spaces, '#'"),
                ("rpc:pass\"word-long-enough", "must not contain spaces, '#'"),
                ("no-colon-in-this-login", "must be user:password"),
            ] {
                let (ok, out) = run_wallet_rpc(p, bad, "--rm", &tmpfs);
                assert!(!ok && out.contains(message), "{bad}: {out}");
                let secret = bad.split_once(':').map_or(bad, |(_, pw)| pw);
                assert!(!out.contains(secret), "the error shows the login: {out}");
            }
            // A read-only root without the /run/mmkt tmpfs: a clear message, no half-started RPC.
            let (ok, out) = run_wallet_rpc(p, login, "--rm", &tmpfs[1..]);
            assert!(
                !ok && out.contains("cannot write /run/mmkt") && out.contains("tmpfs"),
                "{out}"
            );
            let label = format!("com.docker.compose.project={p}");
            let (ok, out) = docker_try(&[
                "run",
                "--rm",
                "--label",
                &label,
                "--read-only",
                "-e",
                "MONEROD_UNRESTRICTED_HOST=no-such-alias.invalid",
                "mmkt/monero:latest",
            ]);
            assert!(
                !ok && out.contains("does not resolve") && out.contains("daemon network"),
                "{out}"
            );
        },
    );
}

#[test]
fn image_save_and_load_round_trip() {
    with_docker(
        "mmctl-images",
        Images::Built,
        |DockerTest { dir, .. }| {
            let archive = dir.path().join("images.tar.gz");
            let a = archive.to_str().unwrap();
            run(&["image", "save", a, "--image", "debian:bookworm-slim"])
                .assert_exit(0)
                .assert_stdout_contains("wrote");
            let bytes = std::fs::read(&archive).unwrap();
            assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a .gz archive is gzip");
            run(&["image", "load", a])
                .assert_exit(0)
                .assert_stdout_contains("debian:bookworm-slim");
            // An image that does not exist: clear error, no file left behind.
            let missing = dir.path().join("missing.tar");
            let missing_arg = missing.to_str().unwrap();
            run(&[
                "image",
                "save",
                missing_arg,
                "--image",
                "mmkt-test-absent/none:never",
            ])
            .assert_exit(1)
            .assert_stderr_contains("not present locally");
            assert!(!missing.exists());
            // A file that is not an image archive.
            let junk = dir.path().join("junk.tar");
            std::fs::write(&junk, b"not a tar").unwrap();
            run(&["image", "load", junk.to_str().unwrap()])
                .assert_exit(1)
                .assert_stderr_contains("load");
        },
    );
}

#[test]
fn deploy_compose_file_keeps_the_stack_invariants() {
    use mmkt_stack::{load_project, spec};
    let file = workspace_root().join("deploy/docker-compose.yml");
    for env in ["development", "staging", "production"] {
        let project =
            load_project(&file, Some(env), "mmkt", &["observability".to_string()]).unwrap();
        let compose = &project.compose.file;
        assert_eq!(
            compose.enabled_services(&[]),
            CORE_SERVICES.to_vec(),
            "{env}: core services"
        );
        for (name, svc) in &compose.services {
            let hc = svc
                .healthcheck
                .as_ref()
                .unwrap_or_else(|| panic!("{env}: {name} has no healthcheck"));
            assert!(hc.test.is_some(), "{env}: {name} healthcheck has no test");
            assert_eq!(
                svc.restart.as_deref(),
                Some("unless-stopped"),
                "{env}: {name} restart policy"
            );
            let limits = spec::resource_limits(svc).unwrap();
            assert!(
                limits.memory_bytes.is_some() && limits.nano_cpus.is_some(),
                "{env}: {name} has no resource limits"
            );
            assert_eq!(
                svc.cap_drop,
                vec!["ALL"],
                "{env}: {name} keeps capabilities"
            );
            let user = svc.user.as_ref().map(|u| u.render());
            assert!(
                user.as_deref() != Some("root") && user.as_deref() != Some("0"),
                "{env}: {name} runs as root"
            );
            let published = !svc.ports.is_empty();
            assert_eq!(
                published,
                name == "nginx" || name == "grafana",
                "{env}: only nginx (and the grafana profile) publish ports; {name} does not follow"
            );
            if name.starts_with("wallet-rpc-") || name == "monerod" {
                assert!(svc.ports.is_empty());
                assert!(
                    svc.network_names().contains(&"wallet".to_string()),
                    "{env}: {name} not on the wallet network"
                );
                assert!(
                    !svc.network_names().contains(&"frontend".to_string()),
                    "{env}: {name} on the frontend network"
                );
            }
            if name.starts_with("wallet-rpc-") {
                let test = format!("{:?}", hc.test);
                assert!(
                    test.contains("get_version") && test.contains("-d "),
                    "{env}: {name} must POST get_version: {test}"
                );
            }
        }
        assert!(
            compose.networks["backend"].as_ref().unwrap().internal,
            "{env}: backend must be internal"
        );
        for vol in [
            "server-data",
            "server-key",
            "wallets-buyer",
            "wallets-vendor",
            "wallets-arbiter",
            "monerod-data",
            "prometheus-data",
        ] {
            assert!(
                compose.volumes.contains_key(vol),
                "{env}: volume {vol} missing"
            );
        }
        // Every published port binds an explicit address; development stays on loopback.
        for port in &compose.services["nginx"].ports {
            let p = spec::parse_port(&port.render()).unwrap();
            assert!(
                !p.host_ip.is_empty(),
                "{env}: {p:?} binds every interface implicitly"
            );
            if env == "development" {
                assert_eq!(p.host_ip, "127.0.0.1", "{env}: {p:?}");
            }
        }
    }
    let dev = load_project(&file, Some("development"), "mmkt", &[]).unwrap();
    let monerod_env = dev.compose.file.services["monerod"]
        .environment
        .as_ref()
        .unwrap()
        .resolve(&dev.compose.variables);
    assert_eq!(
        monerod_env.get("MONERO_NETWORK").map(String::as_str),
        Some("regtest"),
        "a newcomer gets a local regtest chain"
    );
}

#[test]
fn compose_file_is_valid_for_docker_compose() {
    let have = std::process::Command::new("docker-compose")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        assert!(
            !test_support::require_services(),
            "docker-compose is not installed (scripts/bootstrap.sh installs it)"
        );
        return;
    }
    let plain = std::process::Command::new("docker-compose")
        .current_dir(workspace_root())
        .args(["-f", "deploy/docker-compose.yml", "config", "-q"])
        .output()
        .unwrap();
    assert!(
        plain.status.success(),
        "without an env file: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    for env in ["development", "staging", "production"] {
        let out = std::process::Command::new("docker-compose")
            .current_dir(workspace_root())
            .args([
                "-p",
                "mmkt",
                "--env-file",
                &format!("deploy/env/{env}.env"),
                "-f",
                "deploy/docker-compose.yml",
                "config",
                "-q",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        vec!["up"],
        vec!["down"],
        vec!["status"],
        vec!["health"],
        vec!["logs"],
        vec!["restart"],
        vec!["image"],
        vec!["image", "bootstrap-base"],
        vec!["image", "build"],
        vec!["image", "save"],
        vec!["image", "load"],
        vec!["completions"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let r = run(&args).assert_exit(0);
        assert!(
            r.stdout().contains("Example"),
            "{cmd:?} --help has no examples:\n{}",
            r.stdout()
        );
    }
    let r = run(&["completions", "bash"]).assert_exit(0);
    assert!(r.stdout().contains("mmctl") && r.stdout().contains("health"));
    // Bad flags are usage errors.
    run(&["up", "--no-such-flag"]).assert_exit(2);
    run(&["logs", "server", "--since", "yesterday-ish"]).assert_exit(2);
}
