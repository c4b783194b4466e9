//! `mmctl`: the mmkt operations CLI.
//!
//! This file only parses arguments, runs the command ([`mmctl::cmd::run`]), and turns the
//! result into the exit code in one place ([`mmctl::exit::finish`]). The exit-code contract
//! is documented in `exit.rs` and in `docs/MMCTL.md`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mmctl::cli::{self, Cli};
use mmctl::{cmd, exit};

fn main() -> ExitCode {
    ExitCode::from(exit::finish(run()))
}

fn run() -> anyhow::Result<exit::Outcome> {
    let cli = Cli::try_parse()?;
    cli::init_tracing(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cmd::run(cli))
}
