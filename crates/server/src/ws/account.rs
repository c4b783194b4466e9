//! Events of the user's own account pushed over the WebSocket (`"type": "account_event"`), so
//! every open session of the account sees a change made from any of them.

use serde::Serialize;

use crate::db::addresses::{AddressChange, AddressKind};

/// A change to the account, shown only to that account's connections.
///
/// ```json
/// {"type":"account_event","user_id":5,"event":"payout_address_changed","kind":"payout",
///  "old_fingerprint":"9f2c61e0a4b7d3c8","new_fingerprint":"03ab7e55c1d2f490","escrows_updated":1,
///  "at":1763700000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountNotice {
    /// Always `account_event`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The account.
    pub user_id: i64,
    /// `payout_address_changed` or `refund_address_changed`.
    pub event: &'static str,
    /// `payout` or `refund`.
    #[serde(rename = "kind")]
    pub address_kind: &'static str,
    /// First 16 hex digits of the SHA-256 of the previous address; null when there was none.
    pub old_fingerprint: Option<String>,
    /// The same of the new address.
    pub new_fingerprint: String,
    /// Escrows of the account that now use the new address (those not yet funded).
    pub escrows_updated: usize,
    /// When (Unix seconds).
    pub at: u64,
}

impl AccountNotice {
    /// The notice of `change` to account `user_id`'s address, now used by `escrows_updated`
    /// escrows.
    pub fn address_changed(user_id: i64, change: &AddressChange, escrows_updated: usize) -> Self {
        let event = match change.kind {
            AddressKind::Payout => "payout_address_changed",
            AddressKind::Refund => "refund_address_changed",
        };
        AccountNotice {
            kind: "account_event",
            user_id,
            event,
            address_kind: change.kind.as_str(),
            old_fingerprint: change.old_fingerprint.clone(),
            new_fingerprint: change.new_fingerprint.clone(),
            escrows_updated,
            at: u64::try_from(change.changed_at).unwrap_or(0),
        }
    }

    /// Only the account itself receives its events.
    pub fn visible_to(&self, user_id: i64) -> bool {
        user_id == self.user_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_sees_it() {
        let change = AddressChange {
            kind: AddressKind::Refund,
            old_fingerprint: None,
            new_fingerprint: "ab".repeat(8),
            changed_at: 10,
        };
        let n = AccountNotice::address_changed(5, &change, 0);
        assert!(n.visible_to(5) && !n.visible_to(6));
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["type"], "account_event");
        assert_eq!(json["event"], "refund_address_changed");
        assert_eq!(json["kind"], "refund");
    }
}
