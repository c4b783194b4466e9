//! One module per subcommand: each parses its arguments and calls library code in `mmctl::*`.

pub mod backup;
pub mod systemd;
pub mod completions;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Systemd(args) => systemd::run(args),
        Command::Backup(args) => backup::run(args, cli.global.docker_host.as_deref()).await,
    }
}
