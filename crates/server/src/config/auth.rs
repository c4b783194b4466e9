//! Password-hashing and failed-login settings: how many argon2id hashes run at once, how many
//! requests may wait for one, and the per-username failure window.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use super::ConfigError;

/// Default requests allowed to wait for a hashing slot, per slot.
pub const DEFAULT_QUEUE_PER_SLOT: usize = 32;
/// Default failed logins of one username within [`DEFAULT_FAILED_LOGIN_WINDOW_SECS`] before that
/// username is held.
pub const DEFAULT_FAILED_LOGIN_LIMIT: u32 = 10;
/// Default window of the per-username failed-login count, seconds (15 min).
pub const DEFAULT_FAILED_LOGIN_WINDOW_SECS: u64 = 900;
/// Longest accepted failed-login window, seconds (1 day): a lockout must end.
pub const MAX_FAILED_LOGIN_WINDOW_SECS: u64 = 86_400;

/// How password checks are bounded (docs/API.md, "Logins under load").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// argon2id hashes (19 MiB each) computed at the same time
    /// (`MMKT_AUTH_HASH_CONCURRENCY`; default: the CPUs this process may use, cgroup quota
    /// included).
    pub hash_concurrency: NonZeroUsize,
    /// Requests allowed to wait for a hashing slot; past that, 429 `login_queue_full`
    /// (`MMKT_AUTH_HASH_QUEUE`; default [`DEFAULT_QUEUE_PER_SLOT`] per slot, 0 allowed).
    pub hash_queue: usize,
    /// Failed password checks of one username within `failed_login_window` before further
    /// attempts for it get 429 `account_throttled` (`MMKT_AUTH_FAILED_LOGIN_LIMIT`, default
    /// [`DEFAULT_FAILED_LOGIN_LIMIT`]).
    pub failed_login_limit: u32,
    /// The sliding window of that count (`MMKT_AUTH_FAILED_LOGIN_WINDOW_SECS`, 1 s to
    /// [`MAX_FAILED_LOGIN_WINDOW_SECS`], default [`DEFAULT_FAILED_LOGIN_WINDOW_SECS`]): a held
    /// username is free again at most this long after its last counted failure.
    pub failed_login_window: Duration,
}

impl AuthSettings {
    /// Reads the `MMKT_AUTH_*` variables from `vars` (unset or empty: the defaults).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the variable when a value is not a whole number in
    /// its range (concurrency and limit at least 1, window 1..=86400 s).
    pub fn parse(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        let hash_concurrency = match number(vars, "MMKT_AUTH_HASH_CONCURRENCY", 1..=1024)? {
            Some(n) => NonZeroUsize::new(n as usize).unwrap_or(NonZeroUsize::MIN),
            None => cpus,
        };
        let hash_queue = number(vars, "MMKT_AUTH_HASH_QUEUE", 0..=1_000_000)?.map_or(
            hash_concurrency
                .get()
                .saturating_mul(DEFAULT_QUEUE_PER_SLOT),
            |n| n as usize,
        );
        let failed_login_limit = number(vars, "MMKT_AUTH_FAILED_LOGIN_LIMIT", 1..=1_000_000)?
            .map_or(DEFAULT_FAILED_LOGIN_LIMIT, |n| n as u32);
        let window = number(
            vars,
            "MMKT_AUTH_FAILED_LOGIN_WINDOW_SECS",
            1..=MAX_FAILED_LOGIN_WINDOW_SECS,
        )?
        .unwrap_or(DEFAULT_FAILED_LOGIN_WINDOW_SECS);
        Ok(AuthSettings {
            hash_concurrency,
            hash_queue,
            failed_login_limit,
            failed_login_window: Duration::from_secs(window),
        })
    }
}

/// The variable `name` as a whole number in `range`, `None` when unset or empty.
fn number(
    vars: &BTreeMap<String, String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = vars.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| ConfigError::InvalidValue {
            name,
            message: format!(
                "`{text}` is not a whole number between {} and {}; unset it for the default",
                range.start(),
                range.end()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vars;

    #[test]
    fn defaults_follow_the_machine() {
        let settings = AuthSettings::parse(&BTreeMap::new()).unwrap();
        let cpus = std::thread::available_parallelism().unwrap();
        assert_eq!(settings.hash_concurrency, cpus);
        assert_eq!(settings.hash_queue, cpus.get() * DEFAULT_QUEUE_PER_SLOT);
        assert_eq!(settings.failed_login_limit, DEFAULT_FAILED_LOGIN_LIMIT);
        assert_eq!(settings.failed_login_window, Duration::from_secs(900));
    }

    #[test]
    fn explicit_values_and_refusals() {
        let settings = AuthSettings::parse(&vars(&[
            ("MMKT_AUTH_HASH_CONCURRENCY", "3"),
            ("MMKT_AUTH_HASH_QUEUE", "0"),
            ("MMKT_AUTH_FAILED_LOGIN_LIMIT", "4"),
            ("MMKT_AUTH_FAILED_LOGIN_WINDOW_SECS", "60"),
        ]))
        .unwrap();
        assert_eq!(settings.hash_concurrency.get(), 3);
        assert_eq!(settings.hash_queue, 0);
        assert_eq!(settings.failed_login_limit, 4);
        assert_eq!(settings.failed_login_window, Duration::from_secs(60));
        for (name, bad) in [
            ("MMKT_AUTH_HASH_CONCURRENCY", "0"),
            ("MMKT_AUTH_HASH_QUEUE", "-1"),
            ("MMKT_AUTH_FAILED_LOGIN_LIMIT", "many"),
            ("MMKT_AUTH_FAILED_LOGIN_WINDOW_SECS", "86401"),
        ] {
            let err = AuthSettings::parse(&vars(&[(name, bad)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
