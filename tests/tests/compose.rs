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
    // An anchor built on another anchor (`x-wallet-rpc` on `x-hardening`) leaves a `<<` in the
    // merged mapping: resolve until none is left, as compose does.
    for _ in 0..8 {
        doc.apply_merge().expect("resolve YAML merge keys");
    }
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
    // Alertmanager's config is rendered by `mmctl up` into a volume (it holds the receiver
    // secrets); the extension names the template, which must exist, and the mounted volume.
    let am = service(&doc, "alertmanager");
    let rendered = &am["x-mmkt-alertmanager-config"];
    let template = rendered["template"].as_str().expect("template");
    assert!(
        repo_root().join("deploy").join(template).is_file(),
        "the Alertmanager template {template} does not exist"
    );
    let volume = rendered["volume"].as_str().expect("volume");
    assert!(
        mounts(am)
            .iter()
            .any(|(s, t)| s == volume && t == "/etc/alertmanager"),
        "alertmanager must mount {volume} at /etc/alertmanager: {:?}",
        mounts(am)
    );
    assert_eq!(rendered["file"].as_str(), Some("alertmanager.yml"));
    assert_mount(
        &doc,
        "loki",
        "../monitoring/loki/loki.yml",
        "/etc/loki/loki.yml",
    );
    assert_mount(
        &doc,
        "promtail",
        "../monitoring/promtail/promtail.yml",
        "/etc/promtail/promtail.yml",
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
        // A probe URL (job blackbox-tls) is what the exporter reaches, from its own networks.
        if let Some(url) = target.strip_prefix("https://") {
            let authority = url.split('/').next().unwrap_or(url);
            let (host, _port) = authority.rsplit_once(':').expect("host:port");
            assert_share_network(&doc, "blackbox-exporter", host);
            continue;
        }
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
    // A listener on the container's own loopback (the relay a pinned upstream falls back to)
    // is reachable only from inside the nginx container: nothing to publish.
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
        .filter(|l| !l.starts_with("127.0.0.1:"))
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

/// Every service, the `observability` profile included.
fn all_services(doc: &Yaml) -> Vec<(String, &Yaml)> {
    doc["services"]
        .as_mapping()
        .expect("services")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

fn string_list(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn repo_text(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn every_service_is_read_only_non_root_and_limited() {
    let doc = compose();
    for (name, svc) in all_services(&doc) {
        assert_eq!(
            svc.get("read_only").and_then(Yaml::as_bool),
            Some(true),
            "service {name} must run with a read-only root filesystem"
        );
        let user = match svc.get("user") {
            Some(Yaml::String(s)) => s.clone(),
            Some(Yaml::Number(n)) => n.to_string(),
            other => panic!("service {name} must set `user:` ({other:?})"),
        };
        let uid = user.split(':').next().unwrap_or("");
        if name == "promtail" {
            // The one exception: the engine's log files are root's (0640 in 0710 directories),
            // so promtail runs as their owner, uid 0, with every capability dropped (it cannot
            // override a permission) and nothing it reads mounted writable.
            assert_eq!(string_list(svc.get("cap_drop")), vec!["ALL"], "{name}");
            assert!(
                string_list(svc.get("cap_add")).is_empty(),
                "{name} adds capabilities"
            );
            for volume in string_list(svc.get("volumes")) {
                assert!(
                    volume.ends_with(":ro") || volume.starts_with("promtail-positions:"),
                    "{name} mounts {volume:?} writable"
                );
            }
        } else {
            assert!(
                !uid.is_empty() && uid != "root" && uid != "0",
                "service {name} runs as {user:?}"
            );
        }
        // Rotated logs on every service, so no container log grows without bound.
        let logging = &svc["logging"];
        assert_eq!(
            logging["driver"].as_str(),
            Some("json-file"),
            "service {name} must log with json-file (what promtail reads)"
        );
        for option in ["max-size", "max-file"] {
            assert!(
                logging["options"][option].as_str().is_some(),
                "service {name}: logging option {option} missing"
            );
        }
        for key in ["mem_limit", "cpus", "pids_limit"] {
            assert!(
                svc.get(key).is_some(),
                "service {name} must set {key} (memory, CPU and process limits)"
            );
        }
        for entry in string_list(svc.get("tmpfs")) {
            let (path, opts) = entry.split_once(':').unwrap_or((&entry, ""));
            assert!(path.starts_with('/'), "service {name}: tmpfs {entry:?}");
            assert!(
                opts.contains("size="),
                "service {name}: tmpfs {entry:?} needs a size= bound (it counts against memory)"
            );
        }
        // A read-only root only works when every path the program writes is a mount.
        let writable: Vec<String> = mounts(svc)
            .into_iter()
            .map(|(_, t)| t)
            .chain(
                string_list(svc.get("tmpfs"))
                    .into_iter()
                    .map(|t| t.split_once(':').map_or(t.clone(), |(p, _)| p.to_owned())),
            )
            .collect();
        assert!(
            !writable.is_empty(),
            "service {name} has a read-only root and nowhere to write"
        );
    }
}

/// Members of a top-level network.
fn members(doc: &Yaml, network: &str) -> BTreeSet<String> {
    all_services(doc)
        .into_iter()
        .filter(|(_, svc)| networks(svc).contains(network))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn wallet_network_holds_only_the_money_path_and_monerod_rpc_is_restricted() {
    let doc = compose();
    let wallet_rpcs = [
        "wallet-rpc-arbiter",
        "wallet-rpc-buyer",
        "wallet-rpc-vendor",
    ];
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let mut money = set(&wallet_rpcs);
    money.insert("monerod".into());
    // The development stack's faucet (a wallet RPC) and miner (generateblocks) join the daemon
    // network too, and only there; mmctl refuses them outside development.
    let dev = set(&["faucet", "miner"]);
    for name in &dev {
        let svc = service(&doc, name);
        assert_eq!(string_list(svc.get("profiles")), vec!["dev"], "{name}");
        assert_eq!(
            string_list(svc.get("x-mmkt-environments")),
            vec!["development"],
            "{name} must be bound to the development environment"
        );
        assert_eq!(
            networks(svc),
            set(&["daemon"]),
            "{name} joins the daemon network only"
        );
    }
    assert_eq!(
        members(&doc, "daemon"),
        money.union(&dev).cloned().collect::<BTreeSet<_>>(),
        "only monerod, the wallet RPCs and the development faucet and miner join the daemon network"
    );
    money.insert("server".into());
    assert_eq!(
        members(&doc, "wallet"),
        money,
        "only the server, monerod and the wallet RPCs join the wallet network"
    );
    for net in ["wallet", "daemon"] {
        assert_eq!(
            doc["networks"][net]["internal"].as_bool(),
            Some(true),
            "network {net} must be internal"
        );
    }
    // Only the wallet RPCs' own network reaches monerod's unrestricted RPC.
    for name in wallet_rpcs {
        assert_eq!(
            networks(service(&doc, name)),
            set(&["daemon", "wallet"]),
            "{name} joins the wallet and daemon networks only"
        );
    }

    // monerod: unrestricted RPC bound to the address of an alias that exists on the daemon
    // network only; restricted RPC on the port the server and the probes use.
    let monerod = service(&doc, "monerod");
    let alias = monerod["environment"]["MONEROD_UNRESTRICTED_HOST"]
        .as_str()
        .expect("monerod sets MONEROD_UNRESTRICTED_HOST");
    for (net, attach) in monerod["networks"]
        .as_mapping()
        .expect("monerod networks map")
    {
        let aliases = string_list(attach.get("aliases"));
        assert_eq!(
            aliases.iter().any(|a| a == alias),
            net.as_str() == Some("daemon"),
            "alias {alias} must exist on the daemon network and nowhere else ({net:?}: {aliases:?})"
        );
    }
    let script = repo_text("deploy/images/monero/mmkt-monerod");
    for flag in [
        "--rpc-bind-ip \"$unrestricted_ip\" --rpc-bind-port 18085",
        "--rpc-restricted-bind-ip 0.0.0.0 --rpc-restricted-bind-port 18081",
        "MONEROD_UNRESTRICTED_HOST",
    ] {
        assert!(script.contains(flag), "mmkt-monerod must pass {flag}");
    }
    for name in wallet_rpcs {
        assert_eq!(
            service(&doc, name)["environment"]["MONEROD_ADDRESS"].as_str(),
            Some(format!("{alias}:18085").as_str()),
            "{name} uses the unrestricted RPC"
        );
    }
    let server_url = service(&doc, "server")["environment"]["MMKT_MONEROD_URL"]
        .as_str()
        .expect("server sets MMKT_MONEROD_URL");
    assert_eq!(
        server_url, "http://monerod:18081",
        "the server uses the restricted RPC"
    );
    assert_eq!(
        monerod["x-mmkt-probe"]["port"].as_u64(),
        Some(18081),
        "mmctl health probes the restricted RPC"
    );
}

#[test]
fn wallet_rpc_login_is_passed_in_a_config_file_never_on_a_command_line() {
    let doc = compose();
    let script = repo_text("deploy/images/monero/mmkt-wallet-rpc");
    let code: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !code.contains("--rpc-login"),
        "mmkt-wallet-rpc must not pass --rpc-login on the command line"
    );
    for needle in [
        "umask 077",
        "rpc-login=%s",
        "--config-file",
        "unset WALLET_RPC_LOGIN",
    ] {
        assert!(
            code.contains(needle),
            "mmkt-wallet-rpc must contain {needle:?}"
        );
    }
    for name in [
        "wallet-rpc-arbiter",
        "wallet-rpc-buyer",
        "wallet-rpc-vendor",
    ] {
        let svc = service(&doc, name);
        let tmpfs = string_list(svc.get("tmpfs"));
        assert!(
            tmpfs
                .iter()
                .any(|t| t.starts_with("/run/mmkt:") && t.contains("mode=0700")),
            "{name}: the config file lives on a private tmpfs at /run/mmkt: {tmpfs:?}"
        );
        let test = string_list(svc["healthcheck"].get("test")).join(" ");
        assert!(
            !test.contains("WALLET_RPC_LOGIN") && test.contains("-K /run/mmkt/curl.conf"),
            "{name}: the healthcheck reads the login from the curl config, not the command line: {test}"
        );
    }
}

#[test]
fn nginx_upstream_directory_stays_writable_under_a_read_only_root() {
    let doc = compose();
    let nginx = service(&doc, "nginx");
    let entry = nginx["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .find(|v| v.starts_with("nginx-upstream:"))
        .expect("nginx mounts the nginx-upstream volume");
    assert_eq!(
        entry, "nginx-upstream:/etc/nginx/mmkt",
        "generated upstream files go to a writable /etc/nginx/mmkt"
    );
    assert!(doc["volumes"].get("nginx-upstream").is_some());
    assert!(
        repo_text("deploy/images/nginx/Dockerfile").contains("/etc/nginx/mmkt"),
        "the nginx image owns /etc/nginx/mmkt (a new volume copies its owner)"
    );
}

fn monitoring_yaml(path: &str) -> Yaml {
    serde_norway::from_str(&repo_text(path)).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Loki, promtail and Grafana's Loki datasource agree with each other and with compose. What
/// this cannot prove (no loki, promtail or grafana binary here): that those programs accept
/// these files; docs/MONITORING.md "Logs" says so.
#[test]
fn logs_flow_from_the_engine_through_promtail_to_loki_and_grafana() {
    let doc = compose();
    let loki = monitoring_yaml("monitoring/loki/loki.yml");
    assert_eq!(loki["compactor"]["retention_enabled"].as_bool(), Some(true));
    assert_eq!(
        loki["compactor"]["shared_store"].as_str(),
        Some("filesystem")
    );
    assert_eq!(
        loki["limits_config"]["retention_period"].as_str(),
        Some("720h"),
        "30 days of logs"
    );
    assert_eq!(loki["server"]["http_listen_port"].as_u64(), Some(3100));
    // Everything Loki writes is on the loki-data volume.
    let data = mounts(service(&doc, "loki"))
        .into_iter()
        .find(|(s, _)| s == "loki-data")
        .map(|(_, t)| t)
        .expect("loki mounts loki-data");
    for dir in [
        &loki["common"]["path_prefix"],
        &loki["common"]["storage"]["filesystem"]["chunks_directory"],
        &loki["storage_config"]["tsdb_shipper"]["active_index_directory"],
        &loki["compactor"]["working_directory"],
        &loki["ingester"]["wal"]["dir"],
    ] {
        let dir = dir.as_str().expect("a directory");
        assert!(
            dir.starts_with(&data),
            "{dir} is outside loki-data ({data})"
        );
    }

    let promtail = monitoring_yaml("monitoring/promtail/promtail.yml");
    assert_eq!(
        promtail["clients"][0]["url"].as_str(),
        Some("http://loki:3100/loki/api/v1/push")
    );
    assert_share_network(&doc, "promtail", "loki");
    let positions = promtail["positions"]["filename"]
        .as_str()
        .expect("positions");
    assert!(
        mounts(service(&doc, "promtail"))
            .iter()
            .any(|(s, t)| s == "promtail-positions" && positions.starts_with(t.as_str())),
        "the positions file {positions} must be on the promtail-positions volume"
    );
    // The glob covers the json-file driver's layout under the containers directory promtail
    // mounts (the Engine's real LogPath is checked in crates/mmctl/tests/stack.rs).
    let job = &promtail["scrape_configs"][0];
    let path = job["static_configs"][0]["labels"]["__path__"]
        .as_str()
        .expect("__path__");
    assert_eq!(path, "/var/lib/docker/containers/*/*-json.log");
    assert!(
        string_list(service(&doc, "promtail").get("volumes")).contains(
            &"${MMKT_DOCKER_CONTAINERS_DIR:-/var/lib/docker/containers}:/var/lib/docker/containers:ro"
                .to_owned()
        ),
        "promtail must mount the engine's containers directory at /var/lib/docker/containers"
    );
    // The attrs promtail reads are the labels the logging anchor asks Docker to add.
    let labels = doc["x-hardening"]["logging"]["options"]["labels"]
        .as_str()
        .expect("logging labels");
    let stages = serde_norway::to_string(&job["pipeline_stages"]).unwrap();
    for label in labels.split(',') {
        assert!(
            stages.contains(&format!("attrs.\"{label}\"")),
            "promtail does not read {label}: {stages}"
        );
    }

    let ds = monitoring_yaml("monitoring/grafana/provisioning/datasources/loki.yml");
    let ds = &ds["datasources"][0];
    assert_eq!(ds["type"].as_str(), Some("loki"));
    assert_eq!(ds["uid"].as_str(), Some("mmkt-loki"));
    assert_eq!(ds["url"].as_str(), Some("http://loki:3100"));
    assert_share_network(&doc, "grafana", "loki");
}

#[test]
fn certbot_writes_the_webroot_nginx_serves_and_never_starts_with_the_stack() {
    let doc = compose();
    let certbot = service(&doc, "certbot");
    assert_eq!(
        string_list(certbot.get("profiles")),
        ["tls"],
        "certbot is a one-shot of `mmctl tls renew`, not a service `mmctl up` starts"
    );
    let certbot_mounts = mounts(certbot);
    let nginx_mounts = mounts(service(&doc, "nginx"));
    // The http-01 challenge: certbot writes where nginx's port-80 server has its root
    // (deploy/nginx/nginx.conf: `root /var/www/acme;`).
    let webroot = ("acme-webroot".to_owned(), "/var/www/acme".to_owned());
    assert!(certbot_mounts.contains(&webroot), "{certbot_mounts:?}");
    assert!(nginx_mounts.contains(&webroot), "{nginx_mounts:?}");
    assert!(repo_text("deploy/nginx/nginx.conf").contains("root /var/www/acme;"));
    assert!(
        certbot_mounts.contains(&("letsencrypt".to_owned(), "/etc/letsencrypt".to_owned())),
        "{certbot_mounts:?}"
    );
    // nginx reads its certificate from the volume mmctl writes, never writes it itself.
    let volumes = service(&doc, "nginx")
        .get("volumes")
        .and_then(Yaml::as_sequence)
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v.as_str() == Some("tls-certs:/etc/nginx/tls:ro")),
        "{volumes:?}"
    );
    assert!(
        networks(certbot).contains("egress"),
        "certbot reaches the ACME server"
    );
}
