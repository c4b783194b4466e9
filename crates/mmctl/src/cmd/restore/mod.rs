//! `mmctl restore db|wallet|tor`: restore from a verified backup with confirmation, a pre-restore
//! copy of the current state, and the service stopped and started through the Engine API.
//! One child module per subcommand; the workflows are `mmkt_backup::ops::restore_*`.

pub mod db;
pub mod tor;
pub mod wallet;

use clap::{Args, Subcommand};

use crate::exit::Outcome;

/// `mmctl restore ...`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    pub command: RestoreCommand,
}

/// The restore subcommands.
#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Restore the SQLCipher database: verify the backup, stop the server, keep the current DB
    /// as <db>.pre-restore-<time>, swap atomically, start the server and wait for /ready.
    ///
    /// Example: mmctl restore db latest --yes
    Db(db::RestoreDbArgs),
    /// Restore one wallet-rpc's wallet directory: check the wallets open with their recorded
    /// addresses, stop the wallet-rpc, back up the current directory, copy the files in, start it.
    ///
    /// Example: mmctl restore wallet buyer latest
    Wallet(wallet::RestoreWalletArgs),
    /// Restore the tor service's onion-service keys: check them in memory, back up the current
    /// keys, stop tor, write the keys into its volume, start it and check the .onion address.
    ///
    /// Example: mmctl restore tor latest --yes
    Tor(tor::RestoreTorArgs),
}

/// Runs `mmctl restore ...`.
pub async fn run(args: RestoreArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        RestoreCommand::Db(a) => db::run(a, docker_host).await,
        RestoreCommand::Wallet(a) => wallet::run(a, docker_host).await,
        RestoreCommand::Tor(a) => tor::run(a, docker_host).await,
    }
}
