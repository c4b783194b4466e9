//! Command-line definition (clap derive): the [`Cli`] parser and its [`Command`] list. Each
//! subcommand's arguments live in its own `cmd/*.rs` file, shared groups in `args.rs`.

use clap::{Parser, Subcommand};

use crate::args::{GlobalArgs, StackArgs};
use crate::cmd;

/// mmkt operations CLI: run the stack, check its health, back it up and restore it.
#[derive(Debug, Parser)]
#[command(name = "mmctl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand of mmctl, with its arguments.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script.
    ///
    /// Example: mmctl completions bash > /etc/bash_completion.d/mmctl
    Completions(cmd::completions::CompletionsArgs),
    /// Create or update the stack from deploy/docker-compose.yml and wait until it is healthy.
    ///
    /// Example: mmctl up --env development
    Up(cmd::up::UpArgs),
    /// Stop (30 s grace) and remove the stack's containers and networks; volumes are kept.
    ///
    /// Example: mmctl down
    Down(cmd::down::DownArgs),
    /// Show service, container, state, health, image and uptime of every service.
    ///
    /// Example: mmctl status --json
    Status(cmd::status::StatusArgs),
    /// Probe every service for real; exit 0 when all are healthy, 1 otherwise.
    ///
    /// Example: mmctl health
    Health(cmd::health::HealthArgs),
    /// Show or follow a service's logs.
    ///
    /// Example: mmctl logs server --since 10m --follow
    Logs(cmd::logs::LogsArgs),
    /// Restart one service gracefully and wait until it is healthy.
    ///
    /// Example: mmctl restart wallet-rpc-buyer
    Restart(cmd::restart::RestartArgs),
    /// Offline images: bootstrap the Debian base, build, save and load.
    ///
    /// Example: mmctl image bootstrap-base && mmctl image build
    Image(cmd::image::ImageArgs),
    /// Encrypted, verified backups of the database and wallets, offsite copies and retention.
    ///
    /// Example: mmctl backup db && mmctl backup verify && mmctl backup prune --dry-run
    Backup(cmd::backup::BackupArgs),
    /// Write hardened systemd service and timer units for backups, pruning and drills.
    ///
    /// Example: mmctl systemd install --dir /etc/systemd/system
    Systemd(cmd::systemd::SystemdArgs),
    /// Restore the database or a wallet directory from a verified backup (stops/starts the service).
    ///
    /// Example: mmctl restore db latest --yes
    Restore(cmd::restore::RestoreArgs),
    /// Disaster-recovery drill: fresh backup, restore into scratch, verify; prints RTO and RPO.
    ///
    /// Example: mmctl drill --json
    Drill(cmd::drill::DrillArgs),
    /// Blue/green deploy of the server: lock, backup, green beside blue, smoke, switch, watch.
    ///
    /// Example: mmctl deploy --env production --version v2 --yes
    Deploy(cmd::deploy::DeployArgs),
    /// Switch back to the previous (or a named) version's local image, with no pull.
    ///
    /// Example: mmctl rollback --env production --yes
    Rollback(cmd::rollback::RollbackArgs),
    /// Development stack only: pay from the regtest faucet, mine blocks, seed demo data.
    ///
    /// Example: mmctl dev pay 4... 1.5 && mmctl dev mine 10
    Dev(cmd::dev::DevArgs),
    /// Arbiter accounts, through the server's own create-arbiter in its container.
    ///
    /// Example: mmctl arbiter create judge --env production
    Arbiter(cmd::arbiter::ArbiterArgs),
    /// The host's nftables firewall: plan (ruleset and diff), apply (atomic), status.
    ///
    /// Example: sudo mmctl firewall apply --env production
    Firewall(cmd::firewall::FirewallArgs),
    /// The environment's encrypted secrets file (SOPS format): init, edit, get, set, rotate.
    ///
    /// Example: mmctl secrets get WALLET_RPC_LOGIN --env staging
    Secrets(cmd::secrets::SecretsArgs),
    /// Show the resolved settings and where each came from (config file, volume, environment).
    ///
    /// Example: mmctl config show --env production
    Config(cmd::config::ConfigArgs),
    /// The stack's Tor onion service: print its .onion address.
    ///
    /// Example: mmctl tor address
    Tor(cmd::tor::TorArgs),
    /// nginx's TLS certificate: status, renew (certbot or --from/--key, nginx -t before reload).
    ///
    /// Example: mmctl tls status --env production && mmctl tls renew --env production
    Tls(cmd::tls::TlsArgs),
}

impl Command {
    /// The stack (compose file and environment) the command acts on, whose environment may
    /// name the Docker Engine (`MMKT_DOCKER_HOST`); `None` for commands without `--env`.
    pub fn stack(&self) -> Option<&StackArgs> {
        use cmd::image::ImageCommand;
        match self {
            Command::Up(a) => Some(&a.stack),
            Command::Down(a) => Some(&a.stack),
            Command::Status(a) => Some(&a.stack),
            Command::Health(a) => Some(&a.stack),
            Command::Logs(a) => Some(&a.stack),
            Command::Restart(a) => Some(&a.stack),
            Command::Image(a) => match &a.command {
                ImageCommand::Build(b) => Some(&b.stack),
                ImageCommand::Save(s) => Some(&s.stack),
                ImageCommand::BootstrapBase(_) | ImageCommand::Load(_) => None,
            },
            Command::Deploy(a) => Some(match &a.command {
                None => &a.run.stack,
                Some(
                    cmd::deploy::DeployCommand::Unlock(i)
                    | cmd::deploy::DeployCommand::History(i)
                    | cmd::deploy::DeployCommand::Status(i),
                ) => &i.stack,
            }),
            Command::Rollback(a) => Some(&a.stack),
            Command::Secrets(a) => Some(&a.command.target().stack),
            Command::Dev(a) => Some(a.command.stack()),
            Command::Tor(a) => Some(a.command.stack()),
            Command::Tls(a) => Some(match &a.command {
                cmd::tls::TlsCommand::Status(s) => &s.stack,
                cmd::tls::TlsCommand::Renew(r) => &r.stack,
            }),
            Command::Arbiter(a) => Some(match &a.command {
                cmd::arbiter::ArbiterCommand::Create(c) => &c.stack,
            }),
            _ => None,
        }
    }
}

/// Sends mmctl's diagnostics to stderr; stdout stays for data (`--json`).
pub fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
