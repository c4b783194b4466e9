//! Shared fixtures: escrows driven into every state through the public API only.
#![allow(dead_code)]

use escrow_core::{
    Actor, Address, Amount, Context, DisputeOutcome, DisputeReason, Escrow, EscrowEvent, EscrowId,
    EscrowMode, EscrowStateKind, EscrowTerms, IncomingTransfer, NewEscrow, OrderId, Spendability,
    Timestamp, TxHash, UserId,
};

pub const T0: u64 = 1_700_000_000;
pub const WINDOW: u64 = 3_600;
pub const CONFIRMATIONS: u64 = 10;

pub const BUYER: UserId = UserId::new(10);
pub const VENDOR: UserId = UserId::new(20);

/// 1.5 XMR.
pub fn amount() -> Amount {
    Amount::from_atomic(1_500_000_000_000)
}

pub fn addr(c: char) -> Address {
    let s: String = std::iter::once('4')
        .chain(std::iter::repeat_n(c, 94))
        .collect();
    s.parse().expect("fixture address is valid")
}

pub fn escrow_address() -> Address {
    addr('A')
}
pub fn payout_address() -> Address {
    addr('V')
}
pub fn refund_address() -> Address {
    addr('B')
}

pub fn hash(n: u8) -> TxHash {
    format!("{n:02x}")
        .repeat(32)
        .parse()
        .expect("fixture hash is valid")
}

pub fn ctx(offset: u64) -> Context {
    Context::at(Timestamp::from_unix_seconds(T0 + offset))
}

pub fn reason(text: &str) -> DisputeReason {
    DisputeReason::new(text).expect("fixture reason is valid")
}

pub fn transfer(n: u8, amount: Amount, confirmations: u64) -> IncomingTransfer {
    IncomingTransfer {
        tx_hash: hash(n),
        amount,
        confirmations,
        spendability: Spendability::Spendable,
    }
}

pub fn funding(received: Amount, confirmations: u64) -> EscrowEvent {
    EscrowEvent::FundingObserved {
        incoming: vec![transfer(1, received, confirmations)],
    }
}

pub fn fresh() -> Escrow {
    Escrow::new(params()).expect("valid escrow")
}

/// A non-custodial escrow awaiting setup (the parties hold their own keys).
pub fn fresh_nc() -> Escrow {
    Escrow::new_in_mode(params(), EscrowMode::NonCustodial).expect("valid escrow")
}

fn params() -> NewEscrow {
    NewEscrow {
        id: EscrowId::new(1),
        order_id: OrderId::new(1),
        buyer_id: BUYER,
        vendor_id: VENDOR,
        terms: EscrowTerms::new(amount(), CONFIRMATIONS, WINDOW).expect("valid terms"),
        payout_address: Some(payout_address()),
        refund_address: Some(refund_address()),
        created_at: Timestamp::from_unix_seconds(T0),
    }
}

pub fn step(e: &Escrow, actor: Actor, event: EscrowEvent, at: u64) -> Escrow {
    e.apply(actor, event, &ctx(at))
        .expect("fixture step is accepted")
        .into_escrow()
}

pub fn awaiting_funding() -> Escrow {
    step(
        &fresh(),
        Actor::System,
        EscrowEvent::SetupCompleted {
            address: escrow_address(),
        },
        10,
    )
}

pub fn underfunded() -> Escrow {
    step(
        &awaiting_funding(),
        Actor::System,
        funding(Amount::ONE_XMR, CONFIRMATIONS),
        20,
    )
}

pub fn funded() -> Escrow {
    step(
        &awaiting_funding(),
        Actor::System,
        funding(amount(), CONFIRMATIONS),
        20,
    )
}

pub fn disputed() -> Escrow {
    step(
        &funded(),
        Actor::Buyer,
        EscrowEvent::DisputeOpened {
            reason: reason("not delivered"),
        },
        30,
    )
}

pub fn releasing() -> Escrow {
    step(&funded(), Actor::Buyer, EscrowEvent::ReceiptConfirmed, 30)
}

pub fn releasing_prepared() -> Escrow {
    step(&releasing(), Actor::System, prepared_event(), 40)
}

pub fn refunding() -> Escrow {
    step(
        &disputed(),
        Actor::Arbiter,
        EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Refund,
        },
        40,
    )
}

/// Refunding because the vendor agreed (no dispute).
pub fn refunding_agreed() -> Escrow {
    step(&funded(), Actor::Vendor, EscrowEvent::RefundAgreed, 30)
}

pub fn refunding_prepared() -> Escrow {
    step(&refunding(), Actor::System, prepared_event(), 50)
}

pub fn prepared_event() -> EscrowEvent {
    EscrowEvent::PayoutPrepared {
        tx_hashes: vec![hash(0xaa)],
        amount: amount().checked_sub(fee()).expect("fee below amount"),
        fee: fee(),
    }
}

pub fn submitted_event() -> EscrowEvent {
    EscrowEvent::PayoutSubmitted {
        tx_hashes: vec![hash(0xaa)],
    }
}

/// 0.0001 XMR.
pub fn fee() -> Amount {
    Amount::from_atomic(100_000_000)
}

pub fn released() -> Escrow {
    step(&releasing_prepared(), Actor::System, submitted_event(), 50)
}

pub fn refunded() -> Escrow {
    step(&refunding_prepared(), Actor::System, submitted_event(), 60)
}

pub fn setup_failed() -> Escrow {
    step(
        &fresh(),
        Actor::System,
        EscrowEvent::SetupFailed {
            reason: "wallets disagree on the multisig address".into(),
        },
        10,
    )
}

pub fn expired() -> Escrow {
    step(
        &awaiting_funding(),
        Actor::System,
        EscrowEvent::FundingWindowElapsed,
        10 + WINDOW,
    )
}

/// The full amount is in the pool but without enough confirmations.
pub fn unconfirmed() -> Escrow {
    step(&awaiting_funding(), Actor::System, funding(amount(), 1), 20)
}

/// Cancelled during setup: no address was ever created.
pub fn cancelled_early() -> Escrow {
    step(&fresh(), Actor::Vendor, EscrowEvent::Cancelled, 5)
}

pub fn cancelled() -> Escrow {
    step(
        &awaiting_funding(),
        Actor::Buyer,
        EscrowEvent::Cancelled,
        20,
    )
}

/// A hosted escrow funded like [`funded`], created with these account addresses.
pub fn funded_with(payout_address: Option<Address>, refund_address: Option<Address>) -> Escrow {
    let e = Escrow::new(NewEscrow {
        payout_address,
        refund_address,
        ..params()
    })
    .expect("valid escrow");
    let e = step(
        &e,
        Actor::System,
        EscrowEvent::SetupCompleted {
            address: escrow_address(),
        },
        10,
    );
    step(&e, Actor::System, funding(amount(), CONFIRMATIONS), 20)
}

/// A non-custodial escrow funded through the same steps as [`funded`].
pub fn nc_funded() -> Escrow {
    let ready = step(
        &fresh_nc(),
        Actor::System,
        EscrowEvent::SetupCompleted {
            address: escrow_address(),
        },
        10,
    );
    step(&ready, Actor::System, funding(amount(), CONFIRMATIONS), 20)
}

/// Non-custodial, releasing on the buyer's confirmation.
pub fn nc_releasing() -> Escrow {
    step(
        &nc_funded(),
        Actor::Buyer,
        EscrowEvent::ReceiptConfirmed,
        30,
    )
}

/// Non-custodial, releasing with a fully signed set prepared.
pub fn nc_releasing_prepared() -> Escrow {
    step(&nc_releasing(), Actor::System, prepared_event(), 40)
}

/// Non-custodial, refunding because the vendor agreed.
pub fn nc_refunding_agreed() -> Escrow {
    step(&nc_funded(), Actor::Vendor, EscrowEvent::RefundAgreed, 30)
}

/// Non-custodial, refunding on an arbiter's decision.
pub fn nc_refunding() -> Escrow {
    let disputed = step(
        &nc_funded(),
        Actor::Vendor,
        EscrowEvent::DisputeOpened {
            reason: reason("buyer never answers"),
        },
        30,
    );
    step(
        &disputed,
        Actor::Arbiter,
        EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Refund,
        },
        40,
    )
}

/// One escrow per state, keyed by the fixture name.
pub fn by_name(name: &str) -> Escrow {
    match name {
        "awaiting_setup" => fresh(),
        "setup_failed" => setup_failed(),
        "awaiting_funding" => awaiting_funding(),
        "underfunded" => underfunded(),
        "funded" => funded(),
        "disputed" => disputed(),
        "releasing" => releasing(),
        "releasing_prepared" => releasing_prepared(),
        "refunding" => refunding(),
        "refunding_prepared" => refunding_prepared(),
        "refunding_agreed" => refunding_agreed(),
        "released" => released(),
        "refunded" => refunded(),
        "expired" => expired(),
        "cancelled" => cancelled(),
        "cancelled_early" => cancelled_early(),
        "unconfirmed" => unconfirmed(),
        "nc_releasing" => nc_releasing(),
        "nc_releasing_prepared" => nc_releasing_prepared(),
        "nc_refunding_agreed" => nc_refunding_agreed(),
        "nc_refunding" => nc_refunding(),
        other => panic!("unknown fixture {other}"),
    }
}

pub fn kind(e: &Escrow) -> EscrowStateKind {
    e.state().kind()
}

/// Every fixture name.
pub const FIXTURES: [&str; 21] = [
    "awaiting_setup",
    "setup_failed",
    "awaiting_funding",
    "underfunded",
    "unconfirmed",
    "funded",
    "disputed",
    "releasing",
    "releasing_prepared",
    "refunding",
    "refunding_prepared",
    "refunding_agreed",
    "released",
    "refunded",
    "expired",
    "cancelled",
    "cancelled_early",
    "nc_releasing",
    "nc_releasing_prepared",
    "nc_refunding_agreed",
    "nc_refunding",
];

/// Sample events by name, with the time offset (seconds after T0) they are applied at.
pub fn sample_event(name: &str) -> (EscrowEvent, u64) {
    let early = 100;
    let late = 10 * WINDOW;
    let event = match name {
        "setup_completed" => EscrowEvent::SetupCompleted {
            address: escrow_address(),
        },
        "setup_failed" => EscrowEvent::SetupFailed {
            reason: "exchange_multisig_keys failed".into(),
        },
        "setup_retried" => EscrowEvent::SetupRetried,
        "funding_full" => funding(amount(), CONFIRMATIONS),
        "funding_partial" => funding(Amount::ONE_XMR, CONFIRMATIONS),
        "funding_unconfirmed" => funding(amount(), 0),
        "funding_none" => EscrowEvent::FundingObserved { incoming: vec![] },
        "window_elapsed" => return (EscrowEvent::FundingWindowElapsed, late),
        "window_early" => return (EscrowEvent::FundingWindowElapsed, early),
        "confirm" => EscrowEvent::ReceiptConfirmed,
        "agree_refund" => EscrowEvent::RefundAgreed,
        "dispute" => EscrowEvent::DisputeOpened {
            reason: reason("item never arrived"),
        },
        "resolve_release" => EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Release,
        },
        "resolve_refund" => EscrowEvent::DisputeResolved {
            outcome: DisputeOutcome::Refund,
        },
        "prepare" => prepared_event(),
        "prepare_too_much" => EscrowEvent::PayoutPrepared {
            tx_hashes: vec![hash(0xbb)],
            amount: amount(),
            fee: fee(),
        },
        "prepare_empty" => EscrowEvent::PayoutPrepared {
            tx_hashes: vec![],
            amount: Amount::ONE_XMR,
            fee: fee(),
        },
        "prepare_zero" => EscrowEvent::PayoutPrepared {
            tx_hashes: vec![hash(0xbb)],
            amount: Amount::ZERO,
            fee: fee(),
        },
        "submit" => submitted_event(),
        "submit_other" => EscrowEvent::PayoutSubmitted {
            tx_hashes: vec![hash(0xcc)],
        },
        "cancel" => EscrowEvent::Cancelled,
        "stall" => EscrowEvent::PayoutStalled,
        "set_payout" => EscrowEvent::PayoutAddressSet { address: addr('W') },
        "set_refund" => EscrowEvent::RefundAddressSet { address: addr('C') },
        other => panic!("unknown sample event {other}"),
    };
    (event, early)
}

/// Every sample event name.
pub const SAMPLE_EVENTS: [&str; 24] = [
    "setup_completed",
    "setup_failed",
    "setup_retried",
    "funding_full",
    "funding_partial",
    "funding_unconfirmed",
    "funding_none",
    "window_elapsed",
    "window_early",
    "confirm",
    "agree_refund",
    "dispute",
    "resolve_release",
    "resolve_refund",
    "prepare",
    "prepare_too_much",
    "prepare_empty",
    "prepare_zero",
    "submit",
    "submit_other",
    "cancel",
    "set_payout",
    "set_refund",
    "stall",
];
