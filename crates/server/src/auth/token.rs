//! Session tokens: 256 random bits, sent as 64 hex chars in the session cookie ([`super::cookie`]), stored only as sha256.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A session token. Debug prints `SessionToken(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// 32 bytes from the OS CSPRNG, hex-encoded.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Accepts a cookie value only if it has the token shape (64 hex chars).
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(value.to_ascii_lowercase()))
    }

    /// The cookie value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// sha256 of the token text: the only form stored in the database.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_hash() {
        let t = SessionToken::generate();
        assert_eq!(t.expose().len(), 64);
        assert_eq!(SessionToken::parse(t.expose()), Some(t.clone()));
        assert_eq!(SessionToken::parse("abc"), None);
        assert_ne!(t.hash(), SessionToken::generate().hash());
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}
