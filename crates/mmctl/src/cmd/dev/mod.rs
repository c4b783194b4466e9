//! `mmctl dev pay|mine|address|seed|arbiter create`: the development stack's helpers (regtest
//! faucet, miner, demo data), refused with exit 2 in any environment but development. One child
//! module per group; the workflows are `mmkt_stack::dev`.

pub mod chain;
pub mod seed;

use clap::{Args, Subcommand};

use crate::accounts::{self, ArbiterCreateArgs, Scope};
use crate::exit::Outcome;

/// `mmctl dev ...`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl dev pay 4... 1.5             # 1.5 XMR from the faucet (also 1.5xmr, 1500000000000pico)
  mmctl dev mine 10                  # 10 blocks now, to the faucet
  mmctl dev address                  # the faucet's address
  mmctl dev seed                     # demo vendor, buyer, arbiter (passwords printed) and listings
  mmctl dev arbiter create judge     # an arbiter on the development stack

The development stack runs with `bash scripts/stack.sh` (or `mmctl up --profile dev`): its
miner mines a block every MMKT_DEV_MINE_INTERVAL_SECS seconds to the faucet. Exit codes: 0 ok,
1 failed (faucet short, service not running), 2 bad input or not the development environment,
3 Docker unreachable.")]
pub struct DevArgs {
    #[command(subcommand)]
    pub command: DevCommand,
}

/// The development subcommands.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Pay AMOUNT from the faucet to ADDRESS (AMOUNT: XMR as 1.5 or 1.5xmr, piconero as 1500000000000pico).
    ///
    /// Example: mmctl dev pay 4... 1.5
    Pay(chain::PayArgs),
    /// Mine N blocks to the faucet now.
    ///
    /// Example: mmctl dev mine 10
    Mine(chain::MineArgs),
    /// Print the faucet's address.
    ///
    /// Example: mmctl dev address
    Address(chain::AddressArgs),
    /// Create demo vendor, buyer and arbiter accounts (passwords printed) and a few listings.
    ///
    /// Example: mmctl dev seed --prefix demo
    Seed(seed::SeedArgs),
    /// Arbiter accounts on the development stack.
    ///
    /// Example: mmctl dev arbiter create judge
    Arbiter(DevArbiterArgs),
}

/// `mmctl dev arbiter ...`
#[derive(Debug, Args)]
pub struct DevArbiterArgs {
    #[command(subcommand)]
    pub command: DevArbiterCommand,
}

/// The development arbiter subcommands.
#[derive(Debug, Subcommand)]
pub enum DevArbiterCommand {
    /// Create an arbiter (password: MMKT_ARBITER_PASSWORD, else stdin's first line, else generated and printed).
    ///
    /// Example: mmctl dev arbiter create judge
    Create(ArbiterCreateArgs),
}

impl DevCommand {
    /// The stack the command acts on.
    pub fn stack(&self) -> &crate::args::StackArgs {
        match self {
            DevCommand::Pay(a) => &a.stack,
            DevCommand::Mine(a) => &a.stack,
            DevCommand::Address(a) => &a.stack,
            DevCommand::Seed(a) => &a.stack,
            DevCommand::Arbiter(a) => match &a.command {
                DevArbiterCommand::Create(c) => &c.stack,
            },
        }
    }
}

/// Runs `mmctl dev ...`.
pub async fn run(args: DevArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        DevCommand::Pay(a) => chain::run_pay(a, docker_host).await,
        DevCommand::Mine(a) => chain::run_mine(a, docker_host).await,
        DevCommand::Address(a) => chain::run_address(a, docker_host).await,
        DevCommand::Seed(a) => seed::run(a, docker_host).await,
        DevCommand::Arbiter(a) => match a.command {
            DevArbiterCommand::Create(c) => {
                accounts::create(c, docker_host, Scope::DevelopmentOnly).await
            }
        },
    }
}
