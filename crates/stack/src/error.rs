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
    /// The Docker daemon did not answer at all (socket missing, connection refused, TLS failure).
    #[error(
        "cannot reach the Docker daemon at {endpoint}: {reason}. Is dockerd running? Check --docker-host / DOCKER_HOST."
    )]
    Unreachable {
        /// The endpoint tried, e.g. `unix:///var/run/docker.sock`.
        endpoint: String,
        /// Why the connection failed.
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
    /// Writing a local file (image archive) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
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
            return StackError::Unreachable {
                endpoint: endpoint.to_string(),
                reason: source.to_string(),
            };
        }
        StackError::Engine {
            action: action.into(),
            source,
        }
    }

    /// True when the engine answered 404 (no such container/image/network/volume).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StackError::Engine { source, .. } if is_not_found(source))
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
