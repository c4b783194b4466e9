//! `mmctl backup upload [ID]`: send local backups missing from the S3 bucket.

use clap::Args;

use mmkt_backup::ops::upload::{UploadSelection, upload};

use crate::args::{RepoArgs, S3Args, backup_id};
use crate::exit::{Outcome, classify_backup};

/// `mmctl backup upload`
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Backup id (default: every complete local backup missing from the bucket).
    pub id: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Runs `mmctl backup upload`: exit 5 when an upload fails (the ones after it are not tried).
pub async fn run(args: UploadArgs) -> anyhow::Result<Outcome> {
    let id = args.id.as_deref().map(backup_id).transpose()?;
    let config = args.s3.require()?;
    let dir = args.repo.open()?;
    let selection = match &id {
        Some(id) => UploadSelection::One(id),
        None => UploadSelection::Missing,
    };
    let report = upload(&dir, &config, selection)
        .await
        .map_err(classify_backup)?;
    for id in &report.uploaded {
        println!("uploaded {id}");
    }
    if let Some(failed) = &report.failed {
        eprintln!(
            "error: upload of {} failed: {}\n  the local backup is kept at {}",
            failed.id,
            failed.reason,
            failed.data_path.display()
        );
        return Ok(Outcome::OffsiteFailed);
    }
    if report.uploaded.is_empty() {
        println!("every local backup is already in the bucket");
    }
    Ok(Outcome::Success)
}
