//! Helpers shared by the regtest integration tests: multisig setup and re-sync through the
//! typed API only.
#![allow(dead_code)]

use monero_rpc::{Address, Amount, MultisigInfo, WalletClient, WalletName, WalletPassword};

/// A wallet file name from a literal.
pub fn name(s: &str) -> WalletName {
    s.parse().expect("valid wallet name")
}

/// Whole XMR as an Amount.
pub fn xmr(n: u64) -> Amount {
    Amount::from_xmr(n).expect("small amount")
}

/// Every element of `items` except the one at `skip`.
pub fn others<T: Clone>(items: &[T], skip: usize) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, v)| v.clone())
        .collect()
}

/// Turns three fresh, open, empty wallets into one 2-of-3 multisig wallet: prepare, make,
/// then exchange rounds until every wallet reports `ready`. Returns the shared address after
/// checking all three agree on it.
pub async fn make_two_of_three(wallets: [&WalletClient; 3], password: &WalletPassword) -> Address {
    let mut prepared = Vec::new();
    for w in wallets {
        prepared.push(w.prepare_multisig().await.expect("prepare_multisig"));
    }
    let mut round: Vec<MultisigInfo> = Vec::new();
    for (i, w) in wallets.iter().enumerate() {
        round.push(
            w.make_multisig(&others(&prepared, i), 2, password)
                .await
                .expect("make_multisig"),
        );
    }
    let mut final_addresses = Vec::new();
    for exchange in 1..=4 {
        let mut next = Vec::new();
        final_addresses.clear();
        for (i, w) in wallets.iter().enumerate() {
            let r = w
                .exchange_multisig_keys(&others(&round, i), password)
                .await
                .unwrap_or_else(|e| panic!("exchange_multisig_keys round {exchange}: {e}"));
            final_addresses.push(r.address.clone());
            next.push(r.multisig_info);
        }
        let mut all_ready = true;
        for w in wallets {
            let status = w.is_multisig().await.expect("is_multisig");
            assert!(status.multisig);
            assert_eq!((status.threshold, status.total), (2, 3));
            all_ready &= status.ready;
        }
        if all_ready {
            break;
        }
        round = next
            .into_iter()
            .map(|info| info.expect("a participant that is not ready has a next message"))
            .collect();
    }
    let mut addresses = Vec::new();
    for w in wallets {
        let status = w.is_multisig().await.expect("is_multisig");
        assert!(status.ready, "key exchange did not finish: {status:?}");
        addresses.push(w.get_address(0).await.expect("get_address"));
    }
    assert!(
        addresses.iter().all(|a| a == &addresses[0]),
        "multisig wallets disagree on the address: {addresses:?}"
    );
    for reported in final_addresses.iter().flatten() {
        assert_eq!(
            reported, &addresses[0],
            "last exchange round reported another address"
        );
    }
    addresses.swap_remove(0)
}

/// Multisig re-sync among `signers`: each exports, then imports the others' exports.
pub async fn resync(signers: &[&WalletClient]) {
    let mut exports = Vec::new();
    for w in signers {
        exports.push(
            w.export_multisig_info()
                .await
                .expect("export_multisig_info"),
        );
    }
    for (i, w) in signers.iter().enumerate() {
        w.import_multisig_info(&others(&exports, i))
            .await
            .expect("import_multisig_info");
    }
}
