//! `mmctl tls` against a real nginx: a project of the nginx service alone (the project image,
//! the shipped deploy/nginx/nginx.conf, HTTPS published on a loopback port). `mmctl up` writes
//! the self-signed bootstrap certificate so nginx starts; a certificate that expires in 2 days
//! is installed; refused inputs (a key that is not the certificate's, an expired certificate, a
//! configuration `nginx -t` refuses) exit 47/47/48 and leave the served certificate as it was;
//! then `mmctl tls renew --from` replaces it while two HTTPS clients (one keep-alive
//! connection, one new connection per request) keep asking: no request fails, new connections
//! get the new certificate, and `tls status` shows its expiry. certbot cannot reach an ACME
//! server here, so the pair comes from the test (the install and reload path is the same), and
//! the certbot run itself is checked to fail cleanly (exit 49, nothing changed).

mod harness;
mod stack_harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mmkt_stack::tls::{PemPair, SelfSigned, inspect_chain, self_signed, sha256_hex};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use stack_harness::{Images, compose_file, docker_lines, run, up_file, with_docker};

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A self-signed pair for localhost valid from a minute ago until `now + secs`.
fn pair(secs: i64) -> PemPair {
    self_signed(&SelfSigned {
        server_name: "localhost".into(),
        not_before: now() - 60,
        not_after: now() + secs,
    })
    .unwrap()
}

fn fingerprint(p: &PemPair) -> String {
    inspect_chain(&p.chain, now()).unwrap().sha256
}

/// Writes `cert` and `key` into `dir` under `name`; returns both paths as strings.
fn files(dir: &Path, name: &str, cert: &[u8], key: &[u8]) -> (String, String) {
    let c = dir.join(format!("{name}.pem"));
    let k = dir.join(format!("{name}.key"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    (c.display().to_string(), k.display().to_string())
}

/// The test accepts any server certificate: it reads which one is served, it does not trust it.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

type Tls = BufReader<StreamOwned<ClientConnection, TcpStream>>;

/// One TLS connection to nginx; returns it with the served leaf's SHA-256.
fn connect(config: &Arc<ClientConfig>, port: u16) -> std::io::Result<(Tls, String)> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let conn = ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    let leaf = stream
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| sha256_hex(c.as_ref()))
        .unwrap_or_default();
    Ok((BufReader::new(stream), leaf))
}

/// One `GET /metrics` (nginx answers it itself: 404 JSON); returns the status and whether
/// nginx keeps the connection open.
fn get(tls: &mut Tls, close: bool) -> std::io::Result<(u16, bool)> {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    tls.get_mut().write_all(request.as_bytes())?;
    tls.get_mut().flush()?;
    let mut status_line = String::new();
    if tls.read_line(&mut status_line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let (mut length, mut keep) = (0usize, !close);
    loop {
        let mut line = String::new();
        tls.read_line(&mut line)?;
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "connection: close" {
            keep = false;
        }
    }
    let mut body = vec![0; length];
    tls.read_exact(&mut body)?;
    Ok((status, keep))
}

/// What the clients counted.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Requests resent once on a new connection because nginx had closed the idle
    /// keep-alive connection they were written to (RFC 9112 9.3.1 lets clients retry a GET).
    retried: AtomicU64,
    errors: Mutex<Vec<String>>,
    /// The leaf served on the latest new connection.
    latest_leaf: Mutex<String>,
}

impl Counts {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        self.errors.lock().unwrap().push(what);
    }
}

/// Requests on one connection, reconnecting when nginx closes it (after a reload, or at its
/// keep-alive request limit).
fn keep_alive_client(port: u16, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let config = tls_config();
    let mut conn: Option<Tls> = None;
    while !stop.load(Ordering::SeqCst) {
        let reused = conn.is_some();
        let mut tls = match conn.take() {
            Some(tls) => tls,
            None => match connect(&config, port) {
                Ok((tls, _)) => tls,
                Err(e) => {
                    counts.fail(format!("keep-alive connect: {e}"));
                    continue;
                }
            },
        };
        let answer = match get(&mut tls, false) {
            Err(_) if reused => {
                counts.retried.fetch_add(1, Ordering::SeqCst);
                connect(&config, port).and_then(|(mut fresh, _)| {
                    let answer = get(&mut fresh, false);
                    tls = fresh;
                    answer
                })
            }
            other => other,
        };
        match answer {
            Ok((404, keep)) => {
                counts.ok.fetch_add(1, Ordering::SeqCst);
                if keep {
                    conn = Some(tls);
                }
            }
            Ok((status, _)) => counts.fail(format!("keep-alive: status {status}")),
            Err(e) => counts.fail(format!("keep-alive: {e}")),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One new connection per request, recording the leaf each one is served.
fn new_connection_client(port: u16, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let config = tls_config();
    while !stop.load(Ordering::SeqCst) {
        match connect(&config, port).and_then(|(mut tls, leaf)| Ok((get(&mut tls, true)?, leaf))) {
            Ok(((404, _), leaf)) => {
                counts.ok.fetch_add(1, Ordering::SeqCst);
                *counts.latest_leaf.lock().unwrap() = leaf;
            }
            Ok(((status, _), _)) => counts.fail(format!("new connection: status {status}")),
            Err(e) => counts.fail(format!("new connection: {e}")),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The leaf a new connection is served now.
fn served(port: u16) -> String {
    connect(&tls_config(), port).expect("TLS handshake").1
}

fn status_json(project: &str, file: &str) -> serde_json::Value {
    run(&["tls", "status", "-p", project, "--file", file, "--json"])
        .assert_exit(0)
        .json()
}

fn compose(conf: &Path, port: u16) -> String {
    format!(
        r#"services:
  nginx:
    image: mmkt/nginx:latest
    user: www-data
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    volumes:
      - {conf}:/etc/nginx/nginx.conf:ro
      - tls-certs:/etc/nginx/tls:ro
      - acme-webroot:/var/www/acme:ro
      - nginx-upstream:/etc/nginx/mmkt
    tmpfs:
      - /tmp:size=16m,mode=1777
    networks: [frontend]
    ports:
      - "127.0.0.1:{port}:8443"
    healthcheck:
      test: ["CMD", "curl", "-sS", "--max-time", "2", "-o", "/dev/null", "http://127.0.0.1:8081/"]
      interval: 1s
      retries: 30
    mem_limit: 128m
    pids_limit: 64
  certbot:
    image: mmkt/certbot:latest
    profiles: [tls]
    user: www-data
    read_only: true
    environment:
      # No ACME server is reachable from tests: fail at once instead of waiting for a timeout.
      HTTPS_PROXY: http://127.0.0.1:9
    volumes:
      - letsencrypt:/etc/letsencrypt
      - acme-webroot:/var/www/acme
    tmpfs:
      - /tmp:size=16m,mode=1777
    networks: [frontend]
    mem_limit: 128m
networks:
  frontend: {{}}
volumes:
  tls-certs: {{}}
  acme-webroot: {{}}
  nginx-upstream: {{}}
  letsencrypt: {{}}
"#,
        conf = conf.display()
    )
}

#[test]
fn renew_replaces_an_expiring_certificate_without_a_dropped_request() {
    with_docker("tls", Images::Built, |t| {
        let project = t.guard.project().to_string();
        let port = mmkt_repo_tests::process::free_loopback_port();
        let conf = stack_harness::workspace_root().join("deploy/nginx/nginx.conf");
        let file = compose_file(t.dir.path(), &compose(&conf, port));
        let file_s = file.display().to_string();
        let p = project.as_str();
        let f = file_s.as_str();

        // A fresh host: no certificate, so `up` writes the self-signed one and nginx starts.
        let up = up_file(p, &file, 0);
        assert!(
            up.stdout()
                .contains("self-signed certificate for localhost written"),
            "{}",
            up.stdout()
        );
        let boot = status_json(p, f);
        assert_eq!(boot["self_signed"], true, "{boot}");
        assert_eq!(boot["subject"], "CN=localhost");
        assert_eq!(served(port), boot["sha256"].as_str().unwrap());

        // A certificate expiring in 2 days is installed.
        let old = pair(2 * DAY);
        let (old_cert, old_key) = files(t.dir.path(), "old", &old.chain, &old.key);
        run(&[
            "tls", "renew", "-p", p, "--file", f, "--from", &old_cert, "--key", &old_key,
        ])
        .assert_exit(0)
        .assert_stdout_contains("nginx reloaded");
        let installed = status_json(p, f);
        assert_eq!(installed["sha256"], fingerprint(&old).as_str());
        // Two days from its start: whole days left are 1 or 2 depending on the seconds the
        // renewal took against the certificate's validity margin.
        assert!(
            matches!(installed["days_left"].as_u64(), Some(1 | 2)),
            "{installed}"
        );
        wait_served(port, &fingerprint(&old));

        // Refused inputs change nothing: the served certificate and the volume stay the old one.
        let new = pair(90 * DAY);
        let stranger = pair(90 * DAY);
        let expired = self_signed(&SelfSigned {
            server_name: "localhost".into(),
            not_before: now() - 3 * DAY,
            not_after: now() - DAY,
        })
        .unwrap();
        let (new_cert, new_key) = files(t.dir.path(), "new", &new.chain, &new.key);
        let (_, stranger_key) = files(t.dir.path(), "stranger", &stranger.chain, &stranger.key);
        let (expired_cert, expired_key) =
            files(t.dir.path(), "expired", &expired.chain, &expired.key);
        let renew_from = |cert: &str, key: &str| {
            run(&[
                "tls", "renew", "-p", p, "--file", f, "--from", cert, "--key", key,
            ])
        };
        renew_from(&new_cert, &stranger_key)
            .assert_exit(47)
            .assert_stderr_contains("does not belong to the certificate");
        renew_from(&expired_cert, &expired_key)
            .assert_exit(47)
            .assert_stderr_contains("expired");
        // A configuration nginx -t refuses (a broken include) makes the renewal put the old
        // certificate back without a reload.
        let nginx = docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={p}"),
        ]);
        let nginx = nginx.first().expect("the nginx container");
        docker_lines(&[
            "exec",
            nginx,
            "sh",
            "-c",
            "echo 'broken' > /etc/nginx/mmkt/zz-broken.conf",
        ]);
        renew_from(&new_cert, &new_key)
            .assert_exit(48)
            .assert_stderr_contains("nginx -t refused");
        docker_lines(&["exec", nginx, "rm", "/etc/nginx/mmkt/zz-broken.conf"]);
        assert_eq!(status_json(p, f)["sha256"], fingerprint(&old).as_str());
        assert_eq!(served(port), fingerprint(&old));

        // The renewal under load: two clients ask all along; not one request fails.
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let clients: Vec<_> = [keep_alive_client, new_connection_client]
            .into_iter()
            .map(|client| {
                let (stop, counts) = (stop.clone(), counts.clone());
                std::thread::spawn(move || client(port, stop, counts))
            })
            .collect();
        wait_for(
            || counts.ok.load(Ordering::SeqCst) >= 20,
            "requests before the renewal",
        );
        renew_from(&new_cert, &new_key)
            .assert_exit(0)
            .assert_stdout_contains("replaced CN=localhost");
        let target = fingerprint(&new);
        wait_for(
            || *counts.latest_leaf.lock().unwrap() == target,
            "a new connection served the new certificate",
        );
        let after = counts.ok.load(Ordering::SeqCst);
        wait_for(
            || counts.ok.load(Ordering::SeqCst) >= after + 20,
            "requests after the reload",
        );
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
        let errors = counts.errors.lock().unwrap().clone();
        assert_eq!(
            counts.failed.load(Ordering::SeqCst),
            0,
            "failed requests during the renewal: {errors:?}"
        );
        eprintln!(
            "{} requests answered, {} resent after nginx closed an idle keep-alive connection",
            counts.ok.load(Ordering::SeqCst),
            counts.retried.load(Ordering::SeqCst)
        );
        let renewed = status_json(p, f);
        assert_eq!(renewed["sha256"], target.as_str());
        assert_eq!(
            renewed["not_after"],
            inspect_chain(&new.chain, now()).unwrap().not_after
        );
        assert_eq!(renewed["self_signed"], true);
        assert!(renewed["days_left"].as_i64().unwrap() >= 89, "{renewed}");

        // certbot runs in its one-shot container (here with no way to Let's Encrypt): exit 49
        // with its own output, the container gone, the certificate unchanged.
        run(&["tls", "renew", "-p", p, "--file", f, "--force"])
            .assert_exit(49)
            .assert_stderr_contains("certbot failed");
        assert_eq!(status_json(p, f)["sha256"], target.as_str());
        let running = docker_lines(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={p}"),
        ]);
        assert_eq!(running.len(), 1, "only nginx is left: {running:?}");
    });
}

fn wait_served(port: u16, fingerprint: &str) {
    wait_for(
        || served(port) == fingerprint,
        "nginx served the installed certificate",
    );
}

/// Polls `done` every 50 ms for up to 60 s.
#[track_caller]
fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
