//! Bounded-rate HTTP load for tests and benchmarks: requests started at a fixed rate (never
//! faster, never bursting to catch up), spread over several loopback source addresses as
//! separate clients would be (on Linux the whole 127.0.0.0/8 is local), with every request's
//! outcome counted, not sampled.
//!
//! ```ignore
//! let load = Load::start(LoadPlan::new("http://127.0.0.1:8080", &["/health"], 8))?;
//! // ... deploy ...
//! let tally = load.stop();
//! assert_eq!(tally.failed(), 0, "{tally}");
//! ```
//!
//! [`Load`] owns its own tokio runtime, so it is started and stopped from plain (non-async)
//! test code; [`Load::stop`] waits for every request in flight (each ends within the plan's
//! timeout), so `sent` always equals the sum of the outcome counts.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How many failures [`Tally::first_failures`] keeps (the counts stay exact beyond it).
pub const KEPT_FAILURES: usize = 20;

/// Whether each request opens its own TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// A new connection per request (each request is a fresh client: what a proxy restart or
    /// reload does to open connections never hides or adds a failure).
    Fresh,
    /// Keep-alive connections, reused per source address (as a browser would).
    KeepAlive,
}

/// What to send: where, which paths (in turn), how fast, from which source addresses.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Base URL, e.g. `http://127.0.0.1:8080` (no trailing slash needed).
    pub base_url: String,
    /// Paths requested in turn with `GET`, e.g. `["/health", "/api/listings"]`.
    pub paths: Vec<String>,
    /// Requests started per second, over all sources together.
    pub rate_per_sec: u32,
    /// Source addresses, used in turn (one client each).
    pub sources: Vec<IpAddr>,
    /// How long one request may take before it counts as a timeout.
    pub timeout: Duration,
    /// Connection reuse.
    pub connections: Connections,
    /// A response header whose presence is counted in [`Tally::marked`] (e.g. a marker a
    /// test image sends on every answer), or `None`.
    pub marker_header: Option<String>,
}

impl LoadPlan {
    /// A plan with 4 loopback sources ([`loopback_sources`]), a 10 s timeout, fresh
    /// connections and no marker header.
    pub fn new(base_url: &str, paths: &[&str], rate_per_sec: u32) -> LoadPlan {
        LoadPlan {
            base_url: base_url.to_string(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            rate_per_sec,
            sources: loopback_sources(4),
            timeout: Duration::from_secs(10),
            connections: Connections::Fresh,
            marker_header: None,
        }
    }
}

/// `n` loopback source addresses from 127.0.0.2 (127.0.0.1 is left to the processes under
/// test), shared with the `mmkt-load` tool.
pub use mmkt_loadtest::sources::loopback_sources;

/// A plan that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// `rate_per_sec` is 0.
    #[error("the load rate is 0 requests per second: give at least 1")]
    ZeroRate,
    /// `paths` is empty.
    #[error("the load plan has no paths: give at least one, e.g. /health")]
    NoPaths,
    /// `sources` is empty.
    #[error("the load plan has no source addresses: give at least one, e.g. 127.0.0.2")]
    NoSources,
    /// `base_url` + a path is not a URL.
    #[error("{url:?} is not a URL: {reason}")]
    BadUrl {
        /// The URL tried.
        url: String,
        /// Why it did not parse.
        reason: String,
    },
    /// The HTTP client or the runtime could not be built.
    #[error("cannot build the load's HTTP client or runtime: {0}")]
    Setup(String),
}

/// Every request's outcome, counted exactly. `sent` is the sum of the outcome counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests started.
    pub sent: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Answered 429 (the proxy's rate limit): counted apart, not a failure of the server.
    pub rate_limited: u64,
    /// Answered 4xx other than 429.
    pub client_errors: u64,
    /// Answered 5xx.
    pub server_errors: u64,
    /// Answered 1xx or 3xx.
    pub other_statuses: u64,
    /// No connection could be made (refused, unreachable).
    pub connect_errors: u64,
    /// No complete answer within the plan's timeout.
    pub timeouts: u64,
    /// The connection broke after it was made (closed or reset before a complete answer).
    pub broken: u64,
    /// Answers that carried the plan's marker header.
    pub marked: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// The first [`KEPT_FAILURES`] failures: seconds since the start, path, what happened.
    pub first_failures: Vec<String>,
}

impl Tally {
    /// Requests that failed: everything but 2xx and 429.
    pub fn failed(&self) -> u64 {
        self.sent - self.ok - self.rate_limited
    }

    fn record(&mut self, outcome: &Outcome, marked: bool, at: Duration, path: &str) {
        self.sent += 1;
        if marked {
            self.marked += 1;
        }
        let failure = match *outcome {
            Outcome::Status(code) => {
                *self.statuses.entry(code).or_default() += 1;
                match code {
                    200..=299 => {
                        self.ok += 1;
                        None
                    }
                    429 => {
                        self.rate_limited += 1;
                        None
                    }
                    400..=499 => {
                        self.client_errors += 1;
                        Some(format!("HTTP {code}"))
                    }
                    500..=599 => {
                        self.server_errors += 1;
                        Some(format!("HTTP {code}"))
                    }
                    _ => {
                        self.other_statuses += 1;
                        Some(format!("HTTP {code}"))
                    }
                }
            }
            Outcome::Connect(ref why) => {
                self.connect_errors += 1;
                Some(format!("connect: {why}"))
            }
            Outcome::Timeout => {
                self.timeouts += 1;
                Some("timeout".to_string())
            }
            Outcome::Broken(ref why) => {
                self.broken += 1;
                Some(format!("broken: {why}"))
            }
        };
        if let Some(what) = failure
            && self.first_failures.len() < KEPT_FAILURES
        {
            self.first_failures
                .push(format!("{:.2} s {path}: {what}", at.as_secs_f64()));
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {}: 2xx {}, 429 {}, other 4xx {}, 5xx {}, 1xx/3xx {}, connect errors {}, \
             timeouts {}, broken {}, marked {}; failed {}",
            self.sent,
            self.ok,
            self.rate_limited,
            self.client_errors,
            self.server_errors,
            self.other_statuses,
            self.connect_errors,
            self.timeouts,
            self.broken,
            self.marked,
            self.failed()
        )?;
        for failure in &self.first_failures {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

/// One request's outcome.
enum Outcome {
    Status(u16),
    Connect(String),
    Timeout,
    Broken(String),
}

fn classify(err: &reqwest::Error) -> Outcome {
    // The innermost cause says what really happened (reqwest wraps hyper wraps io).
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    if err.is_timeout() {
        Outcome::Timeout
    } else if err.is_connect() {
        Outcome::Connect(text)
    } else {
        Outcome::Broken(text)
    }
}

struct Shared {
    tally: Mutex<Tally>,
    started: Instant,
    marker: Option<String>,
}

async fn one(shared: Arc<Shared>, client: reqwest::Client, url: reqwest::Url, path: String) {
    let (outcome, marked) = match client.get(url).send().await {
        Ok(response) => {
            let marked = shared
                .marker
                .as_deref()
                .is_some_and(|h| response.headers().contains_key(h));
            let status = response.status().as_u16();
            // The whole body must arrive for the request to count as answered.
            match response.bytes().await {
                Ok(_) => (Outcome::Status(status), marked),
                Err(e) => (classify(&e), marked),
            }
        }
        Err(e) => (classify(&e), false),
    };
    let at = shared.started.elapsed();
    shared
        .tally
        .lock()
        .expect("tally lock")
        .record(&outcome, marked, at, &path);
}

/// A running load; [`Load::stop`] ends it and returns the counts.
pub struct Load {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    ticker: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Load {
    /// Starts sending `plan`'s requests at once. Call from a thread outside any tokio runtime
    /// (the load runs on its own).
    ///
    /// # Errors
    /// [`LoadError`] for a plan that cannot start; nothing was sent then.
    pub fn start(plan: LoadPlan) -> Result<Load, LoadError> {
        if plan.rate_per_sec == 0 {
            return Err(LoadError::ZeroRate);
        }
        if plan.paths.is_empty() {
            return Err(LoadError::NoPaths);
        }
        if plan.sources.is_empty() {
            return Err(LoadError::NoSources);
        }
        let urls = plan
            .paths
            .iter()
            .map(|path| {
                let url = format!("{}{path}", plan.base_url.trim_end_matches('/'));
                reqwest::Url::parse(&url)
                    .map(|u| (u, path.clone()))
                    .map_err(|e| LoadError::BadUrl {
                        url,
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clients = plan
            .sources
            .iter()
            .map(|source| {
                let builder = reqwest::Client::builder()
                    .local_address(*source)
                    .timeout(plan.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy();
                let builder = match plan.connections {
                    Connections::Fresh => builder.pool_max_idle_per_host(0),
                    Connections::KeepAlive => builder,
                };
                builder.build().map_err(|e| LoadError::Setup(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| LoadError::Setup(e.to_string()))?;
        let shared = Arc::new(Shared {
            tally: Mutex::new(Tally::default()),
            started: Instant::now(),
            marker: plan.marker_header.clone(),
        });
        let (stop, mut stopped) = oneshot::channel();
        let period = Duration::from_secs(1) / plan.rate_per_sec;
        let state = Arc::clone(&shared);
        let ticker = runtime.spawn(async move {
            let mut interval = tokio::time::interval(period);
            // A late tick is not made up for: the rate stays bounded.
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut in_flight = JoinSet::new();
            let mut n = 0usize;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {}
                }
                let (url, path) = urls[n % urls.len()].clone();
                let client = clients[n % clients.len()].clone();
                in_flight.spawn(one(Arc::clone(&state), client, url, path));
                n += 1;
                while in_flight.try_join_next().is_some() {}
            }
            while in_flight.join_next().await.is_some() {}
        });
        Ok(Load {
            runtime,
            stop,
            ticker,
            shared,
        })
    }

    /// Stops starting requests, waits for those in flight (each ends within the plan's
    /// timeout) and returns the exact counts.
    pub fn stop(self) -> Tally {
        let _ = self.stop.send(());
        let _ = self.runtime.block_on(self.ticker);
        let tally = self.shared.tally.lock().expect("tally lock").clone();
        self.runtime.shutdown_background();
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};

    /// What the tiny server saw: requests per path, and the peers' addresses.
    #[derive(Default)]
    struct Seen {
        paths: BTreeMap<String, u64>,
        peers: HashSet<IpAddr>,
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 whose answer depends on the path: `/ok` 200,
    /// `/limited` 429, `/missing` 404, `/boom` 500, `/moved` 308, `/drop` closes without an
    /// answer, `/slow` answers after 3 s. Every answer closes the connection.
    fn tiny_server() -> (String, Arc<Mutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&state);
                std::thread::spawn(move || answer(stream, &state));
            }
        });
        (url, seen)
    }

    fn answer(mut stream: TcpStream, seen: &Mutex<Seen>) {
        let mut line = String::new();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut header = String::new();
        while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
            header.clear();
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        {
            let mut s = seen.lock().unwrap();
            *s.paths.entry(path.clone()).or_default() += 1;
            s.peers.insert(stream.peer_addr().unwrap().ip());
        }
        let status = match path.as_str() {
            "/ok" => "200 OK",
            "/limited" => "429 Too Many Requests",
            "/missing" => "404 Not Found",
            "/boom" => "500 Internal Server Error",
            "/moved" => "308 Permanent Redirect\r\nLocation: /ok",
            "/slow" => {
                std::thread::sleep(Duration::from_secs(3));
                "200 OK"
            }
            _ => return,
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nX-Test-Marker: yes\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        );
    }

    #[test]
    fn every_outcome_is_counted_exactly_and_the_sources_are_used() {
        let (url, seen) = tiny_server();
        let paths = [
            "/ok", "/limited", "/missing", "/boom", "/moved", "/drop", "/slow",
        ];
        let mut plan = LoadPlan::new(&url, &paths, 70);
        plan.sources = loopback_sources(3);
        plan.timeout = Duration::from_millis(500);
        plan.marker_header = Some("x-test-marker".into());
        let started = Instant::now();
        let load = Load::start(plan).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let tally = load.stop();
        let elapsed = started.elapsed().as_secs_f64();

        let seen = seen.lock().unwrap();
        let at = |p: &str| seen.paths.get(p).copied().unwrap_or(0);
        assert!(tally.sent >= paths.len() as u64, "{tally}");
        assert_eq!(
            tally.sent,
            tally.ok
                + tally.rate_limited
                + tally.client_errors
                + tally.server_errors
                + tally.other_statuses
                + tally.connect_errors
                + tally.timeouts
                + tally.broken,
            "{tally}"
        );
        assert_eq!(tally.ok, at("/ok"), "{tally}");
        assert_eq!(tally.rate_limited, at("/limited"), "{tally}");
        assert_eq!(tally.client_errors, at("/missing"), "{tally}");
        assert_eq!(tally.server_errors, at("/boom"), "{tally}");
        assert_eq!(
            tally.other_statuses,
            at("/moved"),
            "redirects are not followed"
        );
        assert_eq!(tally.broken, at("/drop"), "{tally}");
        assert_eq!(tally.timeouts, at("/slow"), "{tally}");
        assert_eq!(tally.connect_errors, 0, "{tally}");
        assert_eq!(tally.sent, seen.paths.values().sum::<u64>(), "{tally}");
        assert_eq!(tally.marked, tally.sent - at("/drop") - at("/slow"));
        assert_eq!(tally.failed(), tally.sent - tally.ok - tally.rate_limited);
        assert_eq!(tally.statuses.get(&429), Some(&tally.rate_limited));
        assert!(!tally.first_failures.is_empty());
        // Bounded: never more than the rate allows (a slow machine only sends fewer).
        assert!(
            tally.sent as f64 <= 70.0 * elapsed + 2.0,
            "{} requests in {elapsed:.2} s at 70/s",
            tally.sent
        );
        let expected: HashSet<IpAddr> = loopback_sources(3).into_iter().collect();
        assert_eq!(seen.peers, expected, "every source address is used");
    }

    #[test]
    fn keep_alive_connections_are_counted_the_same_way() {
        let (url, seen) = tiny_server();
        let mut plan = LoadPlan::new(&url, &["/ok", "/boom"], 40);
        plan.connections = Connections::KeepAlive;
        let load = Load::start(plan).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let tally = load.stop();
        let seen = seen.lock().unwrap();
        assert_eq!(tally.ok, seen.paths["/ok"], "{tally}");
        assert_eq!(tally.server_errors, seen.paths["/boom"], "{tally}");
        assert_eq!(tally.failed(), tally.server_errors, "{tally}");
    }

    #[test]
    fn a_refused_connection_is_a_connect_error() {
        // Bind, then drop: the port is free and nothing listens on it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let load = Load::start(LoadPlan::new(
            &format!("http://127.0.0.1:{port}"),
            &["/health"],
            20,
        ))
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let tally = load.stop();
        assert!(tally.sent > 0);
        assert_eq!(tally.connect_errors, tally.sent, "{tally}");
        assert_eq!(tally.failed(), tally.sent);
        assert!(tally.to_string().contains("connect:"), "{tally}");
    }

    #[test]
    fn a_plan_that_cannot_start_is_refused_before_anything_is_sent() {
        let plan = |f: fn(&mut LoadPlan)| {
            let mut p = LoadPlan::new("http://127.0.0.1:9", &["/health"], 5);
            f(&mut p);
            Load::start(p).err().expect("refused")
        };
        assert!(matches!(plan(|p| p.rate_per_sec = 0), LoadError::ZeroRate));
        assert!(matches!(plan(|p| p.paths.clear()), LoadError::NoPaths));
        assert!(matches!(plan(|p| p.sources.clear()), LoadError::NoSources));
        let err = plan(|p| p.base_url = "not a url".into());
        assert!(matches!(err, LoadError::BadUrl { .. }), "{err}");
        assert!(err.to_string().contains("not a URL"), "{err}");
    }
}
