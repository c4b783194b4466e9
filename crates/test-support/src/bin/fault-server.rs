//! `fault-server`: a test-only stand-in for a faulty release of the mmkt server, put into an
//! image in place of the real binary so a deploy can be shown a version that misbehaves in
//! one precise way. It answers the routes the deploy workflow and the load tests use, in the
//! server's shapes, and marks every answer with the header `x-mmkt-fault: MODE`:
//!
//! - `GET /health` 200 `{"status":"ok"}`, `GET /ready` 200 `{"status":"ready"}`;
//! - `GET /metrics`: `http_requests_total{method,path,status}` counters of its own answers
//!   (the metric the server exposes and the deploy watch reads);
//! - `GET /api/listings` 200 `{"items":[]}`, `GET /api/openapi.json` 200 `{"openapi":"3.1.0"}`;
//! - `POST /ops/runner/release` 200, `POST /ops/runner/acquire` 409 `runner_disabled` (a
//!   server with no wallet-rpc configured);
//! - anything else 404.
//!
//! Configured by the environment:
//!
//! - `MMKT_BIND` (default `0.0.0.0:8080`): the listen address, as the server's.
//! - `FAULT_MODE`: `smoke` answers `GET /api/openapi.json` with 500 (it passes `/ready`, fails a
//!   smoke check); `spike` answers every `/api/*` request with 500 once it has answered
//!   `FAULT_OK_API_REQUESTS` of them (default 2: the smoke checks' two), so it passes the smoke
//!   checks and then fails under traffic; `none` misbehaves nowhere.
//!
//! A bad setting prints what is wrong and exits with code 2. SIGTERM ends it at once (it is
//! PID 1 in its container).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Smoke,
    Spike { ok_api_requests: u64 },
    None,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Spike { .. } => "spike",
            Mode::None => "none",
        }
    }
}

struct Config {
    bind: String,
    mode: Mode,
}

fn config() -> Result<Config, String> {
    let bind = std::env::var("MMKT_BIND").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let ok_api_requests = match std::env::var("FAULT_OK_API_REQUESTS") {
        Err(_) => 2,
        Ok(v) => v.parse().map_err(|_| {
            format!("FAULT_OK_API_REQUESTS={v:?} is not a whole number: give e.g. 2")
        })?,
    };
    let mode = match std::env::var("FAULT_MODE").as_deref() {
        Ok("smoke") => Mode::Smoke,
        Ok("spike") => Mode::Spike { ok_api_requests },
        Ok("none") => Mode::None,
        Ok(other) => {
            return Err(format!(
                "FAULT_MODE={other:?} is unknown: use smoke, spike or none"
            ));
        }
        Err(_) => return Err("FAULT_MODE is not set: use smoke, spike or none".into()),
    };
    Ok(Config { bind, mode })
}

/// What the server has answered so far.
struct State {
    mode: Mode,
    api_answered: AtomicU64,
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

extern "C" fn on_sigterm(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

fn main() {
    let config = match config() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("fault-server: {why}");
            std::process::exit(2);
        }
    };
    // SAFETY: installs a handler that only calls an async-signal-safe function.
    unsafe {
        libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t);
    }
    let listener = match TcpListener::bind(&config.bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "fault-server: cannot listen on {}: {e} (set MMKT_BIND to a free address)",
                config.bind
            );
            std::process::exit(2);
        }
    };
    eprintln!(
        "fault-server: mode {} listening on {}",
        config.mode.name(),
        config.bind
    );
    let state = Arc::new(State {
        mode: config.mode,
        api_answered: AtomicU64::new(0),
        counts: Mutex::new(BTreeMap::new()),
    });
    for stream in listener.incoming().flatten() {
        let state = Arc::clone(&state);
        std::thread::spawn(move || serve(stream, &state));
    }
}

/// Serves the requests of one connection (keep-alive unless the client says otherwise).
fn serve(stream: TcpStream, state: &State) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = line.ends_with("HTTP/1.0\r\n");
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if header == "connection: close" {
                close = true;
            }
        }
        let mut body = vec![0u8; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("").to_string();
        let (status, content_type, text) = answer(state, &method, &path);
        *state
            .counts
            .lock()
            .expect("counts lock")
            .entry((method, path, status))
            .or_default() += 1;
        let connection = if close { "close" } else { "keep-alive" };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-mmkt-fault: {}\r\nConnection: {connection}\r\n\r\n",
            reason(status),
            text.len(),
            state.mode.name()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(text.as_bytes()).is_err()
        {
            return;
        }
        if close {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Internal Server Error",
    }
}

const JSON: &str = "application/json";

fn answer(state: &State, method: &str, path: &str) -> (u16, &'static str, String) {
    let failed = || {
        (
            500,
            JSON,
            r#"{"error":{"code":"internal","message":"injected fault"}}"#.to_string(),
        )
    };
    if path.starts_with("/api/") {
        let answered = state.api_answered.fetch_add(1, Ordering::SeqCst);
        if let Mode::Spike { ok_api_requests } = state.mode
            && answered >= ok_api_requests
        {
            return failed();
        }
    }
    match (method, path) {
        ("GET", "/health") => (200, JSON, r#"{"status":"ok"}"#.into()),
        ("GET", "/ready") => (200, JSON, r#"{"status":"ready","checks":{}}"#.into()),
        ("GET", "/metrics") => (200, "text/plain; version=0.0.4", metrics(state)),
        ("GET", "/api/openapi.json") if state.mode == Mode::Smoke => failed(),
        ("GET", "/api/openapi.json") => (200, JSON, r#"{"openapi":"3.1.0"}"#.into()),
        ("GET", "/api/listings") => (200, JSON, r#"{"items":[]}"#.into()),
        ("POST", "/ops/runner/release") => (200, JSON, r#"{"status":"released"}"#.into()),
        ("POST", "/ops/runner/acquire") => (
            409,
            JSON,
            r#"{"error":{"code":"runner_disabled","message":"no wallet-rpc configured"}}"#.into(),
        ),
        _ => (
            404,
            JSON,
            r#"{"error":{"code":"not_found","message":"no such route"}}"#.into(),
        ),
    }
}

/// The Prometheus text exposition of the answers so far (this request not yet counted).
fn metrics(state: &State) -> String {
    let counts = state.counts.lock().expect("counts lock");
    let mut text = String::from("# TYPE http_requests_total counter\n");
    for ((method, path, status), n) in counts.iter() {
        text.push_str(&format!(
            "http_requests_total{{method=\"{method}\",path=\"{path}\",status=\"{status}\"}} {n}\n"
        ));
    }
    text
}
