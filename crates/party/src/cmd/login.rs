//! `mmkt-party login USERNAME`: logs in, saves the session cookie (0600).

use std::path::PathBuf;

use clap::Args;
use mmkt_party::ops::Party;
use mmkt_party::ops::session::{LoginRequest, PASSWORD_ENV, PasswordSource, login};

use crate::cli::GlobalArgs;
use crate::exit::Outcome;

/// Log in. The password comes from --password-file (mode 0600) or MMKT_PARTY_PASSWORD, never
/// from the command line.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmkt-party --market http://127.0.0.1:8080 login alice --password-file ~/.mmkt-password
  MMKT_PARTY_PASSWORD=... mmkt-party --market http://127.0.0.1:8080 login alice

Exit codes: 0 ok, 2 no password or the file is readable by others, 21 wrong credentials, 22 unreachable.")]
pub struct LoginArgs {
    /// The market username.
    pub username: String,
    /// A file whose first line is the password (mode 0600 or stricter).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// Runs `login`.
pub async fn run(args: LoginArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let party = Party::new(&global.config()?)?;
    let password = match &args.password_file {
        Some(path) => PasswordSource::File(path),
        None => PasswordSource::Env(std::env::var(PASSWORD_ENV).ok()),
    };
    let request = LoginRequest {
        username: &args.username,
        password,
    };
    let report = login(&party, &request).await?;
    global.format().print(&report, || {
        format!(
            "logged in as {} ({}); session saved in {}",
            report.account.username, report.account.role, report.session_file
        )
    });
    Ok(Outcome::Success)
}
