//! Orders: pricing a purchase ([`order_total`], [`Order::place`]), the stored [`Order`], and
//! its coarse [`OrderStatus`] derived from the escrow state.

use monero_types::Amount;
use serde::{Deserialize, Serialize};

use crate::error::OrderError;
use crate::escrow::EscrowStateKind;
use crate::ids::{ListingId, OrderId, UserId};
use crate::label::label_text;
use crate::listing::Listing;
use crate::mode::EscrowMode;
use crate::money::EscrowCap;
use crate::time::Timestamp;

/// The order total: `unit_price × quantity`, checked.
///
/// # Errors
/// - [`OrderError::ZeroQuantity`] if `quantity` is 0.
/// - [`OrderError::ZeroPrice`] if `unit_price` is zero.
/// - [`OrderError::TotalOverflow`] if the product does not fit in a `u64` of piconero.
pub fn order_total(unit_price: Amount, quantity: u32) -> Result<Amount, OrderError> {
    if quantity == 0 {
        return Err(OrderError::ZeroQuantity);
    }
    if unit_price.is_zero() {
        return Err(OrderError::ZeroPrice);
    }
    unit_price
        .checked_mul(u64::from(quantity))
        .ok_or(OrderError::TotalOverflow {
            unit_price,
            quantity,
        })
}

/// A priced, validated order that has no row id yet (what `POST /api/orders` inserts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    listing_id: ListingId,
    buyer_id: UserId,
    vendor_id: UserId,
    quantity: u32,
    unit_price: Amount,
    total: Amount,
    #[serde(default)]
    escrow_mode: EscrowMode,
}

impl NewOrder {
    /// Rebuilds an order from stored columns, recomputing the total (no stock or cap check:
    /// those applied when the order was placed, and a later lower cap must not hide old orders).
    ///
    /// # Errors
    /// [`OrderError::ZeroQuantity`], [`OrderError::ZeroPrice`], [`OrderError::TotalOverflow`]
    /// (see [`order_total`]) and [`OrderError::SelfPurchase`].
    pub fn from_stored(
        listing_id: ListingId,
        buyer_id: UserId,
        vendor_id: UserId,
        quantity: u32,
        unit_price: Amount,
    ) -> Result<NewOrder, OrderError> {
        if buyer_id == vendor_id {
            return Err(OrderError::SelfPurchase);
        }
        let total = order_total(unit_price, quantity)?;
        Ok(NewOrder {
            listing_id,
            buyer_id,
            vendor_id,
            quantity,
            unit_price,
            total,
            escrow_mode: EscrowMode::Hosted,
        })
    }

    /// The same order with the escrow held in `mode` (check the buyer's choice with
    /// [`crate::AllowedModes::admit`] first). Orders are hosted unless given another mode.
    pub fn with_escrow_mode(self, mode: EscrowMode) -> NewOrder {
        NewOrder {
            escrow_mode: mode,
            ..self
        }
    }

    /// How the order's escrow is held.
    pub fn escrow_mode(&self) -> EscrowMode {
        self.escrow_mode
    }

    /// The ordered listing.
    pub fn listing_id(&self) -> ListingId {
        self.listing_id
    }
    /// The buyer.
    pub fn buyer_id(&self) -> UserId {
        self.buyer_id
    }
    /// The listing's vendor.
    pub fn vendor_id(&self) -> UserId {
        self.vendor_id
    }
    /// Units ordered, at least 1.
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    /// Unit price in piconero, copied from the listing when the order was placed.
    pub fn unit_price(&self) -> Amount {
        self.unit_price
    }
    /// `unit_price × quantity` in piconero: the exact amount the escrow must receive.
    pub fn total(&self) -> Amount {
        self.total
    }
}

/// A stored order. The price is frozen at placement; later listing edits do not change it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    id: OrderId,
    #[serde(flatten)]
    line: NewOrder,
    created_at: Timestamp,
}

impl Order {
    /// Prices and validates a purchase of `quantity` units of `listing` by `buyer_id`.
    ///
    /// Checks, in order: the buyer is not the listing's vendor, `quantity > 0`, the listing's
    /// price is non-zero, enough stock, the total does not overflow, and the total is within
    /// `cap`. The returned [`NewOrder`] carries the total; the server inserts it together with
    /// the stock decrement ([`Listing::stock_after`]) in one SQL transaction.
    ///
    /// # Errors
    /// [`OrderError::SelfPurchase`], [`OrderError::ZeroQuantity`], [`OrderError::ZeroPrice`],
    /// [`OrderError::InsufficientStock`], [`OrderError::TotalOverflow`],
    /// [`OrderError::ExceedsCap`].
    pub fn place(
        listing: &Listing,
        buyer_id: UserId,
        quantity: u32,
        cap: &EscrowCap,
    ) -> Result<NewOrder, OrderError> {
        if buyer_id == listing.vendor_id {
            return Err(OrderError::SelfPurchase);
        }
        if quantity == 0 {
            return Err(OrderError::ZeroQuantity);
        }
        if listing.price.is_zero() {
            return Err(OrderError::ZeroPrice);
        }
        if quantity > listing.stock {
            return Err(OrderError::InsufficientStock {
                requested: quantity,
                available: listing.stock,
            });
        }
        let order = NewOrder::from_stored(
            listing.id,
            buyer_id,
            listing.vendor_id,
            quantity,
            listing.price,
        )?;
        cap.check(order.total)?;
        Ok(order)
    }

    /// Gives a [`NewOrder`] its row id and creation time (after insert, or when loading a row).
    pub fn new(id: OrderId, line: NewOrder, created_at: Timestamp) -> Order {
        Order {
            id,
            line,
            created_at,
        }
    }

    /// Row id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The priced order line (listing, parties, quantity, unit price, total).
    pub fn line(&self) -> &NewOrder {
        &self.line
    }
    /// The ordered listing.
    pub fn listing_id(&self) -> ListingId {
        self.line.listing_id
    }
    /// The buyer.
    pub fn buyer_id(&self) -> UserId {
        self.line.buyer_id
    }
    /// The listing's vendor.
    pub fn vendor_id(&self) -> UserId {
        self.line.vendor_id
    }
    /// Units ordered, at least 1.
    pub fn quantity(&self) -> u32 {
        self.line.quantity
    }
    /// Unit price in piconero at placement.
    pub fn unit_price(&self) -> Amount {
        self.line.unit_price
    }
    /// `unit_price × quantity` in piconero.
    pub fn total(&self) -> Amount {
        self.line.total
    }
    /// How the order's escrow is held.
    pub fn escrow_mode(&self) -> EscrowMode {
        self.line.escrow_mode
    }
    /// Creation time.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}

/// The coarse status of an order, derived from its escrow's state (for the `orders.status`
/// column and its index; the escrow state is the source of truth).
///
/// | escrow state                                     | order status |
/// |--------------------------------------------------|--------------|
/// | `awaiting_setup`, `setup_failed`, `awaiting_funding` | `pending` |
/// | `funded`                                         | `paid`       |
/// | `disputed`                                       | `disputed`   |
/// | `releasing`, `refunding`                         | `settling`   |
/// | `released`                                       | `completed`  |
/// | `refunded`                                       | `refunded`   |
/// | `expired`                                        | `expired`    |
/// | `cancelled`                                      | `cancelled`  |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Escrow being prepared or waiting for the buyer's payment.
    Pending,
    /// Escrow funded with enough confirmations; the vendor ships.
    Paid,
    /// A dispute is open; an arbiter decides.
    Disputed,
    /// A payout (release or refund) is being built, signed or submitted.
    Settling,
    /// The vendor was paid.
    Completed,
    /// The buyer was refunded.
    Refunded,
    /// Not funded within the funding window.
    Expired,
    /// Cancelled before funding.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in declaration order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Disputed,
        OrderStatus::Settling,
        OrderStatus::Completed,
        OrderStatus::Refunded,
        OrderStatus::Expired,
        OrderStatus::Cancelled,
    ];

    /// Stable snake_case label (SQL column value, JSON).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Disputed => "disputed",
            OrderStatus::Settling => "settling",
            OrderStatus::Completed => "completed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl From<EscrowStateKind> for OrderStatus {
    fn from(state: EscrowStateKind) -> OrderStatus {
        match state {
            EscrowStateKind::AwaitingSetup
            | EscrowStateKind::SetupFailed
            | EscrowStateKind::AwaitingFunding => OrderStatus::Pending,
            EscrowStateKind::Funded => OrderStatus::Paid,
            EscrowStateKind::Disputed => OrderStatus::Disputed,
            EscrowStateKind::Releasing | EscrowStateKind::Refunding => OrderStatus::Settling,
            EscrowStateKind::Released => OrderStatus::Completed,
            EscrowStateKind::Refunded => OrderStatus::Refunded,
            EscrowStateKind::Expired => OrderStatus::Expired,
            EscrowStateKind::Cancelled => OrderStatus::Cancelled,
        }
    }
}

label_text!(OrderStatus, "order status");
