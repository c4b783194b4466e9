//! Whole flows timed end to end (escrow-release's order to payout), beside goose's per-request
//! numbers: how many finished, how many failed, and the percentiles of the finished ones.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The flows of a run: each finished one's time and the failed ones' count.
#[derive(Debug, Default)]
pub struct Flows {
    outcomes: Mutex<Outcomes>,
}

#[derive(Debug, Default)]
struct Outcomes {
    finished_ms: Vec<f64>,
    failed: u64,
}

impl Flows {
    /// Records a flow that finished after `took`.
    pub fn finished(&self, took: Duration) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        outcomes.finished_ms.push(took.as_secs_f64() * 1000.0);
    }

    /// Records a flow that failed (any step, or its wait timed out).
    pub fn failed(&self) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        outcomes.failed += 1;
    }

    /// The numbers so far, under `name`.
    pub fn stats(&self, name: &str) -> FlowStats {
        let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        let mut times = outcomes.finished_ms.clone();
        times.sort_by(f64::total_cmp);
        FlowStats {
            name: name.to_string(),
            finished: times.len() as u64,
            failed: outcomes.failed,
            p50_ms: percentile(&times, 0.50),
            p95_ms: percentile(&times, 0.95),
            p99_ms: percentile(&times, 0.99),
            max_ms: times.last().copied().unwrap_or(0.0),
        }
    }
}

/// One kind of flow's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowStats {
    /// What the flow is, e.g. `order to release`.
    pub name: String,
    /// Flows that reached their end.
    pub finished: u64,
    /// Flows that failed or timed out.
    pub failed: u64,
    /// Median time of the finished flows, ms (0 without any).
    pub p50_ms: f64,
    /// 95th percentile, ms (nearest rank).
    pub p95_ms: f64,
    /// 99th percentile, ms (nearest rank).
    pub p99_ms: f64,
    /// Slowest finished flow, ms.
    pub max_ms: f64,
}

/// The nearest-rank percentile `q` (0-1) of ascending `sorted` (0 when empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_over_finished_flows_only() {
        let flows = Flows::default();
        assert_eq!(flows.stats("x").p95_ms, 0.0);
        for secs in (1..=10).rev() {
            flows.finished(Duration::from_secs(secs));
        }
        flows.failed();
        let stats = flows.stats("order to release");
        assert_eq!((stats.finished, stats.failed), (10, 1));
        assert_eq!(stats.p50_ms, 5000.0);
        assert_eq!(stats.p95_ms, 10_000.0);
        assert_eq!(stats.max_ms, 10_000.0);
    }
}
