//! Watching green's 5xx rate after the switch: `http_requests_total{status}` read from its
//! `/metrics` (from inside the container) at the start and once a second for the watch window;
//! a breach is more than `max_5xx_percent` percent of the requests since the start answered
//! 5xx, and at least `min_5xx` of them (the watch's own `/metrics` reads are not counted).

use std::time::{Duration, Instant};

use mmkt_stack::Engine;
use mmkt_stack::exec_http::{HttpProbe, Method};

use crate::error::DeployError;
use crate::settings::DeploySettings;

/// Request counts from one `/metrics` read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered, all statuses.
    pub total: u64,
    /// Of which 5xx.
    pub errors: u64,
}

/// Sums `http_requests_total` by status class from a Prometheus text exposition, leaving out
/// `path="/metrics"`.
pub fn counts(text: &str) -> Counts {
    let mut c = Counts::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("http_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        if labels.contains("path=\"/metrics\"") {
            continue;
        }
        // Counters are exposed as integers or as floats like `12` / `1.2e1`; read the integer part.
        let n = value
            .trim()
            .split(['.', 'e'])
            .next()
            .and_then(|v| v.parse::<u64>().ok());
        let Some(n) = n else { continue };
        c.total += n;
        if labels.contains("status=\"5") {
            c.errors += n;
        }
    }
    c
}

/// How a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No breach during the window; the counts seen.
    Healthy(Counts),
    /// A breach: what was seen.
    Breached(String),
}

async fn read(engine: &Engine, id: &str) -> Result<Result<Counts, String>, DeployError> {
    Ok(
        match engine
            .http_in_container(id, Method::Get, "/metrics")
            .await?
        {
            HttpProbe::Reply(r) if r.status == 200 => Ok(counts(&r.body)),
            HttpProbe::Reply(r) => Err(format!("/metrics answered HTTP {}", r.status)),
            HttpProbe::NoAnswer(why) => Err(format!("/metrics did not answer: {why}")),
        },
    )
}

/// Watches green `id` for `settings.watch_secs` seconds.
///
/// # Errors
/// [`DeployError::Engine`]. A green that stops answering is a breach, not an error.
pub async fn watch(
    engine: &Engine,
    id: &str,
    settings: &DeploySettings,
) -> Result<Verdict, DeployError> {
    let base = match read(engine, id).await? {
        Ok(c) => c,
        Err(why) => return Ok(Verdict::Breached(why)),
    };
    let end = Instant::now() + Duration::from_secs(settings.watch_secs);
    let mut seen = Counts::default();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = match read(engine, id).await? {
            Ok(c) => c,
            Err(why) => return Ok(Verdict::Breached(why)),
        };
        seen = Counts {
            total: now.total.saturating_sub(base.total),
            errors: now.errors.saturating_sub(base.errors),
        };
        if breached(seen, settings) {
            return Ok(Verdict::Breached(format!(
                "{} of {} requests answered 5xx (limit {}% with at least {})",
                seen.errors, seen.total, settings.max_5xx_percent, settings.min_5xx
            )));
        }
    }
    Ok(Verdict::Healthy(seen))
}

/// More than `max_5xx_percent` percent 5xx, and at least `min_5xx` of them.
pub fn breached(c: Counts, settings: &DeploySettings) -> bool {
    c.errors >= settings.min_5xx.max(1)
        && c.errors.saturating_mul(100) > settings.max_5xx_percent.saturating_mul(c.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_by_status_class_without_the_metrics_route() {
        let text = "# TYPE http_requests_total counter\n\
            http_requests_total{method=\"GET\",path=\"/health\",status=\"200\"} 7\n\
            http_requests_total{method=\"GET\",path=\"/api/listings\",status=\"500\"} 2\n\
            http_requests_total{method=\"GET\",path=\"/api/x\",status=\"503\"} 1.0\n\
            http_requests_total{method=\"GET\",path=\"/metrics\",status=\"200\"} 40\n\
            http_request_duration_seconds_count{method=\"GET\",path=\"/health\"} 7\n";
        assert_eq!(
            counts(text),
            Counts {
                total: 10,
                errors: 3
            }
        );
    }

    #[test]
    fn a_breach_needs_both_the_percentage_and_the_floor() {
        let s = DeploySettings::default();
        assert!(
            !breached(
                Counts {
                    total: 2,
                    errors: 2
                },
                &s
            ),
            "below the floor"
        );
        assert!(breached(
            Counts {
                total: 10,
                errors: 3
            },
            &s
        ));
        assert!(
            !breached(
                Counts {
                    total: 1000,
                    errors: 10
                },
                &s
            ),
            "1% is under 5%"
        );
    }
}
