//! [`PartyError`]: every way an mmkt-party operation fails. Messages say what failed and what
//! to do, and never contain a password, a session token, multisig info or a transaction set.

use std::path::PathBuf;

use escrow_core::SignerRefusal;
use monero_rpc::RpcError;

/// Why an mmkt-party operation failed. Each variant has a stable [`PartyError::kind`] that the
/// binary maps to its exit code (docs/PARTY.md "Exit codes").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartyError {
    /// A file or directory of the state directory cannot be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    State {
        /// What was being done, e.g. "create the state directory".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A secret file (password file, session, wallet password) is readable by others.
    #[error(
        "{} has mode {mode:o}, readable by other users; run `chmod 600 {}` and retry",
        path.display(),
        path.display()
    )]
    InsecureFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The input given on the command line or in a file is unusable.
    #[error("{0}")]
    Input(String),
    /// No saved session: the user has not logged in (or logged out).
    #[error("not logged in (no session in {}); run `mmkt-party login` first", path.display())]
    NoSession {
        /// Where the session would be.
        path: PathBuf,
    },
    /// The market no longer accepts the saved session (it expired or was logged out).
    #[error("the market no longer accepts the saved session; run `mmkt-party login` again")]
    SessionExpired,
    /// The market answered with an error (`{"error":{"code":...}}`).
    #[error("the market refused {action} (HTTP {status}, {code}): {message}")]
    MarketRefused {
        /// What was asked, e.g. "POST /api/escrows/7/rounds/make".
        action: String,
        /// HTTP status.
        status: u16,
        /// The market's stable error code, e.g. `not_your_turn`.
        code: String,
        /// The market's message.
        message: String,
    },
    /// The market could not be reached or answered something that is not its API.
    #[error("cannot talk to the market for {action}: {detail}; check --market and retry")]
    MarketUnreachable {
        /// What was asked.
        action: String,
        /// What failed (no token, no payload).
        detail: String,
    },
    /// A call to the party's own wallet-rpc failed.
    #[error("wallet-rpc call for {step} failed: {source}; check --wallet-rpc and that it runs")]
    Wallet {
        /// The escrow step, e.g. "make_multisig".
        step: &'static str,
        /// The RPC error (it redacts secrets).
        #[source]
        source: RpcError,
    },
    /// The market asked for something the wallet side cannot do (inputs of the wrong count or
    /// shape, an unknown round or role).
    #[error("the market's round data is unusable: {0}")]
    Protocol(String),
    /// The second signer's check refused the transaction set; nothing was signed.
    #[error("refused to sign: {0}; nothing was signed")]
    Refused(#[from] SignerRefusal),
    /// The user did not confirm the signature.
    #[error("not confirmed: nothing was signed (answer yes, or pass --yes)")]
    NotConfirmed,
}

/// The class of a [`PartyError`], for exit codes and `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input or an insecure secret file (exit 2).
    Usage,
    /// No session (exit 20).
    NoSession,
    /// The market refused (exit 21).
    MarketRefused,
    /// The market is unreachable (exit 22).
    MarketUnreachable,
    /// The wallet-rpc failed (exit 23).
    Wallet,
    /// The second signer's check refused the set (exit 24).
    Refused,
    /// Not confirmed (exit 4).
    NotConfirmed,
    /// Anything else (exit 1).
    Failed,
}

impl PartyError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PartyError::Input(_) | PartyError::InsecureFile { .. } => ErrorKind::Usage,
            PartyError::NoSession { .. } | PartyError::SessionExpired => ErrorKind::NoSession,
            PartyError::MarketRefused { .. } => ErrorKind::MarketRefused,
            PartyError::MarketUnreachable { .. } => ErrorKind::MarketUnreachable,
            PartyError::Wallet { .. } => ErrorKind::Wallet,
            PartyError::Refused(_) => ErrorKind::Refused,
            PartyError::NotConfirmed => ErrorKind::NotConfirmed,
            PartyError::State { .. } | PartyError::Protocol(_) => ErrorKind::Failed,
        }
    }

    /// A stable snake_case code for `--json` output: `usage`, `no_session`, `market_refused`,
    /// `market_unreachable`, `wallet`, `refused_by_check`, `not_confirmed`, `failed`.
    pub fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Usage => "usage",
            ErrorKind::NoSession => "no_session",
            ErrorKind::MarketRefused => "market_refused",
            ErrorKind::MarketUnreachable => "market_unreachable",
            ErrorKind::Wallet => "wallet",
            ErrorKind::Refused => "refused_by_check",
            ErrorKind::NotConfirmed => "not_confirmed",
            ErrorKind::Failed => "failed",
        }
    }

    /// A wallet-rpc failure during `step`.
    pub(crate) fn wallet(step: &'static str) -> impl FnOnce(RpcError) -> PartyError {
        move |source| PartyError::Wallet { step, source }
    }
}
