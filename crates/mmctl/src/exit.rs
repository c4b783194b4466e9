//! The exit-code contract of `mmctl`, in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a check or an operation failed (unhealthy service, failed verify, failed restore, ...) |
//! | 2 | usage error (bad flags, unknown service, malformed compose/config file) |
//! | 3 | the Docker daemon is unreachable |
//! | 4 | not confirmed: a destructive command was refused or answered "no" |
//! | 5 | the local backup succeeded but the offsite (S3) copy failed; the local copy is kept |
//!
//! Commands return [`Outcome`] for results that are not errors (a failed health check is a
//! result, not a crash) and `anyhow::Error` for errors; [`code_for_error`] classifies errors by
//! looking for the marker types below anywhere in the error chain.

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const DOCKER_UNREACHABLE: u8 = 3;
pub const NOT_CONFIRMED: u8 = 4;
pub const OFFSITE_FAILED: u8 = 5;

/// What a command that ran to completion reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and every check passed.
    Success,
    /// The command ran, but a check it performs failed (it already printed which one).
    CheckFailed,
    /// The local part succeeded but the offsite upload did not; the local copy is kept.
    OffsiteFailed,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => OK,
            Outcome::CheckFailed => FAILED,
            Outcome::OffsiteFailed => OFFSITE_FAILED,
        }
    }
}

/// Marker error: the input (flags, compose file, service name, config) is invalid. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Marker error: the operator did not confirm a destructive action. Exit 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotConfirmed(pub String);

/// Marker error: the Docker daemon could not be reached. Exit 3.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker daemon at {endpoint}: {reason}. Is dockerd running? Check --docker-host / DOCKER_HOST.")]
pub struct DockerUnreachable {
    pub endpoint: String,
    pub reason: String,
}

/// Maps an error to its exit code by the first marker type found in its chain.
pub fn code_for_error(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return USAGE;
        }
        if cause.is::<NotConfirmed>() {
            return NOT_CONFIRMED;
        }
        if cause.is::<DockerUnreachable>() {
            return DOCKER_UNREACHABLE;
        }
    }
    FAILED
}
