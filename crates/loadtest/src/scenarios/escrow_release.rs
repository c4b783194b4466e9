//! escrow-release: one escrow from order to payout on a regtest development stack, timed from
//! the order to the payout's `tx_hash` (the README's walkthrough, per virtual user).

use std::time::{Duration, Instant};

use goose::prelude::*;

use super::{
    Call, ClientPool, Item, PASSWORD, Role, begin, list, ok_or, order, post_json, register, send,
};
use crate::faucet::Faucet;

/// The listed price, piconero (1 XMR, the README walkthrough's). Not less: a 2-of-3 payout
/// pays about 0.0018 XMR fee on regtest, and the co-signers refuse a fee above 1 % of the
/// escrow (`MMKT_PAYOUT_MAX_FEE_BASIS_POINTS`), so a 0.01 XMR escrow is never paid out. 10
/// open escrows (10 XMR) stay below the development custody cap.
const PRICE: u64 = 1_000_000_000_000;

/// How often an iteration reads its escrow while it waits.
const POLL: Duration = Duration::from_secs(2);

/// How long an escrow may take from the order to its payout before the iteration counts as
/// failed: the multisig setup, the funding's confirmation and 10 blocks until the money
/// unlocks (one block per 5 s on the development stack), with room for a busy machine.
const RELEASE_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// The flow's name in the reports.
pub const FLOW: &str = "order to release";

/// The escrow route's name in the reports.
const ESCROW: &str = "/api/escrows/{id}";

/// One iteration, recorded in the pool's flows (finished with its time, or failed).
pub(super) async fn iteration(
    user: &mut GooseUser,
    pool: &ClientPool,
    faucet: &Faucet,
) -> TransactionResult {
    match release(user, pool, faucet).await {
        Ok(took) => {
            pool.flows.finished(took);
            Ok(())
        }
        Err(err) => {
            pool.flows.failed();
            Err(err)
        }
    }
}

/// A vendor registers, sets the faucet as payout address and lists an item; a buyer registers
/// and orders it; the faucet pays the escrow address; the buyer confirms receipt once the
/// escrow is funded; done when the escrow shows its payout `tx_hash`. Returns the time from
/// the order's answer to the payout.
async fn release(
    user: &mut GooseUser,
    pool: &ClientPool,
    faucet: &Faucet,
) -> Result<Duration, Box<TransactionError>> {
    begin(user, pool);
    let vendor = register(user, pool, Role::Vendor, "/api/auth/register (vendor)").await?;
    let payout = serde_json::json!({ "address": faucet.address(), "password": PASSWORD });
    let name = "/api/auth/me/payout-address";
    let call = Call {
        method: GooseMethod::Put,
        path: name,
        name,
        body: Some(&payout),
        cookie: Some(&vendor),
    };
    let (status, _, _) = send(user, pool, call).await?;
    ok_or(status, name)?;
    let item = Item {
        title: "Load Test Release",
        price: PRICE,
        stock: 1,
    };
    let listing_id = list(user, pool, &vendor, &item).await?;
    let buyer = register(user, pool, Role::Buyer, "/api/auth/register (buyer)").await?;
    let body = order(user, pool, &buyer, listing_id).await?;
    let ordered = Instant::now();
    let (order_id, escrow_id, total) = match (
        body.get("order_id").and_then(serde_json::Value::as_u64),
        body.pointer("/escrow/escrow_id")
            .and_then(serde_json::Value::as_u64),
        body.get("total_xmr").and_then(serde_json::Value::as_u64),
    ) {
        (Some(order), Some(escrow), Some(total)) => (order, escrow, total),
        _ => {
            return Err("/api/orders: 200 without order_id, escrow.escrow_id and total_xmr".into());
        }
    };
    let escrow = Escrow {
        path: format!("/api/escrows/{escrow_id}"),
        deadline: ordered + RELEASE_DEADLINE,
    };
    let address = escrow
        .wait(user, pool, &buyer, "its address", |e| {
            e.get("address")?.as_str().map(str::to_string)
        })
        .await?;
    faucet
        .pay(&address, total)
        .await
        .map_err(|e| e.to_string())?;
    escrow
        .wait(user, pool, &buyer, "funded", |e| {
            (e.get("state")?.as_str()? == "funded").then_some(())
        })
        .await?;
    let confirm = format!("/api/orders/{order_id}/confirm-receipt");
    let name = "/api/orders/{id}/confirm-receipt";
    let (status, _, _) = post_json(
        user,
        pool,
        &confirm,
        name,
        &serde_json::json!({}),
        Some(&buyer),
    )
    .await?;
    // 202: the release is decided and stored; the payout follows in the background.
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(format!("{name}: HTTP {status} (202 expected)").into());
    }
    escrow
        .wait(user, pool, &vendor, "its payout tx_hash", |e| {
            e.pointer("/payout/tx_hash")?.as_str().map(str::to_string)
        })
        .await?;
    Ok(ordered.elapsed())
}

/// One escrow being watched through `GET /api/escrows/{id}`.
struct Escrow {
    path: String,
    deadline: Instant,
}

impl Escrow {
    /// Reads the escrow as `cookie`'s account every [`POLL`] until `reached` finds what it
    /// waits for (`what`, for the error) or the deadline passes.
    async fn wait<T>(
        &self,
        user: &mut GooseUser,
        pool: &ClientPool,
        cookie: &str,
        what: &str,
        reached: impl Fn(&serde_json::Value) -> Option<T>,
    ) -> Result<T, Box<TransactionError>> {
        loop {
            let call = Call {
                method: GooseMethod::Get,
                path: &self.path,
                name: ESCROW,
                body: None,
                cookie: Some(cookie),
            };
            let (status, body, _) = send(user, pool, call).await?;
            ok_or(status, ESCROW)?;
            if let Some(found) = reached(&body) {
                return Ok(found);
            }
            if Instant::now() >= self.deadline {
                let state = body.get("state").cloned().unwrap_or_default();
                return Err(format!(
                    "{}: {what} not reached within {} s of the order (state {state})",
                    self.path,
                    RELEASE_DEADLINE.as_secs()
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
