//! Which Docker Engine to talk to and how: the endpoint (from `--docker-host`, the environment's
//! `MMKT_DOCKER_HOST`, `DOCKER_HOST`, else the local socket), its transport (unix socket, tcp
//! with TLS, ssh), and why a first request failed ([`ConnectFailure`]).

use std::path::{Path, PathBuf};

use bollard::Docker;

use super::error::{ConnectFailure, StackError, is_transport_error};
use super::interpolate::parse_env_file;

/// Default endpoint when no flag, environment or `DOCKER_HOST` names one.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The variable that names an environment's Docker Engine, read from the process environment,
/// else from the environment's env file (`deploy/env/NAME.env`). Empty means "not named".
pub const HOST_VARIABLE: &str = "MMKT_DOCKER_HOST";

/// Request timeout for Engine API calls, in seconds (builds stream for longer; the timeout
/// covers waiting for the response to start).
const REQUEST_TIMEOUT_SECS: u64 = 600;

/// TLS material for `tcp://` endpoints: `ca.pem`, `cert.pem`, `key.pem` in one directory
/// (the docker CLI's DOCKER_CERT_PATH layout).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Directory holding ca.pem, cert.pem and key.pem.
    pub cert_dir: PathBuf,
}

/// How to reach the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `unix:///path`, `tcp://host:port`, `https://host:port` or `ssh://user@host`.
    pub host: String,
    /// TLS files for tcp; `None` = plain HTTP (only sensible on a trusted link).
    pub tls: Option<TlsFiles>,
}

impl EngineConfig {
    /// Builds the config from an endpoint already chosen (`--docker-host` or the environment's
    /// [`HOST_VARIABLE`]), else `DOCKER_HOST`, else [`DEFAULT_HOST`], and the docker CLI's TLS
    /// variables: TLS is used for tcp when DOCKER_TLS_VERIFY is set or DOCKER_CERT_PATH is
    /// given, and always for https; DOCKER_CERT_PATH defaults to ~/.docker.
    pub fn from_host_and_env(host: Option<&str>) -> Self {
        let host = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let verify = std::env::var("DOCKER_TLS_VERIFY")
            .map(|v| !v.is_empty() && v != "0")
            .unwrap_or(false);
        let cert_path = std::env::var_os("DOCKER_CERT_PATH").map(PathBuf::from);
        let scheme = Scheme::of(&host);
        let wants_tls = verify || cert_path.is_some() || host.starts_with("https://");
        let tls = (scheme == Some(Scheme::Tcp) && wants_tls).then(|| {
            let cert_dir = cert_path.unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                    .join(".docker")
            });
            TlsFiles { cert_dir }
        });
        EngineConfig { host, tls }
    }
}

/// The engine an environment names: [`HOST_VARIABLE`] from the process environment when it
/// is set, else from `env_file` (when given); `None` when neither names one (absent or empty).
///
/// # Errors
/// [`StackError::Read`] / [`StackError::Invalid`] when the env file cannot be read or parsed.
pub fn environment_host(env_file: Option<&Path>) -> Result<Option<String>, StackError> {
    named_host(std::env::var_os(HOST_VARIABLE), env_file)
}

/// [`environment_host`] given the process environment's value of [`HOST_VARIABLE`].
fn named_host(
    process: Option<std::ffi::OsString>,
    env_file: Option<&Path>,
) -> Result<Option<String>, StackError> {
    if let Some(value) = process {
        return Ok(Some(value.to_string_lossy().into_owned()).filter(|v| !v.is_empty()));
    }
    let Some(path) = env_file else {
        return Ok(None);
    };
    let mut entries = parse_env_file(path)?;
    Ok(entries.remove(HOST_VARIABLE).filter(|v| !v.is_empty()))
}

/// The transports mmctl speaks, by endpoint scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `unix:///path/to/docker.sock`.
    Unix,
    /// `tcp://`, `http://` or `https://` (TLS when configured).
    Tcp,
    /// `ssh://user@host`, through the local `ssh` client and `docker system dial-stdio`.
    Ssh,
}

impl Scheme {
    /// The scheme of `host`, `None` for one mmctl does not speak.
    pub(crate) fn of(host: &str) -> Option<Scheme> {
        let (scheme, _) = host.split_once("://")?;
        match scheme {
            "unix" => Some(Scheme::Unix),
            "tcp" | "http" | "https" => Some(Scheme::Tcp),
            "ssh" => Some(Scheme::Ssh),
            _ => None,
        }
    }

    /// The failure of a transport that gave no answer: ssh's own, else [`ConnectFailure::NoAnswer`].
    pub(crate) fn silent_failure(self) -> ConnectFailure {
        match self {
            Scheme::Ssh => ConnectFailure::Ssh,
            Scheme::Unix | Scheme::Tcp => ConnectFailure::NoAnswer,
        }
    }
}

/// A client for `config` (no request sent yet) and its scheme.
///
/// # Errors
/// [`StackError::Invalid`] for an unsupported scheme or an ssh endpoint with a port;
/// [`StackError::Unreachable`] for a missing socket or missing/unreadable TLS files.
pub(crate) fn open(config: &EngineConfig) -> Result<(Docker, Scheme), StackError> {
    let endpoint = config.host.as_str();
    let version = bollard::API_DEFAULT_VERSION;
    let Some(scheme) = Scheme::of(endpoint) else {
        return Err(StackError::Invalid(format!(
            "unsupported Docker host {endpoint:?}: use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host"
        )));
    };
    let no_answer = |e: bollard::errors::Error| {
        StackError::unreachable(endpoint, ConnectFailure::NoAnswer, e.to_string())
    };
    let tls_files =
        |reason: String| StackError::unreachable(endpoint, ConnectFailure::TlsFiles, reason);
    let docker = match (scheme, &config.tls) {
        (Scheme::Unix, _) => {
            let path = endpoint.trim_start_matches("unix://");
            if !Path::new(path).exists() {
                return Err(StackError::unreachable(
                    endpoint,
                    ConnectFailure::NoAnswer,
                    format!("socket {path} does not exist"),
                ));
            }
            Docker::connect_with_unix(endpoint, REQUEST_TIMEOUT_SECS, version).map_err(no_answer)?
        }
        (Scheme::Tcp, None) => {
            Docker::connect_with_http(endpoint, REQUEST_TIMEOUT_SECS, version).map_err(no_answer)?
        }
        (Scheme::Tcp, Some(tls)) => {
            // reqwest and bollard both enable rustls; pick the provider explicitly.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let [key, cert, ca] = ["key.pem", "cert.pem", "ca.pem"].map(|f| tls.cert_dir.join(f));
            if let Some(missing) = [&key, &cert, &ca].into_iter().find(|f| !f.exists()) {
                return Err(tls_files(format!(
                    "TLS file {} is missing",
                    missing.display()
                )));
            }
            check_pem_files(&key, &cert, &ca).map_err(tls_files)?;
            Docker::connect_with_ssl(endpoint, &key, &cert, &ca, REQUEST_TIMEOUT_SECS, version)
                .map_err(|e| tls_files(error_chain(&e)))?
        }
        (Scheme::Ssh, _) => {
            check_ssh_endpoint(endpoint)?;
            Docker::connect_with_ssh(endpoint, REQUEST_TIMEOUT_SECS, version, None)
                .map_err(no_answer)?
        }
    };
    Ok((docker, scheme))
}

/// Each TLS file holds what it must in PEM form. bollard would go on without a client
/// certificate when `key.pem` holds no key, and the engine's refusal would then blame the
/// certificate: say which file is wrong instead.
fn check_pem_files(key: &Path, cert: &Path, ca: &Path) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, what: &str, e: &dyn std::fmt::Display| {
        format!("{} does not hold {what} in PEM form ({e})", path.display())
    };
    PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, "a private key", &e))?;
    for (path, what) in [(cert, "a client certificate"), (ca, "a CA certificate")] {
        CertificateDer::from_pem_file(path).map_err(|e| bad(path, what, &e))?;
    }
    Ok(())
}

/// bollard's ssh transport hands `user@host:port` to ssh as a host name, so a port in the URL
/// would fail later with a confusing resolver error: refuse it now and say what works.
fn check_ssh_endpoint(endpoint: &str) -> Result<(), StackError> {
    let authority = endpoint.trim_start_matches("ssh://").trim_end_matches('/');
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return Err(StackError::Invalid(format!(
            "Docker host {endpoint:?} names no host: use ssh://user@host"
        )));
    }
    if host.contains(':') || host.contains('/') {
        return Err(StackError::Invalid(format!(
            "Docker host {endpoint:?}: mmctl's ssh transport takes ssh://user@host without a port or path; set a non-default port with `Port` for that host in ~/.ssh/config"
        )));
    }
    Ok(())
}

/// The error for a failed first request (`GET /version` or `GET /_ping`) at `endpoint`:
/// [`StackError::Unreachable`] with its [`ConnectFailure`] when the engine could not be
/// reached or the TLS handshake or ssh failed, [`StackError::Engine`] when the engine answered
/// with an error of its own.
pub(crate) fn connect_error(
    endpoint: &str,
    scheme: Scheme,
    action: &str,
    err: bollard::errors::Error,
) -> StackError {
    let reason = error_chain(&err);
    let failure = tls_failure(&err)
        .or_else(|| plain_http_to_tls(&err))
        .or_else(|| is_transport_error(&err).then_some(scheme.silent_failure()));
    match failure {
        Some(failure) => StackError::unreachable(endpoint, failure, reason),
        None => StackError::engine(action, endpoint, err),
    }
}

/// Whether `err` is hyper's "request cancelled, connection was not ready": the connection
/// closed before the request was sent, with no TLS error of its own to say why.
pub(crate) fn cancelled_before_sending(err: &bollard::errors::Error) -> bool {
    tls_failure(err).is_none() && error_chain(err).contains("connection was not ready")
}

/// The TLS failure behind `err`, if any, from the rustls error inside it. An alert from the
/// engine means it refused mmctl's client certificate; a certificate error raised here means
/// mmctl does not trust the engine's certificate.
fn tls_failure(err: &bollard::errors::Error) -> Option<ConnectFailure> {
    use rustls::AlertDescription as A;
    let failure = match find_rustls_error(err)? {
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnknownCA
            | A::CertificateRequired
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied,
        ) => ConnectFailure::ClientCertificateRejected,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            ConnectFailure::ServerCertificateUntrusted
        }
        _ => ConnectFailure::TlsHandshake,
    };
    Some(failure)
}

/// The first rustls error in `err`'s source chain, looking inside I/O errors too (their
/// `source()` skips the error they wrap).
fn find_rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(tls) = find_rustls_error(inner)
        {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

/// Plain HTTP sent to a TLS listener: dockerd answers 400 "Client sent an HTTP request to an
/// HTTPS server."
fn plain_http_to_tls(err: &bollard::errors::Error) -> Option<ConnectFailure> {
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message,
        } if message.contains("HTTPS server") => Some(ConnectFailure::TlsRequired),
        _ => None,
    }
}

/// `err` and each distinct cause after it, joined with ": " (hyper's outer messages alone,
/// such as "client error (Connect)", do not say what went wrong).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_recognised() {
        assert_eq!(
            Scheme::of("unix:///var/run/docker.sock"),
            Some(Scheme::Unix)
        );
        assert_eq!(Scheme::of("tcp://127.0.0.1:2376"), Some(Scheme::Tcp));
        assert_eq!(Scheme::of("https://engine:2376"), Some(Scheme::Tcp));
        assert_eq!(Scheme::of("ssh://deploy@engine"), Some(Scheme::Ssh));
        assert_eq!(Scheme::of("ftp://example"), None);
        assert_eq!(Scheme::of("/var/run/docker.sock"), None);
    }

    #[test]
    fn ssh_endpoints_without_port_are_accepted() {
        assert!(check_ssh_endpoint("ssh://deploy@engine.example").is_ok());
        assert!(check_ssh_endpoint("ssh://engine").is_ok());
        for bad in [
            "ssh://deploy@engine:2222",
            "ssh://",
            "ssh://deploy@",
            "ssh://h/path",
        ] {
            let err = check_ssh_endpoint(bad).unwrap_err();
            assert!(matches!(err, StackError::Invalid(_)), "{bad}: {err}");
        }
        let port = check_ssh_endpoint("ssh://deploy@engine:2222").unwrap_err();
        assert!(port.to_string().contains("~/.ssh/config"), "{port}");
    }

    #[test]
    fn an_unsupported_scheme_is_invalid_input() {
        let config = EngineConfig {
            host: "ftp://example".into(),
            tls: None,
        };
        let err = open(&config).expect_err("refused");
        assert!(matches!(err, StackError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("ssh://user@host"), "{err}");
    }

    #[test]
    fn the_env_file_names_the_engine_unless_the_process_environment_does() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("staging.env");
        std::fs::write(
            &file,
            "MMKT_ENV=staging\nMMKT_DOCKER_HOST=tcp://10.1.2.3:2376\n",
        )
        .unwrap();
        let empty = dir.path().join("development.env");
        std::fs::write(&empty, "MMKT_DOCKER_HOST=\n").unwrap();
        let named = |process: Option<&str>, file: Option<&Path>| {
            named_host(process.map(Into::into), file).unwrap()
        };
        assert_eq!(
            named(None, Some(&file)).as_deref(),
            Some("tcp://10.1.2.3:2376")
        );
        assert_eq!(named(None, Some(&empty)), None);
        assert_eq!(named(None, None), None);
        assert_eq!(
            named(Some("ssh://ops@engine"), Some(&file)).as_deref(),
            Some("ssh://ops@engine")
        );
        // Exported but empty: the process environment overrides the file with "not named".
        assert_eq!(named(Some(""), Some(&file)), None);
        let missing = named_host(None, Some(&dir.path().join("nope.env"))).unwrap_err();
        assert!(matches!(missing, StackError::Read { .. }), "{missing}");
    }
}
