//! `mmkt-party release ORDER` (buyer: confirm receipt), `refund ORDER` (vendor) and
//! `dispute ORDER --reason TEXT`: one order action on the market.

use clap::Args;
use mmkt_party::ops::Party;
use mmkt_party::ops::session::{OrderAction, order_action};

use crate::cli::GlobalArgs;
use crate::exit::Outcome;

/// One order id.
#[derive(Debug, Args)]
#[command(
    after_help = "Then run `mmkt-party sign ORDER` (or keep `mmkt-party watch` running) for your payout rounds.
Exit codes: 0 ok, 20 not logged in, 21 market refused (e.g. wrong role or state)."
)]
pub struct OrderArgs {
    /// The order id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub order: i64,
}

/// An order id and the reason of the dispute.
#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 ok, 2 empty reason, 20 not logged in, 21 market refused.")]
pub struct DisputeArgs {
    /// The order id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub order: i64,
    /// What went wrong (shown to the arbiter).
    #[arg(long)]
    pub reason: String,
}

/// Runs `release`.
pub async fn release(args: OrderArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    act(global, args.order, OrderAction::Release).await
}

/// Runs `refund`.
pub async fn refund(args: OrderArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    act(global, args.order, OrderAction::Refund).await
}

/// Runs `dispute`.
pub async fn dispute(args: DisputeArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    act(global, args.order, OrderAction::Dispute(&args.reason)).await
}

async fn act(global: &GlobalArgs, order: i64, action: OrderAction<'_>) -> anyhow::Result<Outcome> {
    let party = Party::logged_in(&global.config()?)?;
    let report = order_action(&party, order, action).await?;
    global.format().print(&report, || {
        format!(
            "order {}: {} accepted by the market",
            report.order_id, report.action
        )
    });
    Ok(Outcome::Success)
}
