//! Minimal HTTP client for the checks: runs Debian's `curl` (a bootstrap package), so TLS,
//! redirects and headers are exercised exactly as an operator's curl would.

use std::path::Path;
use std::process::Command;

/// One HTTP response as curl saw it.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code; 0 when no response was received (connection refused, TLS failure).
    pub status: u16,
    /// Response headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Response body as text (lossy UTF-8).
    pub body: String,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs `curl` with `args` (URL included) and returns the final response.
/// `curl` is the path found by [`crate::tools::tool`]. Never follows redirects.
pub fn curl(curl: &Path, args: &[&str]) -> Response {
    let dir = tempfile::tempdir().expect("temp dir for curl output");
    let headers_path = dir.path().join("headers");
    let body_path = dir.path().join("body");
    let output = Command::new(curl)
        .args(["-sS", "--max-time", "20", "-D"])
        .arg(&headers_path)
        .arg("-o")
        .arg(&body_path)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let raw_headers = std::fs::read_to_string(&headers_path).unwrap_or_default();
    let body = std::fs::read(&body_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Response {
        status,
        headers: parse_headers(&raw_headers),
        body,
    }
}

fn parse_headers(raw: &str) -> Vec<(String, String)> {
    // With interim responses (100 Continue) curl writes several blocks: keep the last one.
    let last_block = raw
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or("");
    last_block
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// One request received by a [`RecordingServer`].
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request target as sent (path and query).
    pub target: String,
    /// Request headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Request body (read according to Content-Length).
    pub body: Vec<u8>,
}

impl Recorded {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a [`RecordingServer`] answers to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Answer {
    /// `200`, `text/plain`, `ok`: the default answer.
    pub fn ok() -> Self {
        Answer {
            status: 200,
            content_type: "text/plain",
            body: "ok".to_owned(),
        }
    }
}

/// Chooses the [`Answer`] to a recorded request.
pub type Answerer = Box<dyn Fn(&Recorded) -> Answer + Send + 'static>;

/// A plain HTTP/1.1 server on 127.0.0.1 that records every request and answers `200 ok`, or
/// what its [`Answerer`] says (`Connection: close`). It stands in for the *receiving end* of real traffic: the upstream
/// behind a real nginx, or the webhook a real Alertmanager posts to. Stops on drop.
#[derive(Debug)]
pub struct RecordingServer {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingServer {
    /// Binds a free port on 127.0.0.1 and starts accepting; answers [`Answer::ok`].
    pub fn start() -> std::io::Result<Self> {
        Self::start_answering(Box::new(|_| Answer::ok()))
    }

    /// Like [`RecordingServer::start`], answering each request with `answer(request)`.
    pub fn start_answering(answer: Answerer) -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (requests_t, stop_t) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_t.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                if let Some(recorded) = serve_one(stream, &answer) {
                    requests_t.lock().expect("request log lock").push(recorded);
                }
            }
        });
        Ok(Self {
            port,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A snapshot of every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("request log lock").clone()
    }

    /// Polls every 100 ms, up to `timeout`, until a recorded request satisfies `pred`.
    pub fn wait_for(
        &self,
        timeout: std::time::Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Option<Recorded> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self.requests().into_iter().find(|r| pred(r)) {
                return Some(found);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(mut stream: std::net::TcpStream, answer: &Answerer) -> Option<Recorded> {
    use std::io::{Read, Write};
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let recorded = Recorded {
        method,
        target,
        headers,
        body,
    };
    let Answer {
        status,
        content_type,
        body,
    } = answer(&recorded);
    let head = format!(
        "HTTP/1.1 {status} Answer\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    Some(recorded)
}
