//! `mmkt-party sign ORDER`: this party's payout rounds (export_sync, then build_txset or
//! sign_txset after the check and a confirmation).

use clap::Args;
use mmkt_party::ops::Party;
use mmkt_party::ops::drive::{Goal, drive};

use crate::cli::{GlobalArgs, WaitArgs, YesArg};
use crate::exit::Outcome;

/// Do your payout rounds. Signing second, the set is decoded by your own wallet, checked
/// (destination, amount, no change elsewhere, unlock_time 0, fee bound) and shown; it is signed
/// only after you confirm (or with --yes).
#[derive(Debug, Args)]
#[command(after_help = "Example: mmkt-party sign 7

Exit codes: 0 ok, 4 not confirmed, 20 not logged in, 21 market refused, 23 wallet-rpc failed,
24 refused by the check (nothing signed).")]
pub struct SignArgs {
    /// The order id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub order: i64,
    #[command(flatten)]
    pub yes: YesArg,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Runs `sign`.
pub async fn run(args: SignArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let party = Party::logged_in(&global.config()?)?;
    let confirm = args.yes.confirm();
    let request = args
        .wait
        .request(args.order, Goal::PayoutTurnDone, &confirm);
    let report = drive(&party, request).await?;
    global.format().print(&report, || {
        let rounds: Vec<String> = report
            .submitted
            .iter()
            .map(|s| format!("{} ({})", s.round, s.accepted))
            .collect();
        format!(
            "order {} escrow {}: submitted [{}]; rounds {}",
            report.order_id,
            report.escrow_id,
            rounds.join(", "),
            report.rounds.status
        )
    });
    Ok(Outcome::Success)
}
