//! Every request's time, type, response time and status, kept during a run (about 16 bytes
//! plus a shared name each: a full http-endpoints run of ~100 000 requests keeps ~2 MiB), and
//! cut into time windows with their percentiles for the latency-over-time plots.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One request.
#[derive(Debug, Clone)]
struct Sample {
    /// When it started, ms since the run started.
    at_ms: u64,
    /// `METHOD name`.
    name: Arc<str>,
    /// Its response time, µs.
    us: u64,
    /// Its status (0: no answer).
    status: u16,
}

/// The requests of a run, in the order they finished.
#[derive(Debug, Default)]
pub struct Timeline {
    samples: Mutex<Vec<Sample>>,
}

/// One time window of one request type (or of all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The window's start, seconds since the run started.
    pub start_secs: u64,
    /// Response time percentiles of the window's answered requests, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 2xx answers per second.
    pub ok_per_sec: f64,
    /// 429 answers per second.
    pub limited_per_sec: f64,
    /// Errors per second (other statuses, no answer).
    pub errors_per_sec: f64,
}

impl Timeline {
    /// Records one request: `name` (`METHOD name`), started `at_ms` after the run started,
    /// answered in `us` µs with `status` (0 for no answer).
    pub fn record(&self, name: Arc<str>, at_ms: u64, us: u64, status: u16) {
        let sample = Sample {
            at_ms,
            name,
            us,
            status,
        };
        self.samples.lock().expect("timeline lock").push(sample);
    }

    /// Per request type (and `all`), windows of `window_secs` seconds covering the run.
    pub fn windows(&self, window_secs: u64) -> BTreeMap<String, Vec<Window>> {
        let window_secs = window_secs.max(1);
        let samples = self.samples.lock().expect("timeline lock");
        let mut grouped: BTreeMap<String, BTreeMap<u64, Vec<&Sample>>> = BTreeMap::new();
        for s in samples.iter() {
            let window = s.at_ms / 1000 / window_secs;
            for key in [s.name.as_ref(), "all"] {
                grouped
                    .entry(key.to_string())
                    .or_default()
                    .entry(window)
                    .or_default()
                    .push(s);
            }
        }
        grouped
            .into_iter()
            .map(|(name, windows)| {
                let list = windows
                    .into_iter()
                    .map(|(index, samples)| window(index * window_secs, window_secs, &samples))
                    .collect();
                (name, list)
            })
            .collect()
    }
}

fn window(start_secs: u64, secs: u64, samples: &[&Sample]) -> Window {
    let mut times: Vec<u64> = samples.iter().map(|s| s.us).collect();
    times.sort_unstable();
    let at = |p: f64| {
        let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[index] as f64 / 1000.0
    };
    let per_sec = |pred: &dyn Fn(u16) -> bool| {
        samples.iter().filter(|s| pred(s.status)).count() as f64 / secs as f64
    };
    Window {
        start_secs,
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        ok_per_sec: per_sec(&|c| (200..300).contains(&c)),
        limited_per_sec: per_sec(&|c| c == 429),
        errors_per_sec: per_sec(&|c| !(200..300).contains(&c) && c != 429),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_the_percentiles_and_rates_of_their_requests() {
        let timeline = Timeline::default();
        let get: Arc<str> = Arc::from("GET /a");
        for i in 1..=100u64 {
            timeline.record(Arc::clone(&get), 500, i * 1000, 200);
        }
        timeline.record(Arc::from("POST /b"), 2500, 7000, 429);
        timeline.record(Arc::from("POST /b"), 2600, 9000, 0);
        let windows = timeline.windows(2);
        let a = &windows["GET /a"];
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].p50_ms, a[0].p95_ms, a[0].p99_ms), (50.0, 95.0, 99.0));
        assert_eq!(a[0].ok_per_sec, 50.0);
        let b = &windows["POST /b"];
        assert_eq!(b[0].start_secs, 2);
        assert_eq!((b[0].limited_per_sec, b[0].errors_per_sec), (0.5, 0.5));
        assert_eq!(windows["all"].len(), 2);
    }
}
