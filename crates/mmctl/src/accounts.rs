//! Arbiter accounts from the command line, shared by `mmctl arbiter create` (any environment)
//! and `mmctl dev arbiter create` (development only): the arguments, where the password comes
//! from (never a command-line argument, so it is never visible in `ps`), and the printing.
//! The workflow is `mmkt_stack::arbiter::create`.

use std::io::{BufRead, IsTerminal};

use clap::Args;
use mmkt_stack::arbiter::{self, AccountPassword};

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_arbiter, classify_dev};

/// The environment variable an arbiter password may come from.
pub const PASSWORD_VARIABLE: &str = "MMKT_ARBITER_PASSWORD";

/// `... arbiter create USERNAME`.
#[derive(Debug, Args)]
pub struct ArbiterCreateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Username, 3-32 characters of [A-Za-z0-9_.-] (unique, case-insensitive).
    pub username: String,
}

/// Which environments a command may create arbiters in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any (`mmctl arbiter create`).
    AnyEnvironment,
    /// Development only (`mmctl dev arbiter create`): refused elsewhere with exit 2.
    DevelopmentOnly,
}

/// Where the password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// The `MMKT_ARBITER_PASSWORD` environment variable.
    Environment,
    /// The first line of standard input (piped).
    Stdin,
    /// Generated here, printed once.
    Generated,
}

/// The password: `MMKT_ARBITER_PASSWORD` when set, else the first line of standard input when
/// it is not a terminal and gives one, else a generated one.
///
/// # Errors
/// Standard input cannot be read.
pub fn password() -> anyhow::Result<(AccountPassword, PasswordSource)> {
    if let Ok(p) = std::env::var(PASSWORD_VARIABLE)
        && !p.is_empty()
    {
        return Ok((AccountPassword::new(p), PasswordSource::Environment));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| anyhow::anyhow!("cannot read the password from standard input: {e}"))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            return Ok((
                AccountPassword::new(line.to_string()),
                PasswordSource::Stdin,
            ));
        }
    }
    Ok((AccountPassword::generate(), PasswordSource::Generated))
}

/// Creates the arbiter in the project's running server and prints the result (a generated
/// password once, on stdout).
pub async fn create(
    args: ArbiterCreateArgs,
    docker_host: Option<&str>,
    scope: Scope,
) -> anyhow::Result<Outcome> {
    let project = args.stack.load()?;
    if scope == Scope::DevelopmentOnly {
        mmkt_stack::dev::require_development(&project).map_err(classify_dev)?;
    }
    let (password, source) = password()?;
    let engine = connect(docker_host).await?;
    let created = arbiter::create(&project, &engine, &args.username, &password)
        .await
        .map_err(classify_arbiter)?;
    println!("{}", created.message);
    match source {
        PasswordSource::Generated => println!(
            "password: {} (generated; store it now, it is not shown again)",
            password.expose()
        ),
        PasswordSource::Environment => println!("password: from {PASSWORD_VARIABLE}"),
        PasswordSource::Stdin => println!("password: from standard input"),
    }
    Ok(Outcome::Success)
}
