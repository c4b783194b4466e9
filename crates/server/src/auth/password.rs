//! Passwords: a redacting newtype and argon2id hashing (OWASP parameters: m = 19 MiB, t = 2, p = 1).

use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use serde::Deserialize;

/// Shortest accepted password, in characters.
pub const MIN_CHARS: usize = 10;
/// Longest accepted password, in characters (at most 1 KiB of UTF-8: bounds the hashing cost).
/// Characters, not bytes, so the OpenAPI document can state it (`maxLength` counts characters).
pub const MAX_CHARS: usize = 256;

/// A plaintext password from a request. Debug prints `Password(<redacted>)`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password (CLI input).
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The plaintext. Only for hashing and verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks the length rules for a new password.
    ///
    /// # Errors
    /// A message saying which rule failed.
    pub fn check_new(&self) -> Result<(), String> {
        if self.0.chars().count() < MIN_CHARS {
            return Err(format!("must be at least {MIN_CHARS} characters"));
        }
        if self.0.chars().count() > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        Ok(())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hashes with argon2id and a random salt; returns the PHC string (`$argon2id$v=19$...`).
/// CPU-bound (tens of ms): call from `spawn_blocking`.
///
/// # Errors
/// argon2's error text (only on absurd inputs; lengths are checked first).
pub fn hash(password: &Password) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `stored`. A malformed stored hash never matches.
/// CPU-bound: call from `spawn_blocking`.
pub fn verify(password: &Password, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
}

/// Burns the same time as a real [`verify`] when the username does not exist, so response times do
/// not reveal which usernames are registered.
pub fn verify_dummy(password: &Password) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        hash(&Password::new("dummy-password-for-timing".into())).unwrap_or_default()
    });
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verify_and_redaction() {
        let p = Password::new("correct horse battery".into());
        let h = hash(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&p, &h));
        assert!(!verify(&Password::new("wrong password!".into()), &h));
        assert!(!verify(&p, "not a hash"));
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert!(Password::new("short".into()).check_new().is_err());
    }
}
