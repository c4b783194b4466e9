//! A backup's chain: from the full base to the backup itself, every link found complete in
//! the backup directory and authenticated with the trusted keys, each link's place checked
//! (its parent is older, names the same base, and is one step shallower). When a link is
//! missing or bad, [`newest_good_point`] finds what can still be restored.

use super::LinkProblem;
use crate::error::BackupError;
use crate::manifest::{BackupId, BackupKind, Selector, Series};
use crate::signing::{AuthenticBackup, TrustedKeys, authenticate};
use crate::store::{BackupDir, LocalBackup};

/// A chain, base first, the backup asked for last; every link authenticated.
#[derive(Debug)]
pub struct AuthenticChain {
    /// The links, oldest (the full base) first.
    pub links: Vec<AuthenticBackup>,
}

impl AuthenticChain {
    /// The backup the chain leads to.
    pub fn target(&self) -> &AuthenticBackup {
        self.links.last().expect("a chain has at least its target")
    }
}

const DB_SERIES: Series = Series {
    kind: BackupKind::Db,
    role: None,
};

/// Resolves the chain of `target` (a full backup is a chain of one).
///
/// # Errors
/// [`BackupError::ChainBroken`] naming the first bad link (the one nearest the base that could
/// be reached) and the newest good point.
pub fn resolve(
    dir: &BackupDir,
    target: &AuthenticBackup,
    trusted: &TrustedKeys,
) -> Result<AuthenticChain, BackupError> {
    let target_id = target.manifest.id.clone();
    let mut links = vec![target.clone()];
    loop {
        let child = links.last().expect("links start with the target");
        let Some(link) = child.manifest.chain_link().cloned() else {
            break;
        };
        let broken = |problem: LinkProblem, bad: &BackupId, newer_than: &LocalBackup| {
            let newest_good = newest_good_point(dir, trusted, newer_than);
            BackupError::ChainBroken {
                target: target_id.to_string(),
                first_bad: bad.to_string(),
                problem,
                newest_good: newest_good.map(|b| b.to_string()),
            }
        };
        let parent = match dir.find(&Selector::Id(link.parent.clone()), DB_SERIES) {
            Ok(parent) => parent,
            Err(e) => {
                return Err(broken(
                    LinkProblem::Missing(e.to_string()),
                    &link.parent,
                    child,
                ));
            }
        };
        let parent = match authenticate(&parent, trusted) {
            Ok(parent) => parent,
            Err(e) => {
                return Err(broken(
                    LinkProblem::Corrupt(e.to_string()),
                    &link.parent,
                    child,
                ));
            }
        };
        let (parent_base, parent_depth) = match parent.manifest.chain_link() {
            None => (parent.manifest.id.clone(), 0),
            Some(p) => (p.base.clone(), p.depth),
        };
        if parent.manifest.created_at > child.manifest.created_at
            || parent_base != link.base
            || parent_depth.checked_add(1) != Some(link.depth)
        {
            let problem = LinkProblem::Corrupt(format!(
                "{} does not follow it in one chain (base {}, depth {})",
                child.manifest.id, link.base, link.depth
            ));
            let child_id = child.manifest.id.clone();
            return Err(broken(problem, &child_id, &parent));
        }
        links.push(parent);
    }
    links.reverse();
    Ok(AuthenticChain { links })
}

/// The newest DB backup older than `before` whose whole chain is there and authentic (checked
/// on manifests and signatures only, not by rebuilding it), if any.
pub fn newest_good_point(
    dir: &BackupDir,
    trusted: &TrustedKeys,
    before: &LocalBackup,
) -> Option<BackupId> {
    let backups = dir.list().ok()?;
    backups
        .into_iter()
        .rev()
        .filter(|b| b.manifest.series() == DB_SERIES)
        .filter(|b| b.manifest.chronological(&before.manifest).is_lt())
        .find(|b| structurally_sound(dir, trusted, b))
        .map(|b| b.manifest.id)
}

/// Whether every link of `backup`'s chain is present and signed (without searching further
/// for a good point when one is not).
fn structurally_sound(dir: &BackupDir, trusted: &TrustedKeys, backup: &LocalBackup) -> bool {
    let Ok(mut current) = authenticate(backup, trusted) else {
        return false;
    };
    while let Some(link) = current.manifest.chain_link().cloned() {
        let parent = dir
            .find(&Selector::Id(link.parent.clone()), DB_SERIES)
            .and_then(|p| authenticate(&p, trusted));
        // Depth falls by one per step, so even a manifest naming itself ends the walk.
        let parent_depth = |p: &AuthenticBackup| p.manifest.chain_link().map_or(0, |l| l.depth);
        match parent {
            Ok(parent)
                if parent.manifest.created_at <= current.manifest.created_at
                    && parent_depth(&parent).checked_add(1) == Some(link.depth) =>
            {
                current = parent;
            }
            _ => return false,
        }
    }
    true
}
