//! The wallet side of a non-custodial escrow without the server, on a real regtest network:
//! three wallet-rpcs (buyer, vendor, arbiter) run the setup rounds through mmkt-party's round
//! functions, the test relaying the payloads the market would; the shared address is funded; a
//! set paying elsewhere is refused by the second signer's check before anything is signed; then a
//! release built by the vendor and checked and signed by the buyer is found on chain at the
//! destination.

use escrow_core::{
    Actor, Amount, DisputeStatus, FeeLimit, PayoutKind, PayoutRefusal, PayoutSigning, SignerRefusal,
};
use mmkt_party::PartyError;
use mmkt_party::state::StateDir;
use mmkt_party::wallet::check::PayoutTerms;
use mmkt_party::wallet::{EscrowWallet, Exchanged, KeptWallet, Opened, wallet_name};
use monero_rpc::{Destination, TransferFilter, TransferOptions};
use monero_types::{Address, MultisigInfo};
use test_support::regtest::{Regtest, RegtestConfig, SPENDABLE_AFTER_BLOCKS};

/// A valid mainnet-format address no wallet of the test owns (regtest uses mainnet prefixes).
const ELSEWHERE: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

/// The other two parties' messages, in actor order (buyer, vendor, arbiter) without `me`.
fn others(all: &[MultisigInfo; 3], me: usize) -> Vec<MultisigInfo> {
    (0..3)
        .filter(|i| *i != me)
        .map(|i| all[i].clone())
        .collect()
}

fn info(exchanged: Exchanged) -> MultisigInfo {
    match exchanged {
        Exchanged::Info(info) => info,
        Exchanged::Address(_) => panic!("the exchange finished a round early"),
    }
}

fn address(exchanged: Exchanged) -> Address {
    match exchanged {
        Exchanged::Address(address) => address,
        Exchanged::Info(_) => panic!("the second exchange round gave no address"),
    }
}

/// Round `make` for all three.
async fn make_all(w: [&EscrowWallet; 3], all: &[MultisigInfo; 3]) -> [MultisigInfo; 3] {
    let o = [others(all, 0), others(all, 1), others(all, 2)];
    let (b, v, a) = tokio::join!(w[0].make(&o[0]), w[1].make(&o[1]), w[2].make(&o[2]));
    [b.unwrap(), v.unwrap(), a.unwrap()]
}

/// One exchange round for all three.
async fn exchange_all(w: [&EscrowWallet; 3], all: &[MultisigInfo; 3]) -> [Exchanged; 3] {
    let o = [others(all, 0), others(all, 1), others(all, 2)];
    let (b, v, a) = tokio::join!(
        w[0].exchange(&o[0]),
        w[1].exchange(&o[1]),
        w[2].exchange(&o[2])
    );
    [b.unwrap(), v.unwrap(), a.unwrap()]
}

#[tokio::test]
async fn setup_fund_refuse_then_release_through_the_round_functions() {
    let Some(net) = Regtest::start_for_test(RegtestConfig {
        wallets: 4,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let states: Vec<StateDir> = dirs
        .iter()
        .map(|d| StateDir::open(d.path()).unwrap())
        .collect();
    let open = |i: usize, role: &str| {
        let name = wallet_name(&format!("t-{role}"), 41).unwrap();
        EscrowWallet::open_or_create(net.wallet(i).with_label(role), &states[i], name)
    };
    let (miner, buyer, vendor, arbiter) = tokio::join!(
        net.create_miner(3),
        open(0, "buyer"),
        open(1, "vendor"),
        open(2, "arbiter")
    );
    let miner = miner.expect("funded miner");
    let wallets = [buyer.unwrap(), vendor.unwrap(), arbiter.unwrap()];
    for (wallet, opened) in &wallets {
        assert_eq!(*opened, Opened::Created);
        assert!(wallet.name().as_str().ends_with("-escrow-41"));
    }
    for (i, state) in states.iter().enumerate() {
        assert!(
            state
                .wallet_password(wallets[i].0.name())
                .unwrap()
                .is_some()
        );
    }
    let [(buyer, _), (vendor, _), (arbiter, _)] = wallets;

    // Setup: prepare, make, exchange x2, each round's payloads relayed to the other two.
    let (b, v, a) = tokio::join!(buyer.prepare(), vendor.prepare(), arbiter.prepare());
    let prepared = [b.unwrap(), v.unwrap(), a.unwrap()];
    let parties = [&buyer, &vendor, &arbiter];
    let made = make_all(parties, &prepared).await;
    let [b, v, a] = exchange_all(parties, &made).await;
    let round1 = [info(b), info(v), info(a)];
    let [b, v, a] = exchange_all(parties, &round1).await;
    let escrow = address(b);
    assert_eq!(address(v), escrow);
    assert_eq!(address(a), escrow);
    assert_eq!(buyer.ready_address().await.unwrap(), Some(escrow.clone()));

    // Fund 1 XMR and let it unlock.
    let funded: Amount = "1".parse().unwrap();
    miner
        .wallet
        .transfer(
            &[Destination {
                amount: funded,
                address: escrow.clone(),
            }],
            TransferOptions::default(),
        )
        .await
        .expect("funding transfer");
    net.mine(SPENDABLE_AFTER_BLOCKS + 1, &miner.address)
        .await
        .unwrap();

    let destination = miner.address.clone();
    let terms = PayoutTerms {
        signing: PayoutSigning::new(
            PayoutKind::Release,
            DisputeStatus::Undisputed,
            Actor::Vendor,
            Actor::Buyer,
        )
        .unwrap(),
        me: Actor::Buyer,
        destination: destination.clone(),
        fee_limit: FeeLimit::new("0.005".parse().unwrap(), 100).unwrap(),
    };

    // A set paying elsewhere: the buyer's check refuses it, typed, and nothing is signed.
    let (v_sync, b_sync) = tokio::join!(vendor.export_sync(), buyer.export_sync());
    let (v_sync, b_sync) = (v_sync.unwrap(), b_sync.unwrap());
    let elsewhere: Address = ELSEWHERE.parse().unwrap();
    let bad = vendor
        .build_txset(&[b_sync], &elsewhere)
        .await
        .expect("vendor builds");
    let refused = buyer
        .review_txset(&[v_sync], bad.clone(), &terms)
        .await
        .expect_err("a set paying elsewhere is refused");
    let PartyError::Refused(SignerRefusal::Payout(PayoutRefusal::WrongDestination {
        address,
        destination: planned,
    })) = &refused
    else {
        panic!("expected a wrong_destination refusal, got {refused:?}");
    };
    assert_eq!((address, planned), (&elsewhere, &destination));
    assert!(
        !refused.to_string().contains(bad.expose_secret()),
        "no txset in the message"
    );
    let unsigned = buyer.client().submit_multisig(&bad).await.unwrap_err();
    assert!(
        matches!(unsigned, monero_rpc::RpcError::NotEnoughSigners { .. }),
        "the refused set holds only the vendor's signature: {unsigned}"
    );

    // The release: re-sync, the vendor builds to the destination, the buyer checks and signs.
    let (v_sync, b_sync) = tokio::join!(vendor.export_sync(), buyer.export_sync());
    let (v_sync, b_sync) = (v_sync.unwrap(), b_sync.unwrap());
    let txset = vendor
        .build_txset(&[b_sync], &destination)
        .await
        .expect("vendor builds");
    let reviewed = buyer
        .review_txset(&[v_sync], txset, &terms)
        .await
        .expect("the release passes the buyer's check");
    assert_eq!(
        reviewed.checked.amount.checked_add(reviewed.checked.fee),
        Some(funded)
    );
    assert_eq!(reviewed.outputs.len(), 1);
    assert_eq!(reviewed.outputs[0].address, destination.as_str());
    let paid = reviewed.checked.amount;
    let signed = buyer.sign_reviewed(reviewed).await.expect("buyer signs");
    let hashes = buyer
        .client()
        .submit_multisig(&signed)
        .await
        .expect("submit");
    assert_eq!(hashes.len(), 1);
    net.mine(1, &miner.address).await.unwrap();
    miner.wallet.refresh(None).await.unwrap();
    let seen = miner
        .wallet
        .get_transfers(TransferFilter::ALL)
        .await
        .unwrap();
    let arrived = seen
        .incoming
        .iter()
        .find(|t| t.txid == hashes[0])
        .expect("the release is in a block at the destination");
    assert_eq!(arrived.amount, paid);
    assert!(arrived.height > 0);
}

/// A watcher keeps its escrow wallet open between turns: the kept wallet is reused while the
/// wallet-rpc still holds it (an empty state directory, which could only create, proves no
/// `open_wallet` ran), and opened again once another client switched the wallet-rpc away.
#[tokio::test]
async fn a_kept_wallet_is_reused_until_another_client_switches_wallets() {
    let Some(net) = Regtest::start_for_test(RegtestConfig {
        wallets: 1,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let (dir, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (state, no_passwords) = (
        StateDir::open(dir.path()).unwrap(),
        StateDir::open(empty.path()).unwrap(),
    );
    let client = net.wallet(0).with_label("kept");
    let name = wallet_name("t-kept", 7).unwrap();
    let mut kept = KeptWallet::default();

    let wallet = kept.open(&client, &state, name.clone()).await.unwrap();
    let address = client.get_address(0).await.unwrap();
    kept.keep(wallet).await;
    let reused = kept.open(&client, &no_passwords, name.clone()).await;
    let reused = reused.expect("the open wallet is reused without its password file");
    assert_eq!(reused.name(), &name);
    kept.keep(reused).await;

    // Another client switches the wallet-rpc to another wallet: the kept one is not trusted.
    let other = wallet_name("t-other", 8).unwrap();
    EscrowWallet::open_or_create(client.clone(), &state, other)
        .await
        .unwrap();
    let err = kept.open(&client, &no_passwords, name.clone()).await;
    assert!(
        matches!(err, Err(PartyError::Wallet { .. })),
        "reopening needs the stored password (create_wallet -21 without it): {err:?}"
    );
    let reopened = kept.open(&client, &state, name).await.unwrap();
    assert_eq!(reopened.client().get_address(0).await.unwrap(), address);
}
