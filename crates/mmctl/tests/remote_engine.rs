//! Remote engines: the real `mmctl` binary against a second, real dockerd that the test starts
//! on this machine (own data root, `--tlsverify` TCP listener on 127.0.0.1) with certificates
//! made at test time; the engine named by the environment's MMKT_DOCKER_HOST, `--docker-host`
//! winning over it; and the exit code 3 with a message that says what to check when a
//! certificate is refused, the engine does not answer, or ssh fails.

mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::{Mmctl, Output};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use test_support::docker::{PROJECT_LABEL, ProjectGuard, docker_available, unique_project};
use test_support::dockerd::{DaemonTls, SecondDockerd};

/// A certificate authority made for one test.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf certificate and its key (PEM), for a server (`names` as SANs) or a client.
    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mmkt test");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Every file of one test: the engine's TLS files and client directories in the
/// DOCKER_CERT_PATH layout (ca.pem, cert.pem, key.pem).
struct Pki {
    dir: tempfile::TempDir,
    daemon: DaemonTls,
}

impl Pki {
    /// The engine's CA and certificate (for 127.0.0.1), and three client directories: `good`
    /// (client certificate of the engine's CA), `foreign-client` (client certificate of
    /// another CA), `foreign-ca` (a good client certificate, but trusting another CA for the
    /// engine's certificate).
    fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("mmkt-pki-")
            .tempdir()
            .unwrap();
        let engine_ca = Ca::new("mmkt engine CA");
        let other_ca = Ca::new("some other CA");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        };
        let (server_cert, server_key) = engine_ca.leaf(
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let daemon = DaemonTls {
            ca: write("engine/ca.pem", &engine_ca.pem),
            cert: write("engine/server-cert.pem", &server_cert),
            key: write("engine/server-key.pem", &server_key),
        };
        let client = |ca: &Ca| ca.leaf(&[], ExtendedKeyUsagePurpose::ClientAuth);
        let clients = [
            ("good", &engine_ca.pem, client(&engine_ca)),
            ("foreign-client", &engine_ca.pem, client(&other_ca)),
            ("foreign-ca", &other_ca.pem, client(&engine_ca)),
        ];
        for (name, trusted, (cert, key)) in clients {
            write(&format!("{name}/ca.pem"), trusted);
            write(&format!("{name}/cert.pem"), &cert);
            write(&format!("{name}/key.pem"), &key);
        }
        Pki { dir, daemon }
    }

    /// The DOCKER_CERT_PATH directory of client `name`.
    fn client(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The PKI and the second engine, or `None` when dockerd cannot run here (a failure instead
/// under MMKT_REQUIRE_SERVICES=1).
fn start_engine() -> Option<(Pki, SecondDockerd)> {
    let pki = Pki::new();
    let engine = SecondDockerd::start_or_skip(&pki.daemon)?;
    Some((pki, engine))
}

/// mmctl with TLS on from the client directory `cert_dir`.
fn tls_mmctl(cert_dir: &Path) -> Mmctl {
    Mmctl::new()
        .env("DOCKER_CERT_PATH", cert_dir)
        .env("DOCKER_TLS_VERIFY", "1")
}

/// The docker CLI against `host` (the second engine's plain unix socket; `None`: the
/// machine's engine), as an observer independent of mmctl.
fn docker(host: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new("docker");
    if let Some(host) = host {
        cmd.arg("-H").arg(host);
    }
    let out = cmd
        .args(args)
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker (engine {host:?}) {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of the volumes labelled with `project` on `host`.
fn project_volumes(host: Option<&str>, project: &str) -> Vec<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    docker(host, &["volume", "ls", "-q", "--filter", &filter])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A TCP port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[track_caller]
fn assert_stderr_has(out: &Output, needles: &[&str]) {
    for needle in needles {
        assert!(
            out.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            out.stderr()
        );
    }
}

#[test]
fn a_tls_engine_is_driven_with_good_certificates_and_refuses_wrong_ones_clearly() {
    let Some((pki, engine)) = start_engine() else {
        return;
    };
    let tcp = engine.tcp_host();
    let project = unique_project("mmctl-remote");
    // The same labelled volume on the second engine and, when it runs, on the machine's
    // engine: `down --volumes` over TLS must remove the remote one only.
    let (label, volume) = (
        format!("{PROJECT_LABEL}={project}"),
        format!("{project}_data"),
    );
    let create_volume = ["volume", "create", "--label", &label, &volume];
    let remote = engine.unix_host();
    docker(Some(&remote), &create_volume);
    let local = docker_available().then(|| {
        let guard = ProjectGuard::new(&project);
        docker(None, &create_volume);
        guard
    });

    let out = tls_mmctl(&pki.client("good"))
        .args([
            "--docker-host",
            &tcp,
            "down",
            "--volumes",
            "--json",
            "-p",
            &project,
        ])
        .run()
        .assert_exit(0);
    let report: serde_json::Value = out.json();
    assert!(
        report.to_string().contains(&volume),
        "the report names the removed volume: {report}"
    );
    assert!(
        project_volumes(Some(&remote), &project).is_empty(),
        "removed on the remote engine"
    );
    if let Some(guard) = &local {
        assert_eq!(
            guard.volume_names(),
            std::slice::from_ref(&volume),
            "the local engine is untouched"
        );
    }
    tls_mmctl(&pki.client("good"))
        .args(["--docker-host", &tcp, "status", "-p", &project])
        .run()
        .assert_exit(0)
        .assert_stdout_contains("missing");

    // A client certificate from another CA: the engine refuses the handshake.
    let out = tls_mmctl(&pki.client("foreign-client"))
        .args(["--docker-host", &tcp, "status", "-p", &project])
        .run()
        .assert_exit(3);
    assert_stderr_has(
        &out,
        &[
            &format!("cannot reach the Docker daemon at {tcp}"),
            "refused mmctl's client certificate",
            "cert.pem",
            "--tlscacert",
        ],
    );
    // mmctl trusting another CA: the engine's certificate is not accepted.
    let out = tls_mmctl(&pki.client("foreign-ca"))
        .args(["--docker-host", &tcp, "status", "-p", &project])
        .run()
        .assert_exit(3);
    assert_stderr_has(&out, &["the engine's certificate is not trusted", "ca.pem"]);
    // Plain HTTP to the TLS listener.
    let out = Mmctl::new()
        .args(["--docker-host", &tcp, "status", "-p", &project])
        .run()
        .assert_exit(3);
    assert_stderr_has(&out, &["the engine expects TLS", "DOCKER_TLS_VERIFY=1"]);
    // A key file that is not PEM.
    let broken = tempfile::tempdir().unwrap();
    for file in ["ca.pem", "cert.pem"] {
        std::fs::copy(pki.client("good").join(file), broken.path().join(file)).unwrap();
    }
    std::fs::write(broken.path().join("key.pem"), "not a key\n").unwrap();
    let out = tls_mmctl(broken.path())
        .args(["--docker-host", &tcp, "status", "-p", &project])
        .run()
        .assert_exit(3);
    assert_stderr_has(&out, &["unusable TLS files", "DOCKER_CERT_PATH"]);
    assert!(engine.pid().is_some(), "the engine ran throughout");
}

#[test]
fn the_environment_names_the_engine_and_docker_host_overrides_it() {
    let Some((pki, engine)) = start_engine() else {
        return;
    };
    let tcp = engine.tcp_host();
    let dead = format!("tcp://127.0.0.1:{}", closed_port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        "services:\n  app:\n    image: mmkt-test-remote/app:never\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("env")).unwrap();
    let env_file = |name: &str, host: &str| {
        std::fs::write(
            dir.path().join(format!("env/{name}.env")),
            format!("MMKT_DOCKER_HOST={host}\n"),
        )
        .unwrap();
    };
    env_file("remote", &tcp);
    env_file("gone", &dead);
    let project = unique_project("mmctl-envhost");
    let status = |env: &str| {
        tls_mmctl(&pki.client("good")).args([
            "status",
            "--file",
            file.to_str().unwrap(),
            "--env",
            env,
            "--json",
            "-p",
            &project,
        ])
    };

    // The environment's engine is used; a DOCKER_HOST pointing elsewhere is ignored, and said so.
    let out = status("remote")
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run()
        .assert_exit(0)
        .assert_stderr_contains("DOCKER_HOST=unix:///nonexistent.sock is ignored");
    let rows: Vec<serde_json::Value> = out.json();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "missing", "{rows:?}");
    // The process environment overrides the env file, as for every ${VARIABLE}.
    status("gone")
        .env("MMKT_DOCKER_HOST", &tcp)
        .run()
        .assert_exit(0);
    // The environment names an engine that does not answer: exit 3, naming it.
    status("gone")
        .run()
        .assert_exit(3)
        .assert_stderr_contains(&format!("cannot reach the Docker daemon at {dead}"));
    // --docker-host wins over the environment, both ways.
    status("gone")
        .args(["--docker-host", &tcp])
        .run()
        .assert_exit(0);
    status("remote")
        .args(["--docker-host", &dead])
        .run()
        .assert_exit(3)
        .assert_stderr_contains(&format!("cannot reach the Docker daemon at {dead}"));
}

#[test]
fn unreachable_engines_exit_3_and_say_what_to_check() {
    let dead = format!("tcp://127.0.0.1:{}", closed_port());
    let out = Mmctl::new()
        .args(["--docker-host", &dead, "status"])
        .run()
        .assert_exit(3);
    assert_stderr_has(
        &out,
        &[
            &format!("cannot reach the Docker daemon at {dead}: no answer"),
            "Is dockerd running",
            "MMKT_DOCKER_HOST",
            "DOCKER_HOST",
        ],
    );
    // The same over TLS (the handshake never starts).
    let pki = Pki::new();
    let out = tls_mmctl(&pki.client("good"))
        .args(["--docker-host", &dead, "status"])
        .run()
        .assert_exit(3);
    assert_stderr_has(&out, &["no answer", "Connection refused"]);
    // ssh through the local ssh client (non-interactive): no sshd listens on this machine's
    // port 22, and where one does, user nobody cannot log in without a prompt.
    let out = Mmctl::new()
        .args(["--docker-host", "ssh://nobody@127.0.0.1", "status"])
        .run()
        .assert_exit(3);
    assert_stderr_has(
        &out,
        &[
            "cannot reach the Docker daemon at ssh://nobody@127.0.0.1",
            "the ssh connection failed",
            "ssh USER@HOST docker version",
        ],
    );
    // ssh with a port in the URL is refused before anything runs, with what to do instead.
    Mmctl::new()
        .args(["--docker-host", "ssh://nobody@127.0.0.1:2222", "status"])
        .run()
        .assert_exit(2)
        .assert_stderr_contains("~/.ssh/config");
}
