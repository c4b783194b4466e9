//! The loop of `escrow join` and `sign` ([`drive`]): this party's turns until the goal, reading
//! the rounds view again after each one and pausing while the others are due.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::Party;
use super::turns::{Approve, Submitted, take_turn};
use crate::error::PartyError;
use crate::market::types::RoundsView;
use crate::wallet::Opened;

/// When [`drive`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// `escrow join`: the setup is over (address ready, or closed).
    SetupDone,
    /// `sign`: this party's last payout round (build or sign) is submitted, or the payout closed.
    PayoutTurnDone,
}

/// What [`drive`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DriveReport {
    /// The order.
    pub order_id: i64,
    /// Its escrow.
    pub escrow_id: i64,
    /// This party's wallet for it.
    pub wallet: String,
    /// Whether the wallet was made by this run.
    pub wallet_created: bool,
    /// What this run submitted, in order.
    pub submitted: Vec<Submitted>,
    /// The last rounds view (secrets left out).
    pub rounds: RoundsView,
    /// The shared address as this party's wallet computed it (after the setup).
    pub address: Option<String>,
    /// The address the market shows for the escrow.
    pub market_address: Option<String>,
}

/// The inputs of [`drive`].
#[derive(Clone, Copy)]
pub struct DriveRequest<'a> {
    /// The order.
    pub order_id: i64,
    /// When to stop.
    pub goal: Goal,
    /// Who approves a second signature.
    pub approve: &'a dyn Approve,
    /// Pause between reads of the rounds view while others are due.
    pub poll: Duration,
    /// The longest wait for the others before giving up.
    pub max_wait: Duration,
}

/// Escrow states in which a payout is decided and its rounds open shortly.
const PAYOUT_PENDING: [&str; 2] = ["releasing", "refunding"];

fn finished(goal: Goal, view: &RoundsView, submitted: &[Submitted], escrow_state: &str) -> bool {
    let last = submitted.last().map(|s| s.round.as_str());
    match goal {
        Goal::SetupDone => view.status != "open" || view.phase.as_deref() != Some("setup"),
        Goal::PayoutTurnDone if view.phase.as_deref() != Some("payout") => {
            !PAYOUT_PENDING.contains(&escrow_state)
        }
        Goal::PayoutTurnDone => {
            let not_mine = view
                .payout
                .as_ref()
                .is_some_and(|p| p.first != view.your_role && p.second != view.your_role);
            view.status != "open" || not_mine || matches!(last, Some("build_txset" | "sign_txset"))
        }
    }
}

/// The escrow address the market shows for the order, once it shows one: the market records it
/// just after the last party's submission, so it is read again (every `poll`, at most
/// `max_wait`) until it appears; `None` if it does not.
async fn shown_address(
    party: &Party,
    request: &DriveRequest<'_>,
) -> Result<Option<String>, PartyError> {
    let since = Instant::now();
    loop {
        let shown = party.market.order(request.order_id).await?.escrow.address;
        if shown.is_some() || since.elapsed() > request.max_wait {
            return Ok(shown);
        }
        tokio::time::sleep(request.poll).await;
    }
}

/// Runs this party's turns of order `request.order_id` until `request.goal`.
///
/// # Errors
/// [`PartyError::Input`] for a hosted escrow; [`PartyError::Protocol`] after `max_wait`
/// without progress; turn and market errors.
pub async fn drive(party: &Party, request: DriveRequest<'_>) -> Result<DriveReport, PartyError> {
    let order = party.non_custodial_order(request.order_id).await?;
    let escrow_id = order.escrow.escrow_id;
    let (wallet, opened) = party.escrow_wallet(escrow_id).await?;
    let mut submitted = Vec::new();
    let mut waited_since = Instant::now();
    let view = loop {
        let view = party.market.rounds(escrow_id).await?;
        let escrow_state = match view.phase.as_deref() {
            Some("payout") => String::new(),
            _ => party.market.order(request.order_id).await?.escrow.state,
        };
        if finished(request.goal, &view, &submitted, &escrow_state) {
            break view;
        }
        if let Some(answer) = take_turn(party, &wallet, &view, request.approve).await? {
            submitted.push(Submitted {
                round: view.round.clone().unwrap_or_default(),
                accepted: answer.accepted,
            });
            waited_since = Instant::now();
            continue;
        }
        if waited_since.elapsed() > request.max_wait {
            return Err(PartyError::Protocol(format!(
                "waited {} s for {:?} in round {:?}; run the command again later",
                request.max_wait.as_secs(),
                view.waiting_for,
                view.round
            )));
        }
        tokio::time::sleep(request.poll).await;
    };
    let address = wallet.ready_address().await?.map(|a| a.as_str().to_owned());
    let market_address = match (&address, request.goal) {
        (Some(_), Goal::SetupDone) => shown_address(party, &request).await?,
        _ => party.market.order(request.order_id).await?.escrow.address,
    };
    Ok(DriveReport {
        order_id: request.order_id,
        escrow_id,
        wallet: wallet.name().as_str().to_owned(),
        wallet_created: opened == Opened::Created,
        submitted,
        rounds: view,
        address,
        market_address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::turns::tests::view;

    #[test]
    fn drive_stops_at_its_goal() {
        let setup = view("buyer", "setup", "make", "open", "vendor", "buyer");
        assert!(!finished(Goal::SetupDone, &setup, &[], "awaiting_setup"));
        let ready = view(
            "buyer",
            "setup",
            "exchange_round_2",
            "address_ready",
            "vendor",
            "buyer",
        );
        assert!(finished(Goal::SetupDone, &ready, &[], "awaiting_funding"));
        // `sign` right after a release waits for the payout rounds to open, but not otherwise.
        assert!(!finished(Goal::PayoutTurnDone, &ready, &[], "releasing"));
        assert!(finished(Goal::PayoutTurnDone, &ready, &[], "funded"));
        let payout = view("vendor", "payout", "export_sync", "open", "vendor", "buyer");
        assert!(finished(Goal::SetupDone, &payout, &[], ""));
        assert!(!finished(Goal::PayoutTurnDone, &payout, &[], ""));
        let built = [Submitted {
            round: "build_txset".into(),
            accepted: "round_complete".into(),
        }];
        assert!(finished(Goal::PayoutTurnDone, &payout, &built, ""));
        let other_pair = view(
            "vendor",
            "payout",
            "export_sync",
            "open",
            "arbiter",
            "buyer",
        );
        assert!(
            finished(Goal::PayoutTurnDone, &other_pair, &[], ""),
            "not a signer of this payout"
        );
    }
}
