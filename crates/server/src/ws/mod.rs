//! Live escrow notifications: [`Notices`] fans out an [`EscrowNotice`] for every persisted escrow
//! event to the WebSocket connections (`GET /ws`, see [`crate::routes::ws`]), which forward only
//! what their user may see ([`EscrowNotice::visible_to`]). [`connection`] runs one connection;
//! [`SessionEnds`] tells the connections of a session that it was logged out; [`TurnNotice`] tells
//! a non-custodial party that a round waits for it.

mod account;
pub mod connection;
mod session_ends;
mod turn;

pub use account::AccountNotice;
pub use session_ends::{SESSION_END_BUFFER, SessionEnds};
pub use turn::TurnNotice;

use escrow_core::{Actor, Role, Transition};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::views::payout_tx_hash;

/// Notices buffered per slow connection before it starts missing some (it is then told to re-read
/// the escrow with `GET /api/escrows/{id}`).
pub const NOTICE_BUFFER: usize = 1024;

/// One escrow event as pushed over the WebSocket (JSON, `"type": "escrow_event"`).
///
/// ```json
/// {"type":"escrow_event","escrow_id":3,"order_id":3,"event":"payout_submitted","actor":"system",
///  "from_state":"releasing","to_state":"released","address":"4...","tx_hash":"ab12...","at":1763700000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscrowNotice {
    /// Always `escrow_event`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Escrow id.
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// escrow-core event label (`setup_completed`, `funding_observed`, `receipt_confirmed`, ...).
    pub event: &'static str,
    /// Who triggered it (`buyer`, `vendor`, `arbiter`, `system`).
    pub actor: Actor,
    /// State label before.
    pub from_state: &'static str,
    /// State label after (equal to `from_state` for data-only updates such as partial funding).
    pub to_state: &'static str,
    /// The escrow address, once known.
    pub address: Option<String>,
    /// The payout transaction hash, once prepared.
    pub tx_hash: Option<String>,
    /// Piconero received so far at the escrow address.
    pub received_xmr: u64,
    /// When (Unix seconds).
    pub at: u64,
    #[serde(skip)]
    buyer_id: i64,
    #[serde(skip)]
    vendor_id: i64,
    #[serde(skip)]
    arbiters: bool,
}

impl EscrowNotice {
    /// The notice for a persisted transition.
    pub fn from_transition(transition: &Transition) -> Self {
        let escrow = transition.escrow();
        EscrowNotice {
            kind: "escrow_event",
            escrow_id: escrow.id().get(),
            order_id: escrow.order_id().get(),
            event: transition.event().as_str(),
            actor: transition.actor(),
            from_state: transition.from_state().as_str(),
            to_state: transition.to_state().as_str(),
            address: escrow.address().map(|a| a.as_str().to_owned()),
            tx_hash: payout_tx_hash(escrow).map(|h| h.as_str().to_owned()),
            received_xmr: escrow.funding().received().as_atomic(),
            at: escrow.updated_at().as_unix_seconds(),
            buyer_id: escrow.buyer_id().get(),
            vendor_id: escrow.vendor_id().get(),
            arbiters: transition.recipients().contains(&Actor::Arbiter),
        }
    }

    /// Whether the account `user_id` with `role` may receive this notice: the order's buyer and
    /// vendor always, arbiters once the escrow has a dispute, nobody else.
    pub fn visible_to(&self, user_id: i64, role: Role) -> bool {
        user_id == self.buyer_id
            || user_id == self.vendor_id
            || (role == Role::Arbiter && self.arbiters)
    }
}

/// Everything the hub pushes: escrow events and events of the user's own account. Serialized
/// as the inner notice (its `type` field tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Notice {
    /// `"type": "escrow_event"`.
    Escrow(EscrowNotice),
    /// `"type": "account_event"`.
    Account(AccountNotice),
    /// `"type": "escrow_turn"`.
    Turn(TurnNotice),
}

impl Notice {
    /// Whether the account `user_id` with `role` may receive this notice
    /// ([`EscrowNotice::visible_to`], [`AccountNotice::visible_to`]).
    pub fn visible_to(&self, user_id: i64, role: Role) -> bool {
        match self {
            Notice::Escrow(n) => n.visible_to(user_id, role),
            Notice::Account(n) => n.visible_to(user_id),
            Notice::Turn(n) => n.visible_to(user_id),
        }
    }
}

impl From<EscrowNotice> for Notice {
    fn from(notice: EscrowNotice) -> Self {
        Notice::Escrow(notice)
    }
}

impl From<TurnNotice> for Notice {
    fn from(notice: TurnNotice) -> Self {
        Notice::Turn(notice)
    }
}

impl From<AccountNotice> for Notice {
    fn from(notice: AccountNotice) -> Self {
        Notice::Account(notice)
    }
}

/// The broadcast hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notices {
    sender: broadcast::Sender<Notice>,
}

impl Default for Notices {
    fn default() -> Self {
        Notices::new()
    }
}

impl Notices {
    /// A hub buffering [`NOTICE_BUFFER`] notices per receiver.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(NOTICE_BUFFER);
        Notices { sender }
    }

    /// Sends a notice to every open connection (none open: dropped).
    pub fn publish(&self, notice: impl Into<Notice>) {
        let _ = self.sender.send(notice.into());
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use escrow_core::{
        Amount, Context, DisputeReason, Escrow, EscrowEvent, EscrowId, EscrowTerms,
        IncomingTransfer, NewEscrow, OrderId, Spendability, Timestamp, UserId,
    };

    use super::*;

    const ADDRESS: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

    fn at(secs: u64) -> Context {
        Context::at(Timestamp::from_unix_seconds(secs))
    }

    #[test]
    fn notices_reach_parties_and_arbiters_only_once_disputed() {
        let escrow = Escrow::new(NewEscrow {
            id: EscrowId::new(7),
            order_id: OrderId::new(9),
            buyer_id: UserId::new(1),
            vendor_id: UserId::new(2),
            terms: EscrowTerms::new(Amount::from_atomic(5), 1, 60).unwrap(),
            payout_address: None,
            refund_address: None,
            created_at: Timestamp::from_unix_seconds(100),
        })
        .unwrap();
        let setup = escrow
            .apply(
                Actor::System,
                EscrowEvent::SetupCompleted {
                    address: ADDRESS.parse().unwrap(),
                },
                &at(101),
            )
            .unwrap();
        let notice = EscrowNotice::from_transition(&setup);
        assert_eq!(
            (notice.escrow_id, notice.order_id, notice.to_state),
            (7, 9, "awaiting_funding")
        );
        assert_eq!(notice.address.as_deref(), Some(ADDRESS));
        assert!(notice.visible_to(1, Role::Buyer) && notice.visible_to(2, Role::Vendor));
        assert!(!notice.visible_to(3, Role::Buyer) && !notice.visible_to(4, Role::Arbiter));
        let json = serde_json::to_value(&notice).unwrap();
        assert!(
            json.get("buyer_id").is_none(),
            "routing fields stay server-side: {json}"
        );

        let hash = "ab".repeat(32).parse().unwrap();
        let funded = setup
            .escrow()
            .apply(
                Actor::System,
                EscrowEvent::FundingObserved {
                    incoming: vec![IncomingTransfer {
                        tx_hash: hash,
                        amount: Amount::from_atomic(5),
                        confirmations: 1,
                        spendability: Spendability::Spendable,
                    }],
                },
                &at(102),
            )
            .unwrap();
        let disputed = funded
            .escrow()
            .apply(
                Actor::Buyer,
                EscrowEvent::DisputeOpened {
                    reason: DisputeReason::new("late").unwrap(),
                },
                &at(103),
            )
            .unwrap();
        let notice = EscrowNotice::from_transition(&disputed);
        assert!(notice.visible_to(4, Role::Arbiter) && !notice.visible_to(3, Role::Vendor));
    }
}
