//! The 2-of-3 escrow flow on a real regtest chain (monerod + six monero-wallet-rpc):
//! key exchange, funding, release (vendor builds, buyer co-signs) and refund (arbiter sweeps
//! to the buyer, buyer co-signs), with the re-sync errors the flow must handle on the way.

mod common;

use common::{make_two_of_three, name, resync, xmr};
use monero_rpc::{
    Amount, Destination, RpcError, SignOutcome, SweepOutcome, TransferFilter, TransferKind,
    TransferOptions, TransferOutcome, WalletClient, WalletPassword,
};
use test_support::regtest::{Regtest, RegtestConfig, SPENDABLE_AFTER_BLOCKS};

const BUYER: usize = 0;
const VENDOR: usize = 1;
const ARBITER: usize = 2;
const MINER: usize = 3;
const VENDOR_PAYOUT: usize = 4;
const BUYER_OWN: usize = 5;

#[tokio::test]
async fn two_of_three_escrow_release_then_refund() {
    let Some(net) = Regtest::start_for_test(RegtestConfig {
        wallets: 6,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let buyer = net.wallet(BUYER).with_label("buyer");
    let vendor = net.wallet(VENDOR).with_label("vendor");
    let arbiter = net.wallet(ARBITER).with_label("arbiter");
    let payout = net.wallet(VENDOR_PAYOUT).with_label("vendor-payout");
    let buyer_own = net.wallet(BUYER_OWN).with_label("buyer-own");
    let escrow_pw = WalletPassword::new("escrow-password");
    let plain_pw = WalletPassword::new("");

    // Fresh wallets (created while the miner wallet is being funded).
    let names = [
        "escrow-buyer",
        "escrow-vendor",
        "escrow-arbiter",
        "vendor-payout",
        "buyer-own",
    ]
    .map(name);
    let (miner, created) = tokio::join!(net.create_miner(MINER), async {
        tokio::try_join!(
            buyer.create_wallet(&names[0], &escrow_pw),
            vendor.create_wallet(&names[1], &escrow_pw),
            arbiter.create_wallet(&names[2], &escrow_pw),
            payout.create_wallet(&names[3], &plain_pw),
            buyer_own.create_wallet(&names[4], &plain_pw),
        )
    });
    let miner = miner.expect("funded miner wallet");
    created.expect("create the five wallets");
    let payout_address = payout.get_address(0).await.unwrap();
    let buyer_own_address = buyer_own.get_address(0).await.unwrap();
    assert!(!payout.is_multisig().await.unwrap().multisig);

    // 1. Key exchange: all three report the same address and `ready`.
    let escrow = make_two_of_three([&buyer, &vendor, &arbiter], &escrow_pw).await;
    let signers = [&buyer, &vendor, &arbiter];

    // 2. Fund the escrow from the mined wallet.
    let deposit = xmr(5);
    let funding = miner
        .wallet
        .transfer(
            &[Destination {
                amount: deposit,
                address: escrow.clone(),
            }],
            TransferOptions::default(),
        )
        .await
        .expect("fund the escrow");
    let TransferOutcome::Submitted {
        tx_hash: funding_tx,
        amount,
        ..
    } = funding
    else {
        panic!("a normal wallet relays its transfer: {funding:?}");
    };
    assert_eq!(amount, deposit);
    net.mine_and_refresh(SPENDABLE_AFTER_BLOCKS, &miner.address, &signers)
        .await
        .unwrap();
    let seen = vendor.get_transfer_by_txid(&funding_tx).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].kind, seen[0].amount), (TransferKind::In, deposit));
    let balance = buyer.get_balance(0).await.unwrap();
    assert_eq!(balance.balance, deposit);
    assert!(balance.multisig_import_needed, "{balance:?}");

    // 3. A spend before the multisig import fails with the named, retryable error.
    let release_amount = xmr(2);
    let to_payout = [Destination {
        amount: release_amount,
        address: payout_address.clone(),
    }];
    let err = vendor
        .transfer(&to_payout, TransferOptions::default())
        .await
        .expect_err("spend before import must fail");
    assert!(
        matches!(err, RpcError::NoTransactionCreated { .. }),
        "{err:?}"
    );
    assert!(err.is_resync_needed());

    resync(&signers).await;
    let balance = vendor.get_balance(0).await.unwrap();
    assert!(!balance.multisig_import_needed);
    assert_eq!(balance.unlocked_balance, deposit);

    // 4. Release: vendor builds, buyer co-signs, submit.
    let stale_txset = build_transfer(&vendor, &to_payout).await;
    let err = vendor
        .submit_multisig(&stale_txset)
        .await
        .expect_err("one signature is not enough");
    assert!(matches!(err, RpcError::NotEnoughSigners { .. }), "{err:?}");

    // The buyer exports fresh info after the vendor built the set: its signature would use
    // stale data, which wallet-rpc refuses with a named, retryable error.
    buyer.export_multisig_info().await.unwrap();
    let err = buyer
        .sign_multisig(&stale_txset)
        .await
        .expect_err("signing with stale multisig data must fail");
    assert!(
        matches!(err, RpcError::MultisigResyncNeeded { .. }),
        "{err:?}"
    );
    assert!(err.is_resync_needed());

    // Retry after a re-sync: rebuild, check, co-sign, submit.
    resync(&[&buyer, &vendor]).await;
    let txset = build_transfer(&vendor, &to_payout).await;
    let described = buyer.describe_transfer(&txset).await.unwrap();
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].recipients, to_payout.to_vec());
    assert_eq!(described[0].amount_in, deposit);
    let release_fee = described[0].fee;
    let signed = buyer.sign_multisig(&txset).await.unwrap();
    let SignOutcome::FullySigned {
        multisig_txset,
        tx_hashes: expected_hashes,
    } = signed
    else {
        panic!("two of three signatures complete the set: {signed:?}");
    };
    let release_hashes = buyer.submit_multisig(&multisig_txset).await.unwrap();
    assert_eq!(release_hashes, expected_hashes);

    // The payout wallet sees exactly the released amount once confirmed.
    net.mine_and_refresh(
        SPENDABLE_AFTER_BLOCKS,
        &miner.address,
        &[&payout, &buyer, &vendor, &arbiter],
    )
    .await
    .unwrap();
    let received = payout
        .get_transfer_by_txid(&release_hashes[0])
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].kind, TransferKind::In);
    assert_eq!(received[0].amount, release_amount);
    assert!(
        received[0].confirmations >= SPENDABLE_AFTER_BLOCKS,
        "{:?}",
        received[0]
    );
    assert_eq!(payout.get_balance(0).await.unwrap().balance, release_amount);
    let listed = payout.get_transfers(TransferFilter::ALL).await.unwrap();
    assert_eq!(listed.incoming.len(), 1);
    assert_eq!(listed.incoming[0].txid, release_hashes[0]);

    // 5. The arbiter's wallet survives a close/open (the experimental-multisig flag is kept
    //    in its .keys file), then refund: arbiter and buyer re-sync, the arbiter sweeps the
    //    rest to the buyer, the buyer co-signs and receives it. The vendor takes no part.
    arbiter.close_wallet().await.unwrap();
    arbiter
        .open_wallet(&name("escrow-arbiter"), &escrow_pw)
        .await
        .unwrap();
    arbiter.refresh(None).await.unwrap();
    resync(&[&arbiter, &buyer]).await;
    let remaining = deposit
        .checked_sub(release_amount)
        .and_then(|a| a.checked_sub(release_fee))
        .unwrap();
    assert_eq!(
        arbiter.get_balance(0).await.unwrap().unlocked_balance,
        remaining
    );

    let sweep = arbiter
        .sweep_all(&buyer_own_address, TransferOptions::default())
        .await
        .unwrap();
    let SweepOutcome::MultisigPending {
        multisig_txset: refund_txset,
        amounts,
        fees,
    } = sweep
    else {
        panic!("a multisig sweep needs co-signing: {sweep:?}");
    };
    assert_eq!(amounts.len(), 1);
    let refund_amount = amounts[0];
    assert_eq!(refund_amount.checked_add(fees[0]), Some(remaining));
    let described = buyer.describe_transfer(&refund_txset).await.unwrap();
    assert_eq!(
        described[0].recipients,
        vec![Destination {
            amount: refund_amount,
            address: buyer_own_address.clone()
        }]
    );
    let signed = buyer.sign_multisig(&refund_txset).await.unwrap();
    assert!(
        matches!(signed, SignOutcome::FullySigned { .. }),
        "{signed:?}"
    );
    let refund_hashes = arbiter
        .submit_multisig(signed.multisig_txset())
        .await
        .unwrap();

    net.mine_and_refresh(
        SPENDABLE_AFTER_BLOCKS,
        &miner.address,
        &[&buyer_own, &arbiter, &buyer],
    )
    .await
    .unwrap();
    let received = buyer_own
        .get_transfer_by_txid(&refund_hashes[0])
        .await
        .unwrap();
    assert_eq!(
        (received[0].kind, received[0].amount),
        (TransferKind::In, refund_amount)
    );
    assert_eq!(
        buyer_own.get_balance(0).await.unwrap().balance,
        refund_amount
    );
    resync(&[&arbiter, &buyer]).await;
    assert_eq!(arbiter.get_balance(0).await.unwrap().balance, Amount::ZERO);
}

/// `transfer` on a multisig wallet: returns the partially signed set.
async fn build_transfer(
    wallet: &WalletClient,
    destinations: &[Destination],
) -> monero_rpc::MultisigTxset {
    let outcome = wallet
        .transfer(destinations, TransferOptions::default())
        .await
        .expect("build the multisig transfer");
    match outcome {
        TransferOutcome::MultisigPending {
            multisig_txset,
            amount,
            ..
        } => {
            let total = Amount::checked_sum(destinations.iter().map(|d| d.amount));
            assert_eq!(Some(amount), total);
            multisig_txset
        }
        other => panic!("a multisig wallet returns a txset: {other:?}"),
    }
}
