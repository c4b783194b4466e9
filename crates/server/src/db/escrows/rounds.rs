//! The non-custodial round tables: `escrow_round_phases` (when each phase of rounds began, and
//! a payout's signing pair) and `escrow_round_submissions` (every accepted round output, in
//! arrival order). escrow-core's `Rounds` is rebuilt from them by replaying the submissions
//! ([`crate::escrow::rounds`]). Payloads are round outputs the protocol relays (multisig_info,
//! addresses, sync info, txsets), read back as redacted [`StepOutput`]s.

use escrow_core::Actor;
use rusqlite::{Connection, OptionalExtension, params};

use super::steps::StepOutput;

/// The phase a round belongs to. Labels: `setup`, `payout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// The multisig setup rounds (before funding).
    Setup,
    /// The payout rounds (after funding).
    Payout,
}

impl PhaseKind {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Setup => "setup",
            PhaseKind::Payout => "payout",
        }
    }

    fn parse(label: &str) -> rusqlite::Result<PhaseKind> {
        match label {
            "setup" => Ok(PhaseKind::Setup),
            "payout" => Ok(PhaseKind::Payout),
            other => Err(rusqlite::Error::InvalidColumnType(
                0,
                format!("round phase {other}"),
                rusqlite::types::Type::Text,
            )),
        }
    }
}

/// One phase of rounds of an escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRow {
    /// Setup or payout.
    pub phase: PhaseKind,
    /// 1-based, per escrow and phase.
    pub attempt: u32,
    /// A payout's signing pair as stored by the orchestrator (JSON), `None` for setup.
    pub signing: Option<String>,
    /// When the phase's first round began (Unix s).
    pub started_at: i64,
}

/// One accepted submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRow {
    /// escrow-core `Round` label.
    pub round: String,
    /// Who submitted.
    pub actor: Actor,
    /// The round output.
    pub payload: StepOutput,
    /// When it was accepted (Unix s).
    pub submitted_at: i64,
}

/// Opens the next attempt of `phase` for escrow `escrow_id`, starting at `now` (Unix s).
///
/// # Errors
/// SQLite errors.
pub fn open_phase(
    conn: &Connection,
    escrow_id: i64,
    phase: PhaseKind,
    signing: Option<&str>,
    now: i64,
) -> rusqlite::Result<u32> {
    let attempt: u32 = conn.query_row(
        "SELECT coalesce(max(attempt), 0) + 1 FROM escrow_round_phases WHERE escrow_id = ?1 AND phase = ?2",
        params![escrow_id, phase.as_str()],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO escrow_round_phases (escrow_id, phase, attempt, signing, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![escrow_id, phase.as_str(), attempt, signing, now],
    )?;
    Ok(attempt)
}

/// The escrow's current phase: the latest payout attempt, else the latest setup attempt.
///
/// # Errors
/// SQLite errors.
pub fn current_phase(conn: &Connection, escrow_id: i64) -> rusqlite::Result<Option<PhaseRow>> {
    conn.prepare_cached(
        "SELECT phase, attempt, signing, started_at FROM escrow_round_phases WHERE escrow_id = ?1
         ORDER BY phase = 'payout' DESC, attempt DESC LIMIT 1",
    )?
    .query_row([escrow_id], |r| {
        Ok(PhaseRow {
            phase: PhaseKind::parse(&r.get::<_, String>(0)?)?,
            attempt: r.get(1)?,
            signing: r.get(2)?,
            started_at: r.get(3)?,
        })
    })
    .optional()
}

/// The submissions of one phase attempt, in arrival order.
///
/// # Errors
/// SQLite errors, or a stored actor label that is not a participant.
pub fn submissions(
    conn: &Connection,
    escrow_id: i64,
    phase: &PhaseRow,
) -> rusqlite::Result<Vec<SubmissionRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT round, actor, payload, submitted_at FROM escrow_round_submissions
         WHERE escrow_id = ?1 AND phase = ?2 AND attempt = ?3 ORDER BY id",
    )?;
    stmt.query_map(
        params![escrow_id, phase.phase.as_str(), phase.attempt],
        |r| {
            Ok(SubmissionRow {
                round: r.get(0)?,
                actor: super::super::label(r, 1)?,
                payload: StepOutput::new(r.get(2)?),
                submitted_at: r.get(3)?,
            })
        },
    )?
    .collect()
}

/// Stores an accepted submission of `phase` (checked by escrow-core's `Rounds` first); a second
/// one for the same round and actor fails on the table's unique key.
///
/// # Errors
/// SQLite errors.
pub fn insert(
    conn: &Connection,
    escrow_id: i64,
    phase: &PhaseRow,
    submission: &SubmissionRow,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO escrow_round_submissions (escrow_id, phase, attempt, round, actor, payload, submitted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            escrow_id,
            phase.phase.as_str(),
            phase.attempt,
            submission.round,
            submission.actor.as_str(),
            submission.payload.expose(),
            submission.submitted_at,
        ],
    )?;
    Ok(())
}
