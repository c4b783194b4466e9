-- mmkt schema v2: escrow orchestration.
-- The escrow record (escrows.record) stays the source of truth for the escrow state; these tables
-- hold what the orchestrator needs besides it: per-escrow wallet files and their passwords, the
-- intent and result of every wallet-rpc step (so a restart after kill -9 resumes), an audit trail
-- of applied events, and the parties' payout/refund addresses.
-- Secrets here (wallet passwords, multisig_info, multisig_txset) are protected by the SQLCipher key.

-- A vendor's payout address and a buyer's refund address, validated for the configured network.
CREATE TABLE user_addresses (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('payout', 'refund')),
    address    TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- One wallet file per escrow, role and setup attempt (a setup interrupted at an unknown point is
-- restarted with fresh wallets: attempt + 1; nothing is funded before setup completes).
CREATE TABLE escrow_wallets (
    escrow_id   INTEGER NOT NULL REFERENCES escrows(id),
    role        TEXT NOT NULL CHECK (role IN ('buyer', 'vendor', 'arbiter')),
    attempt     INTEGER NOT NULL CHECK (attempt > 0),
    wallet_name TEXT NOT NULL UNIQUE,
    password    TEXT NOT NULL,                -- random per-escrow wallet password
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (escrow_id, role, attempt)
);

-- Escrow jobs: one row per wallet-rpc step. `started` is written before the call (intent), `done`
-- with its result after it; `attempt` is the setup attempt for setup steps and the payout attempt
-- for payout steps.
CREATE TABLE escrow_steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    escrow_id   INTEGER NOT NULL REFERENCES escrows(id),
    attempt     INTEGER NOT NULL CHECK (attempt > 0),
    step        TEXT NOT NULL,                -- prepare, make, exchange_round_1, exchange_round_2, payout_build, payout_signed, payout_submit
    role        TEXT NOT NULL,                -- buyer, vendor, arbiter, or system
    status      TEXT NOT NULL CHECK (status IN ('started', 'done')),
    result      TEXT,                         -- multisig_info / address / multisig_txset / tx hashes
    last_error  TEXT,                         -- last failure (no secrets), for the operator
    tries       INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    UNIQUE (escrow_id, attempt, step, role)
);
CREATE INDEX idx_escrow_steps_escrow ON escrow_steps(escrow_id);

-- Audit trail: every applied escrow event with the state change it caused.
CREATE TABLE escrow_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    escrow_id  INTEGER NOT NULL REFERENCES escrows(id),
    event      TEXT NOT NULL,                 -- escrow_core::EventKind label
    actor      TEXT NOT NULL,                 -- buyer, vendor, arbiter, system
    user_id    INTEGER,                       -- the account that acted (NULL for system)
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    tx_hash    TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_escrow_events_escrow ON escrow_events(escrow_id);
