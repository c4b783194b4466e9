//! `backup db` as the next link of the chain: a delta of the pages that changed since the
//! chain's head (found with the page index: cipher tags, WAL frames, page digests), or a full
//! backup when there is no usable head or
//! the chain's base is older than the policy allows.

use std::time::Duration;

use time::OffsetDateTime;

use super::ChainPolicy;
use super::DbBackupOutcome;
use super::index::{ChainLock, IndexKey, PageIndex};
use super::scan::CipherTag;
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
/// cipher tags and page digests as the new index. The manifest is the commit point: a run killed before it
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
    let (backup, report, tags) = match write_db_backup(req, &plan)? {
        Link::Written(backup, report, tags) => (*backup, report, tags),
        Link::Unchanged(tags) => return unchanged_head(req.dir, plan.parent, tags, &key),
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
        list_sha256: report.list_sha256,
        tags,
        digests: report.digests,
    };
    if let Err(e) = index.store(req.dir, &key) {
        tracing::warn!(
            "could not update the page index: {e}; the next delta branches from the previous head"
        );
    }
    Ok(DbBackupOutcome::Written(backup))
}

/// The head an unchanged run leaves in place; its index gets the snapshot's cipher tags when
/// they moved (same head, same digests: only where the file holds the same pages changed, e.g.
/// after a checkpoint), so the next run does not decrypt those pages again.
fn unchanged_head(
    dir: &BackupDir,
    parent: Option<ParentLink>,
    tags: Vec<CipherTag>,
    key: &IndexKey,
) -> Result<DbBackupOutcome, BackupError> {
    let head = parent.as_ref().and_then(|p| {
        let listed = dir.list().ok()?;
        listed.into_iter().find(|b| b.manifest.id == p.id)
    });
    let (Some(head), Some(parent)) = (head, parent) else {
        return Err(BackupError::InvalidRequest(
            "the chain's head vanished during the backup; run it again".into(),
        ));
    };
    if parent.tags != tags {
        let index = PageIndex {
            head: parent.id,
            page_size: head
                .manifest
                .db
                .as_ref()
                .map_or(0, |d| d.snapshot.page_size),
            list_sha256: parent.list_sha256,
            tags,
            digests: parent.digests,
        };
        if let Err(e) = index.store(dir, key) {
            tracing::warn!("could not update the page index's cipher tags: {e}");
        }
    }
    Ok(DbBackupOutcome::Unchanged(head))
}

/// The head the next delta can apply to: the index's backup, complete in `dir`, with the
/// same page-list hash, page size and page count as the index, whose chain's base is younger than
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
    let matches = details.page_list_sha256.as_deref() == Some(index.list_sha256.as_str())
        && details.snapshot.page_size == index.page_size
        && details.snapshot.page_count == index.digests.len() as u64;
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
        tags: index.tags,
        digests: index.digests,
        list_sha256: index.list_sha256,
    })
}
