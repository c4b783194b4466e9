//! The co-signer's check of a payout transaction set before it adds the second signature: the
//! set must do what the frozen [`PayoutPlan`](crate::PayoutPlan) says and nothing else.
//!
//! The caller decodes the set with the co-signing wallet (wallet-rpc `describe_transfer`, one
//! [`TxDescription`] per transaction) and snapshots that wallet's unlocked balance before the set
//! is built; [`check_payout`] then decides, with no I/O. A set passes only when:
//!
//! 1. it holds at least one transaction and each one's amounts add up
//!    (`amount_in = amount_out + fee`, `amount_out = recipients + change`);
//! 2. every recipient is the plan's destination;
//! 3. there is no change, or change only back to the escrow's own address;
//! 4. every `unlock_time` is 0 ([`UnlockTime::None`]: the payout is spendable at once);
//! 5. the total fee is at most the [`FeeLimit`] (absolute, and as a share of what is spent);
//! 6. the inputs spend exactly the escrow's unlocked balance snapshot, no more and no less;
//! 7. no change stays in the escrow: the plan pays the whole balance, less the fee, to the
//!    destination, so change kept in the escrow would short the destination.
//!
//! Checks run in that order and the first failure is the [`PayoutRefusal`]; its
//! [`RefusalReason`] is the stable label stored with the refused step and used as the
//! `reason` label of the refusal metric.

use monero_types::{Address, Amount, UnlockTime};

use crate::error::{FeeLimitError, PayoutRefusal};
use crate::label::label_text;

/// One output a payout transaction pays (change excluded): `describe_transfer`'s
/// `recipients[]` entry. Amount in atomic units (piconero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidOutput {
    /// Where the output goes.
    pub address: Address,
    /// Piconero it carries.
    pub amount: Amount,
}

/// One transaction of a payout set as the co-signing wallet decodes it (one `desc[]` entry of
/// wallet-rpc `describe_transfer`). Amounts in atomic units (piconero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxDescription {
    /// Sum of the inputs spent (`amount_in`).
    pub amount_in: Amount,
    /// Sum of every output, recipients and change (`amount_out`).
    pub amount_out: Amount,
    /// The outputs paid, change excluded (`recipients`).
    pub recipients: Vec<PaidOutput>,
    /// Change returned (`change_amount`), 0 for none.
    pub change_amount: Amount,
    /// Where the change goes (`change_address`); `None` when there is no change.
    pub change_address: Option<Address>,
    /// Network fee (`fee`).
    pub fee: Amount,
    /// Lock on the outputs (`unlock_time`); a payout must have [`UnlockTime::None`].
    pub unlock_time: UnlockTime,
}

/// Basis points in a whole: a fee share of 10 000 basis points is 100 %.
pub const BASIS_POINTS_PER_WHOLE: u32 = 10_000;

/// The most fee a payout may pay: at most [`FeeLimit::max_fee`] and at most
/// [`FeeLimit::max_basis_points`] / 10 000 of the amount the payout spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeLimit {
    max_fee: Amount,
    max_basis_points: u32,
}

impl FeeLimit {
    /// A limit of `max_fee` piconero and `max_basis_points` (1 = 0.01 %) of the amount spent.
    ///
    /// # Errors
    /// [`FeeLimitError::ShareAboveWhole`] when `max_basis_points` is above 10 000.
    pub const fn new(max_fee: Amount, max_basis_points: u32) -> Result<Self, FeeLimitError> {
        if max_basis_points > BASIS_POINTS_PER_WHOLE {
            return Err(FeeLimitError::ShareAboveWhole {
                basis_points: max_basis_points,
            });
        }
        Ok(FeeLimit {
            max_fee,
            max_basis_points,
        })
    }

    /// The absolute cap, piconero.
    pub const fn max_fee(&self) -> Amount {
        self.max_fee
    }

    /// The relative cap, in basis points of the amount spent.
    pub const fn max_basis_points(&self) -> u32 {
        self.max_basis_points
    }

    /// The largest fee allowed for a payout spending `spent`: the smaller of the absolute cap
    /// and `spent × max_basis_points / 10 000` (rounded down).
    pub fn bound(&self, spent: Amount) -> Amount {
        let share = u128::from(spent.as_atomic()) * u128::from(self.max_basis_points)
            / u128::from(BASIS_POINTS_PER_WHOLE);
        // The share is at most `spent` (basis points never exceed the whole), so it fits.
        let share = Amount::from_atomic(u64::try_from(share).unwrap_or(u64::MAX));
        share.min(self.max_fee)
    }
}

/// What the co-signer expects a payout set to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedPayout {
    /// The plan's destination: the only address that may be paid.
    pub destination: Address,
    /// The escrow's own multisig address: the only place change may go.
    pub escrow_address: Address,
    /// The co-signing wallet's unlocked balance, snapshotted after the re-sync and before the
    /// set was built, piconero: the inputs must spend exactly this.
    pub unlocked_balance: Amount,
    /// The fee limit of this environment.
    pub fee_limit: FeeLimit,
}

/// A payout set that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckedPayout {
    /// What the destination receives, piconero (the balance less the fee).
    pub amount: Amount,
    /// Total network fee, piconero.
    pub fee: Amount,
}

/// Why the co-signer refused a payout set: the stable label of a [`PayoutRefusal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// `undescribable`: the co-signing wallet could not decode the set.
    Undescribable,
    /// `empty_set`: the set holds no transaction.
    EmptySet,
    /// `inconsistent`: the decoded amounts do not add up.
    Inconsistent,
    /// `wrong_destination`: an output pays another address than the plan's destination.
    WrongDestination,
    /// `change_elsewhere`: change goes to another address than the escrow's.
    ChangeElsewhere,
    /// `unlock_time`: an output is locked (`unlock_time` not 0).
    UnlockTime,
    /// `fee_too_high`: the fee is above the limit.
    FeeTooHigh,
    /// `inputs_mismatch`: the inputs do not spend exactly the escrow's unlocked balance.
    InputsMismatch,
    /// `change_kept`: change returns to the escrow instead of paying the whole balance out.
    ChangeKept,
}

impl RefusalReason {
    /// Every reason, in check order.
    pub const ALL: [RefusalReason; 9] = [
        RefusalReason::Undescribable,
        RefusalReason::EmptySet,
        RefusalReason::Inconsistent,
        RefusalReason::WrongDestination,
        RefusalReason::ChangeElsewhere,
        RefusalReason::UnlockTime,
        RefusalReason::FeeTooHigh,
        RefusalReason::InputsMismatch,
        RefusalReason::ChangeKept,
    ];

    /// The stable snake_case label (stored, shown as the escrow's `blocked_reason`, metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Undescribable => "undescribable",
            RefusalReason::EmptySet => "empty_set",
            RefusalReason::Inconsistent => "inconsistent",
            RefusalReason::WrongDestination => "wrong_destination",
            RefusalReason::ChangeElsewhere => "change_elsewhere",
            RefusalReason::UnlockTime => "unlock_time",
            RefusalReason::FeeTooHigh => "fee_too_high",
            RefusalReason::InputsMismatch => "inputs_mismatch",
            RefusalReason::ChangeKept => "change_kept",
        }
    }
}

label_text!(RefusalReason, "payout refusal reason");

/// Totals over the whole set, piconero.
#[derive(Default)]
struct Totals {
    spent: Amount,
    paid: Amount,
    change: Amount,
    fee: Amount,
}

impl Totals {
    fn add(&mut self, tx: &TxDescription, paid: Amount) -> Option<()> {
        self.spent = self.spent.checked_add(tx.amount_in)?;
        self.paid = self.paid.checked_add(paid)?;
        self.change = self.change.checked_add(tx.change_amount)?;
        self.fee = self.fee.checked_add(tx.fee)?;
        Some(())
    }
}

/// Checks a payout set against what the co-signer expects (see the module documentation for
/// the rules and their order).
///
/// # Errors
/// The first [`PayoutRefusal`] in check order; the set must then not be signed.
pub fn check_payout(
    txs: &[TxDescription],
    expected: &ExpectedPayout,
) -> Result<CheckedPayout, PayoutRefusal> {
    if txs.is_empty() {
        return Err(PayoutRefusal::EmptySet);
    }
    let mut totals = Totals::default();
    for tx in txs {
        let paid = paid_by(tx)?;
        check_outputs(tx, expected)?;
        totals.add(tx, paid).ok_or(PayoutRefusal::Inconsistent)?;
    }
    let limit = expected.fee_limit.bound(totals.spent);
    if totals.fee > limit {
        return Err(PayoutRefusal::FeeTooHigh {
            fee: totals.fee,
            limit,
        });
    }
    if totals.spent != expected.unlocked_balance {
        return Err(PayoutRefusal::InputsMismatch {
            spent: totals.spent,
            balance: expected.unlocked_balance,
        });
    }
    if !totals.change.is_zero() {
        return Err(PayoutRefusal::ChangeKept {
            amount: totals.change,
        });
    }
    Ok(CheckedPayout {
        amount: totals.paid,
        fee: totals.fee,
    })
}

/// What `tx` pays its recipients, once its amounts are known to add up.
fn paid_by(tx: &TxDescription) -> Result<Amount, PayoutRefusal> {
    let paid = Amount::checked_sum(tx.recipients.iter().map(|r| r.amount))
        .ok_or(PayoutRefusal::Inconsistent)?;
    let outputs = paid.checked_add(tx.change_amount);
    let spent = tx.amount_out.checked_add(tx.fee);
    if outputs != Some(tx.amount_out) || spent != Some(tx.amount_in) {
        return Err(PayoutRefusal::Inconsistent);
    }
    Ok(paid)
}

/// Rules 2-4 on one transaction: recipients, change address, unlock time.
fn check_outputs(tx: &TxDescription, expected: &ExpectedPayout) -> Result<(), PayoutRefusal> {
    if let Some(other) = tx
        .recipients
        .iter()
        .find(|r| r.address != expected.destination)
    {
        return Err(PayoutRefusal::WrongDestination {
            address: other.address.clone(),
            destination: expected.destination.clone(),
        });
    }
    if !tx.change_amount.is_zero() && tx.change_address.as_ref() != Some(&expected.escrow_address) {
        return Err(PayoutRefusal::ChangeElsewhere {
            address: tx.change_address.clone(),
            amount: tx.change_amount,
        });
    }
    if tx.unlock_time != UnlockTime::None {
        return Err(PayoutRefusal::UnlockTime {
            unlock_time: tx.unlock_time,
        });
    }
    Ok(())
}
