//! The escrow runner lease row (`runner_lease`, migration 0003): take or renew
//! ([`LeaseWrite::Acquire`]), renew only ([`LeaseWrite::Renew`]), give up ([`release`]) and read
//! ([`current`]).
//!
//! Each write is one statement in one `IMMEDIATE` transaction (SQLite takes the write lock at
//! `BEGIN`), and its `WHERE` clause decides who wins: two processes on one database file can never
//! both hold the lease. Times are Unix milliseconds given by the caller (its wall clock: the
//! servers sharing a database file run on one host, or on hosts with synchronized clocks).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The lease row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// Holder id of the process that has (or last had) the lease (`MMKT_RUNNER_ID`).
    pub holder: String,
    /// Tenure number: 1 for the first holder, +1 each time the lease is taken anew (by another
    /// holder, or by the same one after it had expired or been released).
    pub generation: i64,
    /// When this tenure began, Unix milliseconds.
    pub acquired_at_ms: i64,
    /// When the lease lapses unless renewed, Unix milliseconds; 0 once released.
    pub expires_at_ms: i64,
}

impl LeaseRow {
    /// Whether the lease is in force at `now_ms` (neither expired nor released).
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at_ms > now_ms
    }
}

/// What a [`write`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The caller holds the lease until the row's `expires_at_ms`.
    Held(LeaseRow),
    /// The caller does not hold it: another holder's live lease (or, for a renewal, the caller's
    /// lapsed or released one) as stored, `None` when no holder ever took it.
    NotHeld(Option<LeaseRow>),
}

/// What [`release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The caller's live lease is released: any other process may take it at once.
    Released,
    /// The caller held no live lease; nothing was written.
    NotHeld,
}

/// [`LeaseWrite::Acquire`]: insert the row, or take it over if it has expired (or was released), or renew it
/// for its own holder; `?1` holder, `?2` now, `?3` new expiry (Unix ms).
const ACQUIRE: &str = "INSERT INTO runner_lease (id, holder, generation, acquired_at, expires_at)
     VALUES (1, ?1, 1, ?2, ?3)
     ON CONFLICT (id) DO UPDATE SET
         generation = CASE WHEN holder = excluded.holder AND expires_at > excluded.acquired_at
                           THEN generation ELSE generation + 1 END,
         acquired_at = CASE WHEN holder = excluded.holder AND expires_at > excluded.acquired_at
                            THEN acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder,
         expires_at = excluded.expires_at
     WHERE expires_at <= excluded.acquired_at OR holder = excluded.holder";

/// [`LeaseWrite::Renew`]: extend the holder's live lease only; same parameters as [`ACQUIRE`].
const RENEW: &str =
    "UPDATE runner_lease SET expires_at = ?3 WHERE id = 1 AND holder = ?1 AND expires_at > ?2";

/// The two lease writes that leave the caller holding the lease, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseWrite {
    /// Take the lease if it is free (never taken, expired, or released) or renew it if it is
    /// already the caller's (same generation).
    Acquire,
    /// Extend the caller's live lease only; never take a free one (a holder giving the lease up
    /// renews it while its last jobs finish, but must not take it back).
    Renew,
}

/// Makes `write` for `holder`, for `ttl_ms` from `now_ms`: one statement in one IMMEDIATE
/// transaction. [`LeaseOutcome::Held`] when the caller holds the lease until `now_ms + ttl_ms`.
///
/// # Errors
/// SQLite errors (busy beyond the busy timeout, I/O); nothing is written then.
pub fn write(
    conn: &mut Connection,
    write: LeaseWrite,
    holder: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> rusqlite::Result<LeaseOutcome> {
    let sql = match write {
        LeaseWrite::Acquire => ACQUIRE,
        LeaseWrite::Renew => RENEW,
    };
    let expires = now_ms.saturating_add(ttl_ms);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(sql, params![holder, now_ms, expires])?;
    let row = current(&tx)?;
    tx.commit()?;
    Ok(match row {
        Some(row) if changed == 1 && row.holder == holder => LeaseOutcome::Held(row),
        other => LeaseOutcome::NotHeld(other),
    })
}

/// Releases `holder`'s live lease (`expires_at` = 0), so that a standby can take it at once.
///
/// # Errors
/// SQLite errors; nothing is written then.
pub fn release(
    conn: &mut Connection,
    holder: &str,
    now_ms: i64,
) -> rusqlite::Result<ReleaseOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE runner_lease SET expires_at = 0 WHERE id = 1 AND holder = ?1 AND expires_at > ?2",
        params![holder, now_ms],
    )?;
    tx.commit()?;
    Ok(if changed == 1 {
        ReleaseOutcome::Released
    } else {
        ReleaseOutcome::NotHeld
    })
}

/// The lease row, `None` before anyone took the lease.
///
/// # Errors
/// SQLite errors.
pub fn current(conn: &Connection) -> rusqlite::Result<Option<LeaseRow>> {
    conn.query_row(
        "SELECT holder, generation, acquired_at, expires_at FROM runner_lease WHERE id = 1",
        [],
        |r| {
            Ok(LeaseRow {
                holder: r.get(0)?,
                generation: r.get(1)?,
                acquired_at_ms: r.get(2)?,
                expires_at_ms: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Current time as Unix milliseconds.
pub(crate) fn now_unix_ms() -> i64 {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(millis).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::LeaseWrite::{Acquire, Renew};
    use super::*;
    use crate::db::Db;
    use crate::db::key::DbKey;

    const TTL: i64 = 3_000;

    /// A migrated SQLCipher file in a temp dir, opened twice as two servers would.
    fn two_servers() -> (tempfile::TempDir, Db, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lease.db");
        let key = DbKey::generate();
        let a = Db::open(&path, &key, 2).unwrap();
        let b = Db::open(&path, &key, 2).unwrap();
        (dir, a, b)
    }

    fn held(outcome: LeaseOutcome) -> LeaseRow {
        match outcome {
            LeaseOutcome::Held(row) => row,
            LeaseOutcome::NotHeld(row) => panic!("expected the lease, found {row:?}"),
        }
    }

    fn refused(outcome: LeaseOutcome) -> Option<LeaseRow> {
        match outcome {
            LeaseOutcome::NotHeld(row) => row,
            LeaseOutcome::Held(row) => panic!("expected a refusal, got the lease: {row:?}"),
        }
    }

    #[test]
    fn a_live_lease_keeps_others_out_until_it_expires() {
        let (_dir, a, b) = two_servers();
        let (mut a, mut b) = (a.connection().unwrap(), b.connection().unwrap());
        assert_eq!(current(&a).unwrap(), None);
        let first = held(write(&mut a, Acquire, "a", 1_000, TTL).unwrap());
        let expected = LeaseRow {
            holder: "a".into(),
            generation: 1,
            acquired_at_ms: 1_000,
            expires_at_ms: 4_000,
        };
        assert_eq!(first, expected);
        let seen = refused(write(&mut b, Acquire, "b", 2_000, TTL).unwrap());
        assert_eq!(seen.as_ref(), Some(&first), "b sees a's lease");
        // Expiry is exclusive of its instant: at 4000 the lease is over.
        assert!(first.is_live(3_999) && !first.is_live(4_000));
        let taken = held(write(&mut b, Acquire, "b", 4_000, TTL).unwrap());
        assert_eq!((taken.holder.as_str(), taken.generation), ("b", 2));
        // a's renewal, re-acquisition and release all fail now; the row stays b's.
        let after_renew = refused(write(&mut a, Renew, "a", 4_500, TTL).unwrap());
        assert_eq!(after_renew.as_ref(), Some(&taken));
        let after_acquire = refused(write(&mut a, Acquire, "a", 4_500, TTL).unwrap());
        assert_eq!(after_acquire.as_ref(), Some(&taken));
        assert_eq!(
            release(&mut a, "a", 4_500).unwrap(),
            ReleaseOutcome::NotHeld
        );
        assert_eq!(current(&a).unwrap(), Some(taken));
    }

    #[test]
    fn renewal_extends_the_same_tenure() {
        let (_dir, a, b) = two_servers();
        let (mut a, mut b) = (a.connection().unwrap(), b.connection().unwrap());
        held(write(&mut a, Acquire, "a", 0, TTL).unwrap());
        let renewed = held(write(&mut a, Renew, "a", 2_000, TTL).unwrap());
        let tenure = |r: &LeaseRow| (r.generation, r.acquired_at_ms, r.expires_at_ms);
        assert_eq!(tenure(&renewed), (1, 0, 5_000));
        // Past the first expiry (3000) the renewed lease still keeps b out.
        refused(write(&mut b, Acquire, "b", 4_000, TTL).unwrap());
        // acquire by the holder renews too, without a new tenure.
        let again = held(write(&mut a, Acquire, "a", 4_500, TTL).unwrap());
        assert_eq!(tenure(&again), (1, 0, 7_500));
        // A lapsed lease cannot be renewed, even by its holder, and nothing is written.
        let lapsed = refused(write(&mut a, Renew, "a", 7_500, TTL).unwrap());
        assert_eq!(lapsed.as_ref(), Some(&again));
        // Its holder may take it anew (a new tenure), as anyone could.
        let anew = held(write(&mut a, Acquire, "a", 8_000, TTL).unwrap());
        assert_eq!(tenure(&anew), (2, 8_000, 11_000));
    }

    #[test]
    fn release_hands_the_lease_over_at_once() {
        let (_dir, a, b) = two_servers();
        let (mut a, mut b) = (a.connection().unwrap(), b.connection().unwrap());
        held(write(&mut a, Acquire, "a", 0, TTL).unwrap());
        let by_b = release(&mut b, "b", 100).unwrap();
        assert_eq!(by_b, ReleaseOutcome::NotHeld, "b cannot release a's lease");
        refused(write(&mut b, Acquire, "b", 100, TTL).unwrap());
        assert_eq!(release(&mut a, "a", 200).unwrap(), ReleaseOutcome::Released);
        let twice = release(&mut a, "a", 200).unwrap();
        assert_eq!(twice, ReleaseOutcome::NotHeld, "released once");
        let released = current(&a).unwrap().unwrap();
        assert!(!released.is_live(200), "{released:?}");
        // The releasing holder cannot renew its way back in; b takes it well before a's expiry.
        refused(write(&mut a, Renew, "a", 300, TTL).unwrap());
        let b_row = held(write(&mut b, Acquire, "b", 300, TTL).unwrap());
        assert_eq!((b_row.holder.as_str(), b_row.generation), ("b", 2));
    }

    #[test]
    fn two_holders_racing_never_both_win() {
        const ROUNDS: i64 = 40;
        let (_dir, a, b) = two_servers();
        let barrier = Arc::new(Barrier::new(2));
        let racer = |db: Db, name: &'static str| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut conn = db.connection().unwrap();
                let mut wins = Vec::new();
                for round in 0..ROUNDS {
                    barrier.wait();
                    // Each round starts when the previous round's lease has expired.
                    if let LeaseOutcome::Held(row) =
                        write(&mut conn, Acquire, name, round * TTL, TTL).unwrap()
                    {
                        wins.push((round, row.generation));
                    }
                }
                wins
            })
        };
        let (a_racer, b_racer) = (racer(a, "a"), racer(b, "b"));
        let (a_wins, b_wins) = (a_racer.join().unwrap(), b_racer.join().unwrap());
        let mut rounds: Vec<i64> = a_wins.iter().chain(&b_wins).map(|(r, _)| *r).collect();
        rounds.sort_unstable();
        assert_eq!(
            rounds,
            (0..ROUNDS).collect::<Vec<_>>(),
            "exactly one winner per round: a {a_wins:?}, b {b_wins:?}"
        );
        // Every round is a new tenure (the previous one had expired).
        let mut generations: Vec<i64> = a_wins.iter().chain(&b_wins).map(|(_, g)| *g).collect();
        generations.sort_unstable();
        assert_eq!(generations, (1..=ROUNDS).collect::<Vec<_>>());
    }
}
