//! `mmctl`: the mmkt operations CLI.
//!
//! This file only parses arguments, dispatches to `cmd::*`, and maps the result to an exit
//! code in one place ([`exit::code_for_error`]). The exit-code contract is documented in
//! `exit.rs` and in `docs/MMCTL.md`.

mod cli;
mod cmd;
mod exit;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with 2.
            let code = if err.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    cli::init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_for_error(&err))
        }
    }
}
