//! Row identifiers ([`UserId`], [`ListingId`], [`OrderId`], [`EscrowId`]) as typed `i64`
//! newtypes, matching SQLite's `INTEGER PRIMARY KEY` (rowid).

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Serde writes the bare integer; [`Display`](fmt::Display)/[`FromStr`] use decimal, as
        /// in URL paths (`/api/orders/{id}`).
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a stored row id (SQLite `INTEGER PRIMARY KEY`).
            pub const fn new(raw: i64) -> Self {
                $name(raw)
            }

            /// The raw row id, for SQL parameters.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;

            /// Parses a decimal row id.
            ///
            /// # Errors
            /// [`ParseIntError`] if `s` is not a decimal `i64`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_newtype!(
    /// Identifier of a user account (buyer, vendor or arbiter).
    UserId
);
id_newtype!(
    /// Identifier of a vendor's listing.
    ListingId
);
id_newtype!(
    /// Identifier of a buyer's order.
    OrderId
);
id_newtype!(
    /// Identifier of the 2-of-3 escrow that secures one order.
    EscrowId
);
