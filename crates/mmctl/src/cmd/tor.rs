//! `mmctl tor address`: the stack's onion address, read from the running `tor` container's
//! `hostname` file through the Engine API and checked (exit 45 when tor is not running, 46 when
//! it has not made its keys yet).

use clap::{Args, Subcommand};
use mmkt_stack::tor::OnionLookup;

use crate::args::{StackArgs, connect};
use crate::exit::{ONION_NOT_CREATED, Outcome, TOR_NOT_RUNNING, classify_stack, tor_unavailable};

/// `mmctl tor ...`
#[derive(Debug, Args)]
pub struct TorArgs {
    #[command(subcommand)]
    pub command: TorCommand,
}

/// The tor subcommands.
#[derive(Debug, Subcommand)]
pub enum TorCommand {
    /// Print the v3 onion address of the stack's tor service (its hidden-service `hostname`).
    ///
    /// Example: mmctl tor address --env production
    #[command(
        after_help = "Exit codes: 0 printed, 3 Docker unreachable, 45 the tor service is not \
running (or the project has no tor container), 46 tor has not made its keys yet."
    )]
    Address(AddressArgs),
}

impl TorCommand {
    /// The stack the command acts on (its environment may name the engine).
    pub fn stack(&self) -> &StackArgs {
        match self {
            TorCommand::Address(a) => &a.stack,
        }
    }
}

/// `mmctl tor address`
#[derive(Debug, Args)]
pub struct AddressArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print `{"onion_address": "..."}` instead of the bare address.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mmctl tor ...`.
pub async fn run(args: TorArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        TorCommand::Address(a) => address(a, docker_host).await,
    }
}

/// Prints the onion address, or fails with exit 45 or 46 saying what to do.
async fn address(args: AddressArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let engine = connect(docker_host).await?;
    let project = &args.stack.project;
    let lookup = engine
        .onion_address(project)
        .await
        .map_err(classify_stack)?;
    let address = match lookup {
        OnionLookup::Found(address) => address,
        OnionLookup::NoContainer => Err(tor_unavailable(
            TOR_NOT_RUNNING,
            format!(
                "project {project} has no tor container: start the stack with `mmctl up` (the tor service publishes the onion address)"
            ),
        ))?,
        OnionLookup::NotRunning => Err(tor_unavailable(
            TOR_NOT_RUNNING,
            format!(
                "the tor service of project {project} is not running: start it (`mmctl up`) and see `mmctl logs tor`"
            ),
        ))?,
        OnionLookup::NotCreated => Err(tor_unavailable(
            ONION_NOT_CREATED,
            format!(
                "the tor service of project {project} has not made its onion-service keys yet: wait until it is healthy (`mmctl status`), or see `mmctl logs tor`"
            ),
        ))?,
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "onion_address": address.as_str() })
        );
    } else {
        println!("{address}");
    }
    Ok(Outcome::Success)
}
