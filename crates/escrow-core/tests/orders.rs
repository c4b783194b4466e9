//! Order pricing (total = price × quantity, checked, capped) and listing validation.

use escrow_core::{
    Amount, CapExceeded, EscrowCap, EscrowStateKind, Listing, ListingDraft, ListingError,
    ListingId, NewOrder, Order, OrderError, OrderId, OrderStatus, Timestamp, UserId, order_total,
};
use proptest::prelude::*;

const VENDOR: UserId = UserId::new(20);
const BUYER: UserId = UserId::new(10);

fn listing(price: Amount, stock: u32) -> Listing {
    Listing {
        id: ListingId::new(7),
        vendor_id: VENDOR,
        title: "Hardware wallet".into(),
        description: "Sealed.\nShips in 2 days.".into(),
        price,
        stock,
        created_at: Timestamp::from_unix_seconds(1),
        updated_at: Timestamp::from_unix_seconds(1),
    }
}

fn xmr(text: &str) -> Amount {
    text.parse().expect("valid amount")
}

#[test]
fn order_total_is_price_times_quantity() {
    assert_eq!(order_total(xmr("0.25"), 4), Ok(xmr("1")));
    assert_eq!(
        order_total(Amount::ONE_PICONERO, 1),
        Ok(Amount::ONE_PICONERO)
    );
    assert_eq!(order_total(xmr("1"), 0), Err(OrderError::ZeroQuantity));
    assert_eq!(order_total(Amount::ZERO, 3), Err(OrderError::ZeroPrice));
    assert_eq!(
        order_total(Amount::MAX, 2),
        Err(OrderError::TotalOverflow {
            unit_price: Amount::MAX,
            quantity: 2
        })
    );
}

#[test]
fn placing_an_order_checks_every_rule() {
    let cap = EscrowCap::PRODUCTION;
    let order =
        Order::place(&listing(xmr("1.5"), 5), BUYER, 3, &cap).expect("4.5 XMR fits the cap");
    assert_eq!(order.total(), xmr("4.5"));
    assert_eq!(order.unit_price(), xmr("1.5"));
    assert_eq!(
        (order.buyer_id(), order.vendor_id(), order.quantity()),
        (BUYER, VENDOR, 3)
    );

    let cases: &[(Listing, UserId, u32, OrderError)] = &[
        (listing(xmr("1"), 5), VENDOR, 1, OrderError::SelfPurchase),
        (listing(xmr("1"), 5), BUYER, 0, OrderError::ZeroQuantity),
        (listing(Amount::ZERO, 5), BUYER, 1, OrderError::ZeroPrice),
        (
            listing(xmr("1"), 2),
            BUYER,
            3,
            OrderError::InsufficientStock {
                requested: 3,
                available: 2,
            },
        ),
        (
            listing(xmr("1"), 0),
            BUYER,
            1,
            OrderError::InsufficientStock {
                requested: 1,
                available: 0,
            },
        ),
        (
            listing(Amount::MAX, u32::MAX),
            BUYER,
            2,
            OrderError::TotalOverflow {
                unit_price: Amount::MAX,
                quantity: 2,
            },
        ),
        (
            listing(xmr("2"), 5),
            BUYER,
            3,
            OrderError::ExceedsCap(CapExceeded {
                total: xmr("6"),
                cap: xmr("5"),
            }),
        ),
    ];
    for (l, buyer, qty, expected) in cases {
        assert_eq!(
            Order::place(l, *buyer, *qty, &cap).as_ref(),
            Err(expected),
            "{expected}"
        );
    }
    // Exactly at the cap is allowed.
    assert!(Order::place(&listing(xmr("1"), 5), BUYER, 5, &cap).is_ok());
}

#[test]
fn stored_orders_rebuild_their_total() {
    let line =
        NewOrder::from_stored(ListingId::new(7), BUYER, VENDOR, 4, xmr("0.5")).expect("valid");
    let order = Order::new(OrderId::new(9), line, Timestamp::from_unix_seconds(5));
    assert_eq!(order.total(), xmr("2"));
    assert_eq!(order.id(), OrderId::new(9));
    let json = serde_json::to_value(&order).expect("ser");
    assert_eq!(json["total"], 2_000_000_000_000u64);
    assert_eq!(json["quantity"], 4);
}

#[test]
fn listing_drafts_are_validated() {
    let cap = EscrowCap::STAGING;
    let ok = ListingDraft {
        title: "Book".into(),
        description: "Paperback\n\twith notes".into(),
        price: xmr("0.1"),
        stock: 0,
    };
    assert_eq!(ok.validate(&cap), Ok(()));
    let with = |f: &dyn Fn(&mut ListingDraft)| {
        let mut d = ok.clone();
        f(&mut d);
        d.validate(&cap)
    };
    assert_eq!(
        with(&|d| d.title = "   ".into()),
        Err(ListingError::EmptyTitle)
    );
    assert_eq!(
        with(&|d| d.title = "x".repeat(201)),
        Err(ListingError::TitleTooLong {
            max: 200,
            found: 201
        })
    );
    assert_eq!(
        with(&|d| d.title = "é".repeat(200)),
        Ok(()),
        "characters, not bytes"
    );
    assert_eq!(
        with(&|d| d.title = "a\nb".into()),
        Err(ListingError::ControlCharacter { field: "title" })
    );
    assert_eq!(
        with(&|d| d.description = "nul\0".into()),
        Err(ListingError::ControlCharacter {
            field: "description"
        })
    );
    assert_eq!(
        with(&|d| d.description = "x".repeat(20_001)),
        Err(ListingError::DescriptionTooLong {
            max: 20_000,
            found: 20_001
        })
    );
    assert_eq!(
        with(&|d| d.price = Amount::ZERO),
        Err(ListingError::ZeroPrice)
    );
    assert_eq!(
        with(&|d| d.price = xmr("1.000000000001")),
        Err(ListingError::PriceExceedsCap(CapExceeded {
            total: xmr("1.000000000001"),
            cap: xmr("1")
        }))
    );
}

#[test]
fn stock_after_an_order() {
    assert_eq!(listing(xmr("1"), 5).stock_after(5), Ok(0));
    assert_eq!(
        listing(xmr("1"), 5).stock_after(6),
        Err(ListingError::InsufficientStock {
            requested: 6,
            available: 5
        })
    );
}

#[test]
fn order_status_follows_the_escrow_state() {
    use EscrowStateKind as K;
    let expected = [
        (K::AwaitingSetup, "pending"),
        (K::SetupFailed, "pending"),
        (K::AwaitingFunding, "pending"),
        (K::Funded, "paid"),
        (K::Disputed, "disputed"),
        (K::Releasing, "settling"),
        (K::Refunding, "settling"),
        (K::Released, "completed"),
        (K::Refunded, "refunded"),
        (K::Expired, "expired"),
        (K::Cancelled, "cancelled"),
    ];
    assert_eq!(expected.len(), K::ALL.len());
    for (state, label) in expected {
        let status = OrderStatus::from(state);
        assert_eq!(status.as_str(), label);
        assert_eq!(label.parse::<OrderStatus>(), Ok(status));
    }
}

proptest! {
    #[test]
    fn total_is_exactly_price_times_quantity_or_a_typed_error(price in any::<u64>(), qty in any::<u32>()) {
        let exact = u128::from(price) * u128::from(qty);
        match order_total(Amount::from_atomic(price), qty) {
            Ok(total) => prop_assert_eq!(u128::from(total.as_atomic()), exact),
            Err(OrderError::ZeroQuantity) => prop_assert_eq!(qty, 0),
            Err(OrderError::ZeroPrice) => prop_assert!(price == 0 && qty != 0),
            Err(OrderError::TotalOverflow { .. }) => prop_assert!(exact > u128::from(u64::MAX)),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn placed_orders_never_exceed_cap_or_stock(price in 1u64..20_000_000_000_000, stock in 0u32..50, qty in 0u32..60) {
        let cap = EscrowCap::DEVELOPMENT;
        let l = listing(Amount::from_atomic(price), stock);
        if let Ok(order) = Order::place(&l, BUYER, qty, &cap) {
            prop_assert!(order.total() <= cap.max());
            prop_assert!(order.quantity() <= stock && order.quantity() > 0);
            prop_assert_eq!(u128::from(order.total().as_atomic()), u128::from(price) * u128::from(qty));
        }
    }
}
