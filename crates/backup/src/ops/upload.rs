//! `backup upload`: send local backups to the S3 bucket (e.g. after an offsite failure).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::error::BackupError;
use crate::manifest::BackupId;
use crate::s3::{Offsite, S3Config};
use crate::store::{BackupDir, LocalBackup};

/// Which local backups to upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadSelection<'a> {
    /// The backup with this id (uploaded again if already there).
    One(&'a BackupId),
    /// Every complete local backup whose id is not in the bucket.
    Missing,
}

/// An upload that failed; the ones after it were not attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFailure {
    /// Backup id.
    pub id: String,
    /// Its local data file, which stays.
    pub data_path: PathBuf,
    /// The S3 error.
    pub reason: String,
}

/// What `backup upload` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Ids uploaded, in order (data file, then manifest).
    pub uploaded: Vec<String>,
    /// The upload that failed, if one did.
    pub failed: Option<UploadFailure>,
}

/// Uploads the selected backups, oldest first, stopping at the first failure.
///
/// # Errors
/// [`BackupError::NotFound`] for an unknown id, [`BackupError::Context`] ("cannot list the
/// S3 bucket"), [`BackupError::Io`] when the directory cannot be read. A failed upload is in
/// [`UploadReport::failed`].
pub async fn upload(
    dir: &BackupDir,
    config: &S3Config,
    selection: UploadSelection<'_>,
) -> Result<UploadReport, BackupError> {
    let offsite = Offsite::connect(config.clone()).await;
    let local = dir.list()?;
    let targets: Vec<LocalBackup> = match selection {
        UploadSelection::One(id) => vec![
            local
                .into_iter()
                .find(|b| &b.manifest.id == id)
                .ok_or_else(|| BackupError::NotFound(id.to_string()))?,
        ],
        UploadSelection::Missing => {
            let remote: BTreeSet<BackupId> = super::remote_backups(&offsite)
                .await?
                .into_iter()
                .map(|r| r.manifest.id)
                .collect();
            local
                .into_iter()
                .filter(|b| !remote.contains(&b.manifest.id))
                .collect()
        }
    };
    let mut report = UploadReport::default();
    for backup in targets {
        if let Err(e) = offsite.upload(&backup).await {
            report.failed = Some(UploadFailure {
                id: backup.manifest.id.to_string(),
                data_path: backup.data_path,
                reason: e.to_string(),
            });
            return Ok(report);
        }
        report.uploaded.push(backup.manifest.id.to_string());
    }
    Ok(report)
}
