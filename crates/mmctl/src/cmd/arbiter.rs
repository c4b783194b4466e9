//! `mmctl arbiter create USERNAME`: an arbiter account in any environment, made by the
//! server's own `mmkt-server create-arbiter` inside its container (`crate::accounts`).

use clap::{Args, Subcommand};

use crate::accounts::{self, ArbiterCreateArgs, Scope};
use crate::exit::Outcome;

/// `mmctl arbiter ...`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl arbiter create judge --env production          # prints a generated password once
  MMKT_ARBITER_PASSWORD=... mmctl arbiter create judge # password from the environment
  pass show mmkt/judge | mmctl arbiter create judge    # password from the first line of stdin

The password never goes on a command line: it is written to the standard input of
`mmkt-server create-arbiter` run inside the server's container (Engine API exec).
Exit codes: 0 created, 1 refused (username taken, password under 10 characters) or the
server is not running, 2 bad input, 3 Docker unreachable.")]
pub struct ArbiterArgs {
    #[command(subcommand)]
    pub command: ArbiterCommand,
}

/// The arbiter subcommands.
#[derive(Debug, Subcommand)]
pub enum ArbiterCommand {
    /// Create an arbiter account (arbiters cannot self-register).
    ///
    /// Example: mmctl arbiter create judge --env production
    Create(ArbiterCreateArgs),
}

/// Runs `mmctl arbiter ...`.
pub async fn run(args: ArbiterArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        ArbiterCommand::Create(a) => accounts::create(a, docker_host, Scope::AnyEnvironment).await,
    }
}
