//! JSON-RPC 2.0 over HTTP for monerod and monero-wallet-rpc: digest authentication, per-call
//! timeout, one tracing span and the `monero_rpc_*` metrics per call.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digest_auth::{AuthContext, WwwAuthenticateHeader};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::error::RpcError;
use monero_types::WalletPassword;

/// Name of the histogram of call durations in seconds, labelled `method` and `wallet`.
pub const METRIC_DURATION: &str = "monero_rpc_duration_seconds";

/// Name of the counter of failed calls, labelled `method` and `error_type`
/// (see [`RpcError::error_type`]).
pub const METRIC_ERRORS: &str = "monero_rpc_errors_total";

/// How long an idle keep-alive connection stays in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Requests per call at most when the server keeps answering 401.
const MAX_AUTH_ATTEMPTS: usize = 3;

/// Whether [`Transport::call`] records a call (tracing span, duration histogram, error counter
/// and warning). Internal probes whose expected error is no failure go unrecorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recording {
    /// Span, metrics and logs.
    Recorded,
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

/// Username and password for a monero-wallet-rpc (or monerod) started with `--rpc-login USER:PASS`
/// (HTTP digest authentication, RFC 7616, MD5). `Debug` redacts the password.
#[derive(Clone)]
pub struct DigestCredentials {
    username: String,
    password: WalletPassword,
}

impl DigestCredentials {
    /// Credentials for `--rpc-login username:password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        let password = WalletPassword::new(password);
        DigestCredentials {
            username: username.into(),
            password,
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One JSON-RPC endpoint (`<base>/json_rpc`) with its HTTP client, auth state and labels.
#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    endpoint: Url,
    label: Arc<str>,
    /// The client's per-call timeout (the daemon's mining call passes its own).
    timeout: Duration,
    credentials: Option<DigestCredentials>,
    /// Last digest challenge, reused (with an increasing nonce count) until the server
    /// answers 401 again; then replaced by the new challenge. epee binds a challenge to the
    /// TCP connection it was sent on, so reuse only succeeds while that pooled connection
    /// lives; otherwise the call costs one extra round trip.
    challenge: Arc<Mutex<Option<WwwAuthenticateHeader>>>,
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
        let http = reqwest::Client::builder()
            // Wallet-rpc and monerod are local services: never route them through a proxy
            // taken from the environment.
            .no_proxy()
            // Keep-alive matters: epee keeps the digest nonce per TCP connection, so the answer
            // to a 401 challenge must go over the connection that got it. Idle connections are
            // dropped well before epee's own idle timeout.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|source| RpcError::Transport {
                method: "-",
                source,
            })?;
        Ok(Transport {
            http,
            endpoint,
            label: Arc::from(label),
            timeout,
            credentials: None,
            challenge: Arc::new(Mutex::new(None)),
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
        self.challenge = Arc::new(Mutex::new(None));
    }

    pub(crate) fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Calls JSON-RPC `method` with `params`, giving up after `timeout`, and decodes `result`
    /// as `R`. A [`Recording::Recorded`] call records the span, the duration histogram and, on
    /// failure, the error counter and a warning.
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
        if recording == Recording::Unrecorded {
            return timed.await;
        }
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

    /// POSTs `body`, answering a digest challenge when credentials are set. Sends at most
    /// [`MAX_AUTH_ATTEMPTS`] requests: the first with the cached challenge's answer (or none),
    /// then answers to fresh challenges. A second fresh answer covers the rare case where the
    /// pool hands the retry a different keep-alive connection than the one challenged.
    async fn post(&self, method: &'static str, body: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let mut authorization = self.authorization_from_cache();
        for attempt in 1..=MAX_AUTH_ATTEMPTS {
            let mut request = self
                .http
                .post(self.endpoint.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(value) = &authorization {
                request = request.header(AUTHORIZATION, value);
            }
            let response = request
                .send()
                .await
                .map_err(|source| RpcError::Transport { method, source })?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                if attempt == MAX_AUTH_ATTEMPTS || self.credentials.is_none() {
                    return Err(RpcError::Unauthorized { method });
                }
                let answer = self.answer_challenge(method, response.headers())?;
                // Read the 401 body to the end so the connection returns to the pool and the
                // answer reuses it (the challenge is only valid on that connection).
                response
                    .bytes()
                    .await
                    .map_err(|source| RpcError::Transport { method, source })?;
                authorization = Some(answer);
                continue;
            }
            if !status.is_success() {
                return Err(RpcError::HttpStatus {
                    method,
                    status: status.as_u16(),
                });
            }
            return response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|source| RpcError::Transport { method, source });
        }
        Err(RpcError::Unauthorized { method })
    }

    fn authorization_from_cache(&self) -> Option<String> {
        let credentials = self.credentials.as_ref()?;
        let mut cache = self.challenge.lock().unwrap_or_else(|p| p.into_inner());
        let challenge = cache.as_mut()?;
        let context = self.auth_context(credentials);
        match challenge.respond(&context) {
            Ok(header) => Some(header.to_header_string()),
            Err(_) => {
                *cache = None;
                None
            }
        }
    }

    /// Parses the server's `WWW-Authenticate: Digest ...` headers (wallet-rpc sends one for
    /// MD5 and one for MD5-sess), caches the first usable one and returns the answer.
    fn answer_challenge(
        &self,
        method: &'static str,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<String, RpcError> {
        let Some(credentials) = &self.credentials else {
            return Err(RpcError::Unauthorized { method });
        };
        let mut parsed = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.trim_start().starts_with("Digest"))
            .filter_map(|v| digest_auth::parse(v).ok());
        let Some(mut challenge) = parsed.next() else {
            return Err(RpcError::Unauthorized { method });
        };
        let context = self.auth_context(credentials);
        let header = challenge
            .respond(&context)
            .map_err(|_| RpcError::Unauthorized { method })?
            .to_header_string();
        let mut cache = self.challenge.lock().unwrap_or_else(|p| p.into_inner());
        *cache = Some(challenge);
        Ok(header)
    }

    fn auth_context<'a>(&'a self, credentials: &'a DigestCredentials) -> AuthContext<'a> {
        AuthContext::new_post(
            credentials.username.as_str(),
            credentials.password.expose_secret(),
            self.endpoint.path(),
            Option::<&[u8]>::None,
        )
    }
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
