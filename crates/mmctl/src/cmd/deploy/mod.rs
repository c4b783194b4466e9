//! `mmctl deploy`: a blue/green deploy of the server (`run.rs`), and `deploy unlock|history|
//! status` (`info.rs`). The workflow is `mmkt_deploy`'s; these files parse and print.

mod info;
mod run;

use clap::{Args, Subcommand};

use crate::exit::Outcome;

pub use info::InfoArgs;
pub use run::DeployRunArgs;

/// `mmctl deploy`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, disable_version_flag = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub command: Option<DeployCommand>,
    #[command(flatten)]
    pub run: DeployRunArgs,
}

/// The sub-subcommands of `mmctl deploy`.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Clear a stale deploy lock (left by an interrupted deploy or rollback).
    ///
    /// Example: mmctl deploy unlock --env production
    Unlock(InfoArgs),
    /// The deploys and rollbacks recorded on the target host.
    ///
    /// Example: mmctl deploy history --env production --json
    History(InfoArgs),
    /// The deploy lock, the running server containers and the last run.
    ///
    /// Example: mmctl deploy status --env production
    Status(InfoArgs),
}

/// Runs `mmctl deploy [unlock|history|status]`.
pub async fn run(args: DeployArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        None => run::run(args.run, docker_host).await,
        Some(DeployCommand::Unlock(a)) => info::unlock(a, docker_host).await,
        Some(DeployCommand::History(a)) => info::history(a, docker_host).await,
        Some(DeployCommand::Status(a)) => info::status(a, docker_host).await,
    }
}
