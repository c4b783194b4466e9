-- mmkt schema v7: non-custodial escrows.
-- `escrows.mode`: how the escrow's multisig is held (escrow_core::EscrowMode label); rows from
-- before modes existed are hosted. In non-custodial mode the server holds only the arbiter
-- wallet; buyer and vendor submit their round outputs through the API.
ALTER TABLE escrows ADD COLUMN mode TEXT NOT NULL DEFAULT 'hosted' CHECK (mode IN ('hosted', 'non_custodial'));

-- One row per round phase of a non-custodial escrow: its start (the first round's deadline is
-- counted from it) and, for a payout, the signing pair. escrow-core's Rounds is rebuilt after a
-- restart by replaying the phase's submissions in order with their times.
CREATE TABLE escrow_round_phases (
    escrow_id  INTEGER NOT NULL REFERENCES escrows(id),
    phase      TEXT NOT NULL CHECK (phase IN ('setup', 'payout')),
    attempt    INTEGER NOT NULL CHECK (attempt > 0),
    signing    TEXT,                          -- payout: {"kind","disputed","first","second"} labels
    started_at INTEGER NOT NULL,              -- Unix s
    PRIMARY KEY (escrow_id, phase, attempt)
);

-- Every accepted round submission (a refused one is never written). The payload is a round
-- output the protocol relays (multisig_info, the address, sync info, a txset): never a
-- password or a wallet key, but still only in this encrypted file and never in a log.
CREATE TABLE escrow_round_submissions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    escrow_id    INTEGER NOT NULL REFERENCES escrows(id),
    phase        TEXT NOT NULL CHECK (phase IN ('setup', 'payout')),
    attempt      INTEGER NOT NULL CHECK (attempt > 0),
    round        TEXT NOT NULL,               -- escrow_core::Round label
    actor        TEXT NOT NULL CHECK (actor IN ('buyer', 'vendor', 'arbiter')),
    payload      TEXT NOT NULL CHECK (length(payload) > 0),
    submitted_at INTEGER NOT NULL,            -- Unix s
    UNIQUE (escrow_id, phase, attempt, round, actor),
    FOREIGN KEY (escrow_id, phase, attempt) REFERENCES escrow_round_phases(escrow_id, phase, attempt)
);
CREATE INDEX idx_escrow_round_submissions_escrow ON escrow_round_submissions(escrow_id, phase, attempt);
