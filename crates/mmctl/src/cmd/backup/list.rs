//! `mmctl backup list [--remote]`: the complete backups, as a table or JSON.

use clap::Args;

use mmkt_backup::ops::list::{ListedBackup, list_local, list_remote};

use crate::args::{RepoArgs, S3Args};
use crate::exit::{Outcome, classify_backup};
use crate::output::human_bytes;

/// `mmctl backup list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// List the backups in the S3 bucket instead of the local directory.
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub s3: S3Args,
    /// JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl backup list`; incomplete local backups are warned about on stderr.
pub async fn run(args: ListArgs) -> anyhow::Result<Outcome> {
    let rows: Vec<ListedBackup> = if args.remote {
        list_remote(&args.s3.require()?)
            .await
            .map_err(classify_backup)?
    } else {
        let listing = list_local(&args.repo.open()?)?;
        for bad in &listing.incomplete {
            eprintln!(
                "warning: ignoring incomplete backup {}: {}",
                bad.manifest_path.display(),
                bad.reason
            );
        }
        listing.backups
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Success);
    }
    if rows.is_empty() {
        println!("no complete backups");
        return Ok(Outcome::Success);
    }
    println!(
        "{:<44} {:<16} {:<21} {:>10} {:<9}",
        "ID", "KIND", "CREATED", "SIZE", "VERIFIED"
    );
    for r in &rows {
        let verified = match r.verified {
            Some(true) => "yes",
            Some(false) => "FAILED",
            None => "-",
        };
        println!(
            "{:<44} {:<16} {:<21} {:>10} {:<9}",
            r.id,
            r.kind,
            &r.created_at,
            human_bytes(r.encrypted_size),
            verified
        );
    }
    Ok(Outcome::Success)
}
