-- mmkt schema v6: payout and refund addresses that cannot be swapped under a funded escrow.
-- `escrows.funded_payout_address` / `funded_refund_address`: the vendor's payout and the buyer's
-- refund address in force when money first reached the escrow (the escrow's own address if it had
-- one, else the party's account address), written once, in the transaction of that transition
-- (`addresses_fixed_at`). A later change of the account address no longer reaches the escrow, and
-- its payout goes to these addresses; a side that had none then gets the first one set after.
ALTER TABLE escrows ADD COLUMN funded_payout_address TEXT;
ALTER TABLE escrows ADD COLUMN funded_refund_address TEXT;
ALTER TABLE escrows ADD COLUMN addresses_fixed_at INTEGER;
-- Escrows that already hold money keep the addresses their record has now (a record that is not
-- JSON has none to keep).
UPDATE escrows
   SET funded_payout_address = CASE WHEN json_valid(record) THEN json_extract(record, '$.payout_address') END,
       funded_refund_address = CASE WHEN json_valid(record) THEN json_extract(record, '$.refund_address') END,
       addresses_fixed_at = updated_at
 WHERE state NOT IN ('awaiting_setup', 'setup_failed', 'awaiting_funding', 'expired', 'cancelled');
-- Every change of an account's payout or refund address: who, which kind, when, and SHA-256
-- fingerprints (first 16 hex digits) of the old and new address. Never a password.
CREATE TABLE address_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('payout', 'refund')),
    old_fingerprint TEXT,                     -- null when the account had no address of this kind
    new_fingerprint TEXT NOT NULL,
    client_ip       TEXT NOT NULL,            -- the client address as the rate limits see it
    changed_at      INTEGER NOT NULL
);
CREATE INDEX idx_address_changes_user ON address_changes(user_id, changed_at);
