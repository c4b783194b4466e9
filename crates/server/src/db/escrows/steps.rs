//! `escrow_steps`: the intent (`started`, written before a wallet-rpc call) and the result (`done`,
//! written right after) of every orchestrator step, so a restart resumes instead of repeating or
//! losing work. One row per escrow, attempt, step and role.

use escrow_core::Actor;
use escrow_core::escrow::SetupStage;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

/// Which step a row records (`escrow_steps.step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A multisig setup round (`prepare`, `make`, `exchange_round_1`, `exchange_round_2`); result:
    /// the participant's multisig_info, or the shared address after the last round.
    Setup(SetupStage),
    /// `payout_build`: the initiator's half-signed sweep (multisig_txset).
    PayoutBuild,
    /// `payout_signed`: the co-signed txset and its tx hashes (JSON), stored with
    /// `payout_prepared`.
    PayoutSigned,
    /// `payout_submit`: the relayed tx hashes, comma-separated.
    PayoutSubmit,
}

impl Step {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Setup(stage) => stage.as_str(),
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
}

impl StepStatus {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            StepStatus::Started => "started",
            StepStatus::Done => "done",
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
