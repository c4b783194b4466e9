//! Every error this crate returns. All are `#[non_exhaustive]`; messages say what failed and
//! what to do, and never contain secrets.

use monero_types::{Amount, TxHash};
use thiserror::Error;

use crate::escrow::{EscrowStateKind, EventKind, RejectionClass, SetupStage};
use crate::role::Actor;
use crate::time::Timestamp;

mod noncustodial;

pub use noncustodial::{ModeError, RoundRefusal, RoundTimeoutError, SignerRefusal};

/// An escrow total above the environment's cap ([`crate::EscrowCap::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("total of {total} XMR exceeds this marketplace's escrow cap of {cap} XMR; order less")]
pub struct CapExceeded {
    /// The requested total, in piconero.
    pub total: Amount,
    /// The cap, in piconero.
    pub cap: Amount,
}

/// A label that is not one of an enum's snake_case values (roles, states, events...).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {found:?}")]
#[non_exhaustive]
pub struct ParseLabelError {
    /// What was being parsed, e.g. `"escrow state"`.
    pub what: &'static str,
    /// The rejected text (truncated to 64 characters).
    pub found: String,
}

impl ParseLabelError {
    pub(crate) fn new(what: &'static str, found: &str) -> Self {
        ParseLabelError {
            what,
            found: found.chars().take(64).collect(),
        }
    }
}

/// A listing that breaks a rule ([`crate::ListingDraft::validate`], [`crate::Listing::stock_after`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListingError {
    /// Title is empty or only whitespace.
    #[error("listing title is empty; give it a title")]
    EmptyTitle,
    /// Title too long.
    #[error("listing title has {found} characters; the maximum is {max}")]
    TitleTooLong {
        /// Maximum characters.
        max: usize,
        /// Characters found.
        found: usize,
    },
    /// Description too long.
    #[error("listing description has {found} characters; the maximum is {max}")]
    DescriptionTooLong {
        /// Maximum characters.
        max: usize,
        /// Characters found.
        found: usize,
    },
    /// A control character in a text field (newline and tab are allowed in descriptions).
    #[error("listing {field} contains a control character; remove it")]
    ControlCharacter {
        /// `"title"` or `"description"`.
        field: &'static str,
    },
    /// Unit price is zero.
    #[error("listing price is zero; set a price in piconero above 0")]
    ZeroPrice,
    /// Unit price alone exceeds the escrow cap, so no order could ever be placed.
    #[error("listing price exceeds the escrow cap: {0}")]
    PriceExceedsCap(CapExceeded),
    /// Not enough stock for the requested quantity.
    #[error("only {available} in stock, {requested} requested")]
    InsufficientStock {
        /// Units requested.
        requested: u32,
        /// Units available.
        available: u32,
    },
}

impl ListingError {
    /// Stable snake_case code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ListingError::EmptyTitle => "empty_title",
            ListingError::TitleTooLong { .. } => "title_too_long",
            ListingError::DescriptionTooLong { .. } => "description_too_long",
            ListingError::ControlCharacter { .. } => "control_character",
            ListingError::ZeroPrice => "zero_price",
            ListingError::PriceExceedsCap(_) => "exceeds_escrow_cap",
            ListingError::InsufficientStock { .. } => "insufficient_stock",
        }
    }
}

/// An order that cannot be placed ([`crate::Order::place`], [`crate::order_total`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The buyer is the listing's vendor.
    #[error("vendors cannot order their own listings")]
    SelfPurchase,
    /// Quantity is zero.
    #[error("quantity is zero; order at least 1")]
    ZeroQuantity,
    /// Unit price is zero.
    #[error("unit price is zero; the listing cannot be ordered")]
    ZeroPrice,
    /// Not enough stock.
    #[error("only {available} in stock, {requested} requested")]
    InsufficientStock {
        /// Units requested.
        requested: u32,
        /// Units available.
        available: u32,
    },
    /// `unit_price × quantity` does not fit in a `u64` of piconero.
    #[error("total of {quantity} × {unit_price} XMR overflows; order fewer units")]
    TotalOverflow {
        /// Unit price, piconero.
        unit_price: Amount,
        /// Quantity.
        quantity: u32,
    },
    /// The total exceeds the environment's escrow cap.
    #[error(transparent)]
    ExceedsCap(#[from] CapExceeded),
}

impl OrderError {
    /// Stable snake_case code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::SelfPurchase => "self_purchase",
            OrderError::ZeroQuantity => "zero_quantity",
            OrderError::ZeroPrice => "zero_price",
            OrderError::InsufficientStock { .. } => "insufficient_stock",
            OrderError::TotalOverflow { .. } => "amount_overflow",
            OrderError::ExceedsCap(_) => "exceeds_escrow_cap",
        }
    }
}

/// A dispute reason that breaks a rule ([`crate::escrow::DisputeReason::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DisputeReasonError {
    /// Empty or whitespace only.
    #[error("dispute reason is empty; say what went wrong")]
    Blank,
    /// Too long.
    #[error("dispute reason has {found} characters; the maximum is {max}")]
    TooLong {
        /// Maximum characters.
        max: usize,
        /// Characters found.
        found: usize,
    },
    /// A control character other than newline or tab.
    #[error("dispute reason contains a control character; remove it")]
    ControlCharacter,
}

/// A rule that an escrow record breaks ([`crate::escrow::Escrow::check_invariants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "escrow record is inconsistent: expected \"{rule}\"; the stored row was edited or corrupted, restore it from backup"
)]
pub struct InvariantViolation {
    /// The rule, in words (e.g. "funded has the amount confirmed").
    pub rule: &'static str,
}

/// An escrow that cannot be created or loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EscrowError {
    /// The escrow amount is zero.
    #[error("escrow amount is zero")]
    ZeroAmount,
    /// Zero required confirmations (0-conf funding lets a buyer double-spend).
    #[error("required confirmations is 0; configure at least 1")]
    ZeroConfirmations,
    /// Zero funding window.
    #[error("funding window is 0 seconds; configure a positive window")]
    ZeroFundingWindow,
    /// Buyer and vendor are the same user.
    #[error("buyer and vendor are the same user")]
    SelfDealing,
    /// A loaded or built record breaks an invariant.
    #[error(transparent)]
    Inconsistent(#[from] InvariantViolation),
}

/// Why [`crate::escrow::Escrow::apply`] refused an event. The escrow is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The actor may never trigger this event (e.g. the vendor confirming receipt, a buyer
    /// resolving a dispute).
    #[error("{actor} may not trigger {event}")]
    NotPermitted {
        /// Who tried.
        actor: Actor,
        /// What they tried.
        event: EventKind,
    },
    /// The escrow is released or refunded; nothing can change it any more.
    #[error("escrow is already {state}; nothing more can happen to it")]
    Terminal {
        /// `released` or `refunded`.
        state: EscrowStateKind,
    },
    /// The event does not apply in the current state (generic case).
    #[error("{event} is not possible while the escrow is {state}")]
    InvalidTransition {
        /// The current state.
        state: EscrowStateKind,
        /// The refused event.
        event: EventKind,
    },
    /// The buyer already confirmed receipt.
    #[error("receipt was already confirmed; the payout to the vendor is under way")]
    AlreadyConfirmed,
    /// Confirmation of receipt, or the vendor's refund, before the escrow is funded.
    #[error(
        "escrow is {state}, not funded; receipt can be confirmed, or a refund agreed, only after funding"
    )]
    NotFunded {
        /// The current state.
        state: EscrowStateKind,
    },
    /// Confirmation of receipt, or the vendor's refund, while a dispute is open: only an arbiter
    /// decides now.
    #[error("a dispute is open; an arbiter will decide")]
    InDispute,
    /// A dispute is already open.
    #[error("a dispute is already open on this escrow")]
    AlreadyDisputed,
    /// No confirmed funds are in the escrow, so there is nothing to dispute yet (cancel, or
    /// wait for a pending payment to confirm).
    #[error(
        "escrow is {state} with no confirmed funds; there is nothing to dispute, cancel or wait for the payment to confirm"
    )]
    NothingToDispute {
        /// The current state.
        state: EscrowStateKind,
    },
    /// Resolve on an escrow without an open dispute.
    #[error("escrow is {state}, not disputed; only an open dispute can be resolved")]
    NotDisputed {
        /// The current state.
        state: EscrowStateKind,
    },
    /// A payout is already decided (releasing/refunding): no dispute, confirmation or address
    /// change can redirect it.
    #[error("a payout is already decided (escrow is {state}); it can no longer be changed")]
    PayoutDecided {
        /// `releasing` or `refunding`.
        state: EscrowStateKind,
    },
    /// A release needs the vendor's payout address, which is not set.
    #[error("the vendor has not set a payout address; the vendor must set one first")]
    PayoutAddressMissing,
    /// A refund needs the buyer's refund address, which is not set.
    #[error("the buyer has not set a refund address; the buyer must set one first")]
    RefundAddressMissing,
    /// Funding reported for an escrow whose address was never created.
    #[error("escrow is {state} and has no address; funding cannot be observed")]
    NoEscrowAddress {
        /// The current state.
        state: EscrowStateKind,
    },
    /// The funding deadline has not passed yet.
    #[error("funding window is open until {deadline} (now {now})")]
    FundingWindowOpen {
        /// End of the window.
        deadline: Timestamp,
        /// The time given.
        now: Timestamp,
    },
    /// Part of the payment still lacks confirmations: the escrow must not expire or go to
    /// an arbiter before it confirms or vanishes. Retry later.
    #[error(
        "{received} XMR received, {confirmed} XMR confirmed; waiting for confirmations, retry later"
    )]
    AwaitingConfirmations {
        /// Piconero received.
        received: Amount,
        /// Piconero confirmed.
        confirmed: Amount,
    },
    /// Cancel refused because funds were received; open a dispute so an arbiter refunds.
    #[error("{received} XMR already received; cannot cancel, open a dispute to get a refund")]
    FundsPresent {
        /// Piconero received.
        received: Amount,
    },
    /// Sums of incoming transfers or of payout amount and fee overflow.
    #[error("amounts overflow 64 bits of piconero; the reported data is wrong")]
    AmountOverflow,
    /// A prepared payout without transaction hashes.
    #[error("payout has no transaction hash; sign_multisig must return tx_hash_list")]
    EmptyPayout,
    /// A prepared payout that pays nothing.
    #[error("payout amount is zero")]
    ZeroPayout,
    /// Payout amount + fee exceeds the escrow's confirmed funds. If more was paid in after
    /// funding, report a fresh `FundingObserved` snapshot and prepare again.
    #[error(
        "payout of {amount} XMR + fee {fee} XMR exceeds the {confirmed} XMR confirmed in the escrow; report a fresh funding snapshot first"
    )]
    PayoutExceedsFunds {
        /// Piconero paid out.
        amount: Amount,
        /// Fee, piconero.
        fee: Amount,
        /// Piconero received by the escrow with the required confirmations.
        confirmed: Amount,
    },
    /// A stalled payout reported after a fully signed set was prepared: its transaction may be
    /// on the chain, so the decision stands; wait for the submission to be recorded.
    #[error(
        "a fully signed payout was already prepared for this escrow; it is not undone, wait for its submission"
    )]
    PayoutUnderWay,
    /// Submission reported before the payout was prepared (recorded).
    #[error("payout was not prepared; record PayoutPrepared before submitting")]
    PayoutNotPrepared,
    /// The result would break an escrow invariant (a bug in the machine; the event is refused
    /// and nothing changes rather than persisting an inconsistent money record).
    #[error(transparent)]
    Inconsistent(#[from] InvariantViolation),
    /// Submitted hashes differ from the prepared ones.
    #[error("submitted transactions {found:?} differ from the prepared {expected:?}")]
    PayoutMismatch {
        /// Prepared hashes (sorted).
        expected: Vec<TxHash>,
        /// Reported hashes (sorted).
        found: Vec<TxHash>,
    },
}

impl TransitionError {
    /// How to report it: [`RejectionClass::Forbidden`] for a wrong actor,
    /// [`RejectionClass::Invalid`] for bad event data, [`RejectionClass::Internal`] for
    /// [`TransitionError::Inconsistent`], [`RejectionClass::Conflict`] otherwise.
    pub fn class(&self) -> RejectionClass {
        match self {
            TransitionError::NotPermitted { .. } => RejectionClass::Forbidden,
            TransitionError::AmountOverflow
            | TransitionError::EmptyPayout
            | TransitionError::ZeroPayout
            | TransitionError::PayoutExceedsFunds { .. } => RejectionClass::Invalid,
            TransitionError::Inconsistent(_) => RejectionClass::Internal,
            TransitionError::Terminal { .. }
            | TransitionError::InvalidTransition { .. }
            | TransitionError::AlreadyConfirmed
            | TransitionError::NotFunded { .. }
            | TransitionError::InDispute
            | TransitionError::AlreadyDisputed
            | TransitionError::NothingToDispute { .. }
            | TransitionError::NotDisputed { .. }
            | TransitionError::PayoutDecided { .. }
            | TransitionError::PayoutAddressMissing
            | TransitionError::RefundAddressMissing
            | TransitionError::NoEscrowAddress { .. }
            | TransitionError::FundingWindowOpen { .. }
            | TransitionError::AwaitingConfirmations { .. }
            | TransitionError::FundsPresent { .. }
            | TransitionError::PayoutUnderWay
            | TransitionError::PayoutNotPrepared
            | TransitionError::PayoutMismatch { .. } => RejectionClass::Conflict,
        }
    }

    /// Stable snake_case code for API error bodies (`{"error":{"code", ...}}`).
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotPermitted { .. } => "not_permitted",
            TransitionError::Terminal { .. } => "escrow_closed",
            TransitionError::InvalidTransition { .. } => "invalid_transition",
            TransitionError::AlreadyConfirmed => "already_confirmed",
            TransitionError::NotFunded { .. } => "not_funded",
            TransitionError::InDispute => "in_dispute",
            TransitionError::AlreadyDisputed => "already_disputed",
            TransitionError::NothingToDispute { .. } => "nothing_to_dispute",
            TransitionError::NotDisputed { .. } => "not_disputed",
            TransitionError::PayoutDecided { .. } => "payout_decided",
            TransitionError::PayoutAddressMissing => "payout_address_missing",
            TransitionError::RefundAddressMissing => "refund_address_missing",
            TransitionError::NoEscrowAddress { .. } => "no_escrow_address",
            TransitionError::FundingWindowOpen { .. } => "funding_window_open",
            TransitionError::AwaitingConfirmations { .. } => "awaiting_confirmations",
            TransitionError::FundsPresent { .. } => "funds_present",
            TransitionError::AmountOverflow => "amount_overflow",
            TransitionError::EmptyPayout => "empty_payout",
            TransitionError::ZeroPayout => "zero_payout",
            TransitionError::PayoutExceedsFunds { .. } => "payout_exceeds_funds",
            TransitionError::PayoutUnderWay => "payout_under_way",
            TransitionError::PayoutNotPrepared => "payout_not_prepared",
            TransitionError::PayoutMismatch { .. } => "payout_mismatch",
            TransitionError::Inconsistent(_) => "escrow_inconsistent",
        }
    }
}

/// A setup-round contribution that does not fit ([`crate::escrow::SetupProgress::record`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Only the buyer, vendor and arbiter wallets take part in the multisig.
    #[error("{actor} is not a multisig participant; only buyer, vendor and arbiter wallets are")]
    NotAParticipant {
        /// The refused actor.
        actor: Actor,
    },
    /// All rounds are already collected.
    #[error("multisig setup is already complete")]
    AlreadyComplete,
    /// The contribution is for another round than the current one.
    #[error(
        "multisig setup is in round {expected}, not {found}; collect all three outputs of a round before the next"
    )]
    WrongStage {
        /// The current round.
        expected: SetupStage,
        /// The round the contribution was for.
        found: SetupStage,
    },
    /// A stored progress record lists a participant twice, or all three without having
    /// advanced to the next round.
    #[error(
        "stored multisig setup progress for round {stage} is corrupted; restart the setup with fresh wallets"
    )]
    CorruptRecord {
        /// The round of the corrupted record.
        stage: SetupStage,
    },
}

/// A payout fee limit that cannot be built ([`crate::payout_check::FeeLimit::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FeeLimitError {
    /// The relative cap is above 10 000 basis points (100 % of the amount).
    #[error("a fee share of {basis_points} basis points is above 10000 (100 %); use 0-10000")]
    ShareAboveWhole {
        /// The refused share, in basis points.
        basis_points: u32,
    },
}

/// Why the co-signer refuses to sign a payout set ([`crate::payout_check::check_payout`]).
/// Every message ends the same way: the set is not signed and an operator must look at the
/// escrow, because a set that breaks the plan means a wallet or the server is misbehaving.
/// Amounts in piconero (shown as XMR).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayoutRefusal {
    /// The co-signing wallet could not decode the set (wallet-rpc `describe_transfer` refused
    /// it), so nothing can be checked. Set by the caller, never by `check_payout`.
    #[error(
        "the co-signing wallet cannot decode the payout set ({detail}); not signed, check the escrow"
    )]
    Undescribable {
        /// wallet-rpc's error (never the set itself).
        detail: String,
    },
    /// The set holds no transaction.
    #[error("the payout set holds no transaction; not signed, check the escrow")]
    EmptySet,
    /// A transaction's amounts do not add up (inputs = outputs + fee, outputs = recipients +
    /// change), or a total overflows 64 bits.
    #[error("the payout set's amounts do not add up; not signed, check the escrow")]
    Inconsistent,
    /// An output pays an address other than the plan's destination.
    #[error(
        "the payout pays {address}, not the plan's destination {destination}; not signed, check the escrow"
    )]
    WrongDestination {
        /// The unexpected recipient.
        address: monero_types::Address,
        /// The plan's destination.
        destination: monero_types::Address,
    },
    /// Change goes somewhere other than the escrow's own address.
    #[error("the payout sends {amount} XMR of change to {}, not back to the escrow; not signed, check the escrow",
        .address.as_ref().map_or("an unnamed address", |a| a.as_str()))]
    ChangeElsewhere {
        /// Where the change goes, if wallet-rpc named it.
        address: Option<monero_types::Address>,
        /// The change, piconero.
        amount: Amount,
    },
    /// An output is locked until a height or time (`unlock_time` is not 0).
    #[error("the payout locks its outputs (unlock_time {}, must be 0); not signed, check the escrow", .unlock_time.as_raw())]
    UnlockTime {
        /// The transaction's lock.
        unlock_time: monero_types::UnlockTime,
    },
    /// The total fee is above the limit (absolute or share of the amount spent).
    #[error(
        "the payout fee of {fee} XMR is above the limit of {limit} XMR; not signed, check the escrow (or the network fee level and the payout fee limit)"
    )]
    FeeTooHigh {
        /// The set's total fee, piconero.
        fee: Amount,
        /// The limit for this amount, piconero.
        limit: Amount,
    },
    /// The inputs do not spend exactly the escrow's unlocked balance snapshot.
    #[error(
        "the payout spends {spent} XMR but the escrow's unlocked balance is {balance} XMR; not signed, check the escrow"
    )]
    InputsMismatch {
        /// Sum of the inputs, piconero.
        spent: Amount,
        /// The unlocked balance snapshot, piconero.
        balance: Amount,
    },
    /// Change returns to the escrow: the destination would not receive the whole balance.
    #[error(
        "the payout keeps {amount} XMR of change in the escrow instead of paying out the whole balance; not signed, check the escrow"
    )]
    ChangeKept {
        /// The change kept, piconero.
        amount: Amount,
    },
}

impl PayoutRefusal {
    /// The stable label of this refusal.
    pub fn reason(&self) -> crate::payout_check::RefusalReason {
        use crate::payout_check::RefusalReason as R;
        match self {
            PayoutRefusal::Undescribable { .. } => R::Undescribable,
            PayoutRefusal::EmptySet => R::EmptySet,
            PayoutRefusal::Inconsistent => R::Inconsistent,
            PayoutRefusal::WrongDestination { .. } => R::WrongDestination,
            PayoutRefusal::ChangeElsewhere { .. } => R::ChangeElsewhere,
            PayoutRefusal::UnlockTime { .. } => R::UnlockTime,
            PayoutRefusal::FeeTooHigh { .. } => R::FeeTooHigh,
            PayoutRefusal::InputsMismatch { .. } => R::InputsMismatch,
            PayoutRefusal::ChangeKept { .. } => R::ChangeKept,
        }
    }
}
