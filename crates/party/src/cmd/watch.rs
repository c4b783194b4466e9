//! `mmkt-party watch`: follows the market's `/ws` and does each announced turn.

use std::time::Duration;

use clap::Args;
use mmkt_party::ops::Party;
use mmkt_party::ops::watch::{WatchEvent, WatchRequest, watch};

use crate::cli::{GlobalArgs, YesArg};
use crate::exit::Outcome;

/// Follow the market's notices and do your turns as they come; reconnects when the
/// connection drops. Stop it with Ctrl-C.
#[derive(Debug, Args)]
#[command(after_help = "Example: mmkt-party watch --yes --json

Each event is one line (one JSON object with --json). Exit codes: 20 the session ended.")]
pub struct WatchArgs {
    #[command(flatten)]
    pub yes: YesArg,
    /// Seconds before reconnecting.
    #[arg(long, default_value_t = 5)]
    pub reconnect_secs: u64,
}

/// Runs `watch`.
pub async fn run(args: WatchArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let party = Party::logged_in(&global.config()?)?;
    let confirm = args.yes.confirm();
    let format = global.format();
    let request = WatchRequest {
        approve: &confirm,
        reconnect_after: Duration::from_secs(args.reconnect_secs.max(1)),
    };
    let mut report = |event: &WatchEvent| format.print(event, || describe(event));
    watch(&party, request, &mut report).await?;
    Ok(Outcome::Success)
}

fn describe(event: &WatchEvent) -> String {
    match event {
        WatchEvent::Connected => "connected to the market's notices".to_owned(),
        WatchEvent::Turn { notice } => format!(
            "escrow {} (order {}): your turn for {} as {}",
            notice.escrow_id, notice.order_id, notice.round, notice.role
        ),
        WatchEvent::Submitted {
            escrow_id,
            round,
            accepted,
        } => {
            format!("escrow {escrow_id}: {round} submitted ({accepted})")
        }
        WatchEvent::TurnFailed { escrow_id, error } => {
            format!("escrow {escrow_id}: turn not done: {error}")
        }
        WatchEvent::Disconnected { reason } => format!("disconnected ({reason}); reconnecting"),
        _ => "event".to_owned(),
    }
}
