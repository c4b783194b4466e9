//! `mmctl backup verify [ID | --all]`: check each backup's signature, then decrypt and check
//! it, without touching live data.

use clap::Args;

use mmkt_backup::chain::LinkProblem;
use mmkt_backup::ops::verify::{VerifySelection, plan_verify, verify_one};

use crate::args::{ReadKeyArgs, RepoArgs, backup_id};
use crate::exit::{CHAIN_LINK_BAD, CHAIN_LINK_MISSING, ChainExit, Outcome};
use crate::output::TerminalProgress;

/// `mmctl backup verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Backup id to verify (default: the newest of each kind).
    #[arg(conflicts_with = "all")]
    pub id: Option<String>,
    /// Verify every complete local backup.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub keys: ReadKeyArgs,
    /// JSON array of results on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl backup verify`: exit 1 when any backup fails a check (an unsigned or wrongly
/// signed one included), 50/51 when a chain link is missing/bad (the first bad link and the
/// newest good point are printed), 2 without a verify key.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let id = args.id.as_deref().map(backup_id).transpose()?;
    let keys = args.keys.load()?;
    let dir = args.repo.open()?;
    let selection = match (&id, args.all) {
        (Some(id), _) => VerifySelection::One(id),
        (None, true) => VerifySelection::All,
        (None, false) => VerifySelection::NewestOfEachSeries,
    };
    let plan = plan_verify(&dir, selection)?;
    for bad in &plan.incomplete {
        eprintln!(
            "warning: incomplete backup {}: {}",
            bad.manifest_path.display(),
            bad.reason
        );
    }
    let progress = TerminalProgress::default();
    let mut results = Vec::new();
    for backup in &plan.targets {
        let outcome = verify_one(&dir, backup, keys.verify_keys(), &progress);
        match (args.json, outcome.ok) {
            (true, _) => {}
            (false, true) => println!("ok      {} ({})", outcome.id, outcome.checks.join(", ")),
            (false, false) => println!("FAILED  {}: {}", outcome.id, outcome.detail),
        }
        results.push(outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} backup(s) failed verification",
            results.len()
        );
        if let Some(broken) = results.iter().find_map(|r| r.chain_break.as_ref()) {
            let code = match broken.problem {
                LinkProblem::Missing(_) => CHAIN_LINK_MISSING,
                _ => CHAIN_LINK_BAD,
            };
            let good = broken.newest_good.as_deref().unwrap_or("none");
            let message = format!(
                "the first bad chain link is {}; the newest good point is {good}",
                broken.first_bad
            );
            return Err(ChainExit(code, message).into());
        }
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}
