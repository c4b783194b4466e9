//! JSON-RPC 2.0 over HTTP for monerod and monero-wallet-rpc: digest authentication, per-call
//! timeout, one tracing span and the `monero_rpc_*` metrics per call.
//!
//! # Connections and digest authentication
//!
//! The transport opens and keeps its own HTTP/1.1 keep-alive connections ([`pool`], at most
//! [`pool::MAX_CONNECTIONS`] per client and its clones, idle ones closed after
//! [`connection::POOL_IDLE_TIMEOUT`]), because monero's epee server keeps the digest nonce
//! and its nonce count per TCP connection ([`digest`] says exactly how). Each connection
//! carries the challenge its server sent, and only requests on that connection answer it:
//!
//! - a call takes an idle connection (or opens one) and sends its request with the answer to
//!   that connection's challenge, its `nc` one higher than the last on that connection (no
//!   `Authorization` on a connection not yet challenged);
//! - on a 401 it takes the 401's fresh challenge and sends the request once more, on the
//!   same connection; a second 401 is [`RpcError::Unauthorized`]. Never more than these two
//!   requests per call, so a wrong password costs one extra round trip and never loops;
//! - a challenge is never cached across connections or shared between concurrent calls, so
//!   one call's answer can never reset the nonce another connection relies on;
//! - an idle connection the server closed meanwhile is replaced by a new one only when the
//!   request was provably not sent; a connection whose call failed or timed out is closed,
//!   never reused.
//!
//! The password and the `Authorization` header are never logged (the header value is marked
//! sensitive and no error or span field carries it).

mod connection;
mod digest;
mod pool;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::error::{HttpError, RpcError};
use connection::{Answer, Connector, SendFailure};
pub use digest::DigestCredentials;
use pool::{Lease, Origin, Pool};

/// Name of the histogram of call durations in seconds, labelled `method` and `wallet`.
pub const METRIC_DURATION: &str = "monero_rpc_duration_seconds";

/// Name of the counter of failed calls, labelled `method` and `error_type`
/// (see [`RpcError::error_type`]).
pub const METRIC_ERRORS: &str = "monero_rpc_errors_total";

/// Whether [`Transport::call`] records a call (tracing span, duration histogram, error counter
/// and warning). Internal probes whose expected error is no failure go unrecorded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Recording {
    /// Span, metrics and logs.
    Recorded,
    /// Span and duration histogram, but an error the function accepts is an expected answer
    /// (such as "transaction not found" from a lookup before a submission): neither counted in
    /// [`METRIC_ERRORS`] nor logged as a warning. Other errors are recorded as usual.
    Expecting(fn(&RpcError) -> bool),
    /// None of them.
    Unrecorded,
}

/// Implements the methods both clients share on `$client`, a struct with a
/// `transport: Transport` field: `with_timeout`, `with_credentials` (HTTP digest auth) and
/// `endpoint`. For the docs, `$timeout` says which calls the timeout applies to, `$server`
/// names the server and `$endpoint` is an example endpoint.
macro_rules! client_transport_methods {
    ($client:ident, $timeout:literal, $server:literal, $endpoint:literal) => {
        impl $client {
            #[doc = concat!("Sets the timeout of ", $timeout, ", from sending the request to")]
            /// decoding the answer; past it the call fails with [`RpcError::Timeout`].
            #[must_use]
            pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.transport.set_timeout(timeout);
                self
            }

            #[doc = concat!("Answers HTTP digest challenges with `credentials` (", $server, " started with")]
            /// `--rpc-login user:pass`). Without this, such a server gives
            /// [`RpcError::Unauthorized`].
            ///
            /// epee keeps the digest nonce and its count per TCP connection, so the client
            /// keeps each of its keep-alive connections' challenge with that connection
            /// (never shared across connections or concurrent calls). A call whose request
            /// gets a 401 takes that answer's fresh challenge and retries once, on the same
            /// connection; a second 401 is [`RpcError::Unauthorized`] (no further retry). A
            /// new connection costs one 401 round trip; later calls on it need none. The
            /// password and the `Authorization` header are never logged. Connections already
            /// open, challenged for other credentials, are not reused.
            #[must_use]
            pub fn with_credentials(mut self, credentials: $crate::DigestCredentials) -> Self {
                self.transport.set_credentials(credentials);
                self
            }

            #[doc = concat!("The JSON-RPC endpoint called, e.g. `", $endpoint, "`.")]
            pub fn endpoint(&self) -> &str {
                self.transport.endpoint().as_str()
            }
        }
    };
}

pub(crate) use client_transport_methods;

/// One JSON-RPC endpoint (`<base>/json_rpc`) with its HTTP client, auth state and labels.
#[derive(Clone)]
pub(crate) struct Transport {
    connector: Connector,
    /// The connections (with their digest state) shared by a client and its clones.
    pool: Arc<Pool>,
    endpoint: Url,
    /// The `Host` header: the endpoint's host, with its port when the URL names one.
    host: HeaderValue,
    label: Arc<str>,
    /// The client's per-call timeout (the daemon's mining call passes its own).
    timeout: Duration,
    credentials: Option<DigestCredentials>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint.as_str())
            .field("label", &self.label)
            .field("timeout", &self.timeout)
            .field("credentials", &self.credentials)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct Envelope {
    result: Option<serde_json::Value>,
    error: Option<ErrorObject>,
}

#[derive(serde::Deserialize)]
struct ErrorObject {
    code: i64,
    message: String,
}

impl Transport {
    /// A transport for `base_url` (e.g. `http://127.0.0.1:18083`) whose calls go to
    /// `<base_url>/json_rpc`, labelled `label`, with a per-call `timeout`.
    pub(crate) fn new(base_url: &str, label: &str, timeout: Duration) -> Result<Self, RpcError> {
        let endpoint = json_rpc_endpoint(base_url)?;
        let connector = connection::connector().map_err(|source| RpcError::Transport {
            method: "-",
            source,
        })?;
        let host = host_header(&endpoint).ok_or(RpcError::InvalidUrl {
            url: base_url.to_owned(),
            reason: "the host cannot be sent in an HTTP Host header",
        })?;
        Ok(Transport {
            pool: Arc::new(Pool::new(connector.clone(), endpoint.clone())),
            connector,
            endpoint,
            host,
            label: Arc::from(label),
            timeout,
            credentials: None,
        })
    }

    pub(crate) fn set_label(&mut self, label: &str) {
        self.label = Arc::from(label);
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn set_credentials(&mut self, credentials: DigestCredentials) {
        self.credentials = Some(credentials);
        // Connections challenged for other credentials (or none) are not carried over.
        self.pool = Arc::new(Pool::new(self.connector.clone(), self.endpoint.clone()));
    }

    pub(crate) fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Calls JSON-RPC `method` with `params`, giving up after `timeout`, and decodes `result`
    /// as `R`. A [`Recording::Recorded`] call records the span, the duration histogram and, on
    /// failure, the error counter and a warning; [`Recording::Expecting`] leaves its expected
    /// errors out of the counter and the warnings.
    pub(crate) async fn call<P, R>(
        &self,
        method: &'static str,
        params: &P,
        timeout: Duration,
        recording: Recording,
    ) -> Result<R, RpcError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let timed = async {
            match tokio::time::timeout(timeout, self.call_untimed(method, params)).await {
                Ok(result) => result,
                Err(_) => Err(RpcError::Timeout { method, timeout }),
            }
        };
        let expected = match recording {
            Recording::Unrecorded => return timed.await,
            Recording::Recorded => None,
            Recording::Expecting(expected) => Some(expected),
        };
        let span = tracing::info_span!(
            "monero_rpc",
            method,
            wallet = %self.label,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = timed.instrument(span.clone()).await;
        let elapsed = started.elapsed();
        span.record("duration_ms", elapsed.as_millis() as u64);
        metrics::histogram!(METRIC_DURATION, "method" => method, "wallet" => self.label.to_string())
            .record(elapsed.as_secs_f64());
        let _entered = span.enter();
        match &outcome {
            Ok(_) => tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "rpc call ok"),
            Err(error) if expected.is_some_and(|expected| expected(error)) => {
                tracing::debug!(
                    error_type = error.error_type(),
                    "rpc call gave an expected answer"
                );
            }
            Err(error) => {
                metrics::counter!(METRIC_ERRORS, "method" => method, "error_type" => error.error_type())
                    .increment(1);
                tracing::warn!(error = %error, error_type = error.error_type(), "rpc call failed");
            }
        }
        outcome
    }

    async fn call_untimed<P, R>(&self, method: &'static str, params: &P) -> Result<R, RpcError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let body = serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0",
            "id": "0",
            "method": method,
            "params": params,
        }))
        .map_err(|e| RpcError::Decode {
            method,
            detail: format!(
                "cannot encode the request: {}",
                redact_quoted(&e.to_string())
            ),
        })?;
        let bytes = self.post(method, body).await?;
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| RpcError::Decode {
            method,
            detail: format!("not a JSON-RPC response: {}", redact_quoted(&e.to_string())),
        })?;
        if let Some(error) = envelope.error {
            return Err(RpcError::from_rpc(method, error.code, error.message));
        }
        let Some(result) = envelope.result else {
            return Err(RpcError::Decode {
                method,
                detail: "JSON-RPC response has neither `result` nor `error`".to_owned(),
            });
        };
        serde_json::from_value(result).map_err(|e| RpcError::Decode {
            method,
            detail: redact_quoted(&e.to_string()),
        })
    }

    /// POSTs `body` and returns the answer's body, answering a digest challenge when
    /// credentials are set: at most two requests, both on one connection (see the module
    /// documentation).
    async fn post(&self, method: &'static str, body: Vec<u8>) -> Result<Bytes, RpcError> {
        let body = Bytes::from(body);
        let mut lease = self.pool.lease().await;
        let mut answer = self.first_exchange(&mut lease, method, &body).await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            answer = self
                .answer_challenge(&mut lease, method, &body, answer)
                .await?;
        }
        // Both requests were answered: the connection is in step with the server.
        lease.release();
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(RpcError::Unauthorized { method });
        }
        if !answer.status.is_success() {
            return Err(RpcError::HttpStatus {
                method,
                status: answer.status.as_u16(),
            });
        }
        Ok(answer.body)
    }

    /// The call's first request. An idle connection the server has closed meanwhile is
    /// replaced once by a new one, only when the request provably was not sent.
    async fn first_exchange(
        &self,
        lease: &mut Lease<'_>,
        method: &'static str,
        body: &Bytes,
    ) -> Result<Answer, RpcError> {
        let (connection, origin) = lease
            .connection()
            .await
            .map_err(|source| RpcError::Transport { method, source })?;
        let request = self.request(&mut connection.auth, body);
        match connection.send(request).await {
            Ok(answer) => return Ok(answer),
            Err(SendFailure::Unsent(_)) if origin == Origin::Reused => lease.discard(),
            Err(SendFailure::Unsent(source) | SendFailure::Failed(source)) => {
                return Err(self.exchange_error(method, source));
            }
        }
        let (connection, _) = lease
            .connection()
            .await
            .map_err(|source| RpcError::Transport { method, source })?;
        let request = self.request(&mut connection.auth, body);
        connection
            .send(request)
            .await
            .map_err(|failure| match failure {
                SendFailure::Unsent(source) | SendFailure::Failed(source) => {
                    self.exchange_error(method, source)
                }
            })
    }

    /// Answers the 401 `challenged` received on the lease's connection: takes its fresh
    /// challenge and sends the request once more on that same connection. Returns
    /// `challenged` itself when there are no credentials or no usable challenge. A second
    /// 401's challenge is kept too, so the connection stays in step for the next call.
    async fn answer_challenge(
        &self,
        lease: &mut Lease<'_>,
        method: &'static str,
        body: &Bytes,
        challenged: Answer,
    ) -> Result<Answer, RpcError> {
        let Some(connection) = lease.held() else {
            return Ok(challenged);
        };
        if self.credentials.is_none() || !connection.auth.accept_challenge(&challenged.headers) {
            return Ok(challenged);
        }
        let request = self.request(&mut connection.auth, body);
        let answer = match connection.send(request).await {
            Ok(answer) => answer,
            Err(SendFailure::Unsent(_)) => {
                return Err(RpcError::Transport {
                    method,
                    source: HttpError::ClosedAfterChallenge {
                        url: self.endpoint.to_string(),
                    },
                });
            }
            Err(SendFailure::Failed(source)) => return Err(self.exchange_error(method, source)),
        };
        if answer.status == StatusCode::UNAUTHORIZED {
            connection.auth.accept_challenge(&answer.headers);
        }
        Ok(answer)
    }

    /// The POST of `body` to the endpoint's path, with the answer to the connection's
    /// challenge when credentials are set and the connection was challenged.
    fn request(&self, auth: &mut digest::ConnectionAuth, body: &Bytes) -> Request<Full<Bytes>> {
        let path = self.endpoint.path();
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = http::Uri::from_maybe_shared(Bytes::copy_from_slice(path.as_bytes()))
            .expect("a URL path is a valid origin-form URI");
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let authorization = self
            .credentials
            .as_ref()
            .and_then(|credentials| auth.authorization(credentials, path));
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value);
        }
        request
    }

    fn exchange_error(&self, method: &'static str, source: hyper::Error) -> RpcError {
        RpcError::Transport {
            method,
            source: HttpError::Exchange {
                url: self.endpoint.to_string(),
                source,
            },
        }
    }
}

/// The `Host` header value for `endpoint`: host, plus `:port` when the URL names a
/// non-default port.
fn host_header(endpoint: &Url) -> Option<HeaderValue> {
    let host = endpoint.host_str()?;
    let value = match endpoint.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    HeaderValue::from_str(&value).ok()
}

/// Builds `<base_url>/json_rpc`, refusing non-HTTP schemes and URLs with credentials
/// (credentials go through [`DigestCredentials`], never the URL, so they cannot leak into
/// error messages).
fn json_rpc_endpoint(base_url: &str) -> Result<Url, RpcError> {
    let invalid = |reason| RpcError::InvalidUrl {
        url: base_url.to_owned(),
        reason,
    };
    let mut url = Url::parse(base_url).map_err(|_| RpcError::InvalidUrl {
        url: strip_userinfo(base_url),
        reason: "not a valid URL (expected e.g. http://127.0.0.1:18083)",
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RpcError::InvalidUrl {
            url: strip_userinfo(base_url),
            reason: "credentials in the URL are not supported; use with_credentials",
        });
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("URL must not have a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.join("json_rpc")
        .map_err(|_| invalid("cannot append /json_rpc"))
}

fn strip_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<redacted>@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Replaces double-quoted substrings of a serde error message (which may quote response
/// values such as a multisig_txset) by `"…"`, keeping field names (in backticks).
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
            continue;
        }
        if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_base_plus_json_rpc() {
        let e = |s| json_rpc_endpoint(s).map(|u| u.to_string());
        assert_eq!(
            e("http://127.0.0.1:18083").unwrap(),
            "http://127.0.0.1:18083/json_rpc"
        );
        assert_eq!(
            e("http://127.0.0.1:18083/").unwrap(),
            "http://127.0.0.1:18083/json_rpc"
        );
        assert_eq!(
            e("https://node.example/rpc").unwrap(),
            "https://node.example/rpc/json_rpc"
        );
        assert!(e("ftp://x").is_err());
        assert!(e("not a url").is_err());
        assert!(e("http://h/?a=b").is_err());
    }

    #[test]
    fn credentials_in_url_are_refused_and_never_echoed() {
        let err = json_rpc_endpoint("http://user:hunter2@127.0.0.1:1").unwrap_err();
        assert!(matches!(err, RpcError::InvalidUrl { .. }));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn credentials_debug_redacts_password() {
        let c = DigestCredentials::new("alice", "hunter2");
        let text = format!("{c:?}");
        assert!(
            text.contains("alice") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn serde_messages_are_redacted() {
        assert_eq!(
            redact_quoted("invalid type: string \"secret\", expected u64 for `amount`"),
            "invalid type: string \"…\", expected u64 for `amount`"
        );
    }
}
