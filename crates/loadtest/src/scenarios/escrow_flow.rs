//! escrow-flow: a vendor signs up and lists an item, a buyer signs up and orders it (the order
//! creates the 2-of-3 escrow). The seed had the buyer create the listing, which the server
//! refuses (only vendors list).

use std::time::Duration;

use goose::prelude::*;

use super::{ClientPool, Item, Role, begin, list, order, register};

/// The listed price, piconero (0.001 XMR): small enough that a full run's open escrows stay
/// far below the development custody cap.
const PRICE: u64 = 1_000_000_000;

/// One iteration: register a vendor, `POST /api/listings` as the vendor, register a buyer,
/// `POST /api/orders` as the buyer (quantity 1), 3 s.
pub(super) async fn iteration(user: &mut GooseUser, pool: &ClientPool) -> TransactionResult {
    begin(user, pool);
    let vendor = register(user, pool, Role::Vendor, "/api/auth/register (vendor)").await?;
    let item = Item {
        title: "Load Test Product",
        price: PRICE,
        stock: 100,
    };
    let listing_id = list(user, pool, &vendor, &item).await?;
    let buyer = register(user, pool, Role::Buyer, "/api/auth/register (buyer)").await?;
    order(user, pool, &buyer, listing_id).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(())
}
