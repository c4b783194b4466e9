//! Whether the mmkt server answers: `GET /health` once, and polling `GET /ready` until it
//! answers 200, either over HTTP from this host or from inside the `server` container (whose
//! port need not be published).

use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::StackError;
use super::readiness::PROBE_INTERVAL;

/// The compose service that runs the marketplace server.
pub const SERVER_SERVICE: &str = "server";

/// Why the server did not become ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadyError {
    /// `GET {url}/ready` did not answer 200 before the deadline.
    #[error("{url} did not answer 200 within {seconds}s (last: {last})")]
    Http {
        /// The `/ready` URL polled.
        url: String,
        /// The timeout, in seconds.
        seconds: u64,
        /// The last status line or transport error.
        last: String,
    },
    /// `/ready` polled from inside the server container did not answer 200 before the deadline.
    #[error("the server's /ready did not answer 200 within {seconds}s (last: {last:?})")]
    InContainer {
        /// The timeout, in seconds.
        seconds: u64,
        /// The last HTTP status line read (empty when the connection failed).
        last: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build an HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// Finding the server container or running the probe in it failed.
    #[error(transparent)]
    Engine(#[from] StackError),
}

/// `GET {url}/health` answers at all (any status, 3 s timeout): the server still runs.
pub async fn server_answers(url: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    else {
        return false;
    };
    client
        .get(format!("{}/health", url.trim_end_matches('/')))
        .send()
        .await
        .is_ok()
}

/// Polls `GET {url}/ready` every 500 ms (5 s per request) until it answers 200.
///
/// # Errors
/// [`ReadyError::Http`] after `timeout`, [`ReadyError::Client`].
pub async fn wait_ready_http(url: &str, timeout: Duration) -> Result<(), ReadyError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(ReadyError::Client)?;
    let deadline = Instant::now() + timeout;
    let ready = format!("{}/ready", url.trim_end_matches('/'));
    loop {
        let last = match client.get(&ready).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(ReadyError::Http {
                url: ready,
                seconds: timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Engine {
    /// Polls `/ready` every [`PROBE_INTERVAL`] from inside the project's `server` container, on the port
    /// of its `MMKT_BIND` (bash `/dev/tcp`, no curl needed), until it answers 200.
    ///
    /// Engine API: `POST /containers/{id}/exec` (see [`Engine::exec`]).
    ///
    /// # Errors
    /// [`ReadyError::InContainer`] after `timeout`; [`ReadyError::Engine`] when the container is
    /// missing or the engine fails.
    pub async fn wait_ready_in_container(
        &self,
        project: &str,
        timeout: Duration,
    ) -> Result<(), ReadyError> {
        let id = self
            .require_service_container(project, SERVER_SERVICE)
            .await?;
        let script = "exec 3<>/dev/tcp/127.0.0.1/${MMKT_BIND##*:}; printf 'GET /ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3; head -n1 <&3";
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.exec(&id, &["/bin/bash", "-c", script], None).await?;
            let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if status.contains(" 200") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ReadyError::InContainer {
                    seconds: timeout.as_secs(),
                    last: status,
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A loopback HTTP server answering every request with `status` (e.g. "200 OK").
    async fn responder(status: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let response =
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        url
    }

    /// A loopback URL nothing listens on.
    async fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    #[tokio::test]
    async fn ready_polling_waits_for_200_and_reports_the_last_status() {
        let ready = responder("200 OK").await;
        assert!(server_answers(&ready).await);
        wait_ready_http(&format!("{ready}/"), Duration::from_secs(5))
            .await
            .unwrap();

        let starting = responder("503 Service Unavailable").await;
        assert!(server_answers(&starting).await, "any status means it runs");
        let err = wait_ready_http(&starting, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ReadyError::Http { last, seconds: 0, .. } if last.contains("503")),
            "{err}"
        );
        assert!(
            err.to_string().contains("/ready did not answer 200"),
            "{err}"
        );

        assert!(!server_answers(&closed_port().await).await);
    }
}
