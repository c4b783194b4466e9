//! Backup ids ([`BackupId`], made by [`new_id`]) and the selector a command names a backup with
//! ([`Selector`]). Ids become file names and S3 keys, so each one is checked against the id
//! pattern when it is parsed (from a manifest, an S3 listing or the command line).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::BackupError;
use super::manifest::Series;

/// A backup id: `<series>-<YYYYMMDDTHHMMSSZ>-<6 lowercase hex>`, e.g.
/// `db-20261121T193000Z-a1b2c3` or `wallets-buyer-20261121T020000Z-0f1e2d`.
///
/// Ids become file names (`<id>.json`, `<id>.manifest.sig`, `<id>.verified.json`, scratch
/// directories) and S3 keys, so the only way to get one is [`BackupId::parse`] (also used by
/// serde) or [`new_id`]: parent-directory parts, absolute paths, an empty string or any
/// other character are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupId(String);

impl BackupId {
    /// Checks `text` against the id pattern.
    ///
    /// # Errors
    /// [`BackupError::InvalidId`] naming what is wrong.
    pub fn parse(text: &str) -> Result<BackupId, BackupError> {
        let invalid = |reason: &str| BackupError::InvalidId {
            id: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = text.rsplitn(3, '-');
        let (Some(suffix), Some(stamp), Some(series)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected <series>-<YYYYMMDDTHHMMSSZ>-<6 hex>"));
        };
        if !Series::with_ids().any(|s| s.to_string() == series) {
            return Err(invalid(
                "the series must be db, wallets-buyer, wallets-vendor, wallets-arbiter or tor",
            ));
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let stamp_ok = stamp.len() == 16
            && digits(&stamp[..8])
            && stamp.as_bytes()[8] == b'T'
            && digits(&stamp[9..15])
            && stamp.as_bytes()[15] == b'Z';
        if !stamp_ok {
            return Err(invalid("the time must be YYYYMMDDTHHMMSSZ"));
        }
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if suffix.len() != 6 || !suffix.bytes().all(hex) {
            return Err(invalid("it must end with 6 lowercase hex characters"));
        }
        Ok(BackupId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The series named by the id's prefix.
    pub fn series(&self) -> Series {
        Series::with_ids()
            .find(|s| {
                self.0
                    .strip_prefix(&s.to_string())
                    .is_some_and(|rest| rest.len() == 24)
            })
            .expect("a parsed id starts with a series")
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BackupId {
    type Error = BackupError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        BackupId::parse(&text)
    }
}

impl From<BackupId> for String {
    fn from(id: BackupId) -> String {
        id.0
    }
}

impl PartialEq<str> for BackupId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for BackupId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Which backup a command names: the newest of its kind, or one id (checked against the id
/// pattern before it is looked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The newest complete backup of the series.
    Latest,
    /// This backup.
    Id(BackupId),
    /// The newest complete backup of the series taken at or before this time (`--at`).
    At(OffsetDateTime),
}

impl Selector {
    /// Parses "latest" or a backup id.
    ///
    /// # Errors
    /// [`BackupError::InvalidId`] for anything else.
    pub fn parse(text: &str) -> Result<Selector, BackupError> {
        match text {
            "latest" => Ok(Selector::Latest),
            id => BackupId::parse(id).map(Selector::Id),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Latest => f.write_str("latest"),
            Selector::Id(id) => id.fmt(f),
            Selector::At(at) => write!(f, "the newest at or before {at}"),
        }
    }
}

/// Makes a new backup id for a series at `now`: `db-20261121T193000Z-a1b2c3`.
pub fn new_id(series: Series, now: OffsetDateTime) -> BackupId {
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let suffix: [u8; 3] = rand::random();
    BackupId(format!("{series}-{stamp}-{}", hex::encode(suffix)))
}
