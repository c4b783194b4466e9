//! One module per subcommand: each parses its arguments and calls library code in `mmctl::*`.

pub mod backup;
pub mod systemd;
pub mod restore;
pub mod drill;
pub mod completions;
pub mod down;
pub mod health;
pub mod image;
pub mod logs;
pub mod restart;
pub mod stack_common;
pub mod status;
pub mod up;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Drill(args) => drill::run(args, cli.global.docker_host.as_deref()).await,
        Command::Restore(args) => restore::run(args, cli.global.docker_host.as_deref()).await,
        Command::Systemd(args) => systemd::run(args),
        Command::Up(args) => up::run(args, cli.global.docker_host.as_deref()).await,
        Command::Down(args) => down::run(args, cli.global.docker_host.as_deref()).await,
        Command::Status(args) => status::run(args, cli.global.docker_host.as_deref()).await,
        Command::Health(args) => health::run(args, cli.global.docker_host.as_deref()).await,
        Command::Logs(args) => logs::run(args, cli.global.docker_host.as_deref()).await,
        Command::Restart(args) => restart::run(args, cli.global.docker_host.as_deref()).await,
        Command::Image(args) => image::run(args, cli.global.docker_host.as_deref()).await,
        Command::Backup(args) => backup::run(args, cli.global.docker_host.as_deref()).await,
    }
}
