-- mmkt schema v4: a payout step the co-signer refused.
-- Before it signs, the co-signer checks the payout transaction set against the plan
-- (escrow-core payout_check: destination, change, unlock time, fee limit, inputs). A set that
-- fails is never signed: its `payout_signed` step is recorded with status `refused`, the reason
-- label in `refusal` and the explanation in `last_error`, and the escrow's payout stops there
-- until an operator looks at it (GET /api/escrows/{id} shows `blocked_reason`).
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows.
CREATE TABLE escrow_steps_v4 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    escrow_id   INTEGER NOT NULL REFERENCES escrows(id),
    attempt     INTEGER NOT NULL CHECK (attempt > 0),
    step        TEXT NOT NULL,                -- prepare, make, exchange_round_1, exchange_round_2, payout_build, payout_signed, payout_submit
    role        TEXT NOT NULL,                -- buyer, vendor, arbiter, or system
    status      TEXT NOT NULL CHECK (status IN ('started', 'done', 'refused')),
    result      TEXT,                         -- multisig_info / address / multisig_txset / tx hashes
    last_error  TEXT,                         -- last failure or the refusal's explanation (no secrets), for the operator
    tries       INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    refusal     TEXT,                         -- refused steps: escrow-core RefusalReason label (wrong_destination, fee_too_high, ...)
    UNIQUE (escrow_id, attempt, step, role),
    CHECK ((status = 'refused') = (refusal IS NOT NULL))
);
INSERT INTO escrow_steps_v4 (id, escrow_id, attempt, step, role, status, result, last_error, tries, started_at, finished_at)
    SELECT id, escrow_id, attempt, step, role, status, result, last_error, tries, started_at, finished_at FROM escrow_steps;
DROP TABLE escrow_steps;
ALTER TABLE escrow_steps_v4 RENAME TO escrow_steps;
CREATE INDEX idx_escrow_steps_escrow ON escrow_steps(escrow_id);
CREATE INDEX idx_escrow_steps_refused ON escrow_steps(escrow_id) WHERE status = 'refused';
