//! `backup prune`: the retention plan of [`crate::retention`] applied to the local directory
//! and to the S3 bucket.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeStruct;

use super::list::Location;
use crate::error::BackupError;
use crate::manifest::Manifest;
use crate::pre_restore;
use crate::retention::{Candidate, KeepReason, Policy, keep_chains, select_by_series};
use crate::s3::{Offsite, S3Config};
use crate::store::BackupDir;

/// Whether the plan is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneMode {
    /// Only compute the plan; delete nothing.
    DryRun,
    /// Delete what the plan removes, and the leftovers of interrupted runs.
    Delete,
}

/// What `backup prune` does.
#[derive(Debug, Clone, Copy)]
pub struct PruneRequest<'a> {
    /// The local backup directory.
    pub dir: &'a BackupDir,
    /// How many backups of each series to keep.
    pub policy: Policy,
    /// Dry run or delete.
    pub mode: PruneMode,
    /// The bucket to prune too; `None` for the local directory only.
    pub offsite: Option<&'a S3Config>,
    /// The pre-restore copies of this database to prune too; `None` to leave them alone.
    pub pre_restore: Option<PreRestoreRetention<'a>>,
}

/// Retention of the pre-restore copies `restore db` keeps next to the live database.
#[derive(Debug, Clone, Copy)]
pub struct PreRestoreRetention<'a> {
    /// The live database file (its copies are `<db>.pre-restore-<stamp>` beside it).
    pub live_db: &'a Path,
    /// How many copies to keep, newest first (at least 1: the newest is the way back from the
    /// last restore).
    pub keep: u32,
}

impl PreRestoreRetention<'_> {
    /// A retention of 0 copies is refused: the newest is the way back from the last restore.
    ///
    /// # Errors
    /// [`BackupError::InvalidRequest`] when `keep` is 0.
    fn check(&self) -> Result<(), BackupError> {
        match self.keep {
            0 => Err(BackupError::InvalidRequest(
                "keep at least 1 pre-restore copy (--keep-pre-restore / MMKT_BACKUP_KEEP_PRE_RESTORE): the newest is the way back from the last restore".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The series name of pre-restore copies in a [`PruneEntry`].
pub const PRE_RESTORE_KIND: &str = "pre-restore";

/// The decision for one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PruneAction {
    /// Kept, for these reasons.
    Keep(Vec<KeepReason>),
    /// Removed (or, in a dry run, would be).
    Remove,
}

/// One backup (or pre-restore copy) of the plan. Serialized as `{location, id, kind,
/// action: "keep"|"remove", reasons}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneEntry {
    /// Where the backup is.
    pub location: Location,
    /// Backup id; for a pre-restore copy, its file name.
    pub id: String,
    /// Its series ("db", "wallets-buyer", ..., or [`PRE_RESTORE_KIND`]).
    pub kind: String,
    /// Keep or remove.
    pub action: PruneAction,
}

impl Serialize for PruneEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (action, reasons): (&str, &[KeepReason]) = match &self.action {
            PruneAction::Keep(reasons) => ("keep", reasons),
            PruneAction::Remove => ("remove", &[]),
        };
        let mut s = serializer.serialize_struct("PruneEntry", 5)?;
        s.serialize_field("location", &self.location)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("action", action)?;
        s.serialize_field("reasons", reasons)?;
        s.end()
    }
}

/// What happened on the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsitePrune {
    /// No bucket was configured or asked for.
    NotConfigured,
    /// The bucket was listed and its plan applied (or, in a dry run, computed).
    Pruned,
    /// The bucket could not be listed; the local pruning was done.
    Failed {
        /// The S3 error.
        reason: String,
    },
}

/// The retention plan and what was done.
#[derive(Debug, Clone)]
pub struct PrunePlan {
    /// Every backup, local ones first, by series, kept ones first (newest first).
    pub entries: Vec<PruneEntry>,
    /// Leftovers of interrupted runs that were removed.
    pub leftovers_removed: Vec<PathBuf>,
    /// The bucket's part.
    pub offsite: OffsitePrune,
}

impl PrunePlan {
    /// Entries removed (or, in a dry run, to be removed).
    pub fn removed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.action == PruneAction::Remove)
            .count()
    }
}

fn plan<'a>(
    location: Location,
    policy: &Policy,
    manifests: impl Iterator<Item = &'a Manifest>,
    verified: &BTreeSet<String>,
) -> Vec<PruneEntry> {
    let mut parents = BTreeMap::new();
    let items = manifests.map(|m| {
        if let Some(link) = m.chain_link() {
            parents.insert(m.id.to_string(), link.parent.to_string());
        }
        let candidate = Candidate {
            id: m.id.to_string(),
            created_at: m.created_at,
            verified: verified.contains(m.id.as_str()),
        };
        (m.series(), candidate)
    });
    let decisions = select_by_series(policy, items);
    let mut entries = Vec::new();
    for (series, decision) in decisions {
        let decision = keep_chains(decision, &parents);
        let entry = |id: String, action: PruneAction| PruneEntry {
            location,
            id,
            kind: series.to_string(),
            action,
        };
        for (id, reasons) in decision.keep {
            entries.push(entry(id, PruneAction::Keep(reasons)));
        }
        for id in decision.remove {
            entries.push(entry(id, PruneAction::Remove));
        }
    }
    entries
}

fn removals(entries: &[PruneEntry]) -> impl Iterator<Item = &str> {
    entries
        .iter()
        .filter(|e| e.action == PruneAction::Remove)
        .map(|e| e.id.as_str())
}

/// The plan for the pre-restore copies (keep the newest `keep`) and, unless dry-running, the
/// removal of the others.
///
/// # Errors
/// [`BackupError::Io`] when the directory cannot be read or a copy cannot be removed.
fn prune_pre_restore(
    retention: &PreRestoreRetention<'_>,
    mode: PruneMode,
) -> Result<Vec<PruneEntry>, BackupError> {
    let plan = pre_restore::plan(pre_restore::list(retention.live_db)?, retention.keep);
    if mode == PruneMode::Delete {
        for copy in &plan.remove {
            pre_restore::remove(copy)?;
        }
    }
    let entry = |copy: &pre_restore::PreRestoreCopy, action| PruneEntry {
        location: Location::Local,
        id: copy.name(),
        kind: PRE_RESTORE_KIND.into(),
        action,
    };
    let kept = plan
        .keep
        .iter()
        .map(|c| entry(c, PruneAction::Keep(vec![KeepReason::Last])));
    let removed = plan.remove.iter().map(|c| entry(c, PruneAction::Remove));
    Ok(kept.chain(removed).collect())
}

/// Plans retention per series (never removing the newest, nor the newest verified, backup of
/// a series; "verified" comes from the local verification records) and, unless dry-running,
/// deletes locally, removes leftovers of interrupted runs, then deletes on S3. With
/// [`PruneRequest::pre_restore`], the pre-restore copies beyond the newest N are removed too
/// (and listed, kind [`PRE_RESTORE_KIND`], after the local backups).
///
/// # Errors
/// [`BackupError::InvalidRequest`] for a pre-restore retention of 0 (nothing is removed
/// then); [`BackupError::Io`] when a local file cannot be removed; [`BackupError::Context`]
/// ("cannot delete <id> from S3") when an S3 delete fails. A bucket that cannot be listed is
/// [`OffsitePrune::Failed`], not an error.
pub async fn prune(req: &PruneRequest<'_>) -> Result<PrunePlan, BackupError> {
    if let Some(retention) = &req.pre_restore {
        retention.check()?;
    }
    let local = req.dir.list()?;
    let verified: BTreeSet<String> = local
        .iter()
        .filter(|b| b.verification.as_ref().is_some_and(|v| v.ok))
        .map(|b| b.manifest.id.to_string())
        .collect();
    let mut entries = plan(
        Location::Local,
        &req.policy,
        local.iter().map(|b| &b.manifest),
        &verified,
    );
    let mut leftovers_removed = Vec::new();
    if req.mode == PruneMode::Delete {
        for id in removals(&entries) {
            if let Some(backup) = local.iter().find(|b| b.manifest.id == id) {
                req.dir.remove(backup)?;
            }
        }
        leftovers_removed = req.dir.remove_stale_temp_files()?;
    }
    if let Some(retention) = &req.pre_restore {
        entries.extend(prune_pre_restore(retention, req.mode)?);
    }
    let Some(config) = req.offsite else {
        return Ok(PrunePlan {
            entries,
            leftovers_removed,
            offsite: OffsitePrune::NotConfigured,
        });
    };
    let offsite = Offsite::connect(config.clone()).await;
    let remote = match offsite.list().await {
        Ok(remote) => remote,
        Err(e) => {
            return Ok(PrunePlan {
                entries,
                leftovers_removed,
                offsite: OffsitePrune::Failed {
                    reason: e.to_string(),
                },
            });
        }
    };
    let remote_plan = plan(
        Location::S3,
        &req.policy,
        remote.iter().map(|r| &r.manifest),
        &verified,
    );
    if req.mode == PruneMode::Delete {
        for id in removals(&remote_plan) {
            let Some(r) = remote.iter().find(|r| r.manifest.id == id) else {
                continue;
            };
            offsite
                .delete(r)
                .await
                .map_err(|e| BackupError::from(e).context(format!("cannot delete {id} from S3")))?;
        }
    }
    entries.extend(remote_plan);
    Ok(PrunePlan {
        entries,
        leftovers_removed,
        offsite: OffsitePrune::Pruned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_serialize_as_action_and_reasons() {
        let entry = |action| PruneEntry {
            location: Location::S3,
            id: "db-1".into(),
            kind: "db".into(),
            action,
        };
        let kept = serde_json::to_value(entry(PruneAction::Keep(vec![
            KeepReason::Last,
            KeepReason::NewestVerified,
        ])))
        .unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"location": "s3", "id": "db-1", "kind": "db", "action": "keep",
                "reasons": ["last", "newest-verified"]})
        );
        let removed = serde_json::to_value(entry(PruneAction::Remove)).unwrap();
        assert_eq!(removed["action"], "remove");
        assert_eq!(removed["reasons"], serde_json::json!([]));
    }
}
