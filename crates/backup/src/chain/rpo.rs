//! The RPO a drill achieves from the DB backups there are: the age of the newest restorable
//! point and the largest gap between consecutive restorable points over the last 24 hours.
//! A point is restorable here when it was signed by a trusted key and every link of its chain
//! (its parents down to the full backup) is too; the drill's restore step checks the content.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::manifest::{BackupKind, Manifest};

/// The window [`ChainRpo::largest_gap_seconds`] looks at.
pub const GAP_WINDOW: Duration = Duration::hours(24);

/// The achieved RPO of the DB backups at one time (`mmctl drill`, docs/BACKUP.md "Drill").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainRpo {
    /// Age of the newest restorable point, in seconds (`None`: there is none).
    pub newest_point_age_seconds: Option<f64>,
    /// Largest time between consecutive restorable points in the last 24 hours, the newest
    /// point to `now` included, in seconds (`None`: no point in the window).
    pub largest_gap_seconds: Option<f64>,
    /// Restorable points in the last 24 hours.
    pub points_last_24h: usize,
}

/// The achieved RPO at `now` of the DB backups among `signed` (manifests a trusted key
/// signed, in any order).
pub fn chain_rpo(signed: &[&Manifest], now: OffsetDateTime) -> ChainRpo {
    let by_id: BTreeMap<&str, &Manifest> = signed
        .iter()
        .filter(|m| m.kind == BackupKind::Db)
        .map(|m| (m.id.as_str(), *m))
        .collect();
    let mut points: Vec<OffsetDateTime> = by_id
        .values()
        .filter(|m| restorable(m, &by_id))
        .map(|m| m.created_at)
        .collect();
    points.sort();
    let seconds = |d: Duration| d.as_seconds_f64().max(0.0);
    let window: Vec<OffsetDateTime> = points
        .iter()
        .copied()
        .filter(|&t| now - t <= GAP_WINDOW)
        .collect();
    let largest_gap = window
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain(window.last().map(|&t| now - t))
        .max()
        .map(seconds);
    ChainRpo {
        newest_point_age_seconds: points.last().map(|&t| seconds(now - t)),
        largest_gap_seconds: largest_gap,
        points_last_24h: window.len(),
    }
}

/// Whether every link of `m`'s chain is among `by_id` (a chain is at most as long as the map).
fn restorable(m: &Manifest, by_id: &BTreeMap<&str, &Manifest>) -> bool {
    let mut link = m;
    for _ in 0..=by_id.len() {
        let Some(chain) = link.db.as_ref().and_then(|d| d.chain.as_ref()) else {
            return true;
        };
        match by_id.get(chain.parent.as_str()) {
            Some(parent) => link = parent,
            None => return false,
        }
    }
    false
}
