//! Funding counts only spendable money, on a real regtest network with the real server binary:
//! payments sent with `transfer {unlock_time}` (a block height, a Unix time) leave their escrows
//! awaiting funding while the lock holds, whatever their confirmations; the height-locked one
//! funds once the chain reaches the height, and a normal payment funds an escrow that also holds
//! locked money, counting only itself.

mod escrow_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use escrow_support::*;
use monero_rpc::{TransferOptions, UnlockTime};
use serde_json::Value;

/// Confirmations given to the locked payments: past the harness's one required confirmation and
/// wallet-rpc's 10-block spendable age, so only the lock keeps them from counting.
const DEPTH: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_payments_leave_escrows_pending_and_normal_payments_fund() {
    let Some((chain, _dir, server)) = start_market(&[]).await else {
        return;
    };
    let vendor = register(&server, "vendor_locks", "vendor").await;
    let listing_id = create_listing(&vendor, "Locked goods", 200_000_000_000, 10).await;
    let by_height = register(&server, "buyer_height_lock", "buyer").await;
    let by_time = register(&server, "buyer_time_lock", "buyer").await;
    let (_, height_id) = order(&by_height, listing_id, 1).await;
    let (_, time_id) = order(&by_time, listing_id, 1).await;
    let height_escrow = wait_escrow(&by_height, height_id, "awaiting_funding").await;
    let time_escrow = wait_escrow(&by_time, time_id, "awaiting_funding").await;
    let amount = height_escrow["amount_xmr"].as_u64().unwrap();

    let blocks = chain.net.daemon().get_block_count().await.unwrap();
    let unlock_height = blocks + DEPTH + 8;
    let height_lock = UnlockTime::Height(unlock_height);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let time_lock = UnlockTime::UnixTime(now + 365 * 86_400);
    let locked = |lock| TransferOptions::default().with_unlock_time(lock);
    chain
        .pay_with(address(&height_escrow), amount, locked(height_lock))
        .await;
    chain
        .pay_with(address(&time_escrow), amount, locked(time_lock))
        .await;
    // The same lock to a wallet of the test's own: wallet-rpc reports it as sent.
    let own = chain
        .pay_with(chain.refund_address.as_str(), 1_000_000, locked(time_lock))
        .await;
    chain.mine(DEPTH).await;

    let seen = chain.incoming(&chain.refund).await;
    let entry = seen
        .iter()
        .find(|t| t.txid == own)
        .expect("locked payment seen");
    assert_eq!(entry.unlock_time, time_lock, "{entry:?}");
    assert!(entry.locked, "{entry:?}");
    assert!(entry.confirmations >= DEPTH, "{entry:?}");

    // The watcher sees both payments in full and counts neither.
    for (buyer, id) in [(&by_height, height_id), (&by_time, time_id)] {
        let escrow = wait_received(buyer, id, amount).await;
        assert_pending(&escrow, amount, 0);
    }
    // Several more polls with the payments buried 12 blocks deep: still nothing counted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (buyer, id) in [(&by_height, height_id), (&by_time, time_id)] {
        let (_, escrow) = buyer.get(&format!("/api/escrows/{id}")).await;
        assert_pending(&escrow, amount, 0);
    }

    // A normal payment funds the time-locked escrow, and only it counts.
    chain.pay(address(&time_escrow), amount).await;
    chain.mine(1).await;
    let funded = wait_escrow(&by_time, time_id, "funded").await;
    assert_eq!(funded["funding"]["received_xmr"], 2 * amount, "{funded}");
    assert_eq!(funded["funding"]["confirmed_xmr"], amount, "{funded}");
    let (_, still) = by_height.get(&format!("/api/escrows/{height_id}")).await;
    assert_pending(&still, amount, 0);

    // Once the chain reaches the unlock height, the height-locked payment funds its escrow.
    let blocks = chain.net.daemon().get_block_count().await.unwrap();
    chain.mine(unlock_height.saturating_sub(blocks) + 1).await;
    let funded = wait_escrow(&by_height, height_id, "funded").await;
    assert_eq!(funded["funding"]["confirmed_xmr"], amount, "{funded}");
}

fn address(escrow: &Value) -> &str {
    escrow["address"]
        .as_str()
        .expect("escrow address shown to the buyer")
}

/// Asserts `escrow` awaits funding with `received` atomic units seen and `confirmed` counted.
fn assert_pending(escrow: &Value, received: u64, confirmed: u64) {
    assert_eq!(escrow["state"], "awaiting_funding", "{escrow}");
    assert_eq!(escrow["funding"]["received_xmr"], received, "{escrow}");
    assert_eq!(escrow["funding"]["confirmed_xmr"], confirmed, "{escrow}");
    assert_eq!(
        escrow["funding"]["status"], "awaiting_confirmations",
        "{escrow}"
    );
}

/// Polls the escrow until the watcher has seen `amount` atomic units arrive (any state).
async fn wait_received(buyer: &User, escrow_id: i64, amount: u64) -> Value {
    let deadline = std::time::Instant::now() + STATE_WAIT;
    loop {
        let (_, escrow) = buyer.get(&format!("/api/escrows/{escrow_id}")).await;
        if escrow["funding"]["received_xmr"] == amount {
            return escrow;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "escrow {escrow_id} never saw the payment: {escrow}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
