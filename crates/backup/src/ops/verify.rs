//! `backup verify`: which backups to check, and checking one (see [`crate::verify`]).

use std::collections::BTreeMap;

use crate::crypto::Identities;
use crate::error::BackupError;
use crate::manifest::{Manifest, Series};
use crate::progress::{Progress, transfer};
use crate::store::{BackupDir, IncompleteBackup, LocalBackup};
use crate::verify::{VerifyOutcome, verify_backup};

/// Which backups to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifySelection<'a> {
    /// The backup with this id.
    One(&'a str),
    /// Every complete backup.
    All,
    /// The newest complete backup of each series.
    NewestOfEachSeries,
}

/// The backups to verify, and the incomplete ones the operator should hear about.
#[derive(Debug, Clone)]
pub struct VerifyPlan {
    /// Complete backups to verify, oldest first.
    pub targets: Vec<LocalBackup>,
    /// Incomplete backups found while choosing the newest of each series (empty otherwise).
    pub incomplete: Vec<IncompleteBackup>,
}

/// Chooses the backups to verify.
///
/// # Errors
/// [`BackupError::Incomplete`] / [`BackupError::NotFound`] for an id that is incomplete or
/// unknown, [`BackupError::NothingToVerify`] when no complete backup is selected.
pub fn plan_verify(
    dir: &BackupDir,
    selection: VerifySelection<'_>,
) -> Result<VerifyPlan, BackupError> {
    let (complete, incomplete) = dir.scan()?;
    let (targets, incomplete) = match selection {
        VerifySelection::One(id) => (vec![one(&complete, &incomplete, id)?], Vec::new()),
        VerifySelection::All => (complete, Vec::new()),
        VerifySelection::NewestOfEachSeries => {
            let mut newest: BTreeMap<Series, LocalBackup> = BTreeMap::new();
            for b in complete {
                newest.insert(b.manifest.series(), b);
            }
            (newest.into_values().collect(), incomplete)
        }
    };
    if targets.is_empty() {
        return Err(BackupError::NothingToVerify {
            dir: dir.path().to_owned(),
        });
    }
    Ok(VerifyPlan {
        targets,
        incomplete,
    })
}

fn one(
    complete: &[LocalBackup],
    incomplete: &[IncompleteBackup],
    id: &str,
) -> Result<LocalBackup, BackupError> {
    if let Some(b) = complete.iter().find(|b| b.manifest.id == id) {
        return Ok(b.clone());
    }
    match incomplete.iter().find(|b| {
        b.manifest_path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == Manifest::file_name(id))
    }) {
        Some(bad) => Err(BackupError::Incomplete {
            id: id.to_owned(),
            reason: bad.reason.clone(),
        }),
        None => Err(BackupError::NotFound(id.to_owned())),
    }
}

/// Verifies one backup (shown as the transfer "verify <id>") and records the result next to
/// it. A failed check is an outcome, not an error.
pub fn verify_one(
    dir: &BackupDir,
    backup: &LocalBackup,
    identities: &Identities,
    progress: &dyn Progress,
) -> VerifyOutcome {
    let label = format!("verify {}", backup.manifest.id);
    transfer(progress, &label, None, |_| {
        tokio::task::block_in_place(|| verify_backup(dir, backup, identities))
    })
}
