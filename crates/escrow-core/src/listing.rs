//! A vendor's [`Listing`] and the validation of a new or edited listing ([`ListingDraft`]).

use monero_types::Amount;
use serde::{Deserialize, Serialize};

use crate::error::ListingError;
use crate::ids::{ListingId, UserId};
use crate::money::EscrowCap;
use crate::time::Timestamp;

/// Longest accepted listing title, in characters (Unicode scalar values).
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest accepted listing description, in characters (Unicode scalar values).
pub const DESCRIPTION_MAX_CHARS: usize = 20_000;

/// A listing as stored: what a vendor sells, at which unit price, with how much stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Row id.
    pub id: ListingId,
    /// The vendor who owns the listing (only they may edit or delete it).
    pub vendor_id: UserId,
    /// Title, 1 to [`TITLE_MAX_CHARS`] characters, no control characters.
    pub title: String,
    /// Description, up to [`DESCRIPTION_MAX_CHARS`] characters.
    pub description: String,
    /// Unit price in piconero (the API's `price_xmr` integer), non-zero.
    pub price: Amount,
    /// Units available; orders reserve stock, zero means sold out.
    pub stock: u32,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last edit time.
    pub updated_at: Timestamp,
}

impl Listing {
    /// The stock left after selling `quantity` units.
    ///
    /// # Errors
    /// [`ListingError::InsufficientStock`] if `quantity > stock`.
    pub fn stock_after(&self, quantity: u32) -> Result<u32, ListingError> {
        self.stock
            .checked_sub(quantity)
            .ok_or(ListingError::InsufficientStock {
                requested: quantity,
                available: self.stock,
            })
    }
}

/// The vendor-supplied fields of a listing, for `POST /api/listings` and updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingDraft {
    /// Title, see [`Listing::title`].
    pub title: String,
    /// Description, see [`Listing::description`].
    pub description: String,
    /// Unit price in piconero.
    pub price: Amount,
    /// Units available.
    pub stock: u32,
}

impl ListingDraft {
    /// Checks the draft: a non-blank title without control characters within
    /// [`TITLE_MAX_CHARS`], a description within [`DESCRIPTION_MAX_CHARS`] (newlines and tabs
    /// allowed, other control characters not), and a non-zero unit price no higher than the
    /// escrow cap (a unit that cannot be escrowed cannot be sold).
    ///
    /// # Errors
    /// The first failing rule as a [`ListingError`].
    pub fn validate(&self, cap: &EscrowCap) -> Result<(), ListingError> {
        if self.title.trim().is_empty() {
            return Err(ListingError::EmptyTitle);
        }
        let title_chars = self.title.chars().count();
        if title_chars > TITLE_MAX_CHARS {
            return Err(ListingError::TitleTooLong {
                max: TITLE_MAX_CHARS,
                found: title_chars,
            });
        }
        if self.title.chars().any(char::is_control) {
            return Err(ListingError::ControlCharacter { field: "title" });
        }
        let description_chars = self.description.chars().count();
        if description_chars > DESCRIPTION_MAX_CHARS {
            return Err(ListingError::DescriptionTooLong {
                max: DESCRIPTION_MAX_CHARS,
                found: description_chars,
            });
        }
        if self
            .description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(ListingError::ControlCharacter {
                field: "description",
            });
        }
        if self.price.is_zero() {
            return Err(ListingError::ZeroPrice);
        }
        cap.check(self.price)
            .map_err(ListingError::PriceExceedsCap)?;
        Ok(())
    }
}
