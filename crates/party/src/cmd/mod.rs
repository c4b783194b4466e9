//! One module per command: clap arguments, one library call, printing. [`run`] dispatches.

pub mod escrow;
pub mod login;
pub mod order_action;
pub mod orders;
pub mod sign;
pub mod watch;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    match cli.command {
        Command::Login(args) => login::run(args, &global).await,
        Command::Orders(args) => orders::run(args, &global).await,
        Command::Escrow(args) => escrow::run(args, &global).await,
        Command::Release(args) => order_action::release(args, &global).await,
        Command::Refund(args) => order_action::refund(args, &global).await,
        Command::Dispute(args) => order_action::dispute(args, &global).await,
        Command::Sign(args) => sign::run(args, &global).await,
        Command::Watch(args) => watch::run(args, &global).await,
    }
}
