//! `mmkt-party orders`: the caller's orders with their escrow mode and state.

use clap::Args;
use mmkt_party::ops::Party;
use mmkt_party::ops::session::orders;

use crate::cli::GlobalArgs;
use crate::exit::Outcome;
use crate::output::xmr;

/// List your orders, newest first (first 100).
#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 ok, 20 not logged in, 21 market refused, 22 unreachable.")]
pub struct OrdersArgs {}

/// Runs `orders`.
pub async fn run(_args: OrdersArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let party = Party::logged_in(&global.config()?)?;
    let list = orders(&party).await?;
    global.format().print(&list, || {
        let mut lines = vec![format!(
            "{:<8} {:<14} {:<18} {:>20}  title",
            "order", "mode", "escrow", "total"
        )];
        for o in &list {
            lines.push(format!(
                "{:<8} {:<14} {:<18} {:>20}  {}",
                o.order_id,
                o.escrow_mode,
                o.escrow.state,
                xmr(o.total_xmr),
                o.listing_title
            ));
        }
        lines.join("\n")
    });
    Ok(Outcome::Success)
}
