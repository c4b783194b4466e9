//! The escrow cap per environment. Amount parsing, formatting, arithmetic and serde are
//! tested with the type, in crates/monero-types/tests/amount.rs.

use escrow_core::{Amount, CapExceeded, EscrowCap};

#[test]
fn escrow_caps_per_environment() {
    assert_eq!(
        EscrowCap::DEVELOPMENT.max(),
        Amount::from_xmr(10).expect("fits")
    );
    assert_eq!(EscrowCap::STAGING.max(), Amount::from_xmr(1).expect("fits"));
    assert_eq!(
        EscrowCap::PRODUCTION.max(),
        Amount::from_xmr(5).expect("fits")
    );

    let cap = EscrowCap::PRODUCTION;
    assert_eq!(cap.check(cap.max()), Ok(()), "the cap itself is allowed");
    let over = cap.max().checked_add(Amount::ONE_PICONERO).expect("fits");
    let err = cap.check(over).expect_err("one piconero over");
    assert_eq!(
        err,
        CapExceeded {
            total: over,
            cap: cap.max()
        }
    );
    assert!(err.to_string().contains("5 XMR"), "{err}");
}
