//! The operations behind the commands: plain structs in ([`PartyConfig`], [`LoginRequest`]),
//! typed reports out, [`PartyError`] on failure. The binary's cmd files only parse, call one
//! operation and print its report.
//!
//! - [`session`]: `login`, `orders`, `status`, and the order actions (`release`, `refund`,
//!   `dispute`).
//! - [`turns`]: one turn of the round protocol from the rounds view (the payload computed by the
//!   party's own wallet, then submitted); [`drive`]: the loop of `escrow join` and `sign`.
//! - [`watch`]: `watch`, turns done as the market's `escrow_turn` notices arrive.

pub mod drive;
pub mod session;
pub mod turns;
pub mod watch;

use std::path::PathBuf;

use escrow_core::FeeLimit;
use monero_rpc::WalletClient;

use crate::error::PartyError;
use crate::market::MarketClient;
use crate::market::types::OrderSummary;
use crate::state::StateDir;
use crate::wallet::check::{DEFAULT_MAX_FEE_BASIS_POINTS, DEFAULT_MAX_FEE_PICONERO};
use crate::wallet::{EscrowWallet, Opened, wallet_name};

/// The default wallet prefix (`--wallet`): wallets are named `mmkt-escrow-<escrow_id>`.
pub const DEFAULT_WALLET_PREFIX: &str = "mmkt";

/// Where the party's market, wallet-rpc and state are (the global options).
#[derive(Debug, Clone)]
pub struct PartyConfig {
    /// The market's base URL (`--market`).
    pub market: String,
    /// The party's own wallet-rpc (`--wallet-rpc`, e.g. `http://127.0.0.1:18083`).
    pub wallet_rpc: String,
    /// The escrow wallets' name prefix (`--wallet`).
    pub wallet_prefix: String,
    /// The state directory (`--state-dir`); `None`: [`StateDir::default_root`].
    pub state_dir: Option<PathBuf>,
}

/// A connected party: its market client (with the session once logged in), its wallet-rpc and
/// its state directory.
#[derive(Debug, Clone)]
pub struct Party {
    /// The market.
    pub market: MarketClient,
    /// The party's own wallet-rpc.
    pub wallet_rpc: WalletClient,
    /// The state directory.
    pub state: StateDir,
    /// The wallet prefix.
    pub wallet_prefix: String,
    /// This party's own fee bound when it signs second (the market's bound can only lower it).
    pub own_fee_limit: FeeLimit,
}

impl Party {
    /// Checks the URLs and opens (creates, 0700) the state directory; no session is loaded.
    ///
    /// # Errors
    /// [`PartyError::Input`] for a bad URL or prefix; [`PartyError::State`].
    pub fn new(config: &PartyConfig) -> Result<Party, PartyError> {
        let market = MarketClient::new(&config.market)?;
        let wallet_rpc = WalletClient::new(&config.wallet_rpc)
            .map_err(|e| PartyError::Input(format!("--wallet-rpc: {e}")))?
            .with_label("party")
            .with_timeout(std::time::Duration::from_secs(120));
        wallet_name(&config.wallet_prefix, 0)?;
        let root = match &config.state_dir {
            Some(dir) => dir.clone(),
            None => StateDir::default_root()?,
        };
        let state = StateDir::open(&root)?;
        let own_fee_limit = FeeLimit::new(
            escrow_core::Amount::from_atomic(DEFAULT_MAX_FEE_PICONERO),
            DEFAULT_MAX_FEE_BASIS_POINTS,
        )
        .map_err(|e| PartyError::Input(e.to_string()))?;
        Ok(Party {
            market,
            wallet_rpc,
            state,
            wallet_prefix: config.wallet_prefix.clone(),
            own_fee_limit,
        })
    }

    /// [`Party::new`] with the saved session.
    ///
    /// # Errors
    /// As [`Party::new`]; [`PartyError::NoSession`] when not logged in.
    pub fn logged_in(config: &PartyConfig) -> Result<Party, PartyError> {
        let mut party = Party::new(config)?;
        let session = party.state.session()?;
        party.market = party.market.with_session(session);
        Ok(party)
    }

    /// Order `order_id`, refused unless its escrow is non-custodial.
    ///
    /// # Errors
    /// [`PartyError::Input`] for a hosted escrow; market errors.
    pub async fn non_custodial_order(&self, order_id: i64) -> Result<OrderSummary, PartyError> {
        let order = self.market.order(order_id).await?;
        if order.escrow_mode != "non_custodial" {
            return Err(PartyError::Input(format!(
                "order {order_id} has a {} escrow: the market holds its wallets, there is nothing for mmkt-party to do",
                order.escrow_mode
            )));
        }
        Ok(order)
    }

    /// Opens (or creates, first time) the escrow's own wallet `<prefix>-escrow-<escrow_id>`.
    ///
    /// # Errors
    /// As [`EscrowWallet::open_or_create`].
    pub async fn escrow_wallet(
        &self,
        escrow_id: i64,
    ) -> Result<(EscrowWallet, Opened), PartyError> {
        let name = wallet_name(&self.wallet_prefix, escrow_id)?;
        EscrowWallet::open_or_create(self.wallet_rpc.clone(), &self.state, name).await
    }
}

/// An order id from the command line (a positive integer).
///
/// # Errors
/// [`PartyError::Input`] otherwise.
pub fn parse_order_id(text: &str) -> Result<i64, PartyError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(PartyError::Input(format!(
            "ORDER must be a positive order id (see `mmkt-party orders`), not {text:?}"
        ))),
    }
}
