-- mmkt schema v1: accounts, sessions, listings (+ FTS5), orders, escrows.
-- Timestamps are Unix seconds (UTC). Amounts are INTEGER atomic units (piconero), always > 0.
-- Ids are INTEGER PRIMARY KEY AUTOINCREMENT (never reused), matching escrow-core's i64 id newtypes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,               -- argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('buyer', 'vendor', 'arbiter')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,               -- sha256(session token); the token itself is never stored
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX idx_sessions_user_id ON sessions(user_id);
CREATE INDEX idx_sessions_expires_at ON sessions(expires_at);

CREATE TABLE listings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- also the FTS5 content rowid
    vendor_id    INTEGER NOT NULL REFERENCES users(id),
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    price_atomic INTEGER NOT NULL CHECK (price_atomic > 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER                       -- soft delete: orders keep pointing at the listing
);
CREATE INDEX idx_listings_vendor_id ON listings(vendor_id);
CREATE INDEX idx_listings_created_at ON listings(created_at);

CREATE VIRTUAL TABLE listings_fts USING fts5(
    title, description,
    content = 'listings', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER listings_fts_insert AFTER INSERT ON listings BEGIN
    INSERT INTO listings_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER listings_fts_delete AFTER DELETE ON listings BEGIN
    INSERT INTO listings_fts(listings_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER listings_fts_update AFTER UPDATE OF title, description ON listings BEGIN
    INSERT INTO listings_fts(listings_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO listings_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    listing_id        INTEGER NOT NULL REFERENCES listings(id),
    buyer_id          INTEGER NOT NULL REFERENCES users(id),
    vendor_id         INTEGER NOT NULL REFERENCES users(id),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_atomic INTEGER NOT NULL CHECK (unit_price_atomic > 0),
    total_atomic      INTEGER NOT NULL CHECK (total_atomic > 0),
    status            TEXT NOT NULL,         -- escrow_core::OrderStatus label, derived from the escrow state
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX idx_orders_buyer_id ON orders(buyer_id);
CREATE INDEX idx_orders_vendor_id ON orders(vendor_id);
CREATE INDEX idx_orders_status ON orders(status);

-- One escrow per order. The orchestration migration (0002) extends this table (wallet files,
-- multisig round results, tx hashes, job intents).
CREATE TABLE escrows (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id               INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    state                  TEXT NOT NULL,     -- escrow_core::EscrowStateKind label (index, metrics)
    amount_atomic          INTEGER NOT NULL CHECK (amount_atomic > 0),
    required_confirmations INTEGER NOT NULL CHECK (required_confirmations > 0),
    funding_window_secs    INTEGER NOT NULL CHECK (funding_window_secs > 0),
    address                TEXT,              -- 2-of-3 multisig address once setup completes
    record                 TEXT NOT NULL,     -- serde JSON of escrow_core::Escrow (source of truth)
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX idx_escrows_state ON escrows(state);
