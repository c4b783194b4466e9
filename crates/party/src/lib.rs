//! mmkt-party: the buyer's or vendor's side of a non-custodial mmkt escrow, as a library (the
//! `mmkt-party` binary is a thin CLI over it; docs/PARTY.md is the user guide).
//!
//! In a non-custodial escrow the market holds only the arbiter's wallet; buyer and vendor each
//! run their own `monero-wallet-rpc` and take turns in the round protocol the market relays
//! (`GET`/`POST /api/escrows/{id}/rounds`). This crate computes each turn's payload with the
//! party's own wallet and submits it; wallet passwords and keys never leave the party's machine.
//!
//! - [`wallet`]: one fresh wallet per escrow and one function per round (multisig setup,
//!   re-sync, build, review and sign); [`wallet::check`]: the second signer's check of a payout
//!   set (escrow-core's payout check on `describe_transfer`'s answer) before it signs.
//! - [`market`]: the market's HTTP API ([`market::MarketClient`]) and `GET /ws` notices.
//! - [`state`]: the state directory (0700): the session (0600) and the wallet passwords (0600).
//! - [`ops`]: the operations behind the commands, plain structs in, typed reports out.
//! - [`error`]: [`PartyError`], with the [`error::ErrorKind`] the exit codes follow.

#![warn(missing_docs)]

pub mod error;
pub mod market;
pub mod ops;
pub mod state;
pub mod wallet;

pub use error::{ErrorKind, PartyError};
