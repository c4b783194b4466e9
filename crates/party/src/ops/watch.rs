//! `watch`: follows the market's `GET /ws` and does this party's turn each time an
//! `escrow_turn` notice arrives; on each (re)connection it first does the turns announced while
//! it was away, and it reconnects after a pause when the connection drops. Runs until the
//! session ends.

use std::time::Duration;

use serde::Serialize;

use super::Party;
use super::turns::{Approve, take_turn};
use crate::error::{ErrorKind, PartyError};
use crate::market::types::TurnNotice;
use crate::market::ws::Notices;
use crate::wallet::{KeptWallet, wallet_name};

/// What `watch` tells its caller as it goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WatchEvent {
    /// Connected to `/ws`.
    Connected,
    /// A notice arrived.
    Turn {
        /// The notice.
        notice: TurnNotice,
    },
    /// This party's payload for the round was accepted.
    Submitted {
        /// The escrow.
        escrow_id: i64,
        /// The round.
        round: String,
        /// The market's `accepted`.
        accepted: String,
    },
    /// The turn could not be done now (it is said why); the next notice retries.
    TurnFailed {
        /// The escrow.
        escrow_id: i64,
        /// The error, without secrets.
        error: String,
    },
    /// The connection dropped; reconnecting after the pause.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// `watch`'s settings.
#[derive(Clone, Copy)]
pub struct WatchRequest<'a> {
    /// Who approves a second signature.
    pub approve: &'a dyn Approve,
    /// Pause before reconnecting.
    pub reconnect_after: Duration,
}

/// Follows `/ws` and does each turn as it is announced.
///
/// # Errors
/// [`PartyError::SessionExpired`] or [`PartyError::Input`] (nothing to retry); a refused check
/// ([`PartyError::Refused`]) is reported as [`WatchEvent::TurnFailed`] and never signed.
pub async fn watch(
    party: &Party,
    request: WatchRequest<'_>,
    report: &mut dyn FnMut(&WatchEvent),
) -> Result<(), PartyError> {
    let mut kept = KeptWallet::default();
    loop {
        let mut notices = match Notices::connect(&party.market).await {
            Ok(n) => n,
            Err(e @ PartyError::Input(_)) => return Err(e),
            Err(e) => {
                // A refused handshake may mean the session ended: the API says so (exit), a
                // market that is down is retried.
                if let Err(api) = party.market.orders().await
                    && api.kind() == ErrorKind::NoSession
                {
                    return Err(api);
                }
                report(&WatchEvent::Disconnected {
                    reason: e.to_string(),
                });
                tokio::time::sleep(request.reconnect_after).await;
                continue;
            }
        };
        report(&WatchEvent::Connected);
        catch_up(party, &mut kept, request.approve, report).await?;
        let reason = loop {
            let notice = match notices.next_turn().await {
                Ok(Some(notice)) => notice,
                Ok(None) => break "the market closed the connection".to_owned(),
                Err(e) => break e.to_string(),
            };
            report(&WatchEvent::Turn {
                notice: notice.clone(),
            });
            let done = turn(party, &mut kept, notice.escrow_id, request.approve).await;
            outcome(notice.escrow_id, done, report)?;
        };
        report(&WatchEvent::Disconnected { reason });
        tokio::time::sleep(request.reconnect_after).await;
    }
}

/// Reports a turn's outcome; only a session that ended stops the watch.
fn outcome(
    escrow_id: i64,
    done: Result<Option<WatchEvent>, PartyError>,
    report: &mut dyn FnMut(&WatchEvent),
) -> Result<(), PartyError> {
    match done {
        Ok(Some(event)) => report(&event),
        Ok(None) => {}
        Err(e) if e.kind() == ErrorKind::NoSession => return Err(e),
        Err(e) => report(&WatchEvent::TurnFailed {
            escrow_id,
            error: e.to_string(),
        }),
    }
    Ok(())
}

/// The turns announced while this party was not connected: every non-custodial order of the
/// first page whose rounds wait for this party. Escrows whose rounds the market no longer shows
/// are skipped.
async fn catch_up(
    party: &Party,
    kept: &mut KeptWallet,
    approve: &dyn Approve,
    report: &mut dyn FnMut(&WatchEvent),
) -> Result<(), PartyError> {
    let orders = match party.market.orders().await {
        Ok(orders) => orders,
        Err(e) if e.kind() == ErrorKind::NoSession => return Err(e),
        Err(_) => return Ok(()),
    };
    for order in orders.iter().filter(|o| o.escrow_mode == "non_custodial") {
        let escrow_id = order.escrow.escrow_id;
        match turn(party, kept, escrow_id, approve).await {
            Err(e) if e.kind() == ErrorKind::MarketRefused => {}
            done => outcome(escrow_id, done, report)?,
        }
    }
    Ok(())
}

/// Does the turn of `escrow_id` if it is this party's, in the escrow wallet `kept` still holds
/// open when it can (the wallet is kept only after a turn that succeeded).
async fn turn(
    party: &Party,
    kept: &mut KeptWallet,
    escrow_id: i64,
    approve: &dyn Approve,
) -> Result<Option<WatchEvent>, PartyError> {
    let view = party.market.rounds(escrow_id).await?;
    if !view.your_turn {
        return Ok(None);
    }
    let name = wallet_name(&party.wallet_prefix, escrow_id)?;
    let wallet = kept.open(&party.wallet_rpc, &party.state, name).await?;
    let Some(answer) = take_turn(party, &wallet, &view, approve).await? else {
        return Ok(None);
    };
    kept.keep(wallet).await;
    Ok(Some(WatchEvent::Submitted {
        escrow_id,
        round: view.round.unwrap_or_default(),
        accepted: answer.accepted,
    }))
}
