//! The second signer's check, run on this party's own wallet before it adds the second
//! signature: the set as this wallet decodes it (`describe_transfer`) must pass escrow-core's
//! [`PayoutSigning::check_second_signature`] (every recipient the destination, change only to the
//! escrow, `unlock_time` 0, fee within the bound, inputs equal to the unlocked balance, nothing
//! kept back). The fee bound is the smaller of the market's and this party's own limit.

use escrow_core::{
    Actor, Amount, CheckedPayout, ExpectedPayout, FeeLimit, PaidOutput, PayoutRefusal,
    PayoutSigning, SignerRefusal, TxDescription,
};
use monero_rpc::{RpcError, TransferDescription};
use monero_types::{Address, MultisigTxset};

use crate::error::PartyError;

/// This party's own fee limit when it signs second: 0.005 XMR, in piconero (the market's default).
pub const DEFAULT_MAX_FEE_PICONERO: u64 = 5_000_000_000;
/// This party's own fee limit as a share of the escrow, basis points (1 %).
pub const DEFAULT_MAX_FEE_BASIS_POINTS: u32 = 100;

/// What the payout must do, from the market's rounds view and this party's own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutTerms {
    /// Kind, dispute status and the signer order (first builds, second checks and signs).
    pub signing: PayoutSigning,
    /// This party's role: it must be the second signer.
    pub me: Actor,
    /// The only address the payout may pay.
    pub destination: Address,
    /// The fee bound: the smaller of the market's `max_fee_xmr` and this party's own limit.
    pub fee_limit: FeeLimit,
}

impl PayoutTerms {
    /// The fee bound of a payout: `market_max_fee` (piconero, the rounds view's `max_fee_xmr`)
    /// capped by this party's own `own` limit; the share is the party's.
    pub fn fee_limit(market_max_fee: Amount, own: FeeLimit) -> FeeLimit {
        let max = market_max_fee.min(own.max_fee());
        // The share was valid in `own`, so it is valid here.
        FeeLimit::new(max, own.max_basis_points()).unwrap_or(own)
    }
}

/// The wallet's own view when it reviews a set: its address and unlocked balance (after the
/// other signer's sync info was imported), piconero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The escrow's multisig address (`get_address` of this wallet).
    pub escrow_address: Address,
    /// The unlocked balance (`get_balance`), piconero.
    pub unlocked_balance: Amount,
}

/// One output of a reviewed set, as shown before signing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShownOutput {
    /// The recipient.
    pub address: String,
    /// Piconero it receives.
    pub amount_piconero: u64,
}

/// A set that passed the check, ready for [`super::EscrowWallet::sign_reviewed`]. Its `Debug`
/// leaves the set out.
#[derive(Clone)]
pub struct Reviewed {
    txset: MultisigTxset,
    /// What the destination receives and the fee, piconero.
    pub checked: CheckedPayout,
    /// Every recipient, as decoded by this wallet.
    pub outputs: Vec<ShownOutput>,
}

impl std::fmt::Debug for Reviewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reviewed")
            .field("checked", &self.checked)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl Reviewed {
    /// The checked set.
    pub fn txset(&self) -> &MultisigTxset {
        &self.txset
    }
}

/// Checks a decoded set (`described`, wallet-rpc `describe_transfer`'s answer) against `terms`.
///
/// # Errors
/// [`PartyError::Refused`] with [`SignerRefusal::NotSecondSigner`] when this party does not
/// sign second, or [`SignerRefusal::Payout`] with the first failed rule; a set the wallet cannot
/// decode ([`RpcError::InvalidTxset`]) is refused as `undescribable`. Other RPC errors are
/// [`PartyError::Wallet`].
pub fn review(
    terms: &PayoutTerms,
    snapshot: Snapshot,
    described: Result<Vec<TransferDescription>, RpcError>,
    txset: MultisigTxset,
) -> Result<Reviewed, PartyError> {
    let descriptions = match described {
        Ok(d) => d,
        Err(RpcError::InvalidTxset { message, .. }) => {
            let refusal = PayoutRefusal::Undescribable { detail: message };
            return Err(PartyError::Refused(SignerRefusal::Payout(refusal)));
        }
        Err(source) => {
            return Err(PartyError::Wallet {
                step: "describe_transfer",
                source,
            });
        }
    };
    let txs: Vec<TxDescription> = descriptions.iter().map(decoded).collect();
    let expected = ExpectedPayout {
        destination: terms.destination.clone(),
        escrow_address: snapshot.escrow_address,
        unlocked_balance: snapshot.unlocked_balance,
        fee_limit: terms.fee_limit,
    };
    let checked = terms
        .signing
        .check_second_signature(terms.me, &txs, &expected)?;
    let outputs = txs
        .iter()
        .flat_map(|tx| tx.recipients.iter())
        .map(|r| ShownOutput {
            address: r.address.as_str().to_owned(),
            amount_piconero: r.amount.as_atomic(),
        })
        .collect();
    Ok(Reviewed {
        txset,
        checked,
        outputs,
    })
}

/// escrow-core's view of one decoded transaction.
fn decoded(d: &TransferDescription) -> TxDescription {
    let paid = |r: &monero_rpc::Destination| PaidOutput {
        address: r.address.clone(),
        amount: r.amount,
    };
    TxDescription {
        recipients: d.recipients.iter().map(paid).collect(),
        change_address: d.change_address.clone(),
        change_amount: d.change_amount,
        unlock_time: d.unlock_time,
        amount_out: d.amount_out,
        amount_in: d.amount_in,
        fee: d.fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use escrow_core::{DisputeStatus, PayoutKind, RefusalReason};

    const DEST: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
    const ESCROW: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3B";

    fn terms(me: Actor) -> PayoutTerms {
        let (kind, disputed) = (PayoutKind::Release, DisputeStatus::Undisputed);
        let signing = PayoutSigning::new(kind, disputed, Actor::Vendor, Actor::Buyer).unwrap();
        PayoutTerms {
            signing,
            me,
            destination: DEST.parse().unwrap(),
            fee_limit: FeeLimit::new(Amount::from_atomic(1_000), 100).unwrap(),
        }
    }

    fn snapshot(balance: u64) -> Snapshot {
        Snapshot {
            escrow_address: ESCROW.parse().unwrap(),
            unlocked_balance: Amount::from_atomic(balance),
        }
    }

    fn described(to: &str, paid: u64, fee: u64) -> Vec<TransferDescription> {
        let json = serde_json::json!([{
            "amount_in": paid + fee, "amount_out": paid, "fee": fee, "unlock_time": 0,
            "recipients": [{"address": to, "amount": paid}], "change_amount": 0, "change_address": ""
        }]);
        serde_json::from_value(json).unwrap()
    }

    fn txset() -> MultisigTxset {
        MultisigTxset::new("abcd").unwrap()
    }

    fn reason(result: Result<Reviewed, PartyError>) -> RefusalReason {
        match result {
            Err(PartyError::Refused(SignerRefusal::Payout(refusal))) => refusal.reason(),
            other => panic!("expected a payout refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_set_that_does_what_the_plan_says_passes_and_shows_its_outputs() {
        let ok = review(
            &terms(Actor::Buyer),
            snapshot(100_000),
            Ok(described(DEST, 99_500, 500)),
            txset(),
        )
        .unwrap();
        assert_eq!(ok.checked.amount, Amount::from_atomic(99_500));
        assert_eq!(ok.checked.fee, Amount::from_atomic(500));
        assert_eq!(ok.outputs[0].address, DEST);
        assert!(
            !format!("{ok:?}").contains("abcd"),
            "Debug leaves the set out"
        );
    }

    #[test]
    fn each_broken_rule_is_a_typed_refusal() {
        let t = terms(Actor::Buyer);
        let cases = [
            (
                ESCROW,
                99_500,
                500,
                100_000,
                RefusalReason::WrongDestination,
            ),
            (DEST, 98_000, 2_000, 100_000, RefusalReason::FeeTooHigh),
            (DEST, 99_500, 500, 200_000, RefusalReason::InputsMismatch),
        ];
        for (to, paid, fee, balance, want) in cases {
            let set = Ok(described(to, paid, fee));
            assert_eq!(reason(review(&t, snapshot(balance), set, txset())), want);
        }
        let undecodable = Err(RpcError::InvalidTxset {
            method: "describe_transfer",
            code: -34,
            message: "cannot load multisig_txset".into(),
        });
        assert_eq!(
            reason(review(&t, snapshot(1), undecodable, txset())),
            RefusalReason::Undescribable
        );
        let first = review(
            &terms(Actor::Vendor),
            snapshot(100_000),
            Ok(described(DEST, 99_500, 500)),
            txset(),
        );
        assert!(matches!(
            first,
            Err(PartyError::Refused(SignerRefusal::NotSecondSigner { .. }))
        ));
    }

    #[test]
    fn the_market_can_only_lower_the_fee_bound() {
        let own = FeeLimit::new(Amount::from_atomic(5_000), 100).unwrap();
        let higher = PayoutTerms::fee_limit(Amount::from_atomic(1_000_000), own);
        assert_eq!(higher.max_fee(), Amount::from_atomic(5_000));
        let lower = PayoutTerms::fee_limit(Amount::from_atomic(700), own);
        assert_eq!(
            (lower.max_fee(), lower.max_basis_points()),
            (Amount::from_atomic(700), 100)
        );
    }
}
