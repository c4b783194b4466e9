//! The `fault-server` binary the deploy fault tests put into images: each mode misbehaves
//! exactly where it says (and only there), its `/metrics` counts its answers in the server's
//! `http_requests_total`, and a bad setting is refused with exit code 2.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running fault-server, killed (by its own handle) when dropped.
struct Fault {
    child: Child,
    addr: String,
}

impl Drop for Fault {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mode: &str, extra: &[(&str, &str)]) -> Fault {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_fault-server"))
        .env("MMKT_BIND", &addr)
        .env("FAULT_MODE", mode)
        .envs(extra.iter().copied())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "fault-server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    Fault { child, addr }
}

/// `METHOD path` over HTTP/1.0: (status, the whole response text).
fn request(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[test]
fn smoke_mode_passes_ready_and_fails_only_the_openapi_document() {
    let f = start("smoke", &[]);
    let (status, text) = request(&f.addr, "GET", "/ready");
    assert_eq!(status, 200);
    assert!(
        text.contains("\"ready\"") && text.contains("x-mmkt-fault: smoke"),
        "{text}"
    );
    assert_eq!(request(&f.addr, "GET", "/health").0, 200);
    for _ in 0..5 {
        assert_eq!(request(&f.addr, "GET", "/api/listings").0, 200);
    }
    assert_eq!(request(&f.addr, "GET", "/api/openapi.json").0, 500);
    let (status, metrics) = request(&f.addr, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "http_requests_total{method=\"GET\",path=\"/api/openapi.json\",status=\"500\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "http_requests_total{method=\"GET\",path=\"/api/listings\",status=\"200\"} 5\n"
        ),
        "{metrics}"
    );
}

#[test]
fn spike_mode_passes_the_smoke_checks_then_fails_every_api_request() {
    let f = start("spike", &[("FAULT_OK_API_REQUESTS", "2")]);
    assert_eq!(request(&f.addr, "GET", "/ready").0, 200);
    assert_eq!(request(&f.addr, "GET", "/api/listings").0, 200);
    assert_eq!(request(&f.addr, "GET", "/api/openapi.json").0, 200);
    for _ in 0..3 {
        assert_eq!(request(&f.addr, "GET", "/api/listings").0, 500);
    }
    assert_eq!(
        request(&f.addr, "GET", "/health").0,
        200,
        "only /api/* fails"
    );
    let (status, text) = request(&f.addr, "POST", "/ops/runner/acquire");
    assert_eq!(status, 409);
    assert!(text.contains("runner_disabled"), "{text}");
    assert_eq!(request(&f.addr, "POST", "/ops/runner/release").0, 200);
    let (_, metrics) = request(&f.addr, "GET", "/metrics");
    assert!(
        metrics.contains("path=\"/api/listings\",status=\"500\"} 3\n"),
        "{metrics}"
    );
}

#[test]
fn keep_alive_requests_are_answered_on_one_connection() {
    let f = start("none", &[]);
    let mut stream = TcpStream::connect(&f.addr).unwrap();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("\"openapi\""), "{text}");
}

#[test]
fn a_bad_setting_is_refused_with_exit_code_2() {
    for (env, needle) in [
        (
            vec![("FAULT_MODE", "sometimes")],
            "use smoke, spike or none",
        ),
        (vec![], "FAULT_MODE is not set"),
        (
            vec![("FAULT_MODE", "spike"), ("FAULT_OK_API_REQUESTS", "two")],
            "not a whole number",
        ),
        (
            vec![("FAULT_MODE", "none"), ("MMKT_BIND", "no-such-address")],
            "cannot listen on",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fault-server"))
            .env_remove("FAULT_MODE")
            .envs(env)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}
