//! Cross-checks deploy/docker-compose.yml against the monitoring and nginx files it serves:
//! every file is mounted where its header says, the mounted sources exist, the ports nginx
//! listens on are the ones compose publishes, and every host name the configs talk to is a
//! compose service on a shared network. Catches a rename on either side before a deploy does.

use std::collections::BTreeSet;

use mmkt_repo_tests::tools::repo_root;
use serde_norway::Value as Yaml;

fn compose() -> Yaml {
    let path = repo_root().join("deploy/docker-compose.yml");
    let text = std::fs::read_to_string(&path).expect("read deploy/docker-compose.yml");
    let mut doc: Yaml = serde_norway::from_str(&text).expect("parse deploy/docker-compose.yml");
    doc.apply_merge().expect("resolve YAML merge keys");
    doc
}

fn service<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    doc.get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("deploy/docker-compose.yml has no service `{name}`"))
}

/// `(source, target)` of every short-syntax volume of `svc`.
fn mounts(svc: &Yaml) -> Vec<(String, String)> {
    svc.get("volumes")
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_str)
        .map(|v| {
            let mut parts = v.splitn(3, ':');
            (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn networks(svc: &Yaml) -> BTreeSet<String> {
    match svc.get("networks") {
        Some(Yaml::Sequence(s)) => s
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Yaml::Mapping(m)) => m
            .keys()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        _ => BTreeSet::from(["default".to_owned()]),
    }
}

/// Asserts `svc` mounts repository path `repo_path` (relative to deploy/) at `target`, and that
/// the path exists in the repository.
fn assert_mount(doc: &Yaml, name: &str, repo_path: &str, target: &str) {
    let found = mounts(service(doc, name));
    assert!(
        found.iter().any(|(s, t)| s == repo_path && t == target),
        "service {name} must mount {repo_path} at {target}; it mounts {found:?}"
    );
    let on_disk = repo_root().join("deploy").join(repo_path);
    assert!(
        on_disk.exists(),
        "{} (mounted into {name}) does not exist",
        on_disk.display()
    );
}

fn assert_share_network(doc: &Yaml, a: &str, b: &str) {
    let common: Vec<_> = networks(service(doc, a))
        .intersection(&networks(service(doc, b)))
        .cloned()
        .collect();
    assert!(
        !common.is_empty(),
        "{a} must share a network with {b} to reach it"
    );
}

#[test]
fn monitoring_files_are_mounted_where_they_expect() {
    let doc = compose();
    assert_mount(
        &doc,
        "prometheus",
        "../monitoring/prometheus.yml",
        "/etc/prometheus/prometheus.yml",
    );
    assert_mount(
        &doc,
        "prometheus",
        "../monitoring/alerts",
        "/etc/prometheus/alerts",
    );
    assert_mount(
        &doc,
        "alertmanager",
        "../monitoring/alertmanager.yml",
        "/etc/alertmanager/alertmanager.yml",
    );
    assert_mount(
        &doc,
        "grafana",
        "../monitoring/grafana/provisioning",
        "/etc/grafana/provisioning",
    );

    let provider: Yaml = serde_norway::from_str(
        &std::fs::read_to_string(
            repo_root().join("monitoring/grafana/provisioning/dashboards/mmkt.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let dashboards_path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    assert_mount(
        &doc,
        "grafana",
        "../monitoring/grafana/dashboards",
        dashboards_path,
    );
}

#[test]
fn prometheus_targets_are_reachable_compose_services() {
    let doc = compose();
    let config = std::fs::read_to_string(repo_root().join("monitoring/prometheus.yml")).unwrap();
    let config: Yaml = serde_norway::from_str(&config).unwrap();
    let mut targets: Vec<String> = Vec::new();
    for job in config["scrape_configs"].as_sequence().unwrap() {
        for sc in job["static_configs"].as_sequence().unwrap() {
            targets.extend(
                sc["targets"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_owned()),
            );
        }
    }
    for am in config["alerting"]["alertmanagers"].as_sequence().unwrap() {
        for sc in am["static_configs"].as_sequence().unwrap() {
            targets.extend(
                sc["targets"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_owned()),
            );
        }
    }
    for target in targets {
        let (host, port) = target.rsplit_once(':').expect("host:port");
        if host == "localhost" {
            continue;
        }
        service(&doc, host);
        assert_share_network(&doc, "prometheus", host);
        if host == "server" {
            let bind = service(&doc, "server")["environment"]["MMKT_BIND"]
                .as_str()
                .unwrap_or("");
            assert!(
                bind.ends_with(&format!(":{port}")),
                "prometheus scrapes server:{port} but MMKT_BIND is {bind:?}"
            );
        }
    }
}

#[test]
fn nginx_is_mounted_published_and_reaches_the_server() {
    let doc = compose();
    assert_mount(&doc, "nginx", "./nginx/nginx.conf", "/etc/nginx/nginx.conf");
    let nginx = service(&doc, "nginx");
    let targets: BTreeSet<String> = mounts(nginx).into_iter().map(|(_, t)| t).collect();
    for dir in ["/etc/nginx/tls", "/var/www/acme"] {
        assert!(
            targets.contains(dir),
            "nginx.conf reads {dir}: compose must mount a volume there ({targets:?})"
        );
    }
    let tmpfs: Vec<&str> = nginx
        .get("tmpfs")
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        tmpfs.iter().any(|t| t.starts_with("/tmp")),
        "nginx writes its pid and temp files under /tmp: {tmpfs:?}"
    );

    let published: BTreeSet<String> = nginx["ports"]
        .as_sequence()
        .expect("nginx publishes ports")
        .iter()
        .map(|p| {
            p.as_str()
                .unwrap()
                .rsplit_once(':')
                .map(|(_, c)| c.to_owned())
                .unwrap_or_default()
        })
        .collect();
    let conf = std::fs::read_to_string(repo_root().join("deploy/nginx/nginx.conf")).unwrap();
    let listening: BTreeSet<String> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("listen "))
        .map(|l| {
            l.split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches(';')
                .to_owned()
        })
        .collect();
    assert_eq!(
        published, listening,
        "compose publishes {published:?}, nginx.conf listens on {listening:?}"
    );

    assert!(
        conf.contains("default server:8080;"),
        "nginx.conf proxies to server:8080"
    );
    assert_share_network(&doc, "nginx", "server");
}

/// The mount (source, target) of `svc` whose target holds `path`, the longest such target.
fn mount_holding<'a>(found: &'a [(String, String)], path: &str) -> Option<&'a (String, String)> {
    found
        .iter()
        .filter(|(_, t)| std::path::Path::new(path).starts_with(t))
        .max_by_key(|(_, t)| t.len())
}

#[test]
fn server_key_lives_on_its_own_mount_read_only_outside_development() {
    let doc = compose();
    let server = service(&doc, "server");
    let env = |name: &str| {
        server["environment"][name]
            .as_str()
            .unwrap_or_else(|| panic!("server sets {name}"))
            .to_owned()
    };
    let (db, key) = (env("MMKT_DB_PATH"), env("MMKT_DB_KEY_FILE"));
    let found = mounts(server);
    let db_mount = mount_holding(&found, &db).expect("the database is on a volume");
    let key_mount = mount_holding(&found, &key).expect("the key is on a volume");
    assert_ne!(
        db_mount.0, key_mount.0,
        "the key ({key}) must not share the database's volume ({db})"
    );
    let db_dir = std::path::Path::new(&db).parent().unwrap();
    assert!(
        !std::path::Path::new(&key).starts_with(db_dir),
        "the server refuses a key inside the database's directory: {key} in {}",
        db_dir.display()
    );
    assert!(
        doc["volumes"].get(key_mount.0.as_str()).is_some(),
        "volume {} is declared",
        key_mount.0
    );
    // The mount mode comes from the env file: writable only where the server may create the key.
    for (env_name, mode) in [
        ("development", "rw"),
        ("staging", "ro"),
        ("production", "ro"),
    ] {
        let path = repo_root().join(format!("deploy/env/{env_name}.env"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("MMKT_DB_KEY_MOUNT_MODE={mode}")),
            "{} must set MMKT_DB_KEY_MOUNT_MODE={mode}",
            path.display()
        );
    }
}
