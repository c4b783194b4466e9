//! escrow-core: the mmkt marketplace's escrow domain, pure (no I/O, no async, no SQL, no
//! clock, no randomness).
//!
//! - The Monero vocabulary, [`Amount`] (u64 piconero, checked arithmetic, exact decimal XMR
//!   text), [`Address`] and [`TxHash`], is `monero-types`'s (no I/O either), re-exported here;
//!   it is the same type `monero-rpc` uses, so no conversion happens at the boundary.
//! - [`money`]: the per-environment [`EscrowCap`].
//! - [`mode`]: [`EscrowMode`] (hosted or non-custodial, the buyer's choice per order) and the
//!   per-environment [`AllowedModes`].
//! - [`payout_check`]: the co-signer's check of a payout transaction set against the plan
//!   ([`check_payout`], refusals as [`PayoutRefusal`] with a stable [`RefusalReason`]).
//! - [`ids`], [`role`], [`time`]: typed ids (SQLite `i64` rowids), account [`Role`] and escrow
//!   [`Actor`], unix-seconds [`Timestamp`].
//! - [`listing`], [`order`]: [`Listing`] validation, order pricing ([`order_total`],
//!   [`Order::place`]) and [`OrderStatus`].
//! - [`escrow`]: the 2-of-3 escrow record and its state machine ([`Escrow::apply`]); the
//!   non-custodial round protocol ([`escrow::rounds`]: [`Rounds`]) and the payout signing
//!   rules ([`escrow::signers`]: [`required_signers`], [`PayoutSigning`]).
//! - [`error`]: every error type.
//!
//! ```
//! use escrow_core::{Actor, Amount, Context, Escrow, EscrowEvent, EscrowId, EscrowStateKind,
//!     EscrowTerms, NewEscrow, OrderId, Timestamp, UserId};
//!
//! let terms = EscrowTerms::new("1.5".parse::<Amount>()?, 10, 3_600)?;
//! let escrow = Escrow::new(NewEscrow {
//!     id: EscrowId::new(1), order_id: OrderId::new(1),
//!     buyer_id: UserId::new(10), vendor_id: UserId::new(20), terms,
//!     payout_address: None, refund_address: None,
//!     created_at: Timestamp::from_unix_seconds(1_700_000_000),
//! })?;
//! let ctx = Context::at(Timestamp::from_unix_seconds(1_700_000_100));
//! // A vendor cannot confirm receipt:
//! let err = escrow.apply(Actor::Vendor, EscrowEvent::ReceiptConfirmed, &ctx).unwrap_err();
//! assert_eq!(err.code(), "not_permitted");
//! assert_eq!(escrow.state().kind(), EscrowStateKind::AwaitingSetup);
//! assert_eq!(escrow.state().as_str(), "awaiting_setup");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod escrow;
pub mod ids;
mod label;
pub mod listing;
pub mod mode;
pub mod money;
pub mod order;
pub mod payout_check;
pub mod role;
pub mod time;

pub use error::{
    CapExceeded, DisputeReasonError, EscrowError, FeeLimitError, InvariantViolation, ListingError,
    ModeError, OrderError, ParseLabelError, PayoutRefusal, RoundRefusal, RoundTimeoutError,
    SetupError, SignerRefusal, TransitionError,
};
pub use escrow::{
    Accepted, Action, ChainTip, Context, Dispute, DisputeCause, DisputeOutcome, DisputeReason,
    DisputeStatus, Escrow, EscrowEvent, EscrowState, EscrowStateKind, EscrowTerms, EventKind,
    Funding, FundingStatus, IncomingTransfer, NewEscrow, NextStep, PayloadKind, Payout, PayoutKind,
    PayoutPlan, PayoutReason, PayoutRound, PayoutSigning, PreparedPayout, RejectionClass,
    Resolution, Round, RoundTimeout, Rounds, RoundsStatus, SPENDABLE_AGE, SetupAdvance,
    SetupProgress, SetupStage, SigningPair, Spendability, Submission, TimedOut, Transition,
    WalletLock, payout_options_without, required_signers, unlock_time_passed,
};
pub use ids::{EscrowId, ListingId, OrderId, UserId};
pub use listing::{Listing, ListingDraft};
pub use mode::{AllowedModes, EscrowMode};
pub use monero_types::{Address, Amount, PICONERO_PER_XMR, TxHash, UnlockTime};
pub use money::EscrowCap;
pub use order::{NewOrder, Order, OrderStatus, order_total};
pub use payout_check::{
    CheckedPayout, ExpectedPayout, FeeLimit, PaidOutput, RefusalReason, TxDescription, check_payout,
};
pub use role::{Actor, Role};
pub use time::Timestamp;
