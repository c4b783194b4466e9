//! HTTP digest authentication (RFC 7616 `qop=auth`, computed by the `digest_auth` crate) the
//! way monero's epee HTTP server checks it: one challenge per TCP connection.
//!
//! What epee does, per connection (its `http_server_auth` lives in the connection handler):
//! - a new connection starts with no nonce, so its first request is always answered 401 with a
//!   fresh `nonce` (two `WWW-authenticate` headers, `algorithm=MD5` and `MD5-sess`, no opaque);
//! - a request is accepted when its nonce is that connection's and its `nc` is exactly the
//!   number of requests carrying `Authorization` on the connection since the challenge;
//! - any other request (no `Authorization`, another connection's nonce, an `nc` out of step,
//!   a wrong password) throws the connection's nonce away and answers 401 with a new one,
//!   `stale=true` when the digest itself was right.
//!
//! So [`ConnectionAuth`] belongs to one connection and is never shared or copied to another.

use std::fmt;

use digest_auth::{AuthContext, WwwAuthenticateHeader};
use http::HeaderValue;
use http::header::{HeaderMap, WWW_AUTHENTICATE};
use monero_types::WalletPassword;

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

/// The digest state of one connection: the last challenge its server sent, with the nonce
/// count of the answers given to it on that connection. `Debug` shows neither the nonce nor
/// any answer.
#[derive(Default)]
pub(crate) struct ConnectionAuth {
    challenge: Option<WwwAuthenticateHeader>,
}

impl fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionAuth")
            .field("challenged", &self.challenge.is_some())
            .field("nc", &self.challenge.as_ref().map(|c| c.nc))
            .finish()
    }
}

impl ConnectionAuth {
    /// The `Authorization` value for the next POST to `uri` on this connection (its nonce
    /// count one higher than the last), or `None` before the connection was challenged.
    pub(crate) fn authorization(
        &mut self,
        credentials: &DigestCredentials,
        uri: &str,
    ) -> Option<HeaderValue> {
        let challenge = self.challenge.as_mut()?;
        let context = AuthContext::new_post(
            credentials.username.as_str(),
            credentials.password.expose_secret(),
            uri,
            Option::<&[u8]>::None,
        );
        let Ok(answer) = challenge.respond(&context) else {
            self.challenge = None;
            return None;
        };
        let mut value = HeaderValue::from_str(&answer.to_header_string()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// Takes the challenge of a 401 answer received on this connection (the first
    /// `WWW-Authenticate: Digest` header that parses), replacing the previous one and
    /// starting its nonce count at zero. `false` when the answer has no usable challenge.
    pub(crate) fn accept_challenge(&mut self, headers: &HeaderMap) -> bool {
        self.challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.trim_start().starts_with("Digest"))
            .find_map(|v| digest_auth::parse(v).ok());
        self.challenge.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPEE_CHALLENGES: [&str; 2] = [
        r#"Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="wMIM2TqlIpBsv4/9MtSM0g==",stale=false"#,
        r#"Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="wMIM2TqlIpBsv4/9MtSM0g==",stale=false"#,
    ];

    fn challenge_headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn field<'a>(value: &'a str, name: &str) -> &'a str {
        let start = value.find(&format!("{name}=")).unwrap() + name.len() + 1;
        value[start..].split(',').next().unwrap().trim_matches('"')
    }

    #[test]
    fn nonce_count_starts_at_one_per_challenge_and_counts_each_answer() {
        let credentials = DigestCredentials::new("mmkt", "hunter2");
        let mut auth = ConnectionAuth::default();
        assert!(auth.authorization(&credentials, "/json_rpc").is_none());
        assert!(auth.accept_challenge(&challenge_headers(&EPEE_CHALLENGES)));
        let first = auth.authorization(&credentials, "/json_rpc").unwrap();
        let first = first.to_str().unwrap().to_owned();
        assert_eq!(field(&first, "nc"), "00000001");
        assert_eq!(field(&first, "algorithm"), "MD5");
        assert_eq!(field(&first, "nonce"), "wMIM2TqlIpBsv4/9MtSM0g==");
        assert_eq!(field(&first, "uri"), "/json_rpc");
        assert!(!first.contains("hunter2"));
        let second = auth.authorization(&credentials, "/json_rpc").unwrap();
        assert_eq!(field(second.to_str().unwrap(), "nc"), "00000002");
        assert!(second.is_sensitive());
        // A new challenge (the server threw the nonce away) restarts the count.
        assert!(auth.accept_challenge(&challenge_headers(&EPEE_CHALLENGES)));
        let renewed = auth.authorization(&credentials, "/json_rpc").unwrap();
        assert_eq!(field(renewed.to_str().unwrap(), "nc"), "00000001");
        assert!(!format!("{auth:?}").contains("wMIM2"));
    }

    #[test]
    fn answers_without_a_digest_challenge_are_refused() {
        let mut auth = ConnectionAuth::default();
        assert!(!auth.accept_challenge(&HeaderMap::new()));
        assert!(!auth.accept_challenge(&challenge_headers(&[r#"Basic realm="x""#])));
        assert!(!auth.accept_challenge(&challenge_headers(&["Digest qop=\"auth\""])));
        let credentials = DigestCredentials::new("mmkt", "hunter2");
        assert!(auth.authorization(&credentials, "/json_rpc").is_none());
    }
}
