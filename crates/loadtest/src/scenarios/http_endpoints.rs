//! http-endpoints: browse the listings, search them, sign up a buyer (the seed's mix and
//! sleeps).

use std::time::Duration;

use goose::prelude::*;

use super::{ClientPool, Role, begin, get, register};

/// One iteration: `GET /api/listings`, 1 s, `GET /api/listings/search?q=test`, 1 s,
/// `POST /api/auth/register` (buyer), 2 s.
pub(super) async fn iteration(user: &mut GooseUser, pool: &ClientPool) -> TransactionResult {
    begin(user, pool);
    get(user, pool, "/api/listings", "/api/listings").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    get(
        user,
        pool,
        "/api/listings/search?q=test",
        "/api/listings/search",
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    register(user, pool, Role::Buyer, "/api/auth/register").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}
