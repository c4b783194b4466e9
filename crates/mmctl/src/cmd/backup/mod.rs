//! `mmctl backup db|wallets|tor|all|list|verify|prune|upload|keygen`: encrypted, signed, verified
//! backups with an offsite copy and retention. One child module per subcommand; the workflows are
//! `mmkt_backup::ops`.

pub mod create;
pub mod keygen;
pub mod list;
pub mod prune;
pub mod upload;
pub mod verify;

use clap::{Args, Subcommand};

use crate::exit::Outcome;

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

/// Runs `mmctl backup ...`.
pub async fn run(args: BackupArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        BackupCommand::Db(a) => create::run_db(a).await,
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
