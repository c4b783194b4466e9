//! A real SMTP server on loopback for delivery tests: PyPI's aiosmtpd (pinned in
//! scripts/python-tools.txt) run by a small script that requires STARTTLS (with a certificate
//! for `127.0.0.1` that openssl makes in the test's directory) and AUTH PLAIN with one user
//! (aiosmtpd's LOGIN challenges are not the `Username:` Alertmanager expects, so it is not
//! offered), and appends every accepted message to a file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{ChildGuard, free_loopback_port, wait_ready};

/// The server: aiosmtpd's `Controller` with STARTTLS and AUTH required before MAIL, and a
/// handler that appends `AUTH <login>`, `RCPT <addresses>` and the raw message (then a line
/// `.`) to the spool file. Arguments: port, certificate, key, user, password, spool file.
const SERVER: &str = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, cert, key, user, password, spool = sys.argv[1:]

def authenticate(server, session, envelope, mechanism, data):
    ok = data.login == user.encode() and data.password == password.encode()
    return AuthResult(success=ok, auth_data=data)

class Spool:
    async def handle_DATA(self, server, session, envelope):
        with open(spool, "ab") as f:
            f.write(b"AUTH " + session.auth_data.login + b"\n")
            f.write(("RCPT " + ",".join(envelope.rcpt_tos) + "\n").encode())
            f.write(envelope.original_content + b"\n.\n")
        return "250 OK"

tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
controller = Controller(Spool(), hostname="127.0.0.1", port=int(port), tls_context=tls,
                        require_starttls=True, authenticator=authenticate, auth_required=True,
                        auth_require_tls=True, auth_exclude_mechanism=["LOGIN"])
controller.start()
print("listening", flush=True)
while True:
    time.sleep(3600)
"#;

/// A running SMTP server (stopped on drop).
#[derive(Debug)]
pub struct SmtpServer {
    _child: ChildGuard,
    port: u16,
    cert: PathBuf,
    spool: PathBuf,
}

impl SmtpServer {
    /// Starts the server in `dir` (certificate, key, script, log and spool go there) with the
    /// Python interpreter of the `aiosmtpd` command at `aiosmtpd` (its shebang), accepting
    /// `user`/`password` only.
    ///
    /// # Panics
    /// When openssl or the server fails, with their output.
    pub fn start(aiosmtpd: &Path, openssl: &Path, dir: &Path, user: &str, password: &str) -> Self {
        let script = std::fs::read_to_string(aiosmtpd).expect("read the aiosmtpd command");
        let python = script
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map(str::trim)
            .expect("the aiosmtpd command starts with a #! line naming its python");
        let (cert, key) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
        let made = Command::new(openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(made.status.success(), "openssl: {made:?}");
        let server = dir.join("smtp-server.py");
        std::fs::write(&server, SERVER).expect("write the SMTP server script");
        let port = free_loopback_port();
        let spool = dir.join("smtp-spool.txt");
        let log = dir.join("smtp.log");
        let mut child = ChildGuard::spawn(
            "aiosmtpd",
            Command::new(python)
                .arg(&server)
                .arg(port.to_string())
                .args([&cert, &key])
                .args([user, password])
                .arg(&spool),
            &log,
        )
        .expect("spawn the SMTP server");
        wait_ready(&mut child, || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening"))
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()));
        Self {
            _child: child,
            port,
            cert,
            spool,
        }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its self-signed certificate (PEM), for a client's trust store (`SSL_CERT_FILE`).
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// Polls every 200 ms, until `within` has passed, for an accepted message whose recorded
    /// text (see the server's description) contains `needle`; returns the whole spool then.
    pub fn wait_for(&self, within: Duration, needle: &str) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let spool = std::fs::read_to_string(&self.spool).unwrap_or_default();
            if spool.contains(needle) {
                return Some(spool);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
