//! The error type of the stack library (`mmkt_stack`): what failed, and what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong while loading the compose file or driving the Docker Engine.
///
/// The binary maps [`StackError::Invalid`] and [`StackError::ComposeSyntax`] to exit code 2
/// (usage), [`StackError::Unreachable`] to exit code 3, and everything else to exit code 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// A file (compose file, env file, bind-mount source, build context) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The compose file is not valid YAML or does not match the supported compose subset.
    #[error("{path} is not a valid compose file: {message}")]
    ComposeSyntax {
        /// The compose file.
        path: PathBuf,
        /// Parser message (line and column when the YAML itself is broken).
        message: String,
    },
    /// The compose file or the command line is well-formed but inconsistent (unknown service,
    /// dependency cycle, undeclared volume, unsupported key, missing required variable...).
    #[error("{0}")]
    Invalid(String),
    /// No usable connection to the Docker daemon: it did not answer (socket missing,
    /// connection refused), the TLS files are unusable, the TLS handshake failed (a certificate
    /// refused on either side), or ssh failed. `failure` says which, and what to check.
    #[error(
        "cannot reach the Docker daemon at {endpoint}: {}: {reason}. {}",
        .failure.summary(),
        .failure.advice()
    )]
    Unreachable {
        /// The endpoint tried, e.g. `unix:///var/run/docker.sock`.
        endpoint: String,
        /// What kind of failure it was.
        failure: ConnectFailure,
        /// The underlying error, with its causes.
        reason: String,
    },
    /// The Docker Engine answered with an error for one operation.
    #[error("Docker Engine API call failed while trying to {action}: {source}")]
    Engine {
        /// What mmctl was doing, e.g. "create container mmkt-server-1".
        action: String,
        /// The bollard error (HTTP status and engine message included).
        source: bollard::errors::Error,
    },
    /// An image the stack needs is not present locally (no registry is reachable to pull it).
    #[error(
        "image {image} (service {service}) is not present locally; run `mmctl image build` (or `mmctl image load FILE` on an air-gapped host)"
    )]
    ImageMissing {
        /// The service that uses the image.
        service: String,
        /// The image reference from the compose file.
        image: String,
    },
    /// The Debian base image every project image starts FROM is not present locally.
    #[error(
        "the base image {image} is missing; run `mmctl image bootstrap-base` (or `mmctl image load FILE`) first"
    )]
    BaseImageMissing {
        /// The base image reference, e.g. `debian:bookworm-slim`.
        image: String,
    },
    /// An image build failed; the engine's last message is included.
    #[error("building image {image} failed: {message}")]
    BuildFailed {
        /// The tag being built.
        image: String,
        /// The builder's error message (for example the failing RUN step's output).
        message: String,
    },
    /// A service has no container in this project (never started, or removed).
    #[error("service {service} has no container in project {project}; run `mmctl up` first")]
    NoContainer {
        /// The compose project name.
        project: String,
        /// The service name.
        service: String,
    },
    /// Waiting for a container to become healthy (or running) took longer than allowed.
    #[error(
        "service {service} did not become {wanted} within {seconds} s (last state: {last}); see `mmctl logs {service}`"
    )]
    Timeout {
        /// The service waited for.
        service: String,
        /// "healthy" or "running".
        wanted: String,
        /// The timeout, in seconds.
        seconds: u64,
        /// The last observed state/health.
        last: String,
    },
    /// A container exited or turned unhealthy while we waited for it.
    #[error("service {service} failed to start: {detail}; see `mmctl logs {service}`")]
    ServiceFailed {
        /// The service.
        service: String,
        /// State, exit code or last healthcheck output.
        detail: String,
    },
    /// An external tool mmctl runs (debootstrap) failed.
    #[error("{tool} failed: {message}")]
    Tool {
        /// The program, e.g. `debootstrap`.
        tool: String,
        /// Exit status and the tail of its output, or why it could not start.
        message: String,
    },
    /// Writing a command's standard input through an exec failed (the connection to the
    /// engine broke, or the command exited before reading it).
    #[error("cannot write the standard input of a command in container {container}: {source}")]
    ExecInput {
        /// The container the command runs in.
        container: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Writing a local file (image archive) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Secrets the selected services need in this environment are empty or unset (alert
    /// receivers, the Grafana admin password); checked before anything is created. Only the
    /// variable names are shown, never a value.
    #[error(
        "{environment}: {} empty or unset, needed by {needed_by}; set {} in the stack's secrets or the environment of `mmctl up` (docs/MONITORING.md, \"Receivers\")",
        .variables.join(", "),
        if .variables.len() == 1 { "it" } else { "them" }
    )]
    SecretsMissing {
        /// The project's `MMKT_ENV`.
        environment: String,
        /// The variables, sorted.
        variables: Vec<String>,
        /// What needs them, e.g. "the Alertmanager receivers (service alertmanager)".
        needed_by: String,
    },
    /// A secret is set but has the wrong shape (a receiver URL that is not http(s), a
    /// loopback address outside development, an SMTP host without a port). The value is not
    /// shown.
    #[error("{variable} is malformed: {reason} (its value is not shown)")]
    SecretMalformed {
        /// The variable.
        variable: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl StackError {
    /// Wraps a bollard error, classifying transport failures as [`StackError::Unreachable`].
    pub fn engine(
        action: impl Into<String>,
        endpoint: &str,
        source: bollard::errors::Error,
    ) -> Self {
        if is_transport_error(&source) {
            return StackError::unreachable(endpoint, ConnectFailure::NoAnswer, source.to_string());
        }
        StackError::Engine {
            action: action.into(),
            source,
        }
    }

    /// [`StackError::Unreachable`] at `endpoint`.
    pub fn unreachable(endpoint: &str, failure: ConnectFailure, reason: impl Into<String>) -> Self {
        StackError::Unreachable {
            endpoint: endpoint.to_string(),
            failure,
            reason: reason.into(),
        }
    }

    /// True when the engine answered 404 (no such container/image/network/volume).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StackError::Engine { source, .. } if is_not_found(source))
    }
}

/// Why no connection to the Docker daemon could be made; each kind says what to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing answered: the socket is missing, the connection was refused or timed out.
    NoAnswer,
    /// The TLS files (`ca.pem`, `cert.pem`, `key.pem` in DOCKER_CERT_PATH) are missing or
    /// cannot be parsed.
    TlsFiles,
    /// The engine refused mmctl's client certificate during the TLS handshake (a TLS alert
    /// such as `BadCertificate` or `UnknownCA`).
    ClientCertificateRejected,
    /// mmctl does not trust the engine's certificate: not signed by `ca.pem`, expired, or
    /// not issued for the endpoint's host.
    ServerCertificateUntrusted,
    /// Any other TLS handshake failure.
    TlsHandshake,
    /// The engine's tcp listener expects TLS but mmctl spoke plain HTTP.
    TlsRequired,
    /// The ssh connection (or `docker system dial-stdio` on the remote host) failed.
    Ssh,
}

impl ConnectFailure {
    /// A few words naming the failure.
    pub fn summary(self) -> &'static str {
        match self {
            ConnectFailure::NoAnswer => "no answer",
            ConnectFailure::TlsFiles => "unusable TLS files",
            ConnectFailure::ClientCertificateRejected => {
                "the engine refused mmctl's client certificate"
            }
            ConnectFailure::ServerCertificateUntrusted => "the engine's certificate is not trusted",
            ConnectFailure::TlsHandshake => "the TLS handshake failed",
            ConnectFailure::TlsRequired => "the engine expects TLS",
            ConnectFailure::Ssh => "the ssh connection failed",
        }
    }

    /// What the operator should check.
    pub fn advice(self) -> &'static str {
        match self {
            ConnectFailure::NoAnswer => {
                "Is dockerd running and listening there? Check --docker-host, the environment's MMKT_DOCKER_HOST (deploy/env/NAME.env) and DOCKER_HOST."
            }
            ConnectFailure::TlsFiles => {
                "Set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem (PEM files)."
            }
            ConnectFailure::ClientCertificateRejected => {
                "Check that cert.pem and key.pem in DOCKER_CERT_PATH are a client certificate issued by the CA the engine trusts (its --tlscacert)."
            }
            ConnectFailure::ServerCertificateUntrusted => {
                "Check that ca.pem in DOCKER_CERT_PATH is the CA that signed the engine's --tlscert, and that this certificate names the host or IP of --docker-host."
            }
            ConnectFailure::TlsHandshake => {
                "Check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and that the endpoint is the engine's TLS port."
            }
            ConnectFailure::TlsRequired => {
                "Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem."
            }
            ConnectFailure::Ssh => {
                "Check that `ssh USER@HOST docker version` works from this machine without a prompt (key in ssh-agent or ~/.ssh/config, host key known, docker CLI on the remote host)."
            }
        }
    }
}

/// True when bollard's error is an HTTP 404 from the engine.
pub fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// True when bollard's error means "no answer from the daemon" rather than "the daemon said no".
pub fn is_transport_error(err: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        err,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
            | E::UnsupportedURISchemeError { .. }
            | E::HyperLegacyError { .. }
    )
}
