//! escrow-flow: a vendor signs up and lists an item, a buyer signs up and orders it (the order
//! creates the 2-of-3 escrow). The seed had the buyer create the listing, which the server
//! refuses (only vendors list).

use std::time::Duration;

use goose::prelude::*;

use super::{ClientPool, Role, begin, ok_or, post_json, register};

/// The listed price, piconero (0.001 XMR): small enough that a full run's open escrows stay
/// far below the development custody cap.
const PRICE: u64 = 1_000_000_000;

/// One iteration: register a vendor, `POST /api/listings` as the vendor, register a buyer,
/// `POST /api/orders` as the buyer (quantity 1), 3 s.
pub(super) async fn iteration(user: &mut GooseUser, pool: &ClientPool) -> TransactionResult {
    begin(user, pool);
    let vendor = register(user, pool, Role::Vendor, "/api/auth/register (vendor)").await?;
    let listing = serde_json::json!({
        "title": "Load Test Product",
        "description": "Performance test",
        "price_xmr": PRICE,
        "stock": 100,
    });
    let (status, body, _) = post_json(
        user,
        pool,
        "/api/listings",
        "/api/listings",
        &listing,
        Some(&vendor),
    )
    .await?;
    ok_or(status, "/api/listings")?;
    let Some(listing_id) = body.get("listing_id").cloned() else {
        return Err("/api/listings: 200 without a listing_id".into());
    };
    let buyer = register(user, pool, Role::Buyer, "/api/auth/register (buyer)").await?;
    let order = serde_json::json!({ "listing_id": listing_id, "quantity": 1 });
    let (status, _, _) = post_json(
        user,
        pool,
        "/api/orders",
        "/api/orders",
        &order,
        Some(&buyer),
    )
    .await?;
    ok_or(status, "/api/orders")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(())
}
