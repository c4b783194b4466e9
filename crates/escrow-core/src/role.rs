//! Who someone is: an account [`Role`] (buyer, vendor, arbiter) and, for one escrow, the
//! [`Actor`] that triggers an event (one of its parties, an arbiter, or the server itself).

use serde::{Deserialize, Serialize};

use crate::label::label_text;

/// The role of a user account, fixed at account creation.
///
/// Labels (serde, [`Role::as_str`], [`FromStr`](std::str::FromStr)): `buyer`, `vendor`, `arbiter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Buys listings and funds escrows.
    Buyer,
    /// Publishes listings and is paid out of escrows.
    Vendor,
    /// Decides disputes; holds the third multisig key. Created only by the operator.
    Arbiter,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 3] = [Role::Buyer, Role::Vendor, Role::Arbiter];

    /// Stable snake_case label, as stored in SQL and sent in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Vendor => "vendor",
            Role::Arbiter => "arbiter",
        }
    }

    /// Whether `POST /api/auth/register` may create an account with this role.
    /// Arbiter accounts are created only by the operator.
    pub const fn is_self_registrable(self) -> bool {
        match self {
            Role::Buyer | Role::Vendor => true,
            Role::Arbiter => false,
        }
    }
}

label_text!(Role, "role");

/// Who triggers an escrow event.
///
/// The escrow machine reasons about *who acts*, never about which wallet-rpc carries out a step:
/// in hosted mode the server drives all three wallets, in a later non-custodial mode buyer and
/// vendor sign with their own wallets, and the events stay the same.
///
/// Labels (serde, [`Actor::as_str`], [`FromStr`](std::str::FromStr)): `buyer`, `vendor`, `arbiter`, `system`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The order's buyer.
    Buyer,
    /// The vendor of the ordered listing.
    Vendor,
    /// Any arbiter account (dispute decisions).
    Arbiter,
    /// The server itself: background jobs (multisig setup, funding watcher, payout
    /// submission) and operator actions.
    System,
}

impl Actor {
    /// Every actor, in declaration order.
    pub const ALL: [Actor; 4] = [Actor::Buyer, Actor::Vendor, Actor::Arbiter, Actor::System];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Actor::Buyer => "buyer",
            Actor::Vendor => "vendor",
            Actor::Arbiter => "arbiter",
            Actor::System => "system",
        }
    }
}

label_text!(Actor, "actor");
