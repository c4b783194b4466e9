//! The exit-code contract of `mmkt-party`, in one place (also in docs/PARTY.md "Exit codes").
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a failure not listed below (the state directory cannot be written, the market's round data is unusable, ...) |
//! | 2 | usage: bad flags or arguments, an empty or missing password, a secret file readable by others |
//! | 4 | not confirmed: the second signature was not approved (answer `yes`, or pass `--yes`); nothing signed |
//! | 20 | no session: run `mmkt-party login` (none saved, or the market no longer accepts it) |
//! | 21 | the market refused the request (its error code is printed, e.g. `not_your_turn`, `txset_refused`) |
//! | 22 | the market is unreachable or did not answer with its API |
//! | 23 | the party's own wallet-rpc failed or is unreachable |
//! | 24 | refused by the check: the payout set fails the second signer's check; nothing signed |
//! | 25 | escrow join: the market shows another escrow address than this party's wallet computed, or none; do not fund it |
//!
//! Commands return [`Outcome`] for results that are not errors and `anyhow::Error` for errors;
//! [`finish`] turns either into the code, printing errors on stderr (and, with `--json`, as
//! `{"error":{"code","exit_code","message"}}` on stdout).

use mmkt_party::{ErrorKind, PartyError};

/// Exit code 0: success.
pub const OK: u8 = 0;
/// Exit code 1: a failure without its own code.
pub const FAILED: u8 = 1;
/// Exit code 2: usage error.
pub const USAGE: u8 = 2;
/// Exit code 4: the signature was not confirmed.
pub const NOT_CONFIRMED: u8 = 4;
/// Exit code 20: no session.
pub const NO_SESSION: u8 = 20;
/// Exit code 21: the market refused.
pub const MARKET_REFUSED: u8 = 21;
/// Exit code 22: the market is unreachable.
pub const MARKET_UNREACHABLE: u8 = 22;
/// Exit code 23: the wallet-rpc failed.
pub const WALLET_FAILED: u8 = 23;
/// Exit code 24: refused by the second signer's check.
pub const REFUSED_BY_CHECK: u8 = 24;
/// Exit code 25: the market's escrow address differs from this party's wallet's.
pub const ADDRESS_MISMATCH: u8 = 25;

/// What a command that ran to its end reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Success,
    /// `escrow join`: the market shows another address than the wallet computed.
    AddressMismatch,
}

impl Outcome {
    /// The exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => OK,
            Outcome::AddressMismatch => ADDRESS_MISMATCH,
        }
    }
}

/// Marker error: bad input found by the binary itself. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// How errors are printed besides stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOutput {
    /// Only `error: ...` on stderr.
    Text,
    /// Also `{"error":{...}}` on stdout (`--json`).
    Json,
}

/// Ends a run: the outcome's code, or the error printed and its code.
pub fn finish(result: anyhow::Result<Outcome>, output: ErrorOutput) -> u8 {
    let err = match result {
        Ok(outcome) => return outcome.code(),
        Err(err) => err,
    };
    let (code, label) = classify(&err);
    eprintln!("error: {err:#}");
    if output == ErrorOutput::Json {
        let body = serde_json::json!({"error": {"code": label, "exit_code": code, "message": format!("{err:#}")}});
        println!("{body}");
    }
    code
}

/// The exit code and `--json` code of an error: the first [`PartyError`] or [`UsageError`] in
/// its chain, else 1.
pub fn classify(err: &anyhow::Error) -> (u8, &'static str) {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return (USAGE, "usage");
        }
        if let Some(party) = cause.downcast_ref::<PartyError>() {
            return (code_of(party.kind()), party.code());
        }
    }
    (FAILED, "failed")
}

fn code_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::NoSession => NO_SESSION,
        ErrorKind::MarketRefused => MARKET_REFUSED,
        ErrorKind::MarketUnreachable => MARKET_UNREACHABLE,
        ErrorKind::Wallet => WALLET_FAILED,
        ErrorKind::Refused => REFUSED_BY_CHECK,
        ErrorKind::NotConfirmed => NOT_CONFIRMED,
        _ => FAILED,
    }
}
