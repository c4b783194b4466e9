//! `mmctl restore db [ID|latest]`: the backup is rebuilt and verified while the server still
//! runs; only then is the server stopped, the current database kept, the new one swapped in,
//! and the server started and checked.

use std::time::Duration;

use clap::Args;

use mmkt_backup::manifest::Selector;
use mmkt_backup::ops::restore::Restart;
use mmkt_backup::ops::restore_db::{DbRestoreRequest, KeyFileUse, ServerControl, plan_db_restore};
use mmkt_stack::EngineConfig;

use crate::args::{DbFileArgs, RestoreCommonArgs};
use crate::exit::{Outcome, classify_backup};
use crate::output::{TerminalProgress, confirm_restore};

/// `mmctl restore db`
#[derive(Debug, Args)]
pub struct RestoreDbArgs {
    #[command(flatten)]
    pub common: RestoreCommonArgs,
    /// Create the key file with a new random key if it does not exist (restore on a new host
    /// whose key was lost; the restored DB is encrypted under it).
    #[arg(long)]
    pub create_key_file: bool,
    /// Server base URL whose /ready must answer 200 after the restore (default for containers:
    /// checked from inside the server container).
    #[arg(long, env = "MMKT_SERVER_URL")]
    pub server_url: Option<String>,
    #[command(flatten)]
    pub db: DbFileArgs,
    /// Restore the newest database backup taken at or before this time (RFC 3339, e.g.
    /// 2026-11-21T19:30:00Z) instead of ID.
    #[arg(long, value_parser = mmkt_backup::chain::parse_at, conflicts_with = "id")]
    pub at: Option<time::OffsetDateTime>,
}

/// Runs `mmctl restore db`: exit 4 when not confirmed, 3 when the engine is unreachable
/// (nothing swapped), 1 when a check fails or no trusted key signed the backup (the live
/// database untouched), 2 for a malformed id or no verify key, 50/51 for a broken chain (the
/// newest good point is named), 52 when no backup is as old as `--at`.
pub async fn run(args: RestoreDbArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let selector = match args.at {
        Some(at) => Selector::At(at),
        None => args.common.selector()?,
    };
    let keys = args.common.keys.load()?;
    let key_file = args.db.key_file()?;
    let bucket = args.common.bucket()?;
    let dir = args.common.repo.open()?;
    let server_url = args.server_url.clone();
    let server = match args.common.service.no_docker {
        true => ServerControl::Manual { server_url },
        false => ServerControl::Stack {
            engine: EngineConfig::from_host_and_env(docker_host),
            project: args.common.service.project.clone(),
            server_url,
            ready_timeout: Duration::from_secs(args.common.service.ready_timeout),
        },
    };
    let request = DbRestoreRequest {
        backup: args
            .common
            .choice(&dir, &selector, bucket.as_ref(), &keys.trusted),
        live_db: &args.db.db,
        key_file,
        key_file_use: match args.create_key_file {
            true => KeyFileUse::CreateIfMissing,
            false => KeyFileUse::Existing,
        },
        identities: &keys.identities,
        server,
    };
    let progress = TerminalProgress::default();
    let plan = plan_db_restore(request, &progress)
        .await
        .map_err(classify_backup)?;
    let what = format!("the database {}", args.db.db.display());
    let consequences =
        "The server will be stopped; the current database is kept as a pre-restore snapshot.";
    let confirmed = confirm_restore(&what, &plan, consequences, &args.common.confirm)?;
    let report = plan
        .run(confirmed, &progress)
        .await
        .map_err(classify_backup)?;
    let restart_note = match report.restart {
        Restart::Done => ", server ready",
        Restart::ByOperator => " (start the server now)",
    };
    println!(
        "restored {} into {} in {:.1}s{restart_note}",
        report.backup_id,
        args.db.db.display(),
        report.seconds
    );
    Ok(Outcome::Success)
}
