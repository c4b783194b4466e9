//! One module per subcommand: each defines its arguments, builds a request, calls the library
//! crates (`mmkt_stack`, `mmkt_backup`) and prints the result. Modules here do not import each
//! other; shared arguments live in `crate::args`, shared output helpers in `crate::output`.

pub mod arbiter;
pub mod backup;
pub mod completions;
pub mod config;
pub mod deploy;
pub mod dev;
pub mod down;
pub mod drill;
pub mod firewall;
pub mod health;
pub mod image;
pub mod logs;
pub mod restart;
pub mod restore;
pub mod rollback;
pub mod secrets;
pub mod status;
pub mod systemd;
pub mod tls;
pub mod tor;
pub mod up;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;
use crate::freshness::Recorder;

/// Runs the parsed command against the engine its environment names (`--docker-host` first),
/// then records the run's freshness metrics when it is a backup, drill or deploy.
pub async fn run(mut cli: Cli) -> anyhow::Result<Outcome> {
    cli.global.docker_host = cli.global.engine_host(cli.command.stack())?;
    let mut freshness = Recorder::for_command(&cli);
    let result = match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Config(args) => config::run(args, cli.global.docker_host.as_deref()).await,
        Command::Drill(args) => drill::run(args, cli.global.docker_host.as_deref()).await,
        Command::Firewall(args) => firewall::run(args).await,
        Command::Restore(args) => restore::run(args, cli.global.docker_host.as_deref()).await,
        Command::Systemd(args) => systemd::run(args),
        Command::Secrets(args) => secrets::run(args),
        Command::Up(args) => up::run(args, cli.global.docker_host.as_deref()).await,
        Command::Down(args) => down::run(args, cli.global.docker_host.as_deref()).await,
        Command::Status(args) => status::run(args, cli.global.docker_host.as_deref()).await,
        Command::Health(args) => health::run(args, cli.global.docker_host.as_deref()).await,
        Command::Logs(args) => logs::run(args, cli.global.docker_host.as_deref()).await,
        Command::Restart(args) => restart::run(args, cli.global.docker_host.as_deref()).await,
        Command::Image(args) => image::run(args, cli.global.docker_host.as_deref()).await,
        Command::Backup(args) => {
            backup::run(args, cli.global.docker_host.as_deref(), &mut freshness).await
        }
        Command::Deploy(args) => deploy::run(args, cli.global.docker_host.as_deref()).await,
        Command::Rollback(args) => rollback::run(args, cli.global.docker_host.as_deref()).await,
        Command::Dev(args) => dev::run(args, cli.global.docker_host.as_deref()).await,
        Command::Arbiter(args) => arbiter::run(args, cli.global.docker_host.as_deref()).await,
        Command::Tor(args) => tor::run(args, cli.global.docker_host.as_deref()).await,
        Command::Tls(args) => tls::run(args, cli.global.docker_host.as_deref()).await,
    };
    freshness.record(result.as_ref().ok().copied()).await;
    result
}
