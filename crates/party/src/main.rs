//! `mmkt-party`: the CLI of buyers and vendors in non-custodial mmkt escrows.
//!
//! This file only parses arguments, runs the command ([`cmd::run`]) and turns the result into
//! the exit code in one place ([`exit::finish`]; the contract is documented in `exit.rs` and
//! docs/PARTY.md).

mod cli;
mod cmd;
mod exit;
mod output;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let format = cli.global.error_output();
    ExitCode::from(exit::finish(run(cli), format))
}

fn run(cli: cli::Cli) -> anyhow::Result<exit::Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cmd::run(cli))
}
