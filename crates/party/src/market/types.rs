//! The market's JSON shapes mmkt-party reads (the non-custodial API contract; docs/PARTY.md).
//! Only the fields used are declared; unknown fields are ignored. Amounts are piconero (`u64`).

use serde::{Deserialize, Serialize};

/// The escrow part of an order (`OrderView.escrow`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct EscrowSummary {
    /// Escrow id (the rounds routes take it).
    pub escrow_id: i64,
    /// Escrow state label, e.g. `awaiting_setup`, `awaiting_funding`, `released`.
    pub state: String,
    /// Amount to fund, piconero.
    pub amount_xmr: u64,
    /// The multisig address once setup completed.
    #[serde(default)]
    pub address: Option<String>,
}

/// One order as the market shows it to its buyer or vendor (`GET /api/orders/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OrderSummary {
    /// Order id.
    pub order_id: i64,
    /// Listing title.
    #[serde(default)]
    pub listing_title: String,
    /// Order status label (`pending`, `paid`, `disputed`, ...).
    pub status: String,
    /// Total to pay into the escrow, piconero.
    pub total_xmr: u64,
    /// `hosted` or `non_custodial` (absent on markets before non-custodial escrows: hosted).
    #[serde(default = "hosted")]
    pub escrow_mode: String,
    /// The order's escrow.
    pub escrow: EscrowSummary,
}

fn hosted() -> String {
    "hosted".to_owned()
}

/// A page of `GET /api/orders`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderPage {
    /// The orders, newest first.
    pub items: Vec<OrderSummary>,
}

/// The payout being signed (`payout` of the rounds view).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PayoutView {
    /// `release` or `refund`.
    pub kind: String,
    /// `undisputed` or `disputed`.
    pub dispute: String,
    /// The role that builds the set.
    pub first: String,
    /// The role that checks and signs second.
    pub second: String,
    /// Where the whole escrow goes.
    pub destination: String,
    /// The market's fee bound, piconero.
    pub max_fee_xmr: u64,
}

/// `GET /api/escrows/{id}/rounds`: where the rounds are and what this party owes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RoundsView {
    /// Escrow id.
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// `buyer`, `vendor` (or `arbiter`).
    pub your_role: String,
    /// `setup`, `payout`, or null when nothing is open.
    #[serde(default)]
    pub phase: Option<String>,
    /// The current round's label, or null.
    #[serde(default)]
    pub round: Option<String>,
    /// `open`, `address_ready`, `addresses_disagree`, `fully_signed`, `timed_out`.
    pub status: String,
    /// RFC 3339 deadline of the round.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Roles still owing a payload.
    #[serde(default)]
    pub waiting_for: Vec<String>,
    /// Whether this party owes the current round.
    #[serde(default)]
    pub your_turn: bool,
    /// What this party submits (`multisig_info`, `address`, ...).
    #[serde(default)]
    pub expected: Option<String>,
    /// The other parties' payloads this party needs. Secret: never shown or logged.
    #[serde(default, skip_serializing)]
    pub inputs: Vec<String>,
    /// The payout being signed, in the payout phase.
    #[serde(default)]
    pub payout: Option<PayoutView>,
    /// The first signer's set, for the second signer in `sign_txset`. Secret.
    #[serde(default, skip_serializing)]
    pub partial_txset: Option<String>,
    /// After a timeout, what can happen next.
    #[serde(default)]
    pub next_step: Option<serde_json::Value>,
}

/// `POST /api/escrows/{id}/rounds/{round}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SubmitAnswer {
    /// `recorded`, `round_complete`, `address_ready`, `addresses_disagree`, `fully_signed`.
    pub accepted: String,
    /// The rounds view after the submission.
    pub rounds: RoundsView,
}

/// One WebSocket notice of `GET /ws` this tool acts on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TurnNotice {
    /// Escrow id.
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// The round that waits for this party.
    pub round: String,
    /// This party's role.
    pub role: String,
}

/// The account that logged in (`POST /api/auth/login`'s answer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Account {
    /// Account id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// `buyer`, `vendor` or `arbiter`.
    pub role: String,
}
