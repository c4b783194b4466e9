//! `escrow_steps`: the intent (`started`, written before a wallet-rpc call) and the result (`done`,
//! written right after) of every orchestrator step, so a restart resumes instead of repeating or
//! losing work, and the payout sets the co-signer refused (`refused`, with the reason), which stop
//! the payout until an operator looks. One row per escrow, attempt, step and role.

use escrow_core::escrow::SetupStage;
use escrow_core::{Actor, RefusalReason};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

/// Which step a row records (`escrow_steps.step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A multisig setup round (`prepare`, `make`, `exchange_round_1`, `exchange_round_2`); result:
    /// the participant's multisig_info, or the shared address after the last round.
    Setup(SetupStage),
    /// `payout_sync`: the arbiter wallet's `export_multisig_info` for a non-custodial payout's
    /// `export_sync` round (multisig sync info).
    PayoutSync,
    /// `payout_build`: the initiator's half-signed sweep (multisig_txset).
    PayoutBuild,
    /// `payout_signed`: the co-signed txset and its tx hashes (JSON), stored with
    /// `payout_prepared`; for the arbiter of a non-custodial payout, the txset it signed second
    /// (hex), stored before it is submitted as its `sign_txset` output.
    PayoutSigned,
    /// `payout_submit`: the relayed tx hashes, comma-separated.
    PayoutSubmit,
}

impl Step {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Setup(stage) => stage.as_str(),
            Step::PayoutSync => "payout_sync",
            Step::PayoutBuild => "payout_build",
            Step::PayoutSigned => "payout_signed",
            Step::PayoutSubmit => "payout_submit",
        }
    }
}

/// Status of a step row (`escrow_steps.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// `started`: the intent is recorded, no result yet.
    Started,
    /// `done`: the result is recorded.
    Done,
    /// `refused`: the co-signer refused to sign the payout set (`payout_signed` only); the row
    /// holds the [`RefusalReason`] and its explanation, and the payout goes no further.
    Refused,
}

impl StepStatus {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            StepStatus::Started => "started",
            StepStatus::Done => "done",
            StepStatus::Refused => "refused",
        }
    }
}

impl ToSql for StepStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for StepStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "started" => Ok(StepStatus::Started),
            "done" => Ok(StepStatus::Done),
            "refused" => Ok(StepStatus::Refused),
            other => Err(FromSqlError::Other(
                format!("unknown step status {other:?}").into(),
            )),
        }
    }
}

/// The identity of one step row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepKey {
    /// The escrow.
    pub escrow_id: i64,
    /// Setup attempt (setup steps) or payout attempt (payout steps), 1-based.
    pub attempt: u32,
    /// The step.
    pub step: Step,
    /// The participant whose wallet runs it.
    pub role: Actor,
}

/// A step's recorded output. It may be a secret (multisig_info, multisig_txset): `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct StepOutput(String);

impl StepOutput {
    /// Wraps an output (or a round payload, [`super::rounds`]) read from or going into the
    /// database.
    pub fn new(text: String) -> Self {
        StepOutput(text)
    }

    /// The output text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The output text, by value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for StepOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepOutput(<redacted>)")
    }
}

/// Status of one step row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    /// Started or done.
    pub status: StepStatus,
    /// The result once done.
    pub result: Option<StepOutput>,
    /// How many times the step was started.
    pub tries: u32,
}

/// The row of `key`, if any.
///
/// # Errors
/// SQLite errors.
pub fn get(conn: &Connection, key: &StepKey) -> rusqlite::Result<Option<StepRow>> {
    conn.prepare_cached(
        "SELECT status, result, tries FROM escrow_steps WHERE escrow_id = ?1 AND attempt = ?2 AND step = ?3 AND role = ?4",
    )?
    .query_row(
        params![key.escrow_id, key.attempt, key.step.as_str(), key.role.as_str()],
        |r| {
            Ok(StepRow {
                status: r.get(0)?,
                result: r.get::<_, Option<String>>(1)?.map(StepOutput),
                tries: r.get(2)?,
            })
        },
    )
    .optional()
}

/// Records the intent to run a step (status `started`, tries + 1) before its RPC call, at `now`
/// (Unix s). A step already done is left as it is.
///
/// # Errors
/// SQLite errors.
pub fn started(conn: &Connection, key: &StepKey, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, tries, started_at) VALUES (?1, ?2, ?3, ?4, ?6, 1, ?5)
         ON CONFLICT (escrow_id, attempt, step, role) DO UPDATE SET tries = tries + 1, started_at = ?5
         WHERE status = ?6",
        params![key.escrow_id, key.attempt, key.step.as_str(), key.role.as_str(), now, StepStatus::Started],
    )?;
    Ok(())
}

/// Records a step's result (status `done`) at `now` (Unix s).
///
/// # Errors
/// SQLite errors.
pub fn done(conn: &Connection, key: &StepKey, result: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, result, tries, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?7, ?5, 1, ?6, ?6)
         ON CONFLICT (escrow_id, attempt, step, role) DO UPDATE SET status = ?7, result = ?5, finished_at = ?6, last_error = NULL",
        params![key.escrow_id, key.attempt, key.step.as_str(), key.role.as_str(), result, now, StepStatus::Done],
    )?;
    Ok(())
}

/// Records the last failure of a started step (never a secret).
///
/// # Errors
/// SQLite errors.
pub fn failed(conn: &Connection, key: &StepKey, error: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE escrow_steps SET last_error = ?5 WHERE escrow_id = ?1 AND attempt = ?2 AND step = ?3 AND role = ?4",
        params![key.escrow_id, key.attempt, key.step.as_str(), key.role.as_str(), error],
    )?;
    Ok(())
}

/// The highest attempt number used by `step` rows of this escrow (0 if none).
///
/// # Errors
/// SQLite errors.
pub fn max_attempt(conn: &Connection, escrow_id: i64, step: Step) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT coalesce(max(attempt), 0) FROM escrow_steps WHERE escrow_id = ?1 AND step = ?2",
        params![escrow_id, step.as_str()],
        |r| r.get(0),
    )
}

/// A refused payout step: why the co-signer would not sign (see [`refused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRefusalRow {
    /// The payout attempt whose set was refused.
    pub attempt: u32,
    /// The co-signer that refused.
    pub role: Actor,
    /// The stable reason.
    pub reason: RefusalReason,
    /// The explanation (addresses and amounts, never a secret).
    pub detail: String,
    /// When it was refused (Unix s).
    pub refused_at: i64,
}

/// Records that the co-signer refused to sign the set of step `key` (status `refused`, `reason`
/// and the explanation `detail`) at `now` (Unix s). Nothing is signed after this: the payout of
/// the escrow waits for an operator ([`payout_refusal`]).
///
/// # Errors
/// SQLite errors.
pub fn refused(
    conn: &Connection,
    key: &StepKey,
    reason: RefusalReason,
    detail: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, refusal, last_error, tries, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)
         ON CONFLICT (escrow_id, attempt, step, role) DO UPDATE SET status = ?5, refusal = ?6, last_error = ?7, result = NULL, finished_at = ?8",
        params![key.escrow_id, key.attempt, key.step.as_str(), key.role.as_str(), StepStatus::Refused, reason.as_str(), detail, now],
    )?;
    Ok(())
}

/// The latest refused payout step of the escrow, if any: while there is one, the escrow's payout
/// is blocked (the orchestrator skips it and the API shows `blocked_reason`).
///
/// # Errors
/// SQLite errors; a stored reason that is not a [`RefusalReason`] label.
pub fn payout_refusal(
    conn: &Connection,
    escrow_id: i64,
) -> rusqlite::Result<Option<PayoutRefusalRow>> {
    conn.prepare_cached(
        "SELECT attempt, role, refusal, coalesce(last_error, ''), coalesce(finished_at, started_at) FROM escrow_steps
         WHERE escrow_id = ?1 AND status = ?2 ORDER BY attempt DESC, id DESC LIMIT 1",
    )?
    .query_row(params![escrow_id, StepStatus::Refused], |r| {
        Ok(PayoutRefusalRow {
            attempt: r.get(0)?,
            role: label(r, 1)?,
            reason: label(r, 2)?,
            detail: r.get(3)?,
            refused_at: r.get(4)?,
        })
    })
    .optional()
}

/// Column `index` of `row` parsed from its stored label.
fn label<T>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = escrow_core::ParseLabelError>,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::db::escrows::pending_ids;
    use crate::db::migrations::{MIGRATIONS, migrate};

    /// A schema at version 3 with two releasing escrows (1, 2) and step rows on escrow 1
    /// (foreign keys off: no users or orders needed).
    fn v3_with_rows() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
        for script in &MIGRATIONS[..3] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO escrows (id, order_id, state, amount_atomic, required_confirmations, funding_window_secs, record, created_at, updated_at)
             VALUES (1, 1, 'releasing', 5, 1, 60, '', 0, 0), (2, 2, 'releasing', 5, 1, 60, '', 0, 0);
             INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, result, tries, started_at, finished_at)
             VALUES (1, 1, 'make', 'buyer', 'done', 'info', 1, 10, 11), (1, 1, 'payout_build', 'vendor', 'started', NULL, 2, 20, NULL);",
        )
        .unwrap();
        conn
    }

    fn key(step: Step, role: Actor) -> StepKey {
        StepKey {
            escrow_id: 1,
            attempt: 1,
            step,
            role,
        }
    }

    #[test]
    fn migration_4_keeps_rows_and_a_refusal_blocks_the_escrow() {
        let mut conn = v3_with_rows();
        migrate(&mut conn).unwrap();
        let make = get(&conn, &key(Step::Setup(SetupStage::Make), Actor::Buyer))
            .unwrap()
            .unwrap();
        assert_eq!((make.status, make.tries), (StepStatus::Done, 1));
        assert_eq!(make.result.unwrap().expose(), "info");
        assert_eq!(payout_refusal(&conn, 1).unwrap(), None);
        assert_eq!(pending_ids(&conn).unwrap(), vec![1, 2]);

        let signed = key(Step::PayoutSigned, Actor::Buyer);
        refused(
            &conn,
            &signed,
            RefusalReason::FeeTooHigh,
            "fee above the limit",
            30,
        )
        .unwrap();
        let row = get(&conn, &signed).unwrap().unwrap();
        assert_eq!((row.status, row.result), (StepStatus::Refused, None));
        let refusal = payout_refusal(&conn, 1).unwrap().unwrap();
        assert_eq!(
            refusal,
            PayoutRefusalRow {
                attempt: 1,
                role: Actor::Buyer,
                reason: RefusalReason::FeeTooHigh,
                detail: "fee above the limit".into(),
                refused_at: 30,
            }
        );
        // The orchestrator no longer picks the escrow up; `started` leaves the refusal alone.
        assert_eq!(pending_ids(&conn).unwrap(), vec![2]);
        started(&conn, &signed, 40).unwrap();
        assert_eq!(
            get(&conn, &signed).unwrap().unwrap().status,
            StepStatus::Refused
        );
    }

    #[test]
    fn a_refused_row_needs_its_reason_and_an_unknown_reason_is_an_error() {
        let mut conn = v3_with_rows();
        migrate(&mut conn).unwrap();
        let err = conn.execute(
            "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, started_at) VALUES (1, 2, 'payout_signed', 'buyer', 'refused', 0)",
            [],
        );
        assert!(err.is_err(), "refused without a reason must be rejected");
        conn.execute(
            "INSERT INTO escrow_steps (escrow_id, attempt, step, role, status, refusal, started_at) VALUES (1, 2, 'payout_signed', 'buyer', 'refused', 'bogus', 0)",
            [],
        )
        .unwrap();
        assert!(payout_refusal(&conn, 1).is_err());
    }
}
