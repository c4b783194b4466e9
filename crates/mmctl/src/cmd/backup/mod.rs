//! `mmctl backup db|wallets|tor|all|list|verify|prune|upload|keygen`: encrypted, signed, verified
//! backups with an offsite copy and retention. One child module per subcommand; the workflows are
//! `mmkt_backup::ops`; here the dispatch and the `backup db --every` loop.

pub mod create;
pub mod keygen;
pub mod list;
pub mod prune;
pub mod upload;
pub mod verify;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio::signal::unix::{SignalKind, signal};

use crate::exit::Outcome;
use crate::freshness::Recorder;

/// `mmctl backup ...`
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
}

/// The backup subcommands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the SQLCipher database online (consistent snapshot; the server keeps serving).
    ///
    /// Example: mmctl backup db --db /srv/mmkt/data/mmkt.db --key-file /srv/mmkt/key/db.key --recipient age1...
    Db(create::DbBackupArgs),
    /// Back up wallet-rpc wallet directories (all roles, or one), with each wallet's address.
    ///
    /// With the compose stack, each wallet-rpc container is stopped for the seconds the archive
    /// takes (it stores its wallet on SIGTERM) and started again. Example: mmctl backup wallets buyer
    Wallets(create::WalletsBackupArgs),
    /// Back up the tor service's onion-service keys (encrypted like the wallets), so a restored
    /// host keeps its .onion address.
    ///
    /// Example: mmctl backup tor
    Tor(create::TorBackupArgs),
    /// Back up the database and every wallet directory (and, with the stack's wallets, the
    /// onion-service keys when the stack has a tor service).
    All(create::AllBackupArgs),
    /// List complete backups (local, or in the S3 bucket with --remote).
    List(list::ListArgs),
    /// Decrypt and check backups: checksum, decompression, SQLCipher integrity / full archive read.
    ///
    /// Without ID, verifies the newest backup of each kind. Exit 1 if any check fails.
    Verify(verify::VerifyArgs),
    /// Delete old backups locally and on S3 by retention policy (restic-style).
    ///
    /// Never deletes the newest backup, nor the newest verified backup, of each kind.
    Prune(prune::PruneArgs),
    /// Upload local backups that are not in the S3 bucket yet (e.g. after an exit code 5).
    Upload(upload::UploadArgs),
    /// Make the Ed25519 key that signs backup manifests; prints its public (verify) key.
    ///
    /// Example: mmctl backup keygen --out /etc/mmkt/backup-signing.key
    Keygen(keygen::KeygenArgs),
}

/// Runs `mmctl backup ...`; `backup db --every` takes the run's freshness recording over
/// (it records each of its runs).
pub async fn run(
    args: BackupArgs,
    docker_host: Option<&str>,
    freshness: &mut Recorder,
) -> anyhow::Result<Outcome> {
    match args.command {
        BackupCommand::Db(a) => match a.chain.every {
            None => create::run_db(&a).await,
            Some(interval) => {
                let recorder = freshness.take();
                run_every(interval, &recorder, || create::run_db(&a)).await
            }
        },
        BackupCommand::Wallets(a) => create::run_wallets(a, docker_host).await,
        BackupCommand::Tor(a) => create::run_tor(a, docker_host).await,
        BackupCommand::All(a) => create::run_all(a, docker_host).await,
        BackupCommand::List(a) => list::run(a).await,
        BackupCommand::Verify(a) => verify::run(a),
        BackupCommand::Prune(a) => prune::run(a).await,
        BackupCommand::Upload(a) => upload::run(a).await,
        BackupCommand::Keygen(a) => keygen::run(a),
    }
}

/// `backup db --every`: runs `once` every `interval` (measured from the start of each run; a run longer than the
/// interval is followed at once by the next), recording each run with `recorder`.
///
/// SIGTERM or SIGINT let the current run finish, then end the loop with exit 0; a failed run is
/// said on stderr, recorded, and the loop goes on.
///
/// # Errors
/// Only when the signal handlers cannot be installed.
pub async fn run_every<F, Fut>(
    interval: Duration,
    recorder: &Recorder,
    mut once: F,
) -> anyhow::Result<Outcome>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Outcome>>,
{
    let mut term = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
    loop {
        let started = Instant::now();
        let result = once().await;
        let next = format!("the next backup starts in {}s", interval.as_secs());
        match &result {
            Ok(Outcome::Success) => {}
            Ok(outcome) => eprintln!("warning: this backup ended with {outcome:?}; {next}"),
            Err(e) => eprintln!("error: the backup failed: {e:#}; {next}"),
        }
        recorder.record(result.as_ref().ok().copied()).await;
        let wait = interval.saturating_sub(started.elapsed());
        tokio::select! {
            biased;
            _ = term.recv() => return Ok(Outcome::Success),
            _ = int.recv() => return Ok(Outcome::Success),
            () = tokio::time::sleep(wait) => {}
        }
    }
}
