//! Checks deploy/nginx/nginx.conf with Debian's nginx: `nginx -t`, then a real nginx on loopback
//! in front of a recording upstream, exercising what the config promises: /api, /ws (upgrade),
//! /health proxied, /ready answered with its verdict only (the details stay internal), /metrics
//! and unknown paths refused, error texts that name no internal host, the 64 KiB body limit,
//! security headers, client-address headers that cannot be spoofed, login rate limiting,
//! TLS 1.3 only with HSTS, a replaced certificate served only after a reload, OCSP stapling as
//! `mmctl tls` writes it (on for a chain whose leaf names a responder, off otherwise), the
//! HTTP->HTTPS redirect with ACME challenges, and the deploy pin as mmkt-deploy renders it:
//! kept-alive connections to the pinned address, switched by a reload, and the loopback relay
//! taking over (headers, upgrades and the JSON 502 intact) when the pinned address is down, or
//! after a short connect timeout when it drops connections (a stale pin).
//!
//! The copy under test differs from the shipped file only where the container and this host
//! differ: listen addresses (127.0.0.1 and free ports instead of 8080/8443/8081/8079), the
//! upstream (a loopback port instead of `server:8080`, which only Docker's DNS resolves), and
//! the writable paths (/tmp/nginx*, /etc/nginx/tls/, /etc/nginx/mmkt/, /var/www/acme/ moved
//! into a temp dir).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use mmkt_deploy::nginx::{BLOCK_FILE, RELAY, UPSTREAM_FILE, Upstream, render};
use mmkt_repo_tests::http::{Answer, BlackHole, Connections, RecordingServer, Response, curl};
use mmkt_repo_tests::process::{ChildGuard, free_loopback_port, wait_ready};
use mmkt_repo_tests::tools::{repo_root, tool_or_skip};

fn nginx_conf() -> PathBuf {
    repo_root().join("deploy/nginx/nginx.conf")
}

/// Copies the shipped config to `dest`, replacing each `(from, to)` exactly `count` times (a
/// drift in the shipped file fails here instead of silently testing something else).
fn rewrite(dest: &Path, replacements: &[(&str, String, usize)]) {
    let mut text = std::fs::read_to_string(nginx_conf()).expect("read deploy/nginx/nginx.conf");
    for (from, to, count) in replacements {
        assert_eq!(
            text.matches(from).count(),
            *count,
            "nginx.conf: expected {count} occurrence(s) of {from:?}"
        );
        text = text.replace(from, to);
    }
    std::fs::write(dest, text).expect("write nginx.conf copy");
}

fn writable_paths(dir: &Path) -> (&'static str, String, usize) {
    ("/tmp/nginx", format!("{}/run/nginx", dir.display()), 6)
}

/// The certificate, key and stapling include of the TLS server, moved into `DIR/tls/`.
fn tls_paths(dir: &Path) -> [(&'static str, String, usize); 3] {
    let d = dir.display();
    [
        (
            "ssl_certificate /etc/nginx/tls/",
            format!("ssl_certificate {d}/tls/"),
            1,
        ),
        (
            "ssl_certificate_key /etc/nginx/tls/",
            format!("ssl_certificate_key {d}/tls/"),
            1,
        ),
        ("include /etc/nginx/tls/", format!("include {d}/tls/"), 1),
    ]
}

/// Writes `pair` into `DIR/tls/` as `mmctl tls` does (fullchain.pem, privkey.pem, chain.pem and
/// the stapling include it renders for the chain, its paths moved into the temp dir).
fn install_pair(dir: &Path, pair: &mmkt_stack::tls::PemPair) -> mmkt_stack::tls::CertificateInfo {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let info = mmkt_stack::tls::inspect_chain(&pair.chain, now()).expect("chain parses");
    std::fs::write(tls.join("fullchain.pem"), &pair.chain).unwrap();
    std::fs::write(tls.join("privkey.pem"), &pair.key).unwrap();
    let stapling = mmkt_stack::tls::stapling_conf(&info)
        .replace("/etc/nginx/tls/", &format!("{}/", tls.display()));
    std::fs::write(tls.join("stapling.conf"), stapling).unwrap();
    info
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A self-signed pair for `name`, valid for a day.
fn self_signed(name: &str) -> mmkt_stack::tls::PemPair {
    mmkt_stack::tls::self_signed(&mmkt_stack::tls::SelfSigned {
        server_name: name.into(),
        not_before: now() - 60,
        not_after: now() + 86_400,
    })
    .unwrap()
}

/// A copy of the shipped config in `dir` with its writable, TLS and pin paths moved there
/// (`DIR/mmkt/`, created empty) and a self-signed certificate installed (nginx needs one to
/// start).
fn checked_copy(dir: &Path, extra: &[(&str, String, usize)]) -> PathBuf {
    let config = dir.join("nginx.conf");
    std::fs::create_dir_all(dir.join("mmkt")).unwrap();
    let mut replacements = vec![
        writable_paths(dir),
        (
            "include /etc/nginx/mmkt/",
            format!("include {}/mmkt/", dir.display()),
            2,
        ),
    ];
    replacements.extend(tls_paths(dir));
    replacements.extend(extra.iter().cloned());
    rewrite(&config, &replacements);
    install_pair(dir, &self_signed("localhost"));
    config
}

/// Writes the pin files for `upstream` into `DIR/mmkt/` exactly as mmkt-deploy renders them,
/// the relay moved to loopback port `relay`.
fn write_pin(dir: &Path, relay: u16, upstream: Upstream<'_>) {
    let files = render(upstream);
    if upstream != Upstream::Service {
        assert_eq!(files.block.matches(RELAY).count(), 1, "{}", files.block);
    }
    let relay = format!("127.0.0.1:{relay}");
    std::fs::write(
        dir.join("mmkt").join(BLOCK_FILE),
        files.block.replace(RELAY, &relay),
    )
    .unwrap();
    std::fs::write(dir.join("mmkt").join(UPSTREAM_FILE), files.map_entry).unwrap();
}

fn pinned(address: SocketAddr) -> Upstream<'static> {
    Upstream::Pinned {
        container: "mmkt-server-test",
        address,
    }
}

/// A temp dir the nginx workers (user `nobody` when the master runs as root) can traverse.
fn shared_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    std::fs::create_dir(dir.path().join("run")).expect("create run dir");
    std::fs::set_permissions(
        dir.path().join("run"),
        std::fs::Permissions::from_mode(0o777),
    )
    .expect("chmod run dir");
    dir
}

fn nginx_t(nginx: &Path, config: &Path, prefix: &Path) -> (bool, String) {
    let out = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(config)
        .arg("-p")
        .arg(prefix)
        .output()
        .expect("run nginx -t");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn shipped_config_passes_nginx_t() {
    let Some(nginx) = tool_or_skip("nginx", "nginx") else {
        return;
    };
    let dir = shared_tempdir();
    let config = checked_copy(dir.path(), &[]);
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "nginx -t rejected deploy/nginx/nginx.conf:\n{out}");
    assert!(out.contains("test is successful"), "{out}");
    // The stapling include for a certificate without an OCSP responder keeps stapling off, so
    // nginx has nothing to warn about.
    assert!(!out.contains("ssl_stapling"), "{out}");
}

/// Makes, with openssl, a CA and a leaf for localhost whose Authority Information Access
/// names an OCSP responder; returns the chain (leaf, CA) and the leaf's key.
fn ca_issued_with_ocsp(openssl: &Path, dir: &Path) -> mmkt_stack::tls::PemPair {
    let run = |args: &[&str]| {
        let out = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=localhost",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp\nsubjectAltName=DNS:localhost\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    mmkt_stack::tls::PemPair {
        chain: [read("leaf.pem"), read("ca.pem")].concat(),
        key: read("leaf.key"),
    }
}

#[test]
fn ocsp_stapling_is_on_exactly_when_the_certificate_allows_it() {
    let Some(nginx) = tool_or_skip("nginx", "nginx") else {
        return;
    };
    let Some(openssl) = tool_or_skip("openssl", "openssl") else {
        return;
    };
    let dir = shared_tempdir();
    let config = checked_copy(dir.path(), &[]);
    let work = tempfile::tempdir().unwrap();

    // A CA-issued chain naming a responder: mmctl's include turns stapling on; nginx -t accepts
    // it without a stapling warning. (nginx resolves the responder's host when it loads the
    // configuration, so the test's responder is a loopback address.)
    let info = install_pair(dir.path(), &ca_issued_with_ocsp(&openssl, work.path()));
    assert_eq!(info.ocsp_url.as_deref(), Some("http://127.0.0.1:9/ocsp"));
    let include = std::fs::read_to_string(dir.path().join("tls/stapling.conf")).unwrap();
    assert!(include.contains("ssl_stapling on;"), "{include}");
    std::fs::write(
        dir.path().join("tls/chain.pem"),
        std::fs::read(work.path().join("ca.pem")).unwrap(),
    )
    .unwrap();
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "nginx -t refused stapling for an OCSP chain:\n{out}");
    assert!(!out.contains("ssl_stapling"), "{out}");

    // The same directives for a certificate without a responder make nginx warn: why the
    // include is conditional.
    install_pair(dir.path(), &self_signed("localhost"));
    std::fs::write(dir.path().join("tls/stapling.conf"), include).unwrap();
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("\"ssl_stapling\" ignored"), "{out}");
}

#[test]
fn nginx_t_passes_for_every_pin_state() {
    let Some(nginx) = tool_or_skip("nginx", "nginx") else {
        return;
    };
    let dir = shared_tempdir();
    let config = checked_copy(dir.path(), &[]);
    let pin_dir = dir.path().join("mmkt");
    // An empty directory (a fresh volume), the unpinned files, a pin: all load.
    assert_eq!(std::fs::read_dir(&pin_dir).unwrap().count(), 0);
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "empty {}:\n{out}", pin_dir.display());
    write_pin(dir.path(), 8079, Upstream::Service);
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "unpinned files:\n{out}");
    write_pin(dir.path(), 8079, pinned("172.18.0.5:8080".parse().unwrap()));
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(ok, "pinned files:\n{out}");
    // The block file is loaded: a second block of the same name (a stray copy) is refused.
    std::fs::copy(
        pin_dir.join(BLOCK_FILE),
        pin_dir.join(format!("copy-{BLOCK_FILE}")),
    )
    .unwrap();
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(!ok, "a duplicate upstream block passed nginx -t:\n{out}");
    assert!(out.contains("duplicate upstream"), "{out}");
}

#[test]
fn nginx_t_rejects_a_broken_copy() {
    let Some(nginx) = tool_or_skip("nginx", "nginx") else {
        return;
    };
    let dir = shared_tempdir();
    let config = checked_copy(
        dir.path(),
        &[(
            "client_max_body_size 64k;",
            "client_max_body_size 64k".to_owned(),
            1,
        )],
    );
    let (ok, out) = nginx_t(&nginx, &config, dir.path());
    assert!(
        !ok,
        "nginx -t accepted a config with a missing semicolon:\n{out}"
    );
    assert!(
        out.contains("nginx.conf"),
        "the error should name the file:\n{out}"
    );
}

/// Asserts an nginx-generated error uses the server's JSON error shape.
fn assert_json_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {}", response.body));
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

struct Stack {
    _nginx: ChildGuard,
    /// `None` once the test stopped it (server down).
    upstream: Option<RecordingServer>,
    /// The upstream's port (kept after the upstream stops).
    upstream_port: u16,
    curl: PathBuf,
    dir: tempfile::TempDir,
    http: u16,
    https: u16,
    redirect: u16,
    /// The loopback relay's port (8079 in the container).
    relay: u16,
}

impl Stack {
    fn get(&self, port: u16, path: &str, extra: &[&str]) -> Response {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut args: Vec<&str> = extra.to_vec();
        args.push(&url);
        curl(&self.curl, &args)
    }

    /// `nginx -s reload`: SIGHUP to the master; new workers load the configuration again.
    fn reload(&self) {
        // SAFETY: kill(2) on the nginx master this test started (its own child's PID).
        let hup = unsafe { libc::kill(self._nginx.pid() as i32, libc::SIGHUP) };
        assert_eq!(hup, 0, "SIGHUP to nginx");
    }

    /// Asserts that `seen` carries the request id of one of the public server's access log
    /// lines (nginx's own id, passed on unchanged on every hop).
    fn assert_logged_request_id(&self, seen: &mmkt_repo_tests::http::Recorded) {
        let id = seen.header("x-request-id").unwrap_or_default();
        let log = std::fs::read_to_string(self.dir.path().join("nginx.log")).unwrap_or_default();
        let logged = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|v| v["request_id"] == id);
        assert!(
            logged,
            "x-request-id {id:?} is in no access log line:\n{log}"
        );
    }

    fn upstream(&self) -> &RecordingServer {
        self.upstream.as_ref().expect("upstream still running")
    }

    fn seen(&self, pred: impl Fn(&mmkt_repo_tests::http::Recorded) -> bool) -> usize {
        self.upstream()
            .requests()
            .iter()
            .filter(|r| pred(r))
            .count()
    }
}

fn start_stack() -> Option<Stack> {
    start_stack_with(|| RecordingServer::start().expect("start upstream"), None)
}

/// [`start_stack`] in front of the upstream that `upstream` starts (the service name's
/// stand-in), pinned to `pin` (as a deploy pins a container) when given.
fn start_stack_with(
    upstream: impl FnOnce() -> RecordingServer,
    pin: Option<SocketAddr>,
) -> Option<Stack> {
    let nginx = tool_or_skip("nginx", "nginx")?;
    let curl_bin = tool_or_skip("curl", "curl")?;
    let upstream = upstream();
    let dir = shared_tempdir();
    let (http, https, redirect, relay) = (
        free_loopback_port(),
        free_loopback_port(),
        free_loopback_port(),
        free_loopback_port(),
    );
    let d = dir.path().display().to_string();
    let config = checked_copy(
        dir.path(),
        &[
            (
                "listen 8080 default_server;",
                format!("listen 127.0.0.1:{http} default_server;"),
                1,
            ),
            (
                "listen 8443 ssl http2 default_server;",
                format!("listen 127.0.0.1:{https} ssl http2 default_server;"),
                1,
            ),
            (
                "listen 8081 default_server;",
                format!("listen 127.0.0.1:{redirect} default_server;"),
                1,
            ),
            (
                "default server:8080;",
                format!("default 127.0.0.1:{};", upstream.port()),
                1,
            ),
            ("root /var/www/acme;", format!("root {d}/acme;"), 1),
            (
                "listen 127.0.0.1:8079;",
                format!("listen 127.0.0.1:{relay};"),
                1,
            ),
        ],
    );
    if let Some(address) = pin {
        write_pin(dir.path(), relay, pinned(address));
    }
    let mut child = ChildGuard::spawn(
        "nginx",
        Command::new(&nginx)
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(dir.path())
            .args(["-g", "daemon off;"]),
        &dir.path().join("nginx.log"),
    )
    .expect("spawn nginx");
    let health = format!("http://127.0.0.1:{http}/health");
    wait_ready(&mut child, || curl(&curl_bin, &[&health]).status == 200).unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            std::fs::read_to_string(dir.path().join("nginx.log")).unwrap_or_default()
        )
    });
    Some(Stack {
        _nginx: child,
        upstream_port: upstream.port(),
        upstream: Some(upstream),
        curl: curl_bin,
        dir,
        http,
        https,
        redirect,
        relay,
    })
}

#[test]
fn nginx_proxies_the_api_and_guards_it() {
    let Some(stack) = start_stack() else { return };

    // /health is proxied with the security headers and the client headers set by nginx.
    let health = stack.get(stack.http, "/health", &[]);
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(health.header("x-frame-options"), Some("DENY"));
    assert_eq!(health.header("referrer-policy"), Some("no-referrer"));
    assert!(
        health
            .header("content-security-policy")
            .is_some_and(|v| v.contains("default-src 'none'"))
    );
    assert_eq!(
        health.header("strict-transport-security"),
        None,
        "no HSTS over plain HTTP"
    );
    assert_eq!(
        health.header("server"),
        Some("nginx"),
        "no version in the Server header"
    );
    let upstream_health = stack
        .upstream()
        .requests()
        .into_iter()
        .find(|r| r.target == "/health")
        .expect("upstream saw /health");
    assert_eq!(upstream_health.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(upstream_health.header("x-forwarded-proto"), Some("http"));
    let request_id = upstream_health.header("x-request-id").unwrap_or_default();
    assert!(
        request_id.len() == 32 && request_id.chars().all(|c| c.is_ascii_hexdigit()),
        "x-request-id {request_id:?}"
    );

    // /ready and the API are proxied; a spoofed X-Forwarded-For is replaced by the real address.
    assert_eq!(stack.get(stack.http, "/ready", &[]).status, 200);
    let listing = stack.get(
        stack.http,
        "/api/listings?page=2",
        &["-H", "X-Forwarded-For: 203.0.113.9"],
    );
    assert_eq!(listing.status, 200);
    let upstream_listing = stack
        .upstream()
        .requests()
        .into_iter()
        .find(|r| r.target == "/api/listings?page=2")
        .expect("upstream saw the API call");
    assert_eq!(
        upstream_listing.header("x-forwarded-for"),
        Some("127.0.0.1")
    );
    assert_eq!(
        upstream_listing.header("connection"),
        None,
        "no hop-by-hop Connection header on API calls"
    );
    assert_eq!(upstream_listing.header("upgrade"), None);

    // /metrics and unknown paths are answered by nginx and never reach the server.
    for path in [
        "/metrics",
        "/",
        "/admin",
        "/metrics/../metrics",
        "/ops/escrows/1/retry-setup",
    ] {
        let refused = stack.get(stack.http, path, &["--path-as-is"]);
        assert_json_error(&refused, 404, "not_found");
        assert_eq!(
            refused.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    assert_eq!(
        stack.seen(|r| r.target.starts_with("/metrics")
            || r.target.starts_with("/ops")
            || r.target == "/"
            || r.target == "/admin"),
        0
    );

    // Bodies: 60 000 bytes pass, 70 000 bytes (over 64 KiB) stop at nginx with 413.
    let small = stack.dir.path().join("small.json");
    let large = stack.dir.path().join("large.json");
    std::fs::write(&small, vec![b'a'; 60_000]).unwrap();
    std::fs::write(&large, vec![b'a'; 70_000]).unwrap();
    let small_arg = format!("@{}", small.display());
    let large_arg = format!("@{}", large.display());
    assert_eq!(
        stack
            .get(stack.http, "/api/listings", &["--data-binary", &small_arg])
            .status,
        200
    );
    assert_json_error(
        &stack.get(stack.http, "/api/listings", &["--data-binary", &large_arg]),
        413,
        "payload_too_large",
    );
    assert_eq!(
        stack.seen(|r| r.method == "POST" && r.body.len() == 60_000),
        1
    );
    assert_eq!(
        stack.seen(|r| r.method == "POST" && r.body.len() >= 65_536),
        0,
        "an oversized body reached the server"
    );

    // /ws: the upgrade handshake headers are passed through.
    stack.get(stack.http, "/ws", &WS_HEADERS);
    let ws = stack
        .upstream()
        .requests()
        .into_iter()
        .find(|r| r.target == "/ws")
        .expect("upstream saw /ws");
    assert_eq!(ws.header("upgrade"), Some("websocket"));
    assert_eq!(ws.header("connection"), Some("upgrade"));
    assert_eq!(
        ws.header("sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
}

#[test]
fn nginx_rate_limits_login_attempts() {
    let Some(stack) = start_stack() else { return };
    let statuses: Vec<u16> = (0..10)
        .map(|_| {
            stack
                .get(stack.http, "/api/auth/login", &["--data", "{}"])
                .status
        })
        .collect();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(
        statuses.contains(&429),
        "10 quick login attempts must hit the limit (10/min, burst 5): {statuses:?}"
    );
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        stack.seen(|r| r.target == "/api/auth/login"),
        10 - refused,
        "refused attempts must not reach the server"
    );
    assert_json_error(
        &stack.get(stack.http, "/api/auth/login", &["--data", "{}"]),
        429,
        "rate_limited",
    );
    // Other API routes have their own, larger budget.
    assert_eq!(stack.get(stack.http, "/api/listings", &[]).status, 200);
}

/// The subject of the certificate nginx serves on `port` (openssl s_client's `subject=` line).
fn served_subject(openssl: &Path, port: u16) -> String {
    let out = Command::new(openssl)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("subject=")
                .map(str::trim)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[test]
fn nginx_serves_tls_13_with_hsts_and_redirects_plain_http() {
    let Some(stack) = start_stack() else { return };
    let https_url = format!("https://127.0.0.1:{}/health", stack.https);

    let Some(openssl) = tool_or_skip("openssl", "openssl") else {
        return;
    };
    // The certificate in place at start is served.
    assert_eq!(served_subject(&openssl, stack.https), "CN = localhost");

    // A replaced certificate is read only at a reload (fixed paths): until then the old one
    // is served, then the new one, with no restart.
    install_pair(stack.dir.path(), &self_signed("renewed.localhost"));
    assert_eq!(curl(&stack.curl, &["-k", &https_url]).status, 200);
    assert_eq!(served_subject(&openssl, stack.https), "CN = localhost");
    stack.reload();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while served_subject(&openssl, stack.https) != "CN = renewed.localhost" {
        assert!(
            std::time::Instant::now() < deadline,
            "the reload never served the new certificate"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let secure = curl(&stack.curl, &["-k", &https_url]);
    assert_eq!(secure.status, 200, "HTTPS after the certificate appeared");
    assert_eq!(
        secure.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_eq!(secure.header("x-content-type-options"), Some("nosniff"));
    let proto = stack
        .upstream()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.target == "/health")
        .expect("upstream saw /health");
    assert_eq!(proto.header("x-forwarded-proto"), Some("https"));
    assert_eq!(
        curl(
            &stack.curl,
            &["-k", "--tlsv1.2", "--tls-max", "1.2", &https_url]
        )
        .status,
        0,
        "TLS 1.2 must be refused"
    );
    assert_eq!(
        stack.get(stack.https, "/metrics", &[]).status,
        400,
        "plain HTTP on the TLS port is refused"
    );

    // Port 80 (8081 in the container): redirect everything to HTTPS, except ACME challenges.
    let redirect = stack.get(stack.redirect, "/api/listings?page=2", &[]);
    assert_eq!(redirect.status, 308);
    assert_eq!(
        redirect.header("location"),
        Some("https://127.0.0.1/api/listings?page=2")
    );
    let challenge_dir = stack.dir.path().join("acme/.well-known/acme-challenge");
    std::fs::create_dir_all(&challenge_dir).unwrap();
    std::fs::write(challenge_dir.join("token-123"), "proof-123").unwrap();
    let challenge = stack.get(stack.redirect, "/.well-known/acme-challenge/token-123", &[]);
    assert_eq!(
        (challenge.status, challenge.body.as_str()),
        (200, "proof-123")
    );
    assert_eq!(
        stack.seen(|r| r.target.contains("acme") || r.target.contains("page=2")),
        0
    );
}

#[test]
fn nginx_answers_json_502_while_the_server_is_down() {
    let Some(mut stack) = start_stack() else {
        return;
    };
    assert_eq!(stack.get(stack.http, "/api/listings", &[]).status, 200);
    drop(stack.upstream.take());
    assert_json_error(
        &stack.get(stack.http, "/api/listings", &[]),
        502,
        "upstream_unavailable",
    );
    assert_json_error(
        &stack.get(stack.http, "/health", &[]),
        502,
        "upstream_unavailable",
    );
}

/// The server's internal /ready body: check details naming internal hosts and the runner id.
const READY_DETAILS: &str = r#"{"status":"not_ready","checks":{"database":{"status":"ok","detail":"12 schema objects","latency_ms":1},"wallet_rpc_buyer":{"status":"error","detail":"get_version: cannot reach the RPC server (is it running?): error sending request for url (http://wallet-rpc-buyer:18083/json_rpc)","latency_ms":3}},"escrow_runner":{"runner_id":"mmkt-host-7-1b2c","lease_held":true,"state":"running","jobs_in_flight":0}}"#;

/// A stack whose upstream answers `/ready` with [`READY_DETAILS`] and the status in the returned
/// cell (200 at first), everything else with `200 ok`.
fn start_stack_with_ready() -> Option<(Stack, Arc<AtomicU16>)> {
    let ready_status = Arc::new(AtomicU16::new(200));
    let status = Arc::clone(&ready_status);
    let stack = start_stack_with(
        move || {
            RecordingServer::start_answering(Box::new(move |request| {
                if request.target != "/ready" {
                    return Answer::ok();
                }
                Answer {
                    status: status.load(Ordering::SeqCst),
                    content_type: "application/json",
                    body: READY_DETAILS.to_owned(),
                }
            }))
            .expect("start upstream")
        },
        None,
    )?;
    Some((stack, ready_status))
}

/// Asserts that a public answer carries none of the internal names behind nginx.
fn assert_names_no_internal_host(stack: &Stack, what: &str, response: &Response) {
    let upstream = format!("127.0.0.1:{}", stack.upstream_port);
    for internal in [
        upstream.as_str(),
        "server:8080",
        "wallet-rpc",
        "mmkt-host",
        "nginx/1.",
    ] {
        assert!(
            !response.body.contains(internal),
            "{what} ({}) names {internal:?}: {}",
            response.status,
            response.body
        );
        assert!(
            response.headers.iter().all(|(_, v)| !v.contains(internal)),
            "{what} headers name {internal:?}: {:?}",
            response.headers
        );
    }
}

#[test]
fn nginx_answers_public_ready_with_its_verdict_only() {
    let Some((mut stack, ready_status)) = start_stack_with_ready() else {
        return;
    };
    let ready = stack.get(stack.http, "/ready", &[]);
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_names_no_internal_host(&stack, "ready /ready", &ready);
    assert!(!ready.body.contains("checks"), "{}", ready.body);
    assert_eq!(
        stack.seen(|r| r.target == "/ready" && r.method == "GET" && r.body.is_empty()),
        1,
        "nginx asked the server's /ready"
    );

    ready_status.store(503, Ordering::SeqCst);
    let not_ready = stack.get(stack.http, "/ready", &[]);
    assert_eq!(
        (not_ready.status, not_ready.body.as_str()),
        (503, r#"{"status":"not_ready"}"#)
    );
    assert_eq!(not_ready.header("content-type"), Some("application/json"));
    assert_eq!(not_ready.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(stack.seen(|r| r.target == "/ready"), 2);
    // The subrequest's location is not reachable from outside.
    let probe = stack.get(stack.http, "/.mmkt-ready", &[]);
    assert_eq!(probe.status, 404, "{}", probe.body);
    assert_eq!(stack.seen(|r| r.target == "/ready"), 2);

    drop(stack.upstream.take());
    let down = stack.get(stack.http, "/ready", &[]);
    assert_eq!(
        (down.status, down.body.as_str()),
        (503, r#"{"status":"not_ready"}"#)
    );
}

#[test]
fn nginx_error_texts_name_no_internal_host() {
    let Some((mut stack, ready_status)) = start_stack_with_ready() else {
        return;
    };
    ready_status.store(503, Ordering::SeqCst);
    let big_body = stack.dir.path().join("big.json");
    std::fs::write(&big_body, vec![b'a'; 70_000]).unwrap();
    let big_body = format!("@{}", big_body.display());
    let long_path = format!("/api/{}", "a".repeat(9_000));
    let big_header = format!("X-Padding: {}", "b".repeat(9_000));
    let cases: Vec<(&str, String, Vec<&str>, u16)> = vec![
        ("unknown path", "/nope".into(), vec![], 404),
        (
            "body over 64 KiB",
            "/api/listings".into(),
            vec!["--data-binary", &big_body],
            413,
        ),
        ("URI too long", long_path.clone(), vec![], 414),
        (
            "header too large",
            "/api/listings".into(),
            vec!["-H", &big_header],
            400,
        ),
        ("not ready", "/ready".into(), vec![], 503),
    ];
    let mut answers = Vec::new();
    for (what, path, args, status) in &cases {
        let response = stack.get(stack.http, path, args);
        assert_eq!(response.status, *status, "{what}: {}", response.body);
        answers.push((*what, response));
    }
    drop(stack.upstream.take());
    for (what, path) in [("server down", "/api/listings"), ("server down", "/health")] {
        let response = stack.get(stack.http, path, &[]);
        assert_eq!(response.status, 502, "{what}: {}", response.body);
        answers.push((what, response));
    }
    for (what, response) in &answers {
        assert_names_no_internal_host(&stack, what, response);
    }
}

/// A recording server that keeps connections alive (as the server's hyper does), so the
/// connections it accepts count what nginx reuses.
fn keepalive_server() -> RecordingServer {
    RecordingServer::start_with(Box::new(|_| Answer::ok()), Connections::KeepAlive)
        .expect("start keep-alive upstream")
}

fn loopback(server: &RecordingServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// Sends `count` requests to `/health?keepalive-{tag}-{i}` (a location without a rate limit),
/// each answered 200.
fn send_requests(stack: &Stack, tag: &str, count: usize) {
    for i in 0..count {
        let path = format!("/health?keepalive-{tag}-{i}");
        assert_eq!(stack.get(stack.http, &path, &[]).status, 200, "{path}");
    }
}

/// Polls (generous timeout) until a request sent after a reload reaches `server`.
fn wait_until_served_by(stack: &Stack, server: &RecordingServer, tag: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for i in 0.. {
        let path = format!("/health?switch-{tag}-{i}");
        stack.get(stack.http, &path, &[]);
        if server.requests().iter().any(|r| r.target == path) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after the reload no request reached the {tag} upstream"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_pinned_container_gets_kept_alive_connections_and_reloads_switch_the_pin() {
    let Some(stack) = start_stack_with(keepalive_server, None) else {
        return;
    };
    let service = stack.upstream();

    // Unpinned (an empty pin directory): the service name, resolved per request, gets one
    // connection per request even from an upstream that would keep it open.
    let before = service.connections_accepted();
    send_requests(&stack, "service", 10);
    assert_eq!(service.connections_accepted() - before, 10);

    // A deploy pins a container by address and reloads: new requests go there, over
    // connections nginx keeps and reuses.
    let green = keepalive_server();
    write_pin(stack.dir.path(), stack.relay, pinned(loopback(&green)));
    stack.reload();
    wait_until_served_by(&stack, &green, "green");
    send_requests(&stack, "green", 40);
    let reached = green
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/health?keepalive-green-"))
        .count();
    assert_eq!(reached, 40, "every request reached the pinned container");
    assert!(
        green.connections_accepted() <= 10,
        "{} connections for {} requests: not reused",
        green.connections_accepted(),
        green.requests().len()
    );
    // The client headers and the hop-by-hop rules still hold on kept-alive connections.
    let seen = green
        .requests()
        .into_iter()
        .find(|r| r.target == "/health?keepalive-green-0")
        .unwrap();
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("connection"), None, "{:?}", seen.headers);
    stack.assert_logged_request_id(&seen);
    stack.get(stack.http, "/ws", &WS_HEADERS);
    let ws = green
        .requests()
        .into_iter()
        .find(|r| r.target == "/ws")
        .expect("the pinned container saw /ws");
    assert_eq!(ws.header("upgrade"), Some("websocket"));
    assert_eq!(ws.header("connection"), Some("upgrade"));

    // Unpinned again (the deploy's last reload): back on the service name.
    write_pin(stack.dir.path(), stack.relay, Upstream::Service);
    stack.reload();
    wait_until_served_by(&stack, service, "service-again");
}

/// The WebSocket handshake headers a browser sends.
const WS_HEADERS: [&str; 8] = [
    "-H",
    "Upgrade: websocket",
    "-H",
    "Connection: Upgrade",
    "-H",
    "Sec-WebSocket-Version: 13",
    "-H",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
];

#[test]
fn a_pinned_container_that_is_down_fails_over_to_the_relay() {
    // Pinned to an address nobody listens on: every request goes through the relay to the
    // service name (here the recording upstream).
    let dead = SocketAddr::from(([127, 0, 0, 1], free_loopback_port()));
    let Some(mut stack) = start_stack_with(
        || RecordingServer::start().expect("start upstream"),
        Some(dead),
    ) else {
        return;
    };
    let https = format!("https://127.0.0.1:{}/api/relayed?via=https", stack.https);
    let answer = curl(
        &stack.curl,
        &["-k", "-H", "X-Forwarded-For: 203.0.113.9", &https],
    );
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    // The security headers once (the public server's), not once per hop.
    assert_eq!(
        answer
            .headers
            .iter()
            .filter(|(n, _)| n == "x-content-type-options")
            .count(),
        1,
        "{:?}",
        answer.headers
    );
    let seen = stack
        .upstream()
        .requests()
        .into_iter()
        .find(|r| r.target == "/api/relayed?via=https")
        .expect("the relay passed the request on");
    // The public server's client headers, passed on unchanged by the relay.
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("host"), Some("127.0.0.1"));
    assert_eq!(seen.header("connection"), None, "{:?}", seen.headers);
    stack.assert_logged_request_id(&seen);

    // Bodies, /ready and the WebSocket upgrade go through the relay too.
    assert_eq!(
        stack
            .get(stack.http, "/api/relayed-post", &["--data", "{\"a\":1}"])
            .status,
        200
    );
    assert_eq!(
        stack.seen(|r| r.target == "/api/relayed-post" && r.body == b"{\"a\":1}"),
        1
    );
    let ready = stack.get(stack.http, "/ready", &[]);
    assert_eq!((ready.status, ready.body.as_str()), (200, "ok"));
    stack.get(stack.http, "/ws", &WS_HEADERS);
    let ws = stack
        .upstream()
        .requests()
        .into_iter()
        .find(|r| r.target == "/ws")
        .expect("the relay passed /ws on");
    assert_eq!(ws.header("upgrade"), Some("websocket"));
    assert_eq!(ws.header("connection"), Some("upgrade"));

    // The service down as well: the relay's JSON 502, passed through; /ready not ready.
    drop(stack.upstream.take());
    let down = stack.get(stack.http, "/api/listings", &[]);
    assert_json_error(&down, 502, "upstream_unavailable");
    assert_names_no_internal_host(&stack, "relay down", &down);
    let ready = stack.get(stack.http, "/ready", &[]);
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (503, r#"{"status":"not_ready"}"#)
    );
}

/// The `proxy_connect_timeout` values of the shipped config, in order (seconds).
fn connect_timeouts() -> Vec<u64> {
    std::fs::read_to_string(nginx_conf())
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("proxy_connect_timeout "))
        .map(|v| {
            v.trim_end_matches(';')
                .strip_suffix('s')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("proxy_connect_timeout {v}: not in seconds"))
        })
        .collect()
}

#[test]
fn a_stale_pin_to_an_address_that_drops_connections_fails_over_after_a_short_timeout() {
    // nginx has no per-upstream-server connect timeout: the public server's (http level, the
    // first) bounds the pinned hop and is short; the relay's (the second) is its own.
    let timeouts = connect_timeouts();
    assert_eq!(timeouts.len(), 2, "{timeouts:?}");
    assert!(
        (1..=3).contains(&timeouts[0]),
        "the pinned hop's connect timeout is {} s: a stale pin would hold requests that long",
        timeouts[0]
    );
    // Pinned to an address whose SYNs are dropped (the IP of a container recreated outside
    // mmctl): without a connect timeout a request would wait for the kernel's retries.
    let hole = BlackHole::start().expect("black hole listener");
    let Some(stack) = start_stack_with(
        || RecordingServer::start().expect("start upstream"),
        Some(hole.addr()),
    ) else {
        return;
    };
    // Every worker's first request waits out the connect timeout, then takes the relay; later
    // ones skip the address for the fail timeout. Each answers well within curl's limit.
    for i in 0..6 {
        let path = format!("/api/stale-pin?{i}");
        let answer = stack.get(stack.http, &path, &["--max-time", "20"]);
        assert_eq!((answer.status, answer.body.as_str()), (200, "ok"), "{path}");
        assert_eq!(stack.seen(|r| r.target == path), 1, "{path} via the relay");
    }
    // The pinned hop timed out on connect (it was dropped, not refused), as nginx logged.
    let log = std::fs::read_to_string(stack.dir.path().join("nginx.log")).unwrap();
    let hole = hole.addr().to_string();
    assert!(
        log.lines().any(|l| l.contains("timed out")
            && l.contains("while connecting to upstream")
            && l.contains(&hole)),
        "no connect timeout to {hole} in the log:\n{log}"
    );
}
