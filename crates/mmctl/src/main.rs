//! `mmctl`: the mmkt operations CLI.
//!
//! This file only parses arguments, runs the command ([`mmctl::cmd::run`]), and turns the
//! result into the exit code in one place ([`mmctl::exit::finish`]). The exit-code contract
//! is documented in `exit.rs` and in `docs/MMCTL.md`.

use std::process::ExitCode;

use anyhow::Context;
use mmctl::cli;
use mmctl::{cmd, exit, settings};

fn main() -> ExitCode {
    ExitCode::from(exit::finish(run()))
}

fn run() -> anyhow::Result<exit::Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let cli = settings::parse(std::env::args_os().collect())
            .await
            .map_err(|e| match e {
                settings::SettingsError::Clap(e) => anyhow::Error::new(e),
                settings::SettingsError::Secrets(e) => anyhow::Error::new(e),
                other => anyhow::Error::new(exit::UsageError(other.to_string())),
            })?;
        cli::init_tracing(&cli.global);
        cmd::run(cli).await
    })
}
