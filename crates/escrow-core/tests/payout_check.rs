//! The co-signer's payout check (`escrow_core::check_payout`): a set that sweeps the escrow to
//! the plan's destination passes; each broken rule is refused with its own reason; the fee limit
//! is the smaller of its absolute and relative caps. Examples first, then properties.

mod common;

use common::{addr, escrow_address, payout_address};
use escrow_core::{
    Amount, ExpectedPayout, FeeLimit, FeeLimitError, PaidOutput, PayoutRefusal, RefusalReason,
    TxDescription, UnlockTime, check_payout,
};
use proptest::prelude::*;

const FEE: u64 = 30_000_000;
const BALANCE: u64 = 2_500_000_000_000;

fn xmr(piconero: u64) -> Amount {
    Amount::from_atomic(piconero)
}

/// 0.005 XMR and 1 % (the server's defaults).
fn limit() -> FeeLimit {
    FeeLimit::new(xmr(5_000_000_000), 100).unwrap()
}

fn expected(balance: u64) -> ExpectedPayout {
    ExpectedPayout {
        destination: payout_address(),
        escrow_address: escrow_address(),
        unlocked_balance: xmr(balance),
        fee_limit: limit(),
    }
}

/// A sweep transaction: spends `amount_in`, pays `amount_in - fee` to the destination.
fn sweep(amount_in: u64, fee: u64) -> TxDescription {
    TxDescription {
        amount_in: xmr(amount_in),
        amount_out: xmr(amount_in - fee),
        recipients: vec![PaidOutput {
            address: payout_address(),
            amount: xmr(amount_in - fee),
        }],
        change_amount: Amount::ZERO,
        change_address: None,
        fee: xmr(fee),
        unlock_time: UnlockTime::None,
    }
}

/// A transfer of `paid` to `to` with the rest (less the fee) as change to `change_to`.
fn transfer(amount_in: u64, paid: u64, fee: u64, to: char, change_to: char) -> TxDescription {
    TxDescription {
        amount_in: xmr(amount_in),
        amount_out: xmr(amount_in - fee),
        recipients: vec![PaidOutput {
            address: addr(to),
            amount: xmr(paid),
        }],
        change_amount: xmr(amount_in - fee - paid),
        change_address: Some(addr(change_to)),
        fee: xmr(fee),
        unlock_time: UnlockTime::None,
    }
}

fn reason(txs: &[TxDescription], balance: u64) -> RefusalReason {
    check_payout(txs, &expected(balance))
        .expect_err("the set must be refused")
        .reason()
}

#[test]
fn a_whole_sweep_to_the_destination_passes() {
    let checked = check_payout(&[sweep(BALANCE, FEE)], &expected(BALANCE)).unwrap();
    assert_eq!(checked.amount, xmr(BALANCE - FEE));
    assert_eq!(checked.fee, xmr(FEE));
    // A sweep split over two transactions: totals add up.
    let txs = [
        sweep(BALANCE - 1_000_000_000_000, FEE),
        sweep(1_000_000_000_000, FEE),
    ];
    let checked = check_payout(&txs, &expected(BALANCE)).unwrap();
    assert_eq!(checked.amount, xmr(BALANCE - 2 * FEE));
    assert_eq!(checked.fee, xmr(2 * FEE));
}

#[test]
fn each_broken_rule_has_its_reason() {
    assert_eq!(reason(&[], BALANCE), RefusalReason::EmptySet);

    // Another destination, or an extra recipient beside the destination.
    let mut other = sweep(BALANCE, FEE);
    other.recipients[0].address = addr('T');
    assert_eq!(reason(&[other], BALANCE), RefusalReason::WrongDestination);
    let mut extra = sweep(BALANCE, FEE);
    extra.recipients[0].amount = xmr(BALANCE - FEE - 1_000);
    extra.recipients.push(PaidOutput {
        address: addr('T'),
        amount: xmr(1_000),
    });
    let err = check_payout(&[extra], &expected(BALANCE)).unwrap_err();
    assert_eq!(
        err,
        PayoutRefusal::WrongDestination {
            address: addr('T'),
            destination: payout_address()
        }
    );

    // Change to a third address; change with no address at all.
    let elsewhere = transfer(BALANCE, 1_000_000_000_000, FEE, 'V', 'T');
    assert_eq!(
        reason(&[elsewhere], BALANCE),
        RefusalReason::ChangeElsewhere
    );
    let mut unnamed = transfer(BALANCE, 1_000_000_000_000, FEE, 'V', 'A');
    unnamed.change_address = None;
    assert_eq!(reason(&[unnamed], BALANCE), RefusalReason::ChangeElsewhere);

    // Change back to the escrow is not lost, but the destination would be short of it.
    let kept = transfer(BALANCE, 1_000_000_000_000, FEE, 'V', 'A');
    let err = check_payout(&[kept], &expected(BALANCE)).unwrap_err();
    assert_eq!(
        err,
        PayoutRefusal::ChangeKept {
            amount: xmr(BALANCE - FEE - 1_000_000_000_000)
        }
    );

    for lock in [UnlockTime::Height(1), UnlockTime::UnixTime(1_700_000_000)] {
        let mut locked = sweep(BALANCE, FEE);
        locked.unlock_time = lock;
        assert_eq!(reason(&[locked], BALANCE), RefusalReason::UnlockTime);
    }

    // Inputs: more or less than the unlocked balance snapshot.
    assert_eq!(
        reason(&[sweep(BALANCE, FEE)], BALANCE + 1),
        RefusalReason::InputsMismatch
    );
    assert_eq!(
        reason(&[sweep(BALANCE, FEE)], BALANCE - 1),
        RefusalReason::InputsMismatch
    );

    // Amounts that do not add up.
    let mut fee_lie = sweep(BALANCE, FEE);
    fee_lie.fee = xmr(FEE - 1);
    assert_eq!(reason(&[fee_lie], BALANCE), RefusalReason::Inconsistent);
    let mut hidden = sweep(BALANCE, FEE);
    hidden.recipients[0].amount = xmr(BALANCE - FEE - 1);
    assert_eq!(reason(&[hidden], BALANCE), RefusalReason::Inconsistent);
    let huge = [sweep(u64::MAX, FEE), sweep(u64::MAX, FEE)];
    assert_eq!(reason(&huge, BALANCE), RefusalReason::Inconsistent);
}

#[test]
fn fee_limit_is_absolute_and_relative() {
    // 0.005 XMR cap: on 2.5 XMR, 1 % is 0.025 XMR, so the absolute cap decides.
    assert_eq!(limit().bound(xmr(BALANCE)), xmr(5_000_000_000));
    let at_cap = sweep(BALANCE, 5_000_000_000);
    assert!(check_payout(&[at_cap], &expected(BALANCE)).is_ok());
    let over = sweep(BALANCE, 5_000_000_001);
    assert_eq!(
        check_payout(&[over], &expected(BALANCE)).unwrap_err(),
        PayoutRefusal::FeeTooHigh {
            fee: xmr(5_000_000_001),
            limit: xmr(5_000_000_000)
        }
    );
    // On 0.1 XMR, 1 % is 0.001 XMR: the share decides.
    let small = 100_000_000_000;
    assert_eq!(limit().bound(xmr(small)), xmr(1_000_000_000));
    assert_eq!(
        reason(&[sweep(small, 1_000_000_001)], small),
        RefusalReason::FeeTooHigh
    );
    // The fee limit is checked over the whole set.
    let split = [sweep(small / 2, 600_000_000), sweep(small / 2, 600_000_000)];
    assert_eq!(reason(&split, small), RefusalReason::FeeTooHigh);

    assert_eq!(
        FeeLimit::new(Amount::ONE_XMR, 10_001).unwrap_err(),
        FeeLimitError::ShareAboveWhole {
            basis_points: 10_001
        }
    );
    let whole = FeeLimit::new(Amount::MAX, 10_000).unwrap();
    assert_eq!(whole.bound(Amount::MAX), Amount::MAX);
}

#[test]
fn reasons_have_stable_labels() {
    for reason in RefusalReason::ALL {
        assert_eq!(reason.as_str().parse::<RefusalReason>(), Ok(reason));
        assert_eq!(reason.to_string(), reason.as_str());
    }
    assert!("wrong destination".parse::<RefusalReason>().is_err());
    let refusal = PayoutRefusal::Undescribable {
        detail: "code -34".into(),
    };
    assert_eq!(refusal.reason(), RefusalReason::Undescribable);
    assert!(refusal.to_string().contains("not signed"), "{refusal}");
}

proptest! {
    /// Any sweep of the whole balance to the destination, in 1-4 transactions, whose fee is
    /// within the limit passes, and the destination gets the balance less the fee.
    #[test]
    fn whole_sweeps_within_the_limit_pass(
        parts in prop::collection::vec(1_000_000_000u64..5_000_000_000_000, 1..4),
        fee_permyriad in 0u64..=100,
    ) {
        let balance: u64 = parts.iter().sum();
        let txs: Vec<TxDescription> = parts
            .iter()
            .map(|&p| sweep(p, p * fee_permyriad / 10_000 / 2))
            .collect();
        let fee: u64 = txs.iter().map(|t| t.fee.as_atomic()).sum();
        prop_assume!(fee <= limit().bound(xmr(balance)).as_atomic());
        let checked = check_payout(&txs, &expected(balance)).unwrap();
        prop_assert_eq!(checked.amount, xmr(balance - fee));
        prop_assert_eq!(checked.fee, xmr(fee));
    }

    /// Breaking one rule in one transaction of a good set always refuses the set with that
    /// rule's reason.
    #[test]
    fn one_broken_rule_is_always_refused(
        parts in prop::collection::vec(1_000_000_000u64..5_000_000_000_000, 1..4),
        which in 0usize..4,
        rule in 0u8..5,
        lock in 1u64..u64::MAX,
        other in prop::sample::select(vec!['T', 'Q', 'Z']),
    ) {
        let balance: u64 = parts.iter().sum();
        let mut txs: Vec<TxDescription> = parts.iter().map(|&p| sweep(p, FEE / 4)).collect();
        let i = which % txs.len();
        let amount_in = txs[i].amount_in.as_atomic();
        let want = match rule {
            0 => {
                txs[i].recipients[0].address = addr(other);
                RefusalReason::WrongDestination
            }
            1 => {
                txs[i] = transfer(amount_in, amount_in / 2, FEE / 4, 'V', other);
                RefusalReason::ChangeElsewhere
            }
            2 => {
                txs[i].unlock_time = UnlockTime::from_raw(lock);
                RefusalReason::UnlockTime
            }
            3 => {
                txs[i] = transfer(amount_in, amount_in / 2, FEE / 4, 'V', 'A');
                RefusalReason::ChangeKept
            }
            _ => {
                return check_inputs(&txs, balance);
            }
        };
        prop_assert_eq!(reason(&txs, balance), want);
    }

    /// The bound never exceeds either cap, and equals one of them.
    #[test]
    fn bound_is_the_smaller_cap(max in any::<u64>(), bp in 0u32..=10_000, spent in any::<u64>()) {
        let limit = FeeLimit::new(xmr(max), bp).unwrap();
        let bound = limit.bound(xmr(spent)).as_atomic();
        let share = (u128::from(spent) * u128::from(bp) / 10_000) as u64;
        prop_assert_eq!(bound, max.min(share));
    }
}

/// A balance snapshot off by one in either direction refuses an otherwise good set.
fn check_inputs(txs: &[TxDescription], balance: u64) -> Result<(), TestCaseError> {
    prop_assert_eq!(reason(txs, balance + 1), RefusalReason::InputsMismatch);
    prop_assert_eq!(reason(txs, balance - 1), RefusalReason::InputsMismatch);
    Ok(())
}
