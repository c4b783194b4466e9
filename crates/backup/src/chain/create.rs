//! `backup db` as the next link of the chain: a delta of the pages that changed since the
//! chain's head (found with the page index), or a full backup when there is no usable head or
//! the chain's base is older than the policy allows.

use std::time::Duration;

use time::OffsetDateTime;

use super::ChainPolicy;
use super::DbBackupOutcome;
use super::index::{ChainLock, IndexKey, PageIndex};
use crate::db::{DbBackupRequest, Link, LinkPlan, ParentLink, write_db_backup};
use crate::error::BackupError;
use crate::store::BackupDir;

/// Environment variable naming a fault-injection point at which `backup db` stops and waits
/// to be killed (tests of kill -9 safety only; production never sets it). Points, in order:
/// `data-written` (data in its temp file), `data-renamed` (data file in place, no manifest),
/// `signature-written` (signature but no manifest), `manifest-written` (backup complete, the
/// page index not yet updated).
pub const FAULT_PAUSE_ENV: &str = "MMKT_BACKUP_FAULT_PAUSE";

/// Stops forever at `point` when [`FAULT_PAUSE_ENV`] names it, after saying so on stderr.
pub(crate) fn fault_point(point: &str) {
    if std::env::var(FAULT_PAUSE_ENV).is_ok_and(|p| p == point) {
        eprintln!("fault injection: paused at {point}");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Writes the next link of the chain in `req.dir` (see the module docs), then records its
/// page hashes as the new index. The manifest is the commit point: a run killed before it
/// leaves the chain as it was; one killed after it but before the index is written leaves an
/// index naming the previous head, so the next delta branches from there (still correct).
///
/// Nothing is written when no page changed since the head ([`DbBackupOutcome::Unchanged`]).
///
/// # Errors
/// [`BackupError::ChainBusy`] while another chained backup runs, and those of
/// [`crate::db::backup_db`].
pub(crate) fn backup_chained(
    req: &DbBackupRequest<'_>,
    policy: ChainPolicy,
) -> Result<DbBackupOutcome, BackupError> {
    let _lock = ChainLock::acquire(req.dir)?;
    let key = IndexKey::derive(req.key);
    let parent = PageIndex::load(req.dir, &key)
        .and_then(|index| parent_link(req.dir, index, policy, OffsetDateTime::now_utc()));
    let plan = LinkPlan {
        index_key: Some(key.clone()),
        parent,
    };
    let head = plan.parent.as_ref().map(|p| p.id.clone());
    let (backup, report) = match write_db_backup(req, &plan)? {
        Link::Written(backup, report) => (*backup, report),
        Link::Unchanged => return unchanged_head(req.dir, head),
    };
    fault_point("manifest-written");
    let page_size = backup
        .manifest
        .db
        .as_ref()
        .map(|d| d.snapshot.page_size)
        .unwrap_or(0);
    let index = PageIndex {
        head: backup.manifest.id.clone(),
        page_size,
        stream_sha256: report.stream_sha256,
        hashes: report.hashes,
    };
    if let Err(e) = index.store(req.dir, &key) {
        tracing::warn!(
            "could not update the page index: {e}; the next delta branches from the previous head"
        );
    }
    Ok(DbBackupOutcome::Written(backup))
}

/// The head an unchanged run leaves in place.
fn unchanged_head(
    dir: &BackupDir,
    head: Option<crate::manifest::BackupId>,
) -> Result<DbBackupOutcome, BackupError> {
    let head = head.and_then(|id| dir.list().ok()?.into_iter().find(|b| b.manifest.id == id));
    head.map(DbBackupOutcome::Unchanged).ok_or_else(|| {
        BackupError::InvalidRequest(
            "the chain's head vanished during the backup; run it again".into(),
        )
    })
}

/// The head the next delta can apply to: the index's backup, complete in `dir`, with the
/// same page stream hash and page size as the index, whose chain's base is younger than
/// `policy.full_every` at `now`. `None` means "write a full backup".
fn parent_link(
    dir: &BackupDir,
    index: PageIndex,
    policy: ChainPolicy,
    now: OffsetDateTime,
) -> Option<ParentLink> {
    let backups = dir.list().ok()?;
    let head = backups.iter().find(|b| b.manifest.id == index.head)?;
    let details = head.manifest.db.as_ref()?;
    let matches = details.page_stream_sha256.as_deref() == Some(index.stream_sha256.as_str())
        && details.snapshot.page_size == index.page_size
        && details.snapshot.page_count == index.hashes.len() as u64;
    if !matches {
        return None;
    }
    let (base_id, depth) = match &details.chain {
        None => (head.manifest.id.clone(), 1),
        Some(link) => (link.base.clone(), link.depth.checked_add(1)?),
    };
    let base = backups.iter().find(|b| b.manifest.id == base_id)?;
    let age = now - base.manifest.created_at;
    if age >= policy.full_every || depth > policy.max_depth {
        return None;
    }
    Some(ParentLink {
        id: index.head,
        base: base_id,
        depth,
        hashes: index.hashes,
        stream_sha256: index.stream_sha256,
    })
}
