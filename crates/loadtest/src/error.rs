//! Why a load run could not run (a run that ran and missed its thresholds is a
//! [`crate::report::RunReport`] with `passed == false`, not an error).

use std::path::PathBuf;

/// A run that could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The base URL is not an absolute `http://` or `https://` URL.
    #[error("{url:?} is not a base URL: {reason} (give e.g. http://127.0.0.1:8080)")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// `GET /health` at the base URL did not answer 200 before the run.
    #[error(
        "the marketplace at {url} is not reachable from {source_addr}: {reason} (is the stack up, and is this the URL nginx publishes?)"
    )]
    Unreachable {
        /// The health URL tried.
        url: String,
        /// The source address the probe used.
        source_addr: String,
        /// What happened.
        reason: String,
    },
    /// The report directory or a report file could not be written.
    #[error("cannot write the report {path}: {source}")]
    Report {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP clients, the runtime or the goose attack could not be set up.
    #[error("cannot set up the load run: {0}")]
    Setup(String),
    /// `mmctl dev ...` (the development stack's faucet) could not run or failed.
    #[error(
        "the faucet command `{command}` failed: {reason} (is a development stack up with `mmctl up --profile dev`, with COMPOSE_PROJECT_NAME naming it, and does --mmctl name the mmctl binary?)"
    )]
    Faucet {
        /// The command run.
        command: String,
        /// What happened (exit status and stderr).
        reason: String,
    },
    /// goose stopped with an error.
    #[error("the load run failed: {0}")]
    Goose(String),
}
