//! Alert receivers and observability secrets at `mmctl up`, with the real binary and the real
//! Docker Engine: staging and production refuse an empty receiver or Grafana password (exit
//! 55) or a malformed receiver (exit 56) before anything is created, naming the variable and
//! never its value; development renders the Alertmanager config into its volume (never into
//! `docker inspect`), rewrites it when a secret changes and restarts the running container.

mod harness;
mod stack_harness;

use stack_harness::*;

/// Receiver secrets of the shape staging and production accept (no real address).
const RECEIVERS: [(&str, &str); 7] = [
    ("ALERTMANAGER_WEBHOOK_URL", "https://pager.example.net/mmkt"),
    (
        "ALERTMANAGER_CHAT_WEBHOOK_URL",
        "https://chat.example.net/hooks/mmkt",
    ),
    ("ALERTMANAGER_SMTP_SMARTHOST", "smtp.example.net:587"),
    ("ALERTMANAGER_SMTP_FROM", "alerts@example.net"),
    ("ALERTMANAGER_SMTP_TO", "ops@example.net"),
    ("ALERTMANAGER_SMTP_USERNAME", "alerts@example.net"),
    ("ALERTMANAGER_SMTP_PASSWORD", "hunter2-not-shown"),
];

/// `mmctl up` of the repository's stack in `env`, with `vars` set.
fn up_deploy(project: &str, env: &str, profile: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut args = vec!["up", "-p", project, "--env", env];
    args.extend(profile);
    vars.iter()
        .fold(mmctl(), |m, (k, v)| m.env(k, v))
        .args(&args)
        .run()
}

#[test]
fn staging_and_production_refuse_empty_or_malformed_secrets_before_creating_anything() {
    with_docker(
        "mmctl-receivers",
        Images::NotNeeded,
        |DockerTest { guard, .. }| {
            let p = guard.project();
            // No receiver at all: every variable is named, exit 55.
            let none =
                up_deploy(p, "staging", &[], &[("GRAFANA_ADMIN_PASSWORD", "x")]).assert_exit(55);
            let names: Vec<&str> = RECEIVERS.iter().map(|(k, _)| *k).collect();
            let mut sorted = names.clone();
            sorted.sort();
            none.assert_stderr_contains(&format!(
                "staging: {} empty or unset, needed by the Alertmanager receivers",
                sorted.join(", ")
            ));
            assert_nothing_created(&guard);

            // One empty receiver among set ones: only it is named, no value is shown.
            let mut one_empty = RECEIVERS.to_vec();
            one_empty[6].1 = "";
            let out = up_deploy(p, "production", &[], &one_empty).assert_exit(55);
            let out = out.assert_stderr_contains(
            "production: ALERTMANAGER_SMTP_PASSWORD empty or unset, needed by the Alertmanager receivers",
        );
            assert!(
                !out.stderr().contains("pager.example.net"),
                "{}",
                out.stderr()
            );
            assert_nothing_created(&guard);

            // A loopback receiver is a placeholder outside development: exit 56, value not shown.
            let mut loopback = RECEIVERS.to_vec();
            loopback[0].1 = "http://127.0.0.1:5001/mmkt/critical";
            let out = up_deploy(p, "staging", &[], &loopback).assert_exit(56);
            let out = out.assert_stderr_contains(
                "ALERTMANAGER_WEBHOOK_URL is malformed: a loopback address",
            );
            assert!(!out.stderr().contains("5001"), "{}", out.stderr());
            assert!(!out.stderr().contains("hunter2"), "{}", out.stderr());
            assert_nothing_created(&guard);

            // Receivers fine, Grafana enabled with an empty admin password: exit 55.
            let mut no_password = RECEIVERS.to_vec();
            no_password.push(("GRAFANA_ADMIN_PASSWORD", ""));
            up_deploy(p, "staging", &["--profile", "observability"], &no_password)
                .assert_exit(55)
                .assert_stderr_contains(
                    "staging: GRAFANA_ADMIN_PASSWORD empty or unset, needed by service grafana",
                );
            assert_nothing_created(&guard);
        },
    );
}

/// A one-service stack standing in for Alertmanager: the repository's template rendered into
/// `am-config`, mounted read-only where Alertmanager reads it.
fn rendered_stack() -> String {
    let template = workspace_root().join("monitoring/alertmanager.tmpl.yml");
    format!(
        "services:\n  am:\n    image: debian:bookworm-slim\n    user: \"1000\"\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, infinity]\n    volumes: [\"am-config:/etc/alertmanager:ro\"]\n    x-mmkt-alertmanager-config: {{template: \"{}\", volume: am-config, file: alertmanager.yml}}\nvolumes:\n  am-config: {{}}\n",
        template.display()
    )
}

#[test]
fn development_renders_the_config_into_its_volume_and_restarts_on_a_change() {
    with_docker(
        "mmctl-rendered",
        Images::Built,
        |DockerTest { dir, guard }| {
            let p = guard.project();
            let file = compose_file(dir.path(), &rendered_stack());
            let f = file.to_str().unwrap();
            let up = |hook: &str| {
                mmctl()
                    .env("ALERTMANAGER_WEBHOOK_URL", hook)
                    .env(
                        "ALERTMANAGER_CHAT_WEBHOOK_URL",
                        "https://chat.example.net/t0ken-in-url",
                    )
                    .args(["up", "-p", p, "--file", f, "--timeout", "60"])
                    .run()
            };
            let first = up("https://pager.example.net/first").assert_exit(0);
            first.assert_stdout_contains("rendered: alerts to slack, webhook; development: ALERTMANAGER_SMTP_FROM, ALERTMANAGER_SMTP_PASSWORD, ALERTMANAGER_SMTP_SMARTHOST, ALERTMANAGER_SMTP_TO, ALERTMANAGER_SMTP_USERNAME unset");
            let id = guard.container_ids().pop().expect("the am container");
            let read = || {
                docker_lines(&["exec", &id, "cat", "/etc/alertmanager/alertmanager.yml"]).join("\n")
            };
            let config = read();
            assert!(
                config.contains("url: https://pager.example.net/first")
                    && config.contains("t0ken-in-url")
                    && !config.contains("email_configs"),
                "{config}"
            );
            let inspected = docker_lines(&["inspect", &id]).join("\n");
            assert!(
                !inspected.contains("t0ken-in-url") && !inspected.contains("pager.example.net"),
                "docker inspect shows a receiver secret:\n{inspected}"
            );

            // A changed secret rewrites the file and restarts the running container.
            up("https://pager.example.net/second")
                .assert_exit(0)
                .assert_stdout_contains(&service_line(
                    "am",
                    "restarted (its rendered config changed)",
                ));
            assert_eq!(
                guard.container_ids(),
                vec![id.clone()],
                "restarted, not recreated"
            );
            assert!(read().contains("url: https://pager.example.net/second"));

            // The same secrets again: nothing is written or restarted.
            up("https://pager.example.net/second")
                .assert_exit(0)
                .assert_stdout_contains("rendered, unchanged: alerts to slack, webhook")
                .assert_stdout_contains(&service_line("am", "unchanged (running)"));
            run(&["down", "-p", p, "--file", f, "--volumes"]).assert_exit(0);
            assert_nothing_created(&guard);
        },
    );
}

/// A stand-in for the repository's grafana service (Grafana's image cannot be pulled here):
/// its user, environment, secrets volume mount and `x-mmkt-secret-files`, copied from
/// deploy/docker-compose.yml, on a Debian container that only sleeps. Returns the compose text
/// and the path the environment tells Grafana to read its admin password from.
fn grafana_stand_in() -> (String, String) {
    use serde_norway::Value;
    let text = std::fs::read_to_string(workspace_root().join("deploy/docker-compose.yml"))
        .expect("read deploy/docker-compose.yml");
    let repo: Value = serde_norway::from_str(&text).expect("the compose file is YAML");
    let grafana = &repo["services"]["grafana"];
    let secret_files = grafana["x-mmkt-secret-files"].clone();
    let volume = secret_files["volume"].as_str().expect("a secrets volume");
    let mount = grafana["volumes"]
        .as_sequence()
        .expect("grafana's volumes")
        .iter()
        .filter_map(Value::as_str)
        .find(|v| v.starts_with(&format!("{volume}:")))
        .expect("grafana mounts its secrets volume");
    let environment = &grafana["environment"];
    assert!(
        environment.get("GF_SECURITY_ADMIN_PASSWORD").is_none(),
        "the password must not be in grafana's environment"
    );
    let path = environment["GF_SECURITY_ADMIN_PASSWORD__FILE"]
        .as_str()
        .expect("GF_SECURITY_ADMIN_PASSWORD__FILE")
        .to_owned();
    let mut stand_in: Value = serde_norway::from_str(&format!(
        "services:\n  grafana:\n    image: debian:bookworm-slim\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, infinity]\nvolumes:\n  {volume}: {{}}\n"
    ))
    .unwrap();
    let service = &mut stand_in["services"]["grafana"];
    service["user"] = grafana["user"].clone();
    service["environment"] = environment.clone();
    service["volumes"] = Value::Sequence(vec![Value::String(mount.to_owned())]);
    service["x-mmkt-secret-files"] = secret_files;
    (serde_norway::to_string(&stand_in).unwrap(), path)
}

#[test]
fn grafana_reads_its_admin_password_from_a_file_no_inspect_shows() {
    with_docker(
        "mmctl-grafana-pw",
        Images::Built,
        |DockerTest { dir, guard }| {
            let p = guard.project();
            let (stack, path) = grafana_stand_in();
            let file = compose_file(dir.path(), &stack);
            let f = file.to_str().unwrap();
            let up_with_password = |password: &str| {
                mmctl()
                    .env("GRAFANA_ADMIN_PASSWORD", password)
                    .args(["up", "-p", p, "--file", f, "--timeout", "60"])
                    .run()
                    .assert_exit(0)
            };
            up_with_password("gr4fana-not-shown");
            let id = guard.container_ids().pop().expect("the grafana container");
            // Read as the container's own user (472): the file is its and only its.
            assert_eq!(
                docker_lines(&["exec", &id, "cat", &path]),
                vec!["gr4fana-not-shown"]
            );
            assert_eq!(
                docker_lines(&["exec", &id, "stat", "-c", "%a %u %g", &path]),
                vec!["400 472 0"]
            );
            let mut inspected = docker_lines(&["inspect", &id]).join("\n");
            for volume in docker_lines(&["volume", "ls", "-q", "--filter", &format!("name={p}")]) {
                inspected.push_str(&docker_lines(&["volume", "inspect", &volume]).join("\n"));
            }
            assert!(
                inspected.contains(&path) && !inspected.contains("gr4fana-not-shown"),
                "docker inspect shows the password, or not the path:\n{inspected}"
            );
            assert_eq!(
                guard.container_ids(),
                vec![id],
                "no helper container is left"
            );

            // A changed password replaces the file.
            up_with_password("second-pw");
            let id = guard.container_ids().pop().expect("the grafana container");
            assert_eq!(
                docker_lines(&["exec", &id, "cat", &path]),
                vec!["second-pw"]
            );
            run(&["down", "-p", p, "--file", f, "--volumes"]).assert_exit(0);
            assert_nothing_created(&guard);
        },
    );
}
