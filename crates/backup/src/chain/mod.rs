//! Incremental database backups: chains of one full backup (the base) and deltas, each delta
//! holding only the pages that changed since its parent, read from one consistent read
//! transaction like a full backup.
//!
//! - [`create`]: the next link (full or delta, by [`ChainPolicy`]), kill -9 safe.
//! - [`index`]: the local page index (cipher tags and page digests of the chain's head) and the
//!   chain lock.
//! - `scan`: the candidate pages of a delta, found from the ciphertext and the WAL's frame
//!   headers without decrypting; `read`: the read transaction that reads them; `rows`: a
//!   full backup's row counts from the b-tree pages it streams.
//! - `tap`: the pages split into digests, the page-list hash and what is written.
//! - [`resolve`]: a backup's chain, every link authenticated, and the newest good point when a
//!   link is missing or bad.
//! - [`rpo`]: the achieved RPO of the chain (newest restorable point, largest gap), for drills.
//! - [`apply`]: rebuilding any point of a chain into a new SQLCipher file, checked link by link.
//!
//! A delta's plaintext is a sequence of records `page number (u32, big-endian) || page` in
//! increasing page order (docs/BACKUP.md, "Incremental backups").

pub mod apply;
pub mod create;
pub mod index;
pub(crate) mod read;
pub mod resolve;
pub(crate) mod rows;
pub mod rpo;
pub(crate) mod scan;
pub(crate) mod tap;

use std::time::Duration;

use serde::Serialize;

pub use create::FAULT_PAUSE_ENV;

use crate::store::LocalBackup;

/// What one `backup db` did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DbBackupOutcome {
    /// A new full backup or delta, complete in the backup directory.
    Written(LocalBackup),
    /// Nothing changed since the chain's head (the same page stream hash): no data file, no
    /// signature and no manifest were written. The head (given) still protects the data, so
    /// this counts as a fresh backup.
    Unchanged(LocalBackup),
}

impl DbBackupOutcome {
    /// The new backup, or the unchanged head.
    pub fn backup(&self) -> &LocalBackup {
        match self {
            DbBackupOutcome::Written(b) | DbBackupOutcome::Unchanged(b) => b,
        }
    }

    /// The new backup, or the unchanged head.
    pub fn into_backup(self) -> LocalBackup {
        match self {
            DbBackupOutcome::Written(b) | DbBackupOutcome::Unchanged(b) => b,
        }
    }
}

/// Whether `backup db` writes a standalone full backup or extends the directory's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMode {
    /// A full backup outside any chain (no page index is read or written).
    Standalone,
    /// The next link of the chain: a delta, or a full backup when the policy asks for one.
    Chained(ChainPolicy),
}

/// When a chained backup starts a new chain with a full backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPolicy {
    /// A full backup is written once the chain's base is this old (seconds in the CLI).
    pub full_every: Duration,
    /// ... or once the chain has this many deltas (bounds the work of a restore).
    pub max_depth: u32,
}

/// Deltas a chain holds at most by default: a day of one-minute backups.
pub const DEFAULT_MAX_DEPTH: u32 = 1440;

/// Parses an interval: a whole number with `s`, `m`, `h` or `d` (seconds without a unit),
/// at least one second: `90s`, `15m`, `24h`, `7d`, `3600`.
///
/// # Errors
/// A message saying what is expected.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!("{text:?} is not an interval: use a whole number with s, m, h or d, e.g. 24h")
        })?;
    Ok(Duration::from_secs(seconds))
}

/// Parses the time of `restore db --at`: RFC 3339, e.g. `2026-11-21T19:30:00Z`.
///
/// # Errors
/// A message saying what is expected.
pub fn parse_at(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2026-11-21T19:30:00Z: {e}"))
}

/// What is wrong with a chain link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LinkProblem {
    /// Its manifest or data file is not in the backup directory (or is incomplete).
    Missing(String),
    /// It is there but does not check out: signature, checksum, decryption, its page stream
    /// after applying, or its place in the chain.
    Corrupt(String),
}

impl std::fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkProblem::Missing(reason) => write!(f, "is missing ({reason})"),
            LinkProblem::Corrupt(reason) => write!(f, "is bad ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_refuse_anything_else() {
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_interval("3600"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "0",
            "0h",
            "h",
            "1.5h",
            "-1h",
            "10w",
            "24 h",
            "99999999999999999999d",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }
}
