//! The development stack's helpers (compose profile `dev`, `MMKT_ENV=development` only): the
//! regtest faucet wallet and the chain ([`chain`]: pay from the faucet, mine blocks), the
//! amounts `mmctl dev pay` reads ([`amount`]), and demo accounts and listings made through the
//! server's HTTP API ([`seed`]). Every entry point first checks the environment with
//! [`require_development`], so none of them runs against staging or production.

pub mod amount;
pub mod chain;
pub mod seed;

use monero_rpc::{Amount, RpcError};

use super::arbiter::ArbiterError;
use super::environments::environment_of;
use super::error::StackError;
use super::stack::Project;

/// The environment these helpers work in.
pub const DEVELOPMENT: &str = "development";

/// The compose service of the faucet wallet-rpc.
pub const FAUCET_SERVICE: &str = "faucet";

/// The compose service of the miner.
pub const MINER_SERVICE: &str = "miner";

/// The compose profile that enables both.
pub const PROFILE: &str = "dev";

/// Why a development helper did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The project's `MMKT_ENV` is not development: refused before anything is touched.
    #[error(
        "mmctl dev works only on the development stack, and this project's MMKT_ENV is {env}; \
         use --env development (for an arbiter in staging or production: `mmctl arbiter create`)"
    )]
    NotDevelopment {
        /// The environment found.
        env: String,
    },
    /// A development service has no running container.
    #[error(
        "service {service} of project {project} is not running; start the development stack \
         with `mmctl up --profile dev` (or `bash scripts/stack.sh`)"
    )]
    NotRunning {
        /// The compose project.
        project: String,
        /// The service.
        service: String,
    },
    /// The faucet cannot cover the payment yet (its coinbase unlocks 60 blocks after it is
    /// mined).
    #[error(
        "the faucet has {unlocked} XMR unlocked, less than {wanted} XMR plus the fee; \
         mine blocks first (`mmctl dev mine 60`) or pay less"
    )]
    FaucetShort {
        /// Spendable now.
        unlocked: Amount,
        /// Asked for.
        wanted: Amount,
    },
    /// Input that can never work (an amount or address that does not parse).
    #[error("{0}")]
    Invalid(String),
    /// A wallet-rpc or monerod call failed.
    #[error("{what}: {source}")]
    Rpc {
        /// What was being done, e.g. "mine 5 blocks".
        what: String,
        /// The RPC error.
        source: RpcError,
    },
    /// The server's HTTP API refused or failed a request.
    #[error("{method} {path} answered {status}: {body}")]
    Api {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// HTTP status code.
        status: u16,
        /// The answer (the API's error shape; no secret is ever in it).
        body: String,
    },
    /// The server's HTTP API did not answer.
    #[error("the server at {url} did not answer: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// Creating the demo arbiter failed.
    #[error(transparent)]
    Arbiter(#[from] ArbiterError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] StackError),
}

/// Refuses any project whose `MMKT_ENV` (env file, then the process environment) is not
/// development.
///
/// # Errors
/// [`DevError::NotDevelopment`].
pub fn require_development(project: &Project) -> Result<(), DevError> {
    let env = environment_of(&project.compose);
    if env != DEVELOPMENT {
        return Err(DevError::NotDevelopment { env });
    }
    Ok(())
}
