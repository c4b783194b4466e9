//! `mmctl completions SHELL`: prints a completion script for bash, zsh, fish, elvish or powershell.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Target shell.
    pub shell: Shell,
}

/// Runs `mmctl completions SHELL`: writes the completion script to stdout.
pub fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "mmctl", &mut std::io::stdout());
    Ok(Outcome::Success)
}
