//! The non-custodial turn notice (`"type": "escrow_turn"`): pushed to a buyer or vendor when a
//! round that waits for it starts, so its `mmkt-party` knows to read `GET /api/escrows/{id}/rounds`
//! and submit.

use escrow_core::Actor;
use serde::Serialize;

/// A round waits for this party now.
///
/// ```json
/// {"type":"escrow_turn","escrow_id":7,"order_id":7,"round":"make","role":"buyer","deadline":1764630000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TurnNotice {
    /// Always `escrow_turn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Escrow id.
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// escrow-core round label (`prepare`, `make`, ... `sign_txset`).
    pub round: &'static str,
    /// The party whose turn it is (`buyer` or `vendor`).
    pub role: Actor,
    /// The round's deadline (Unix seconds).
    pub deadline: u64,
    #[serde(skip)]
    user_id: i64,
}

impl TurnNotice {
    /// The notice for account `user_id`, playing `role` on the escrow.
    pub fn new(
        (escrow_id, order_id): (i64, i64),
        round: escrow_core::Round,
        (role, user_id): (Actor, i64),
        deadline: u64,
    ) -> Self {
        TurnNotice {
            kind: "escrow_turn",
            escrow_id,
            order_id,
            round: round.as_str(),
            role,
            deadline,
            user_id,
        }
    }

    /// Only the party whose turn it is receives it.
    pub fn visible_to(&self, user_id: i64) -> bool {
        user_id == self.user_id
    }
}
