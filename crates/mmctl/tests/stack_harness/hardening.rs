//! What the Engine really applied from the compose hardening: read-only roots, limits, log
//! rotation, the
//! wallet and daemon networks, monerod's restricted RPC as each side sees it, uploads into
//! volumes, and a wallet-rpc's login kept off every command line.

use std::collections::BTreeMap;

use super::{docker_lines, docker_try};

/// A JSON-RPC call from inside the server container with bash's /dev/tcp (the server image has
/// no curl): the answer, or the connection error.
fn rpc_from_server(server: &str, host: &str, port: u16, method: &str) -> (bool, String) {
    let script = r#"body="{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"method\":\"$3\"}"
exec 3<>"/dev/tcp/$1/$2" || exit 7
printf 'POST /json_rpc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "${#body}" "$body" >&3
cat <&3"#;
    let port = port.to_string();
    docker_try(&[
        "exec", server, "bash", "-c", script, "rpc", host, &port, method,
    ])
}

/// Every container runs with a read-only root, a non-root user and memory, CPU and pids limits.
fn check_engine_limits(by_service: &BTreeMap<String, String>) {
    for (svc, id) in by_service {
        let fields = docker_lines(&[
            "inspect",
            "-f",
            "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.User}}",
            id,
        ]);
        let f: Vec<&str> = fields[0].split(' ').collect();
        assert_eq!(f[0], "true", "{svc}: ReadonlyRootfs {fields:?}");
        for (what, value) in [("PidsLimit", f[1]), ("Memory", f[2]), ("NanoCpus", f[3])] {
            let n: i64 = value.parse().unwrap_or(0);
            assert!(n > 0, "{svc}: {what} is not set: {fields:?}");
        }
        assert!(
            f.len() == 5 && !f[4].is_empty() && f[4] != "root" && !f[4].starts_with('0'),
            "{svc}: User {fields:?}"
        );
        check_log_config(svc, id, "10m", "5");
    }
    let (wrote, out) = docker_try(&["exec", &by_service["server"], "touch", "/app/x"]);
    assert!(
        !wrote && out.contains("Read-only file system"),
        "the server's root must be read-only: {out}"
    );
}

/// The log rotation the compose file asks for, as the engine applied it to container `id`
/// (`HostConfig.LogConfig`), written where promtail's glob looks
/// (`<docker root>/containers/<id>/<id>-json.log`); returns that path.
pub fn check_log_config(svc: &str, id: &str, max_size: &str, max_file: &str) -> String {
    let fields = docker_lines(&[
        "inspect",
        "-f",
        "{{.Id}} {{.LogPath}} {{json .HostConfig.LogConfig}}",
        id,
    ]);
    let mut parts = fields[0].splitn(3, ' ');
    let (full_id, path, config) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let config: serde_json::Value = serde_json::from_str(config).expect("LogConfig JSON");
    assert_eq!(config["Type"], "json-file", "{svc}: {config}");
    assert_eq!(config["Config"]["max-size"], max_size, "{svc}: {config}");
    assert_eq!(config["Config"]["max-file"], max_file, "{svc}: {config}");
    assert_eq!(
        config["Config"]["labels"], "com.docker.compose.project,com.docker.compose.service",
        "{svc}: the attrs promtail labels lines with: {config}"
    );
    assert!(
        path.ends_with(&format!("/containers/{full_id}/{full_id}-json.log")),
        "{svc}: LogPath {path} is not where promtail's /var/lib/docker/containers/*/*-json.log looks"
    );
    path.to_owned()
}

/// The wallet and daemon networks are internal and hold only their members.
fn check_networks(p: &str, by_service: &BTreeMap<String, String>) {
    for (net, members) in [
        (
            "wallet",
            vec![
                "monerod",
                "server",
                "wallet-rpc-arbiter",
                "wallet-rpc-buyer",
                "wallet-rpc-vendor",
            ],
        ),
        (
            "daemon",
            vec![
                "monerod",
                "wallet-rpc-arbiter",
                "wallet-rpc-buyer",
                "wallet-rpc-vendor",
            ],
        ),
    ] {
        let name = format!("{p}_{net}");
        let internal = docker_lines(&["network", "inspect", "-f", "{{.Internal}}", &name]);
        assert_eq!(internal, vec!["true"], "{name} must be internal");
        let mut joined: Vec<&str> = by_service
            .iter()
            .filter(|(_, id)| {
                docker_lines(&[
                    "inspect",
                    "-f",
                    "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                    id,
                ])[0]
                    .split(' ')
                    .any(|n| n == name)
            })
            .map(|(svc, _)| svc.as_str())
            .collect();
        joined.sort();
        assert_eq!(joined, members, "members of {name}");
    }
}

/// The server reaches only monerod's restricted RPC; a wallet RPC reaches the unrestricted one.
fn check_restricted_rpc(by_service: &BTreeMap<String, String>) {
    let server = &by_service["server"];
    let (_, info) = rpc_from_server(server, "monerod", 18081, "get_info");
    assert!(
        info.contains("\"status\": \"OK\""),
        "get_info restricted: {info}"
    );
    let (_, admin) = rpc_from_server(server, "monerod", 18081, "get_connections");
    assert!(
        admin.contains("Method not found"),
        "the restricted RPC must refuse get_connections: {admin}"
    );
    let (reached, out) = rpc_from_server(server, "monerod", 18085, "get_connections");
    assert!(
        !reached && out.contains("Connection refused"),
        "the server must not reach the unrestricted RPC: {out}"
    );
    let (reached, out) = rpc_from_server(server, "monerod-unrestricted", 18085, "get_info");
    assert!(
        !reached,
        "the daemon-network alias resolves from the server: {out}"
    );
    let wallet = docker_lines(&[
        "exec",
        &by_service["wallet-rpc-buyer"],
        "curl",
        "-sS",
        "-d",
        r#"{"jsonrpc":"2.0","id":"0","method":"get_connections"}"#,
        "http://monerod-unrestricted:18085/json_rpc",
    ])
    .join("\n");
    assert!(
        wallet.contains("\"status\": \"OK\""),
        "a wallet RPC reaches the unrestricted RPC: {wallet}"
    );
}

/// The wallet-rpc in container `id`, started with login `user:password`, has it in 0600
/// files on its private tmpfs, never on a command line, and digest auth is really on: a call
/// without the login is refused, one with the healthcheck's curl config answers.
pub fn check_wallet_rpc_login(id: &str, login: &str) {
    let password = login.split_once(':').expect("user:password").1;
    let inspected = docker_lines(&[
        "inspect",
        "-f",
        "{{.Path}} {{json .Args}} {{json .Config.Cmd}} {{json .Config.Entrypoint}}",
        id,
    ])
    .join(" ");
    assert!(
        !inspected.contains(password),
        "docker inspect shows the login: {inspected}"
    );
    let cmdline =
        docker_lines(&["exec", id, "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline"]).join(" ");
    assert!(
        cmdline.contains("--config-file /run/mmkt/wallet-rpc.conf")
            && !cmdline.contains(password)
            && !cmdline.contains("--rpc-login"),
        "wallet-rpc command line: {cmdline}"
    );
    let modes = docker_lines(&[
        "exec",
        id,
        "stat",
        "-c",
        "%a %u %n",
        "/run/mmkt",
        "/run/mmkt/wallet-rpc.conf",
        "/run/mmkt/curl.conf",
    ]);
    assert_eq!(
        modes,
        vec![
            "700 1000 /run/mmkt",
            "600 1000 /run/mmkt/wallet-rpc.conf",
            "600 1000 /run/mmkt/curl.conf"
        ]
    );
    let status = |with_login: &[&str]| {
        let mut args = vec![
            "exec",
            id,
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ];
        args.extend(with_login);
        args.extend([
            "-d",
            r#"{"jsonrpc":"2.0","id":"0","method":"get_version"}"#,
            "http://127.0.0.1:18083/json_rpc",
        ]);
        docker_lines(&args)
    };
    assert_eq!(status(&[]), vec!["401"], "a call without the login");
    assert_eq!(
        status(&["-K", "/run/mmkt/curl.conf"]),
        vec!["200"],
        "the healthcheck's call"
    );
}

/// Archive uploads (`PUT /containers/{id}/archive`, what `docker cp` uses) still land in the
/// volumes writers use under a read-only root: nginx's /etc/nginx/mmkt (generated upstream
/// files of blue/green deploys) and a wallet-rpc's /wallets (wallet restores); one beside them
/// on the root filesystem is refused.
fn check_uploads_into_volumes(dir: &std::path::Path, by_service: &BTreeMap<String, String>) {
    let file = dir.join("upload.conf");
    std::fs::write(&file, "# upload test\n").unwrap();
    let src = file.to_str().unwrap();
    for (svc, volume_dir, root_dir) in [
        ("nginx", "/etc/nginx/mmkt", "/etc/nginx"),
        ("wallet-rpc-buyer", "/wallets", "/etc"),
    ] {
        let id = &by_service[svc];
        docker_lines(&["cp", src, &format!("{id}:{volume_dir}/upload.conf")]);
        docker_lines(&["exec", id, "rm", &format!("{volume_dir}/upload.conf")]);
        let (copied, out) = docker_try(&["cp", src, &format!("{id}:{root_dir}/upload.conf")]);
        assert!(!copied && out.contains("read-only"), "{svc}: {out}");
    }
}

/// Limits, networks, restricted RPC and uploads into volumes, on a stack `mmctl up` brought
/// up.
pub fn check_hardening(p: &str, by_service: &BTreeMap<String, String>) {
    check_engine_limits(by_service);
    check_networks(p, by_service);
    check_restricted_rpc(by_service);
    let dir = tempfile::tempdir().expect("temp dir");
    check_uploads_into_volumes(dir.path(), by_service);
}
