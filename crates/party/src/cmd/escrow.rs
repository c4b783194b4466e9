//! `mmkt-party escrow join ORDER` (this party's setup rounds until the address is ready) and
//! `mmkt-party escrow status ORDER`.

use clap::{Args, Subcommand};
use mmkt_party::ops::Party;
use mmkt_party::ops::drive::{Goal, drive};
use mmkt_party::ops::session::status;
use mmkt_party::ops::turns::PreApproved;

use crate::cli::{GlobalArgs, WaitArgs};
use crate::exit::Outcome;
use crate::output::xmr;

/// Join or inspect a non-custodial escrow.
#[derive(Debug, Args)]
pub struct EscrowArgs {
    #[command(subcommand)]
    pub command: EscrowCommand,
}

/// `escrow` subcommands.
#[derive(Debug, Subcommand)]
pub enum EscrowCommand {
    /// Create this escrow's wallet in your wallet-rpc and do your setup rounds until the shared
    /// address is ready (waits for the other parties between rounds).
    #[command(after_help = "Example: mmkt-party escrow join 7

Exit codes: 0 address ready, 20 not logged in, 21 market refused, 23 wallet-rpc failed,
25 the market shows another address than your wallet computed (do not fund it).")]
    Join(JoinArgs),
    /// Show the order, its escrow and the rounds (whose turn, deadline).
    #[command(after_help = "Example: mmkt-party escrow status 7 --json")]
    Status(OrderArg),
}

/// `escrow join` arguments.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The order id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub order: i64,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// One order id.
#[derive(Debug, Args)]
pub struct OrderArg {
    /// The order id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub order: i64,
}

/// Runs `escrow join` or `escrow status`.
pub async fn run(args: EscrowArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let party = Party::logged_in(&global.config()?)?;
    let format = global.format();
    match args.command {
        EscrowCommand::Join(join) => {
            let request = join.wait.request(join.order, Goal::SetupDone, &PreApproved);
            let report = drive(&party, request).await?;
            let matches = report.address.is_none() || report.address == report.market_address;
            format.print(&report, || {
                let rounds: Vec<&str> = report.submitted.iter().map(|s| s.round.as_str()).collect();
                let address = report.address.as_deref().unwrap_or("not ready");
                format!(
                    "order {} escrow {} (wallet {}): submitted [{}]; rounds {}; address {}",
                    report.order_id,
                    report.escrow_id,
                    report.wallet,
                    rounds.join(", "),
                    report.rounds.status,
                    address
                )
            });
            if !matches {
                eprintln!(
                    "error: the market shows escrow address {}, your wallet computed {}: do not fund it",
                    report.market_address.as_deref().unwrap_or("(none)"),
                    report.address.as_deref().unwrap_or("(none)")
                );
                return Ok(Outcome::AddressMismatch);
            }
            Ok(Outcome::Success)
        }
        EscrowCommand::Status(order) => {
            let report = status(&party, order.order).await?;
            format.print(&report, || {
                let o = &report.order;
                let mut text = format!(
                    "order {} ({}): {} escrow {} {}, {}",
                    o.order_id, o.status, o.escrow_mode, o.escrow.escrow_id, o.escrow.state, xmr(o.escrow.amount_xmr)
                );
                if let Some(r) = &report.rounds {
                    text.push_str(&format!(
                        "\nrounds: you are {}; phase {:?} round {:?} {}; your turn: {}; waiting for {:?}; deadline {:?}",
                        r.your_role, r.phase, r.round, r.status, r.your_turn, r.waiting_for, r.deadline
                    ));
                }
                text
            });
            Ok(Outcome::Success)
        }
    }
}
