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
        first_header(&self.headers, name)
    }
}

/// The first value of header `name` (case-insensitive) in `headers` (names lowercased).
fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
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
        first_header(&self.headers, name)
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
pub type Answerer = Box<dyn Fn(&Recorded) -> Answer + Send + Sync + 'static>;

/// What a [`RecordingServer`] does with a connection after answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Answers with `Connection: close` and closes: one request per connection.
    Close,
    /// Keeps the connection open for the client's next request (HTTP/1.1 persistent
    /// connections) until the client closes it or asks `Connection: close`.
    KeepAlive,
}

/// A plain HTTP/1.1 server on 127.0.0.1 that records every request and answers `200 ok`, or
/// what its [`Answerer`] says, and counts the TCP connections it accepted. Each connection is
/// served on its own thread, as [`Connections`] says. It stands in for the *receiving end* of
/// real traffic: the upstream behind a real nginx, or the webhook a real Alertmanager posts
/// to. On drop it stops accepting and shuts its open connections down.
#[derive(Debug)]
pub struct RecordingServer {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// A handle on every accepted connection, to shut them down on drop.
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingServer {
    /// Binds a free port on 127.0.0.1 and starts accepting; answers [`Answer::ok`].
    pub fn start() -> std::io::Result<Self> {
        Self::start_answering(Box::new(|_| Answer::ok()))
    }

    /// Like [`RecordingServer::start`], answering each request with `answer(request)`, one
    /// request per connection.
    pub fn start_answering(answer: Answerer) -> std::io::Result<Self> {
        Self::start_with(answer, Connections::Close)
    }

    /// Like [`RecordingServer::start_answering`], treating connections as `connections` says.
    pub fn start_with(answer: Answerer, connections: Connections) -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let answer = Arc::new(answer);
        let (requests_t, accepted_t, open_t, stop_t) = (
            Arc::clone(&requests),
            Arc::clone(&accepted),
            Arc::clone(&open),
            Arc::clone(&stop),
        );
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_t.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                accepted_t.fetch_add(1, Ordering::SeqCst);
                if let Ok(handle) = stream.try_clone() {
                    open_t.lock().expect("connection list lock").push(handle);
                }
                let (answer, requests) = (Arc::clone(&answer), Arc::clone(&requests_t));
                std::thread::spawn(move || {
                    serve_connection(stream, &answer, connections, &requests);
                });
            }
        });
        Ok(Self {
            port,
            requests,
            accepted,
            open,
            stop,
            thread: Some(thread),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many TCP connections it accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
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
        for stream in self.open.lock().expect("connection list lock").iter() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Serves the requests of one connection: one, or (keep-alive) until the client closes it.
fn serve_connection(
    mut stream: std::net::TcpStream,
    answer: &Answerer,
    connections: Connections,
    requests: &std::sync::Mutex<Vec<Recorded>>,
) {
    // Bytes read past the previous request (a pipelined next one).
    let mut buf = Vec::new();
    while let Some(recorded) = read_request(&mut stream, &mut buf) {
        use std::io::Write;
        let asked_close = recorded
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let response = respond(&recorded, answer, connections);
        // Recorded before the answer leaves, so a client that has its answer finds its request.
        requests.lock().expect("request log lock").push(recorded);
        if stream.write_all(&response).is_err() {
            return;
        }
        if connections == Connections::Close || asked_close {
            return;
        }
    }
}

/// Reads one request from `stream`, `buf` holding what was read past the previous one.
fn read_request(stream: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
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
    // What follows this request's body stays for the next request on the connection.
    *buf = body.split_off(length.min(body.len()));
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// The raw HTTP answer to `recorded`.
fn respond(recorded: &Recorded, answer: &Answerer, connections: Connections) -> Vec<u8> {
    let Answer {
        status,
        content_type,
        body,
    } = answer(recorded);
    let connection = match connections {
        Connections::Close => "close",
        Connections::KeepAlive => "keep-alive",
    };
    format!(
        "HTTP/1.1 {status} Answer\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A loopback address that drops new connections, as an IP that no container holds any more
/// does on a Docker network: a listener whose accept queue holds one connection (its own,
/// never accepted), so the kernel drops every further SYN and a connect hangs until the
/// connecting side gives up. Dropping it closes both sockets.
pub struct BlackHole {
    listener: std::net::TcpListener,
    _filler: std::net::TcpStream,
}

impl BlackHole {
    /// Binds 127.0.0.1 on a free port with an accept queue of one, and fills it.
    ///
    /// # Errors
    /// The bind, `listen(2)` or the filling connect.
    pub fn start() -> std::io::Result<BlackHole> {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        // SAFETY: listen(2) on the listener this function owns; a backlog of 0 leaves room
        // for one queued connection.
        if unsafe { libc::listen(listener.as_raw_fd(), 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let filler = std::net::TcpStream::connect(listener.local_addr()?)?;
        Ok(BlackHole {
            listener,
            _filler: filler,
        })
    }

    /// Its address (127.0.0.1 and the port).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }
}
