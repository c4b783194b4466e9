//! The exit-code contract of `mmctl`, in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a check or an operation failed (unhealthy service, failed verify, failed restore, ...) |
//! | 2 | usage error (bad flags, unknown service, malformed compose/config file) |
//! | 3 | the Docker daemon is unreachable (no answer, TLS certificate refused, ssh failed) |
//! | 4 | not confirmed: a destructive command was refused or answered "no" |
//! | 5 | the local backup succeeded but the offsite (S3) copy failed; the local copy is kept |
//! | 10 | deploy/rollback: the deploy lock is held by another run (holder and start time shown) |
//! | 11 | deploy: the pre-deploy backup failed; nothing was deployed |
//! | 12 | deploy/rollback: the new server did not become ready; the old one keeps serving |
//! | 13 | deploy/rollback: a smoke check failed; the old one keeps serving |
//! | 14 | deploy: green's 5xx rate breached during the watch; rolled back automatically |
//! | 15 | rollback refused (schema change without --restore-db, escrow events after the backup) |
//!
//! Commands return [`Outcome`] for results that are not errors (a failed health check is a
//! result, not a crash) and `anyhow::Error` for errors; [`finish`] turns either into the exit
//! code (the binary's only mapping), and [`code_for_error`] classifies errors by
//! looking for the marker types below anywhere in the error chain; [`classify_stack`] attaches
//! the marker to a stack-library error.

use mmkt_stack::StackError;

/// Exit code 0: success.
pub const OK: u8 = 0;
/// Exit code 1: a check or an operation failed.
pub const FAILED: u8 = 1;
/// Exit code 2: usage error.
pub const USAGE: u8 = 2;
/// Exit code 3: the Docker daemon is unreachable.
pub const DOCKER_UNREACHABLE: u8 = 3;
/// Exit code 4: a destructive command was not confirmed.
pub const NOT_CONFIRMED: u8 = 4;
/// Exit code 5: the local backup succeeded, the offsite copy failed.
pub const OFFSITE_FAILED: u8 = 5;

/// Exit code 10: the deploy lock is held.
pub const LOCK_HELD: u8 = 10;
/// Exit code 11: the pre-deploy backup failed.
pub const BACKUP_FAILED: u8 = 11;
/// Exit code 12: green did not become ready.
pub const GREEN_NOT_READY: u8 = 12;
/// Exit code 13: a smoke check against green failed.
pub const SMOKE_FAILED: u8 = 13;
/// Exit code 14: the deploy rolled back automatically.
pub const ROLLED_BACK: u8 = 14;
/// Exit code 15: the rollback was refused.
pub const ROLLBACK_REFUSED: u8 = 15;

/// What a command that ran to completion reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and every check passed.
    Success,
    /// The command ran, but a check it performs failed (it already printed which one).
    CheckFailed,
    /// The local part succeeded but the offsite upload did not; the local copy is kept.
    OffsiteFailed,
    /// A deploy ran to its end but rolled back to the old version automatically.
    RolledBack,
}

impl Outcome {
    /// The process exit code of this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => OK,
            Outcome::CheckFailed => FAILED,
            Outcome::OffsiteFailed => OFFSITE_FAILED,
            Outcome::RolledBack => ROLLED_BACK,
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

/// Marker error: no usable connection to the Docker daemon (no answer, unusable TLS files, a
/// certificate refused on either side, ssh failure). Exit 3. The message is the stack
/// library's: the endpoint, what failed and what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DockerUnreachable(pub String);

/// Marker error: a deploy or rollback failed in a way with its own exit code (10-15).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeployExit {
    /// The exit code.
    pub code: u8,
    /// The error message.
    pub message: String,
}

/// Ends a run: returns the outcome's code, or prints the error and returns its code. A clap
/// error prints itself (help and version to stdout with exit 0, usage errors to stderr with
/// exit 2); any other error is printed as `error: ...` with its whole context chain.
pub fn finish(result: anyhow::Result<Outcome>) -> u8 {
    let err = match result {
        Ok(outcome) => return outcome.code(),
        Err(err) => err,
    };
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        let _ = clap_err.print();
        return if clap_err.use_stderr() { USAGE } else { OK };
    }
    eprintln!("error: {err:#}");
    code_for_error(&err)
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
        if let Some(deploy) = cause.downcast_ref::<DeployExit>() {
            return deploy.code;
        }
    }
    FAILED
}

/// Maps a stack-library error to anyhow with the exit-code marker for its class:
/// invalid input or unreadable compose/env file -> 2, unreachable daemon -> 3, anything else -> 1.
pub fn classify_stack(err: StackError) -> anyhow::Error {
    match err {
        StackError::Invalid(_) | StackError::ComposeSyntax { .. } | StackError::Read { .. } => {
            anyhow::Error::new(UsageError(err.to_string()))
        }
        StackError::Unreachable { .. } => anyhow::Error::new(DockerUnreachable(err.to_string())),
        other => anyhow::Error::new(other),
    }
}

/// Maps an arbiter-creation error: the server's refusal (bad username or password, name taken)
/// -> 1, engine errors as [`classify_stack`] does.
pub fn classify_arbiter(err: mmkt_stack::arbiter::ArbiterError) -> anyhow::Error {
    use mmkt_stack::arbiter::ArbiterError;
    match err {
        ArbiterError::Engine(e) => classify_stack(e),
        other => anyhow::Error::new(other),
    }
}

/// Maps a development-helper error: another environment than development or input that can
/// never work -> 2, engine and arbiter errors as [`classify_stack`] / [`classify_arbiter`] do,
/// anything else (service not running, faucet short, RPC or API failures) -> 1.
pub fn classify_dev(err: mmkt_stack::dev::DevError) -> anyhow::Error {
    use mmkt_stack::dev::DevError;
    match err {
        DevError::NotDevelopment { .. } | DevError::Invalid(_) => {
            anyhow::Error::new(UsageError(err.to_string()))
        }
        DevError::Engine(e) => classify_stack(e),
        DevError::Arbiter(e) => classify_arbiter(e),
        other => anyhow::Error::new(other),
    }
}

/// Maps a backup-library error to anyhow with the exit-code marker for its class, looking
/// through [`mmkt_backup::BackupError::Context`] (kept as anyhow context): an engine error as
/// [`classify_stack`] does (unreachable daemon -> 3), an inconsistent request -> 2, anything
/// else -> 1.
pub fn classify_backup(err: mmkt_backup::BackupError) -> anyhow::Error {
    use mmkt_backup::BackupError;
    match err {
        BackupError::Docker(e) => classify_stack(e),
        BackupError::InvalidRequest(message) => anyhow::Error::new(UsageError(message)),
        BackupError::Context { context, source } => classify_backup(*source).context(context),
        other => anyhow::Error::new(other),
    }
}

/// Maps a deploy-library error to anyhow with its exit code: lock held 10, backup failed 11,
/// green not ready 12, smoke failed 13, rollback refused 15, invalid request 2, and engine or
/// database errors as [`classify_stack`] / [`classify_backup`] do.
pub fn classify_deploy(err: mmkt_deploy::DeployError) -> anyhow::Error {
    use mmkt_deploy::DeployError;
    let code = match &err {
        DeployError::LockHeld { .. } => LOCK_HELD,
        DeployError::BackupFailed { .. } => BACKUP_FAILED,
        DeployError::GreenNotReady { .. } => GREEN_NOT_READY,
        DeployError::SmokeFailed { .. } => SMOKE_FAILED,
        DeployError::RollbackRefused { .. } => ROLLBACK_REFUSED,
        DeployError::Invalid(message) => return anyhow::Error::new(UsageError(message.clone())),
        _ => FAILED,
    };
    match err {
        DeployError::Engine(e) => classify_stack(e),
        DeployError::Database(e) => classify_backup(e),
        other => anyhow::Error::new(DeployExit {
            code,
            message: other.to_string(),
        }),
    }
}
