//! The operations behind `mmctl backup`, `restore` and `drill`. Each takes a plain request
//! struct, reports progress through [`crate::progress::Progress`] and returns a typed report;
//! outcomes that are not failures (a failed upload, a failed verification, a failed drill
//! step) are in the report, not in the error.
//!
//! - [`backup`]: database and wallet backups with their offsite copy ([`backup::BackupReport`]).
//! - [`list`], [`verify`], [`prune`] ([`prune::PrunePlan`]), [`upload`].
//! - [`restore_db`], [`restore_wallet`]: plan (find the backup), then run with
//!   [`restore::Confirmed`] ([`restore::RestoreReport`]).
//! - [`tor`]: the onion-service keys of the `tor` container, backed up and restored.
//! - [`drill`]: backups restored into scratch, RTO and RPO ([`drill::DrillReport`]).

pub mod backup;
pub mod drill;
pub mod list;
pub mod prune;
pub mod restore;
pub mod restore_db;
pub mod restore_wallet;
pub mod tor;
pub mod upload;
pub mod verify;

use crate::error::BackupError;
use crate::s3::{Offsite, RemoteBackup};

/// The complete backups in the bucket, oldest first.
///
/// # Errors
/// [`BackupError::Context`] ("cannot list the S3 bucket") around the S3 error.
async fn remote_backups(offsite: &Offsite) -> Result<Vec<RemoteBackup>, BackupError> {
    offsite
        .list()
        .await
        .map_err(|e| BackupError::from(e).context("cannot list the S3 bucket"))
}
