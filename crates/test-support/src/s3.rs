//! A real S3-compatible server for tests: `s3s-fs` (0.14.1, installed by scripts/test.sh) on a
//! free 127.0.0.1 port, storing objects in a temp directory, with random SigV4 credentials.
//! The process is killed by PID when the [`S3Server`] is dropped (also when a test panics).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running s3s-fs process with one bucket created.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    port: u16,
    access_key: String,
    secret_key: String,
    bucket: String,
}

fn services_required() -> bool {
    std::env::var("MMKT_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let mut f = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    std::io::Read::read_exact(&mut f, &mut buf).expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl S3Server {
    /// Starts s3s-fs (from `$S3S_FS` or `PATH`) and creates a bucket named `mmkt-test-<hex>`.
    ///
    /// # Errors
    /// A message when the binary is missing or does not start listening within 20 s.
    pub fn start() -> Result<S3Server, String> {
        let binary = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".into());
        let root = tempfile::Builder::new()
            .prefix("mmkt-s3s-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let bucket = format!("mmkt-test-{}", random_hex(4));
        std::fs::create_dir(root.path().join(&bucket))
            .map_err(|e| format!("create bucket dir: {e}"))?;
        let access_key = format!("AK{}", random_hex(8).to_uppercase());
        let secret_key = random_hex(20);
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| format!("free port: {e}"))?;
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", &access_key, "--secret-key", &secret_key])
                .arg(root.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run {binary} (install: cargo install s3s-fs@0.14.1 --features binary --locked): {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(20);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(S3Server {
                        child,
                        root,
                        port,
                        access_key,
                        secret_key,
                        bucket,
                    });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("s3s-fs exited with {status} before listening on {port}");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("s3s-fs did not listen on {port} within 20 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Err(last_error)
    }

    /// Starts the server; when it cannot start, panics if `MMKT_REQUIRE_SERVICES=1` (CI),
    /// otherwise prints why and returns `None` so the caller can skip.
    pub fn start_or_skip() -> Option<S3Server> {
        match S3Server::start() {
            Ok(server) => Some(server),
            Err(e) if services_required() => {
                panic!("S3 test server required (MMKT_REQUIRE_SERVICES=1) but unavailable: {e}")
            }
            Err(e) => {
                eprintln!("skipping: S3 test server unavailable: {e}");
                None
            }
        }
    }

    /// Endpoint URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Access key id.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// Secret access key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The directory holding the bucket's objects (object key = path under `root()/bucket()`).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Paths of the stored objects under `prefix` (relative to the bucket), sorted.
    pub fn object_keys(&self, prefix: &str) -> Vec<String> {
        let base: PathBuf = self.root.path().join(&self.bucket);
        let mut keys = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&base) {
                    let key = rel.to_string_lossy().into_owned();
                    if key.starts_with(prefix)
                        && !key.contains(".s3s-")
                        && !key.ends_with(".json.s3s")
                    {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        keys
    }

    /// Environment variables that point mmctl at this server (MMKT_S3_*).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("MMKT_S3_ENDPOINT".into(), self.endpoint()),
            ("MMKT_S3_BUCKET".into(), self.bucket.clone()),
            ("MMKT_S3_REGION".into(), "us-east-1".into()),
            ("MMKT_S3_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("MMKT_S3_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("MMKT_S3_PATH_STYLE".into(), "true".into()),
        ]
    }

    /// Stops the server now (by PID); the data directory stays until drop.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
