//! Retention selection as restic's `forget` does it: keep the N most recent (keep-last) and the
//! newest backup of each of the N most recent hours, days, ISO weeks and months that have one.
//! Pure logic (no I/O), applied per series by `mmctl backup prune` locally and on S3.
//!
//! Safety rule on top of restic: the newest backup of a series and its newest verified backup
//! are never removed, whatever the policy.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

/// How many backups to keep per rule. A rule with 0 keeps nothing by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Policy {
    /// Keep the N most recent backups.
    pub keep_last: u32,
    /// Keep the newest backup of each of the N most recent hours that have one.
    pub keep_hourly: u32,
    /// Same per calendar day (UTC).
    pub keep_daily: u32,
    /// Same per ISO week.
    pub keep_weekly: u32,
    /// Same per calendar month.
    pub keep_monthly: u32,
}

/// One backup as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Backup id (unique).
    pub id: String,
    /// Snapshot time.
    pub created_at: OffsetDateTime,
    /// Whether its last verification passed.
    pub verified: bool,
}

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    /// Among the keep-last most recent.
    Last,
    /// Newest of its hour.
    Hourly,
    /// Newest of its day.
    Daily,
    /// Newest of its ISO week.
    Weekly,
    /// Newest of its month.
    Monthly,
    /// The newest backup of the series (always kept).
    Newest,
    /// The newest verified backup of the series (always kept).
    NewestVerified,
    /// A link (the full base or an earlier delta) that a kept delta needs to be restored.
    Chain,
}

/// The decision for one series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Kept ids with their reasons, newest first.
    pub keep: Vec<(String, Vec<KeepReason>)>,
    /// Ids to remove, newest first.
    pub remove: Vec<String>,
}

type BucketFn = fn(OffsetDateTime) -> (i32, u32, u32, u32);

fn hour_bucket(t: OffsetDateTime) -> (i32, u32, u32, u32) {
    (
        t.year(),
        u32::from(u8::from(t.month())),
        u32::from(t.day()),
        u32::from(t.hour()),
    )
}
fn day_bucket(t: OffsetDateTime) -> (i32, u32, u32, u32) {
    (
        t.year(),
        u32::from(u8::from(t.month())),
        u32::from(t.day()),
        0,
    )
}
fn week_bucket(t: OffsetDateTime) -> (i32, u32, u32, u32) {
    let (year, week, _) = t.to_iso_week_date();
    (year, u32::from(week), 0, 0)
}
fn month_bucket(t: OffsetDateTime) -> (i32, u32, u32, u32) {
    (t.year(), u32::from(u8::from(t.month())), 0, 0)
}

/// Groups candidates by series (a backup kind, e.g. the DB or one wallet role) and applies
/// [`select`] to each series on its own. Returns one decision per series, in series order.
pub fn select_by_series<S: Ord>(
    policy: &Policy,
    items: impl IntoIterator<Item = (S, Candidate)>,
) -> Vec<(S, Decision)> {
    let mut by_series: BTreeMap<S, Vec<Candidate>> = BTreeMap::new();
    for (series, candidate) in items {
        by_series.entry(series).or_default().push(candidate);
    }
    by_series
        .into_iter()
        .map(|(series, candidates)| {
            let decision = select(policy, &candidates);
            (series, decision)
        })
        .collect()
}

/// Decides which backups of one series to keep. Input order does not matter; times are
/// bucketed in UTC. Every candidate ends up in exactly one of `keep` / `remove`.
pub fn select(policy: &Policy, candidates: &[Candidate]) -> Decision {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let mut reasons: BTreeMap<usize, Vec<KeepReason>> = BTreeMap::new();

    for index in 0..sorted.len().min(policy.keep_last as usize) {
        reasons.entry(index).or_default().push(KeepReason::Last);
    }
    let rules: [(u32, BucketFn, KeepReason); 4] = [
        (policy.keep_hourly, hour_bucket, KeepReason::Hourly),
        (policy.keep_daily, day_bucket, KeepReason::Daily),
        (policy.keep_weekly, week_bucket, KeepReason::Weekly),
        (policy.keep_monthly, month_bucket, KeepReason::Monthly),
    ];
    for (limit, bucket, reason) in rules {
        let mut remaining = limit;
        let mut last = None;
        for (index, candidate) in sorted.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            let b = bucket(candidate.created_at.to_offset(time::UtcOffset::UTC));
            if last != Some(b) {
                reasons.entry(index).or_default().push(reason);
                last = Some(b);
                remaining -= 1;
            }
        }
    }
    if !sorted.is_empty() {
        reasons.entry(0).or_default().push(KeepReason::Newest);
    }
    if let Some(index) = sorted.iter().position(|c| c.verified) {
        reasons
            .entry(index)
            .or_default()
            .push(KeepReason::NewestVerified);
    }

    let mut decision = Decision::default();
    for (index, candidate) in sorted.iter().enumerate() {
        match reasons.remove(&index) {
            Some(r) => decision.keep.push((candidate.id.clone(), r)),
            None => decision.remove.push(candidate.id.clone()),
        }
    }
    decision
}

/// Keeps every link that a kept backup's chain needs: `parents` maps a delta's id to its
/// parent's. A removed backup then never has a kept descendant, so removing newest first (the
/// order of [`Decision::remove`]) never leaves a delta without its base, even if interrupted.
pub fn keep_chains(mut decision: Decision, parents: &BTreeMap<String, String>) -> Decision {
    let mut needed: Vec<String> = decision
        .keep
        .iter()
        .filter_map(|(id, _)| parents.get(id).cloned())
        .collect();
    while let Some(id) = needed.pop() {
        if let Some(kept) = decision.keep.iter_mut().find(|(k, _)| *k == id) {
            if !kept.1.contains(&KeepReason::Chain) {
                kept.1.push(KeepReason::Chain);
            }
            continue;
        }
        let Some(at) = decision.remove.iter().position(|r| *r == id) else {
            continue;
        };
        decision.remove.remove(at);
        if let Some(parent) = parents.get(&id) {
            needed.push(parent.clone());
        }
        decision.keep.push((id, vec![KeepReason::Chain]));
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).unwrap()
    }

    fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec((0i64..200 * 86_400, any::<bool>()), 0..60).prop_map(|items| {
            items
                .into_iter()
                .enumerate()
                .map(|(i, (secs, verified))| Candidate {
                    id: format!("b{i:03}"),
                    created_at: at(secs),
                    verified,
                })
                .collect()
        })
    }

    fn policies() -> impl Strategy<Value = Policy> {
        (0u32..5, 0u32..5, 0u32..8, 0u32..5, 0u32..13).prop_map(|(l, h, d, w, m)| Policy {
            keep_last: l,
            keep_hourly: h,
            keep_daily: d,
            keep_weekly: w,
            keep_monthly: m,
        })
    }

    proptest! {
        #[test]
        fn partition_is_exact(policy in policies(), items in candidates()) {
            let d = select(&policy, &items);
            let kept: BTreeSet<_> = d.keep.iter().map(|(id, _)| id.clone()).collect();
            let removed: BTreeSet<_> = d.remove.iter().cloned().collect();
            prop_assert!(kept.is_disjoint(&removed));
            prop_assert_eq!(kept.len() + removed.len(), items.len());
            let all: BTreeSet<_> = items.iter().map(|c| c.id.clone()).collect();
            prop_assert_eq!(kept.union(&removed).cloned().collect::<BTreeSet<_>>(), all);
        }

        #[test]
        fn newest_and_newest_verified_are_never_removed(policy in policies(), items in candidates()) {
            let d = select(&policy, &items);
            let removed: BTreeSet<_> = d.remove.iter().cloned().collect();
            if let Some(newest) = items.iter().max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id))) {
                prop_assert!(!removed.contains(&newest.id));
            }
            if let Some(v) = items.iter().filter(|c| c.verified).max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id))) {
                prop_assert!(!removed.contains(&v.id));
            }
        }

        #[test]
        fn keep_last_keeps_the_n_most_recent(policy in policies(), items in candidates()) {
            let d = select(&policy, &items);
            let mut sorted = items.clone();
            sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            let kept: BTreeSet<_> = d.keep.iter().map(|(id, _)| id.clone()).collect();
            for c in sorted.iter().take(policy.keep_last as usize) {
                prop_assert!(kept.contains(&c.id));
            }
        }

        #[test]
        fn kept_count_is_bounded_by_the_policy(policy in policies(), items in candidates()) {
            let d = select(&policy, &items);
            let bound = (policy.keep_last + policy.keep_hourly + policy.keep_daily + policy.keep_weekly + policy.keep_monthly) as usize + 2;
            prop_assert!(d.keep.len() <= bound.min(items.len()));
        }

        #[test]
        fn daily_keeps_the_newest_of_each_recent_day(items in candidates(), days in 1u32..10) {
            let policy = Policy { keep_daily: days, ..Policy::default() };
            let d = select(&policy, &items);
            let kept: BTreeSet<_> = d.keep.iter().map(|(id, _)| id.clone()).collect();
            let mut newest_per_day: BTreeMap<(i32, u32, u32, u32), &Candidate> = BTreeMap::new();
            for c in &items {
                let e = newest_per_day.entry(day_bucket(c.created_at)).or_insert(c);
                if (c.created_at, &c.id) > (e.created_at, &e.id) { *e = c; }
            }
            for (_, c) in newest_per_day.iter().rev().take(days as usize) {
                prop_assert!(kept.contains(&c.id), "newest of its day {} not kept", c.id);
            }
        }

        #[test]
        fn pruning_again_removes_nothing(policy in policies(), items in candidates()) {
            let first = select(&policy, &items);
            let kept: BTreeSet<_> = first.keep.iter().map(|(id, _)| id.clone()).collect();
            let survivors: Vec<Candidate> = items.iter().filter(|c| kept.contains(&c.id)).cloned().collect();
            let second = select(&policy, &survivors);
            prop_assert!(second.remove.is_empty(), "second run removed {:?}", second.remove);
        }
    }

    #[test]
    fn restic_example_daily_and_last() {
        let items: Vec<Candidate> = (0..10)
            .map(|i| Candidate {
                id: format!("d{i}"),
                created_at: at(i * 43_200),
                verified: false,
            })
            .collect();
        let d = select(
            &Policy {
                keep_last: 1,
                keep_daily: 3,
                ..Policy::default()
            },
            &items,
        );
        let kept: Vec<_> = d.keep.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert_eq!(kept[0], "d9");
        assert_eq!(d.remove.len(), 7);
    }

    #[test]
    fn a_kept_delta_keeps_its_whole_chain_and_nothing_removed_has_a_kept_descendant() {
        let c = |id: &str, secs: i64| Candidate {
            id: id.into(),
            created_at: at(secs),
            verified: false,
        };
        // Chain a: a0 <- a1 <- a2; chain b: b0 <- b1 (newest).
        let candidates = [
            c("a0", 0),
            c("a1", 60),
            c("a2", 120),
            c("b0", 180),
            c("b1", 240),
        ];
        let parents: BTreeMap<String, String> = [("a1", "a0"), ("a2", "a1"), ("b1", "b0")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let policy = Policy {
            keep_last: 1,
            ..Policy::default()
        };
        let decision = keep_chains(select(&policy, &candidates), &parents);
        let kept: BTreeSet<&str> = decision.keep.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(kept, BTreeSet::from(["b0", "b1"]));
        assert_eq!(decision.remove, ["a2", "a1", "a0"]);
        // Keeping a middle delta keeps its ancestors, not its descendants.
        let mut decision = select(&policy, &candidates);
        decision.keep.push(("a1".into(), vec![KeepReason::Daily]));
        decision.remove.retain(|r| r != "a1");
        let decision = keep_chains(decision, &parents);
        let kept: BTreeSet<&str> = decision.keep.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(kept, BTreeSet::from(["a0", "a1", "b0", "b1"]));
        assert_eq!(decision.remove, ["a2"]);
    }
}
