-- mmkt schema v5: orders that cannot jam the marketplace.
-- `orders.stock_returned_at`: when a cancelled or expired order gave its units back to the
-- listing (set once, in the transaction of the state change, so the stock is never returned twice).
ALTER TABLE orders ADD COLUMN stock_returned_at INTEGER;
-- `escrows.setup_attempt_floor`: the last setup attempt before an operator's retry
-- (POST /ops/escrows/{id}/retry-setup); attempts above it count toward the next failure.
ALTER TABLE escrows ADD COLUMN setup_attempt_floor INTEGER NOT NULL DEFAULT 0;
-- Wallet files of escrows that never received funds: moved into the wallet directory's
-- `archive/` folder (`archived_at`), deleted after the retention period (`removed_at`). A wallet
-- whose wallet-rpc showed any incoming transfer is kept where it is (`kept_at`) and never removed.
ALTER TABLE escrow_wallets ADD COLUMN archived_at INTEGER;
ALTER TABLE escrow_wallets ADD COLUMN removed_at INTEGER;
ALTER TABLE escrow_wallets ADD COLUMN kept_at INTEGER;
CREATE INDEX idx_orders_buyer_status ON orders(buyer_id, status);
