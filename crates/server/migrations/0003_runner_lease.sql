-- mmkt schema v3: the escrow runner lease.
-- At most one server process runs escrow jobs (setup, funding watch, payout) at a time: the one
-- whose holder id is in this single row and whose lease has not expired. Several servers may
-- share the database file (blue/green deploy); each takes, renews and releases the lease with one
-- statement in one transaction (src/db/lease.rs), so two of them can never both hold it.
CREATE TABLE runner_lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1), -- one lease: the escrow runner
    holder      TEXT NOT NULL,                      -- holder id of the process (MMKT_RUNNER_ID)
    generation  INTEGER NOT NULL CHECK (generation > 0), -- +1 each time the lease changes hands
    acquired_at INTEGER NOT NULL,                   -- Unix ms when this holder took it
    expires_at  INTEGER NOT NULL                    -- Unix ms; 0 once released
);
