//! The error type of the deploy library (`mmkt_deploy`): what failed, and what to do about it.
//! An automatic rollback is not an error: it is [`crate::report::DeployOutcome::RolledBack`].

use mmkt_backup::BackupError;
use mmkt_stack::StackError;

/// Everything that stops a deploy, a rollback or a lock operation.
///
/// mmctl maps each variant to a documented exit code (docs/DEPLOY.md): [`DeployError::LockHeld`]
/// 10, [`DeployError::BackupFailed`] 11, [`DeployError::GreenNotReady`] 12,
/// [`DeployError::SmokeFailed`] 13, [`DeployError::RollbackRefused`] 15,
/// [`DeployError::Invalid`] 2, an unreachable engine 3, anything else 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// Another deploy or rollback holds the project's deploy lock.
    #[error(
        "the deploy lock of project {project} is held by {holder} since {since} ({action}); wait for it to finish, or clear a stale lock with `mmctl deploy unlock`"
    )]
    LockHeld {
        /// The compose project.
        project: String,
        /// Who holds it (`user@host`, as given by the holder).
        holder: String,
        /// When it was taken (RFC 3339).
        since: String,
        /// What the holder does (`deploy v2`, `rollback to v1`).
        action: String,
    },
    /// The pre-deploy backup failed; nothing was changed.
    #[error(
        "the pre-deploy backup failed, nothing was deployed: {source}; fix the backup, or pass --skip-backup --reason TEXT to deploy without one"
    )]
    BackupFailed {
        /// The backup library's error.
        #[source]
        source: BackupError,
    },
    /// The new (green) container did not answer `/ready` with 200 in time, or exited; it was
    /// removed and blue keeps serving.
    #[error("the new server {container} did not become ready: {detail}; blue keeps serving")]
    GreenNotReady {
        /// Green's container name.
        container: String,
        /// Its state, exit code and last output lines, or the last `/ready` answer.
        detail: String,
    },
    /// A smoke check against green failed; green was removed and blue keeps serving.
    #[error("smoke check {check} failed against {container}: {detail}; blue keeps serving")]
    SmokeFailed {
        /// Green's container name.
        container: String,
        /// The check, e.g. `GET /api/listings`.
        check: String,
        /// The status and body seen.
        detail: String,
    },
    /// A rollback was refused; nothing was changed.
    #[error("rollback refused: {reason}")]
    RollbackRefused {
        /// Why, and what to do instead.
        reason: String,
    },
    /// The request or a setting is invalid (unknown version, bad MMKT_DEPLOY_* value, no
    /// server service).
    #[error("{0}")]
    Invalid(String),
    /// The stack is not in a state a deploy can start from (no running server, two servers,
    /// no nginx config directory); the message says what to do.
    #[error("{0}")]
    Stack(String),
    /// Switching nginx failed (`nginx -t` refused the rendered upstream, or the reload failed).
    #[error("switching nginx failed: {0}")]
    Nginx(String),
    /// An Engine API operation failed.
    #[error(transparent)]
    Engine(#[from] StackError),
    /// Reading the live database (schema version, escrow events) or restoring it failed.
    #[error(transparent)]
    Database(#[from] BackupError),
    /// A `--restore-db` rollback failed after the restore, and the pre-restore copy of the
    /// database could not be moved back; blue stays stopped.
    #[error(
        "putting the pre-restore database {copy} back over {live} failed ({source}); blue is stopped: move the file back by hand (`mv`), then `mmctl up`"
    )]
    PutBack {
        /// The pre-restore copy (`<db>.pre-restore-<stamp>`).
        copy: std::path::PathBuf,
        /// The live database.
        live: std::path::PathBuf,
        /// The rename's error.
        #[source]
        source: std::io::Error,
    },
    /// The deploy history on the target host is unreadable.
    #[error("the deploy history in volume {volume} is unreadable: {detail}")]
    History {
        /// The history volume.
        volume: String,
        /// The line and parse error.
        detail: String,
    },
}
