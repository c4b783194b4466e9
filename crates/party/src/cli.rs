//! Command-line definition (clap derive): the global options and the command list. Each
//! command's arguments live in its `cmd/*.rs` file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mmkt_party::ops::drive::{DriveRequest, Goal};
use mmkt_party::ops::turns::Approve;
use mmkt_party::ops::{DEFAULT_WALLET_PREFIX, PartyConfig};

use crate::cmd;
use crate::exit::ErrorOutput;
use crate::output::{Confirm, Format};

/// The buyer's or vendor's side of a non-custodial mmkt escrow: your own wallet-rpc does the
/// multisig rounds, the market only relays them.
#[derive(Debug, Parser)]
#[command(name = "mmkt-party", version, about, long_about = None, propagate_version = true,
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage, 4 not confirmed, 20 no session, 21 market refused, \
22 market unreachable, 23 wallet-rpc failed, 24 refused by the check, 25 address mismatch (docs/PARTY.md).")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The market's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "MMKT_PARTY_MARKET")]
    pub market: Option<String>,
    /// Your own monero-wallet-rpc (it holds the escrow wallets; run it with --disable-rpc-login
    /// only on 127.0.0.1).
    #[arg(
        long,
        global = true,
        env = "MMKT_PARTY_WALLET_RPC",
        default_value = "http://127.0.0.1:18083"
    )]
    pub wallet_rpc: String,
    /// Prefix of the escrow wallets' names: PREFIX-escrow-<escrow id>.
    #[arg(long = "wallet", global = true, value_name = "PREFIX", default_value = DEFAULT_WALLET_PREFIX)]
    pub wallet_prefix: String,
    /// State directory (session, wallet passwords); default $XDG_DATA_HOME/mmkt-party, else
    /// ~/.local/share/mmkt-party.
    #[arg(long, global = true, env = "MMKT_PARTY_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print the result as JSON on stdout (errors as {"error":{...}} too).
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalArgs {
    /// How reports print: JSON with `--json`, else text.
    pub fn format(&self) -> Format {
        if self.json {
            return Format::Json;
        }
        Format::Text
    }

    /// How errors print besides stderr.
    pub fn error_output(&self) -> ErrorOutput {
        if self.json {
            return ErrorOutput::Json;
        }
        ErrorOutput::Text
    }

    /// The library's configuration.
    ///
    /// # Errors
    /// A usage error when --market is missing.
    pub fn config(&self) -> anyhow::Result<PartyConfig> {
        let market = self.market.clone().filter(|m| !m.is_empty()).ok_or_else(|| {
            crate::exit::UsageError(
                "--market URL is required (or set MMKT_PARTY_MARKET), e.g. --market http://127.0.0.1:8080".into(),
            )
        })?;
        Ok(PartyConfig {
            market,
            wallet_rpc: self.wallet_rpc.clone(),
            wallet_prefix: self.wallet_prefix.clone(),
            state_dir: self.state_dir.clone(),
        })
    }
}

/// `--yes` of the commands that may sign second.
#[derive(Debug, Clone, Copy, Args)]
pub struct YesArg {
    /// Sign a set that passed the check without asking.
    #[arg(long)]
    pub yes: bool,
}

impl YesArg {
    /// Whether to ask before signing.
    pub fn confirm(self) -> Confirm {
        if self.yes {
            return Confirm::Given;
        }
        Confirm::Ask
    }
}

/// How long `escrow join` and `sign` wait for the other parties between their turns.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Seconds between reads of the rounds while the others are due.
    #[arg(long, default_value_t = 2)]
    pub poll_secs: u64,
    /// Give up after this many seconds without progress (the market's round timeout applies too).
    #[arg(long, default_value_t = 7200)]
    pub max_wait_secs: u64,
}

impl WaitArgs {
    /// The library's request for `order` until `goal`, approving with `approve`.
    pub fn request(self, order_id: i64, goal: Goal, approve: &dyn Approve) -> DriveRequest<'_> {
        DriveRequest {
            order_id,
            goal,
            approve,
            poll: Duration::from_secs(self.poll_secs.max(1)),
            max_wait: Duration::from_secs(self.max_wait_secs),
        }
    }
}

/// One command with its arguments.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and save the session (0600) in the state directory.
    ///
    /// Example: MMKT_PARTY_PASSWORD=... mmkt-party --market URL login alice
    Login(cmd::login::LoginArgs),
    /// List your orders.
    ///
    /// Example: mmkt-party orders --json
    Orders(cmd::orders::OrdersArgs),
    /// Join or inspect an order's non-custodial escrow.
    ///
    /// Example: mmkt-party escrow join 7
    Escrow(cmd::escrow::EscrowArgs),
    /// Buyer: confirm receipt, which starts the release to the vendor.
    ///
    /// Example: mmkt-party release 7 && mmkt-party sign 7
    Release(cmd::order_action::OrderArgs),
    /// Vendor: give the money back to the buyer (undisputed refund).
    ///
    /// Example: mmkt-party refund 7 && mmkt-party sign 7
    Refund(cmd::order_action::OrderArgs),
    /// Open a dispute; the arbiter decides and signs with the winner.
    ///
    /// Example: mmkt-party dispute 7 --reason "never arrived"
    Dispute(cmd::order_action::DisputeArgs),
    /// Do your payout rounds: re-sync, then build the set or check and sign it.
    ///
    /// Example: mmkt-party sign 7
    Sign(cmd::sign::SignArgs),
    /// Follow the market's notices and do your turns as they come.
    ///
    /// Example: mmkt-party watch
    Watch(cmd::watch::WatchArgs),
}
