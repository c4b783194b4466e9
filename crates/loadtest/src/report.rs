//! What a run measured, per request type and in total, judged against the scenario's
//! thresholds: the JSON report and the human-readable summary. Times are milliseconds, rates
//! per second of the whole run; 429 answers (the proxy's per-address limits) are counted apart
//! from errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use goose::metrics::{
    GooseMetrics, GooseRequestMetricAggregate, GooseRequestMetricTimingData, TimeBuckets,
};
use serde::Serialize;

use crate::flows::FlowStats;
use crate::plan::{Profile, Scenario, Thresholds};

/// One request type's numbers (or every request's, for [`RunReport::total`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestStats {
    /// `METHOD path`, e.g. `GET /api/listings` (`all` for the total).
    pub name: String,
    /// Requests made.
    pub requests: u64,
    /// Requests per second over the run.
    pub per_sec: f64,
    /// Median response time, ms.
    pub p50_ms: f64,
    /// 95th percentile response time, ms.
    pub p95_ms: f64,
    /// 99th percentile response time, ms.
    pub p99_ms: f64,
    /// Slowest response, ms.
    pub max_ms: f64,
    /// Answered 2xx.
    pub ok: u64,
    /// Answered 429 (rate limited): not errors.
    pub rate_limited: u64,
    /// Everything else: other statuses, connection errors, timeouts.
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// Answers by status code (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
}

impl RequestStats {
    fn new(
        name: &str,
        timing: &GooseRequestMetricTimingData,
        statuses: BTreeMap<u16, u64>,
        ok: u64,
        secs: f64,
    ) -> RequestStats {
        let requests = timing.counter as u64;
        let rate_limited = statuses.get(&429).copied().unwrap_or(0);
        let errors = requests.saturating_sub(ok).saturating_sub(rate_limited);
        let ms = |us: u64| us as f64 / 1000.0;
        RequestStats {
            name: name.to_string(),
            requests,
            per_sec: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            p50_ms: ms(timing.percentile_us(0.50)),
            p95_ms: ms(timing.percentile_us(0.95)),
            p99_ms: ms(timing.percentile_us(0.99)),
            max_ms: ms(timing.maximum_time_us),
            ok,
            rate_limited,
            errors,
            error_rate: if requests > 0 {
                errors as f64 / requests as f64
            } else {
                0.0
            },
            statuses,
        }
    }
}

/// One threshold's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The rule, e.g. `p95 < 200 ms`.
    pub rule: String,
    /// What the run measured, e.g. `12.3 ms`.
    pub observed: String,
    /// Whether the rule held.
    pub passed: bool,
}

/// A finished run: what it measured and whether it met its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// `full` or `ci`.
    pub profile: String,
    /// The base URL the run was against.
    pub base_url: String,
    /// The load: the stages as a goose test plan (`users,secs;...`), or `N users x 1
    /// iteration`.
    pub stages: String,
    /// How long the run took, seconds.
    pub duration_secs: f64,
    /// The most virtual users at once.
    pub max_users: u64,
    /// How many loopback source addresses the clients used.
    pub sources: u64,
    /// Per request type, by name.
    pub requests: Vec<RequestStats>,
    /// Every request together.
    pub total: RequestStats,
    /// The flows timed end to end (escrow-release: `order to release`), when the scenario
    /// has them.
    pub flow: Option<FlowStats>,
    /// Each threshold's verdict.
    pub thresholds: Vec<Verdict>,
    /// Whether every threshold held (the exit code is 0 only then).
    pub passed: bool,
    /// The self-contained HTML report (latency over time), relative to the report directory.
    pub html_report: String,
}

/// What a run was, for its report.
pub struct RunFacts<'a> {
    /// The scenario run.
    pub scenario: Scenario,
    /// Its profile.
    pub profile: Profile,
    /// The base URL.
    pub base_url: &'a str,
    /// Number of source addresses.
    pub sources: usize,
    /// The HTML report's file name.
    pub html_report: &'a str,
    /// The scenario's end-to-end flows, when it has them: every one must finish.
    pub flow: Option<FlowStats>,
}

impl RunReport {
    /// The report of `metrics` (goose's aggregate) for the run `facts`.
    pub fn from_metrics(metrics: &GooseMetrics, facts: &RunFacts<'_>) -> RunReport {
        let secs = metrics.duration as f64;
        let mut requests: Vec<RequestStats> = metrics
            .requests
            .iter()
            .map(|(name, agg)| {
                RequestStats::new(
                    name,
                    &agg.raw_data,
                    statuses(agg),
                    agg.success_count as u64,
                    secs,
                )
            })
            .collect();
        requests.sort_by(|a, b| a.name.cmp(&b.name));
        let total = total(metrics.requests.values(), secs);
        let mut thresholds = judge(facts.scenario.thresholds(facts.profile), &total);
        thresholds.extend(facts.flow.as_ref().map(judge_flow));
        RunReport {
            scenario: facts.scenario.name().to_string(),
            profile: match facts.profile {
                Profile::Full => "full".into(),
                Profile::Ci => "ci".into(),
            },
            base_url: facts.base_url.to_string(),
            stages: facts.scenario.load(facts.profile).describe(),
            duration_secs: secs,
            max_users: metrics.maximum_users as u64,
            sources: facts.sources as u64,
            passed: thresholds.iter().all(|v| v.passed),
            requests,
            total,
            thresholds,
            flow: facts.flow.clone(),
            html_report: facts.html_report.to_string(),
        }
    }

    /// The human-readable summary: one line per request type, the total, the verdicts.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} ({} profile) against {}: {:.0} s, up to {} users over {} source addresses\n\n",
            self.scenario,
            self.profile,
            self.base_url,
            self.duration_secs,
            self.max_users,
            self.sources
        );
        let _ = writeln!(
            out,
            "{:<34} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8}",
            "request", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "429", "errors", "err %"
        );
        for stats in self.requests.iter().chain(std::iter::once(&self.total)) {
            let _ = writeln!(
                out,
                "{:<34} {:>8} {:>8.2} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>7} {:>8.2}",
                stats.name,
                stats.requests,
                stats.per_sec,
                stats.p50_ms,
                stats.p95_ms,
                stats.p99_ms,
                stats.rate_limited,
                stats.errors,
                stats.error_rate * 100.0
            );
        }
        if let Some(flow) = &self.flow {
            let _ = writeln!(
                out,
                "\n{}: {} finished, {} failed; p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                flow.name,
                flow.finished,
                flow.failed,
                flow.p50_ms,
                flow.p95_ms,
                flow.p99_ms,
                flow.max_ms
            );
        }
        out.push('\n');
        for v in &self.thresholds {
            let mark = if v.passed { "pass" } else { "FAIL" };
            let _ = writeln!(
                out,
                "threshold {}: {} (measured {})",
                v.rule, mark, v.observed
            );
        }
        let _ = writeln!(
            out,
            "\n{}: latency over time in {}",
            if self.passed { "PASSED" } else { "FAILED" },
            self.html_report
        );
        out
    }
}

fn statuses(agg: &GooseRequestMetricAggregate) -> BTreeMap<u16, u64> {
    agg.status_code_counts
        .iter()
        .map(|(&code, &n)| (code, n as u64))
        .collect()
}

/// Every request type's times and counts merged.
fn total<'a>(
    aggs: impl Iterator<Item = &'a GooseRequestMetricAggregate>,
    secs: f64,
) -> RequestStats {
    let mut buckets: BTreeMap<u64, usize> = BTreeMap::new();
    let mut timing = GooseRequestMetricTimingData::default();
    let mut codes: BTreeMap<u16, u64> = BTreeMap::new();
    let mut ok = 0;
    for agg in aggs {
        let data = &agg.raw_data;
        for (&bucket, &count) in data.times_us.iter() {
            *buckets.entry(bucket).or_default() += count;
        }
        if data.counter > 0
            && (timing.counter == 0 || data.minimum_time_us < timing.minimum_time_us)
        {
            timing.minimum_time_us = data.minimum_time_us;
        }
        timing.maximum_time_us = timing.maximum_time_us.max(data.maximum_time_us);
        timing.total_time_us += data.total_time_us;
        timing.counter += data.counter;
        for (code, n) in statuses(agg) {
            *codes.entry(code).or_default() += n;
        }
        ok += agg.success_count as u64;
    }
    timing.times_us = buckets.into_iter().collect::<TimeBuckets>();
    RequestStats::new("all", &timing, codes, ok, secs)
}

/// Every flow must finish, and at least one must have run.
fn judge_flow(flow: &FlowStats) -> Verdict {
    Verdict {
        rule: format!("every {} finishes", flow.name),
        observed: format!("{} of {}", flow.finished, flow.finished + flow.failed),
        passed: flow.failed == 0 && flow.finished > 0,
    }
}

/// Each of `thresholds` against `total`.
pub fn judge(thresholds: Thresholds, total: &RequestStats) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    if let Some(limit) = thresholds.p95_below {
        let limit_ms = limit.as_secs_f64() * 1000.0;
        verdicts.push(Verdict {
            rule: format!("p95 < {limit_ms:.0} ms"),
            observed: format!("{:.2} ms", total.p95_ms),
            passed: total.requests > 0 && total.p95_ms < limit_ms,
        });
    }
    if let Some(rate) = thresholds.error_rate_below {
        verdicts.push(Verdict {
            rule: format!("error rate < {:.1} % (429 not counted)", rate * 100.0),
            observed: format!(
                "{:.2} % ({} of {})",
                total.error_rate * 100.0,
                total.errors,
                total.requests
            ),
            passed: total.requests > 0 && total.error_rate < rate,
        });
    }
    if let Some(max) = thresholds.errors_at_most {
        verdicts.push(Verdict {
            rule: format!("errors <= {max} (429 not counted)"),
            observed: format!("{} of {}", total.errors, total.requests),
            passed: total.requests > 0 && total.errors <= max,
        });
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(requests: u64, errors: u64, p95_ms: f64) -> RequestStats {
        RequestStats {
            name: "all".into(),
            requests,
            per_sec: 1.0,
            p50_ms: 1.0,
            p95_ms,
            p99_ms: p95_ms,
            max_ms: p95_ms,
            ok: requests - errors,
            rate_limited: 0,
            errors,
            error_rate: if requests > 0 {
                errors as f64 / requests as f64
            } else {
                0.0
            },
            statuses: BTreeMap::new(),
        }
    }

    #[test]
    fn a_flow_passes_only_when_every_one_finished() {
        let flow = |finished, failed| FlowStats {
            name: "order to release".into(),
            finished,
            failed,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
            max_ms: 1.0,
        };
        let all = judge_flow(&flow(10, 0));
        assert!(all.passed, "{all:?}");
        assert_eq!(all.observed, "10 of 10");
        assert!(!judge_flow(&flow(9, 1)).passed);
        assert!(!judge_flow(&flow(0, 0)).passed, "nothing ran");
    }

    #[test]
    fn thresholds_pass_and_fail_on_the_measured_numbers() {
        let http = Scenario::HttpEndpoints.thresholds(Profile::Full);
        assert!(judge(http, &stats(100, 4, 150.0)).iter().all(|v| v.passed));
        let slow = judge(http, &stats(100, 0, 250.0));
        assert!(!slow[0].passed && slow[1].passed, "{slow:?}");
        let failing = judge(http, &stats(100, 5, 10.0));
        assert!(failing[0].passed && !failing[1].passed, "{failing:?}");
        let escrow = Scenario::EscrowFlow.thresholds(Profile::Full);
        assert!(judge(escrow, &stats(40, 0, 900.0))[0].passed);
        assert!(!judge(escrow, &stats(40, 1, 9.0))[0].passed);
        // A run that made no request proves nothing.
        assert!(judge(http, &stats(0, 0, 0.0)).iter().all(|v| !v.passed));
        let strict = Thresholds {
            p95_below: Some(Duration::from_millis(50)),
            error_rate_below: None,
            errors_at_most: None,
        };
        assert_eq!(judge(strict, &stats(10, 0, 49.0))[0].rule, "p95 < 50 ms");
    }
}
