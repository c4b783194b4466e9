//! Why one step of an escrow's work failed ([`StepError`]): the orchestrator logs it and retries
//! the escrow on a later pass.

use escrow_core::Actor;

use super::ApplyError;
use super::worker::WorkerError;
use crate::db::DbError;
use crate::db::escrows::steps::Step;

/// Why one step of an escrow's work failed; the escrow is retried on a later pass. Messages never
/// contain a secret (no multisig_info, txset or password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// A wallet-rpc call failed.
    #[error(transparent)]
    Wallet(#[from] WorkerError),
    /// Storage failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state machine refused the outcome (e.g. a concurrent decision); re-read and retry.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The server has no wallet-rpc configured for a role (hosted mode needs all three).
    #[error(
        "no wallet-rpc configured for the {role} role (MMKT_WALLET_RPC_{env}_URL); escrow work waits",
        env = env_role(.role)
    )]
    NotConfigured {
        /// The participant without an endpoint.
        role: Actor,
    },
    /// The escrow has no wallet for a participant (its setup never ran).
    #[error("escrow has no {role} wallet; setup did not run")]
    MissingWallet {
        /// The participant.
        role: Actor,
    },
    /// A value the orchestrator stored earlier cannot be read back (wallet name, multisig_info,
    /// signed txset, payout destination).
    #[error("stored {what} is invalid: {detail}")]
    InvalidStored {
        /// What was read.
        what: &'static str,
        /// Why it is refused.
        detail: String,
    },
    /// A wallet-rpc answer does not parse as what the protocol expects (txid, tx hash, address).
    #[error("wallet-rpc returned an invalid {what}: {detail}")]
    InvalidWalletAnswer {
        /// What was returned.
        what: &'static str,
        /// Why it is refused.
        detail: String,
    },
    /// A setup step is recorded as done but without its output.
    #[error("step {} of {role} is done without output", .step.as_str())]
    StepWithoutOutput {
        /// The step.
        step: Step,
        /// The participant.
        role: Actor,
    },
    /// The three participants' final setup outputs are missing or disagree.
    #[error("the three escrow wallets report different multisig addresses")]
    SignersDisagree,
    /// The initiator signed a sweep alone: its wallet is not 2-of-3 multisig.
    #[error("the escrow wallet signed a sweep alone; it is not a 2-of-3 wallet")]
    NotMultisig,
    /// The payout transaction pays somewhere else than the plan's destination.
    #[error("the payout transaction pays an address other than the plan's destination")]
    WrongDestination,
    /// The co-signed payout still lacks signatures (or has no tx hash).
    #[error("the co-signed payout still lacks signatures")]
    IncompleteSignatures,
    /// The payout's amounts or fees do not fit in 64 bits.
    #[error("payout amounts overflow 64 bits")]
    AmountOverflow,
    /// A prepared payout has no stored signed txset.
    #[error("prepared payout has no stored signed txset; operator must check the escrow")]
    SignedPayoutMissing,
    /// The stored signed txset has other tx hashes than the prepared payout.
    #[error("stored signed txset does not match the prepared tx hashes")]
    SignedPayoutMismatch,
    /// The orchestrator is shutting down.
    #[error("escrow engine is stopping")]
    Stopping,
}

/// The `MMKT_WALLET_RPC_<ROLE>_URL` infix of a participant.
fn env_role(role: &Actor) -> &'static str {
    match role {
        Actor::Buyer => "BUYER",
        Actor::Vendor => "VENDOR",
        Actor::Arbiter | Actor::System => "ARBITER",
    }
}
