//! `backup verify`: which backups to check, and checking one: its signature first, then the
//! rest (see [`crate::verify`]).

use std::collections::BTreeMap;

use crate::crypto::Identities;
use crate::error::{BackupError, error_chain};
use crate::manifest::{BackupId, Series};
use crate::progress::{Progress, transfer};
use crate::signing::{TrustedKeys, authenticate};
use crate::store::{BackupDir, IncompleteBackup, LocalBackup};
use crate::verify::{VerifyOutcome, record_outcome, verify_backup};

/// Which backups to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifySelection<'a> {
    /// The backup with this id.
    One(&'a BackupId),
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
    id: &BackupId,
) -> Result<LocalBackup, BackupError> {
    if let Some(b) = complete.iter().find(|b| &b.manifest.id == id) {
        return Ok(b.clone());
    }
    match incomplete.iter().find(|b| b.names(id)) {
        Some(bad) => Err(BackupError::Incomplete {
            id: id.to_string(),
            reason: bad.reason.clone(),
        }),
        None => Err(BackupError::NotFound(id.to_string())),
    }
}

/// The age identities that decrypt backups and the keys one of which must have signed them.
#[derive(Debug, Clone, Copy)]
pub struct VerifyKeys<'a> {
    /// Decrypt the data files.
    pub identities: &'a Identities,
    /// Verify the manifests' signatures.
    pub trusted: &'a TrustedKeys,
}

/// Verifies one backup (shown as the transfer "verify <id>"): its signature, then everything
/// [`verify_backup`] checks, and records the result next to it. A backup that no trusted key
/// signed fails without being decrypted. A failed check is an outcome, not an error.
pub fn verify_one(
    dir: &BackupDir,
    backup: &LocalBackup,
    keys: VerifyKeys<'_>,
    progress: &dyn Progress,
) -> VerifyOutcome {
    let label = format!("verify {}", backup.manifest.id);
    transfer(progress, &label, None, |_| {
        let authentic = match authenticate(backup, keys.trusted) {
            Ok(authentic) => authentic,
            Err(e) => {
                let outcome = VerifyOutcome {
                    id: backup.manifest.id.clone(),
                    ok: false,
                    detail: error_chain(&e),
                    checks: Vec::new(),
                    chain_break: None,
                };
                record_outcome(dir, &outcome);
                return outcome;
            }
        };
        tokio::task::block_in_place(|| {
            verify_backup(dir, &authentic, keys.identities, keys.trusted)
        })
    })
}
