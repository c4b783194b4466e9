//! The co-signer verifies the whole payout set before it signs (`escrow::payout::cosign_checked`),
//! on real regtest wallets: a 2-of-3 escrow wallet (buyer co-signs, vendor builds), sets built to
//! break each rule (another destination, an extra recipient, change kept in the escrow, a lock,
//! a fee above the limit, a set the wallet cannot decode), each refused with its reason and never
//! signed: the escrow balance is unchanged, nothing reaches the pool, the refused step is stored
//! on the escrow (`GET /api/escrows/{id}` shows `blocked_reason`) and
//! `escrow_payout_refused_total{reason}` counts it. The arbiter wallet, the second signer after a
//! dispute, refuses a set paying someone else the same way. Then a good sweep is signed and pays
//! out.
//!
//! The escrow row comes from the in-process server (an order placed through the API, no wallet-rpc
//! configured so its own orchestrator stays idle); the co-signer is the production
//! `HostedParticipant` over the test's wallet-rpc, gated by a runner lease the test holds.

mod common;
#[path = "../../monero-rpc/tests/common/mod.rs"]
mod multisig;

use std::collections::BTreeMap;

use common::*;
use escrow_core::{Actor, ExpectedPayout, FeeLimit, RefusalReason, Role};
use mmkt_server::config::Config;
use mmkt_server::db::escrows::steps::{self, Step, StepKey};
use mmkt_server::escrow::EscrowContext;
use mmkt_server::escrow::lease::RunnerLease;
use mmkt_server::escrow::participant::HostedParticipant;
use mmkt_server::escrow::payout::{Cosigned, cosign_checked};
use mmkt_server::escrow::worker::{WalletRef, WalletWorker};
use monero_rpc::{
    Address, Amount, Destination, MultisigTxset, SweepOutcome, TransferOptions, TransferOutcome,
    TransferPriority, UnlockTime, WalletClient, WalletPassword,
};
use multisig::{make_two_of_three, name, resync, xmr};
use reqwest::StatusCode;
use test_support::regtest::{Regtest, RegtestConfig, SPENDABLE_AFTER_BLOCKS};

const BUYER: usize = 0;
const VENDOR: usize = 1;
const ARBITER: usize = 2;
const MINER: usize = 3;
const PAYOUT: usize = 4;
const THIRD: usize = 5;

/// The escrow under test and everything the checks look at.
struct Setup {
    server: TestServer,
    buyer_user: User,
    escrow_id: i64,
    net: Regtest,
    ctx: EscrowContext,
    cosigner: HostedParticipant,
    /// The arbiter wallet as the second signer of a payout after a dispute.
    arbiter: HostedParticipant,
    arbiter_wallet: WalletClient,
    buyer: WalletClient,
    vendor: WalletClient,
    escrow_address: Address,
    payout_address: Address,
    third_address: Address,
    funded: Amount,
    limit: FeeLimit,
    /// Reasons refused so far, to know what each counter must read.
    refused: std::sync::Mutex<Vec<RefusalReason>>,
    _lease: RunnerLease,
}

impl Setup {
    /// What the co-signer expects, with the buyer wallet's unlocked balance snapshot.
    async fn expected(&self, fee_limit: FeeLimit) -> ExpectedPayout {
        self.buyer.refresh(None).await.unwrap();
        ExpectedPayout {
            destination: self.payout_address.clone(),
            escrow_address: self.escrow_address.clone(),
            unlocked_balance: self.buyer.get_balance(0).await.unwrap().unlocked_balance,
            fee_limit,
        }
    }

    /// Runs the co-signer's check on `txset` as payout attempt `attempt`.
    async fn cosign(
        &self,
        attempt: u32,
        txset: MultisigTxset,
        expected: &ExpectedPayout,
    ) -> Cosigned {
        let key = StepKey {
            escrow_id: self.escrow_id,
            attempt,
            step: Step::PayoutSigned,
            role: Actor::Buyer,
        };
        cosign_checked(&self.ctx, key, &self.cosigner, txset, expected)
            .await
            .expect("the check itself runs")
    }

    /// `txset` is refused with `want` on attempt `attempt`, and nothing was signed or sent.
    async fn assert_refused(&self, attempt: u32, txset: MultisigTxset, want: RefusalReason) {
        let expected = self.expected(self.limit).await;
        self.assert_refused_with(attempt, txset, &expected, want)
            .await;
    }

    async fn assert_refused_with(
        &self,
        attempt: u32,
        txset: MultisigTxset,
        expected: &ExpectedPayout,
        want: RefusalReason,
    ) {
        let Cosigned::Refused(refusal) = self.cosign(attempt, txset, expected).await else {
            panic!("attempt {attempt}: a {want} set was signed");
        };
        assert_eq!(refusal.reason(), want, "attempt {attempt}: {refusal}");

        // Nothing signed, nothing sent: the pool is empty and the balance is what was funded.
        let info = self.net.daemon().get_info().await.unwrap();
        assert_eq!(
            info.tx_pool_size, 0,
            "attempt {attempt}: a transaction was relayed"
        );
        self.buyer.refresh(None).await.unwrap();
        assert_eq!(
            self.buyer.get_balance(0).await.unwrap().balance,
            self.funded
        );

        // The refused step is stored on the escrow and shown by the API.
        let id = self.escrow_id;
        let row = self
            .server
            .db
            .run("select", "escrow_steps", move |conn| {
                steps::payout_refusal(conn, id)
            })
            .await
            .unwrap()
            .expect("refused step stored");
        assert_eq!(
            (row.attempt, row.reason, row.role),
            (attempt, want, Actor::Buyer)
        );
        assert!(row.detail.contains("not signed"), "{}", row.detail);
        let (status, body) = self.buyer_user.get(&format!("/api/escrows/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["blocked_reason"], want.as_str(), "{body}");

        // Counted once more under its reason.
        let count = {
            let mut refused = self.refused.lock().unwrap();
            refused.push(want);
            refused.iter().filter(|r| **r == want).count() as f64
        };
        let text = reqwest::get(self.server.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = format!("escrow_payout_refused_total{{reason=\"{want}\"}}");
        let value = text
            .lines()
            .find(|l| l.starts_with(&series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        assert_eq!(value, Some(count), "{series} in:\n{text}");
    }
}

/// `sweep_all` of the escrow by the vendor wallet: the partially signed set.
async fn sweep(vendor: &WalletClient, to: &Address, options: TransferOptions) -> MultisigTxset {
    match vendor
        .sweep_all(to, options)
        .await
        .expect("build the sweep")
    {
        SweepOutcome::MultisigPending { multisig_txset, .. } => multisig_txset,
        other => panic!("a multisig sweep needs co-signing: {other:?}"),
    }
}

/// `transfer` by the vendor wallet: the partially signed set.
async fn transfer(vendor: &WalletClient, destinations: &[Destination]) -> MultisigTxset {
    let outcome = vendor
        .transfer(destinations, TransferOptions::default())
        .await
        .expect("build the transfer");
    match outcome {
        TransferOutcome::MultisigPending { multisig_txset, .. } => multisig_txset,
        other => panic!("a multisig transfer needs co-signing: {other:?}"),
    }
}

async fn start() -> Option<Setup> {
    let net = Regtest::start_for_test(RegtestConfig {
        wallets: 6,
        ..Default::default()
    })
    .await?;
    let server = TestServer::start().await;
    let vendor_user = register(&server, "vendor_check", "vendor").await;
    let buyer_user = register(&server, "buyer_check", "buyer").await;
    let listing = create_listing(&vendor_user, "Checked payout", 1_000_000_000_000, 3).await;
    let (_, escrow_id) = order(&buyer_user, listing, 1).await;

    let [buyer, vendor, arbiter, payout, third] =
        [BUYER, VENDOR, ARBITER, PAYOUT, THIRD].map(|i| net.wallet(i));
    let password = WalletPassword::new("escrow-check-password");
    let plain = WalletPassword::new("");
    let names = [
        "check-buyer",
        "check-vendor",
        "check-arbiter",
        "check-payout",
        "check-third",
    ]
    .map(name);
    let (miner, created) = tokio::join!(net.create_miner(MINER), async {
        tokio::try_join!(
            buyer.create_wallet(&names[0], &password),
            vendor.create_wallet(&names[1], &password),
            arbiter.create_wallet(&names[2], &password),
            payout.create_wallet(&names[3], &plain),
            third.create_wallet(&names[4], &plain),
        )
    });
    let miner = miner.expect("funded miner wallet");
    created.expect("create the wallets");
    let escrow_address = make_two_of_three([&buyer, &vendor, &arbiter], &password).await;

    let funded = xmr(3);
    let deposit = [Destination {
        amount: funded,
        address: escrow_address.clone(),
    }];
    miner
        .wallet
        .transfer(&deposit, TransferOptions::default())
        .await
        .expect("fund the escrow");
    net.mine_and_refresh(
        SPENDABLE_AFTER_BLOCKS,
        &miner.address,
        &[&buyer, &vendor, &arbiter],
    )
    .await
    .unwrap();
    resync(&[&buyer, &vendor]).await;

    let vars = BTreeMap::new();
    let settings = Config::from_vars(&vars).unwrap().escrow;
    let lease = hold_runner_lease(&server.db, "payout-check-test").await;
    let worker = WalletWorker::spawn(Role::Buyer, buyer.clone(), lease.clone());
    let cosigner = HostedParticipant::new(
        Actor::Buyer,
        worker,
        WalletRef {
            name: names[0].clone(),
            password: password.clone(),
        },
    );
    let arbiter_worker = WalletWorker::spawn(Role::Arbiter, arbiter.clone(), lease.clone());
    let arbiter_cosigner = HostedParticipant::new(
        Actor::Arbiter,
        arbiter_worker,
        WalletRef {
            name: names[2].clone(),
            password,
        },
    );
    Some(Setup {
        ctx: EscrowContext::new(server.db.clone(), settings),
        limit: settings.payout_fee,
        payout_address: payout.get_address(0).await.unwrap(),
        third_address: third.get_address(0).await.unwrap(),
        server,
        buyer_user,
        escrow_id,
        net,
        cosigner,
        arbiter: arbiter_cosigner,
        arbiter_wallet: arbiter,
        buyer,
        vendor,
        escrow_address,
        funded,
        refused: std::sync::Mutex::default(),
        _lease: lease,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosigner_refuses_every_broken_payout_set_and_signs_a_good_one() {
    let Some(s) = start().await else {
        return;
    };
    let defaults = TransferOptions::default();

    // 1. The whole balance to someone else.
    let other = sweep(&s.vendor, &s.third_address, defaults).await;
    s.assert_refused(1, other, RefusalReason::WrongDestination)
        .await;

    // 2. Part to the destination, part to a third address.
    let split = [
        Destination {
            amount: xmr(1),
            address: s.payout_address.clone(),
        },
        Destination {
            amount: xmr(1),
            address: s.third_address.clone(),
        },
    ];
    let extra = transfer(&s.vendor, &split).await;
    s.assert_refused(2, extra, RefusalReason::WrongDestination)
        .await;

    // 3. Part of the balance to the destination: the change returns to the escrow, and the
    //    destination would be short of it.
    let part = [Destination {
        amount: xmr(1),
        address: s.payout_address.clone(),
    }];
    let partial = transfer(&s.vendor, &part).await;
    s.assert_refused(3, partial, RefusalReason::ChangeKept)
        .await;

    // 4. The right sweep, locked until a far block height.
    let locked = sweep(
        &s.vendor,
        &s.payout_address,
        defaults.with_unlock_time(UnlockTime::Height(1_000_000)),
    )
    .await;
    s.assert_refused(4, locked, RefusalReason::UnlockTime).await;

    // 5. The right sweep at the highest priority, above a limit of ten normal fees.
    let normal = sweep(&s.vendor, &s.payout_address, defaults).await;
    let described = s.buyer.describe_transfer(&normal).await.unwrap();
    let normal_fee = Amount::checked_sum(described.iter().map(|d| d.fee)).unwrap();
    assert!(!normal_fee.is_zero());
    let tight = FeeLimit::new(normal_fee.checked_mul(10).unwrap(), 10_000).unwrap();
    let urgent = sweep(
        &s.vendor,
        &s.payout_address,
        defaults.with_priority(TransferPriority::Priority),
    )
    .await;
    let expected = s.expected(tight).await;
    s.assert_refused_with(5, urgent, &expected, RefusalReason::FeeTooHigh)
        .await;

    // 6. Something the co-signing wallet cannot decode (the wallet answers -34).
    let garbage = MultisigTxset::new("00ff").unwrap();
    s.assert_refused(6, garbage, RefusalReason::Undescribable)
        .await;

    // 7. The arbiter wallet signing second after a dispute (in non-custodial mode the winner
    //    builds) runs the same check: a sweep to someone else is refused and not signed.
    resync(&[&s.arbiter_wallet, &s.vendor]).await;
    let elsewhere = sweep(&s.vendor, &s.third_address, defaults).await;
    s.arbiter_wallet.refresh(None).await.unwrap();
    let expected = ExpectedPayout {
        unlocked_balance: s
            .arbiter_wallet
            .get_balance(0)
            .await
            .unwrap()
            .unlocked_balance,
        ..s.expected(s.limit).await
    };
    let key = StepKey {
        escrow_id: s.escrow_id,
        attempt: 7,
        step: Step::PayoutSigned,
        role: Actor::Arbiter,
    };
    let verdict = cosign_checked(&s.ctx, key, &s.arbiter, elsewhere, &expected)
        .await
        .expect("the check itself runs");
    let Cosigned::Refused(refusal) = verdict else {
        panic!("the arbiter wallet signed a set paying someone else");
    };
    assert_eq!(refusal.reason(), RefusalReason::WrongDestination);
    let info = s.net.daemon().get_info().await.unwrap();
    assert_eq!(info.tx_pool_size, 0, "nothing relayed");
    let id = s.escrow_id;
    let row = s
        .server
        .db
        .run("select", "escrow_steps", move |conn| {
            steps::payout_refusal(conn, id)
        })
        .await
        .unwrap()
        .expect("refused step stored");
    assert_eq!((row.attempt, row.role), (7, Actor::Arbiter));

    // 8. A good sweep passes with the default limit, is signed, and pays out.
    resync(&[&s.buyer, &s.vendor]).await;
    let good = sweep(&s.vendor, &s.payout_address, defaults).await;
    let expected = s.expected(s.limit).await;
    let Cosigned::Signed {
        multisig_txset,
        tx_hashes,
        checked,
    } = s.cosign(8, good, &expected).await
    else {
        panic!("a good sweep is refused");
    };
    assert_eq!(checked.amount.checked_add(checked.fee), Some(s.funded));
    let sent = s.buyer.submit_multisig(&multisig_txset).await.unwrap();
    assert_eq!(sent, tx_hashes);
    let payout = s.net.wallet(PAYOUT);
    let miner = s.net.wallet(MINER).get_address(0).await.unwrap();
    s.net.mine_and_refresh(1, &miner, &[&payout]).await.unwrap();
    assert_eq!(payout.get_balance(0).await.unwrap().balance, checked.amount);
}
