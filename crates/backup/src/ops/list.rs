//! `backup list`: the complete backups of the local directory or of the S3 bucket.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::BackupError;
use crate::manifest::Manifest;
use crate::s3::{Offsite, S3Config};
use crate::store::{BackupDir, IncompleteBackup, VerificationRecord};

/// Where a backup is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// The local backup directory.
    Local,
    /// The S3 bucket.
    S3,
}

impl Location {
    /// "local" or "s3".
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Local => "local",
            Location::S3 => "s3",
        }
    }
}

/// One complete backup as `backup list` shows it (the `--json` row).
#[derive(Debug, Clone, Serialize)]
pub struct ListedBackup {
    /// Backup id.
    pub id: String,
    /// Its series: "db", "wallets-buyer", ...
    pub kind: String,
    /// Snapshot time, RFC 3339 UTC.
    pub created_at: String,
    /// Size of the encrypted data file, in bytes.
    pub encrypted_size: u64,
    /// Size before compression, in bytes.
    pub plain_size: u64,
    /// Hex SHA-256 of the encrypted data file.
    pub sha256: String,
    /// Where it is.
    pub location: Location,
    /// Result of its last verification (`None`: never verified, and always for S3).
    pub verified: Option<bool>,
    /// When it was last verified, RFC 3339.
    pub verified_at: Option<String>,
    /// `PRAGMA user_version` of a database backup.
    pub schema_version: Option<i64>,
    /// Wallet names of a wallet backup.
    pub wallets: Vec<String>,
}

/// The local directory's backups.
#[derive(Debug, Clone)]
pub struct LocalListing {
    /// Complete backups, oldest first.
    pub backups: Vec<ListedBackup>,
    /// Manifests whose backup is unusable (to warn about).
    pub incomplete: Vec<IncompleteBackup>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn listed(
    m: &Manifest,
    location: Location,
    verification: Option<&VerificationRecord>,
) -> ListedBackup {
    ListedBackup {
        id: m.id.to_string(),
        kind: m.series().to_string(),
        created_at: rfc3339(m.created_at),
        encrypted_size: m.encrypted_size,
        plain_size: m.plain_size,
        sha256: m.sha256.clone(),
        location,
        verified: verification.map(|v| v.ok),
        verified_at: verification.map(|v| rfc3339(v.verified_at)),
        schema_version: m.db.as_ref().map(|d| d.snapshot.schema_version),
        wallets: m
            .wallets
            .as_ref()
            .map(|w| w.wallets.iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default(),
    }
}

/// Lists the local directory: complete backups with their last verification, and the
/// incomplete ones.
///
/// # Errors
/// [`BackupError::Io`] when the directory cannot be read.
pub fn list_local(dir: &BackupDir) -> Result<LocalListing, BackupError> {
    let (complete, incomplete) = dir.scan()?;
    let backups = complete
        .iter()
        .map(|b| listed(&b.manifest, Location::Local, b.verification.as_ref()))
        .collect();
    Ok(LocalListing {
        backups,
        incomplete,
    })
}

/// Lists the complete backups in the bucket, oldest first (S3 `ListObjectsV2` + `GetObject`
/// of each manifest).
///
/// # Errors
/// [`BackupError::Context`] ("cannot list the S3 bucket") around the S3 error.
pub async fn list_remote(config: &S3Config) -> Result<Vec<ListedBackup>, BackupError> {
    let offsite = Offsite::connect(config.clone()).await;
    let remote = super::remote_backups(&offsite).await?;
    Ok(remote
        .iter()
        .map(|r| listed(&r.manifest, Location::S3, None))
        .collect())
}
