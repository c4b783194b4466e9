//! Failed password checks counted per username, in a sliding window, so guessing one account's
//! password from many addresses is held even when each address stays under its own rate limit.
//!
//! Two things keep an attacker from locking the real user out: the window is bounded (a held
//! username is free again at most one window after its last counted failure, and refused
//! attempts are not counted), and a client address that logged in to the account successfully
//! has a count of its own, so failures from elsewhere never hold it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::config::auth::AuthSettings;

/// Usernames tracked before entries with nothing recent in them are dropped (bounds memory under
/// a username-spraying attack).
const RETAIN_THRESHOLD: usize = 100_000;
/// Client addresses remembered per account as having logged in successfully.
const KNOWN_CLIENTS_PER_USER: usize = 4;
/// How long such an address stays known without another successful login (30 days).
const KNOWN_CLIENT_TTL: Duration = Duration::from_secs(30 * 86_400);

/// A username's failed password checks in the window, oldest first.
#[derive(Debug, Default)]
struct Failures(VecDeque<Instant>);

impl Failures {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.0.pop_front();
        }
    }
}

/// An address that logged in to the account, with its own failure count.
#[derive(Debug)]
struct Known {
    ip: IpAddr,
    seen: Instant,
    failures: Failures,
}

#[derive(Debug, Default)]
struct Entry {
    /// Failures from addresses that never logged in to this account.
    others: Failures,
    known: Vec<Known>,
}

impl Entry {
    /// The count that applies to a request from `ip`.
    fn bucket(&mut self, ip: IpAddr, now: Instant) -> &mut Failures {
        self.known
            .retain(|k| now.duration_since(k.seen) < KNOWN_CLIENT_TTL);
        match self.known.iter().position(|k| k.ip == ip) {
            Some(i) => &mut self.known[i].failures,
            None => &mut self.others,
        }
    }

    fn is_idle(&self) -> bool {
        self.others.0.is_empty() && self.known.is_empty()
    }
}

/// The per-username failed-login throttle ([`AuthSettings::failed_login_limit`] failures per
/// [`AuthSettings::failed_login_window`]). Usernames are compared case-insensitively, as the
/// accounts table does, and held whether or not the account exists.
#[derive(Debug)]
pub struct FailedLogins {
    limit: usize,
    window: Duration,
    entries: Mutex<HashMap<[u8; 16], Entry>>,
}

/// The username's key: a digest of its lowercase form (fixed size whatever the client sent).
fn key(username: &str) -> [u8; 16] {
    let digest = Sha256::digest(username.to_ascii_lowercase().as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

impl FailedLogins {
    /// A throttle with the limit and window of `settings`.
    pub fn new(settings: &AuthSettings) -> Self {
        FailedLogins {
            limit: usize::try_from(settings.failed_login_limit).unwrap_or(usize::MAX),
            window: settings.failed_login_window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<[u8; 16], Entry>) -> T) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut entries)
    }

    /// Whether a password check for `username` from `ip` may run now.
    ///
    /// # Errors
    /// The seconds (at least 1) until the oldest counted failure leaves the window, when the
    /// count that applies to `ip` has reached the limit.
    pub fn check(&self, username: &str, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let (limit, window) = (self.limit, self.window);
        self.with_entries(|entries| {
            let Some(entry) = entries.get_mut(&key(username)) else {
                return Ok(());
            };
            let failures = entry.bucket(ip, now);
            failures.prune(now, window);
            if failures.0.len() < limit {
                return Ok(());
            }
            let oldest = failures.0.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            let rounded_up = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(rounded_up.max(1))
        })
    }

    /// Counts one failed password check for `username` from `ip`.
    pub fn failed(&self, username: &str, ip: IpAddr) {
        let now = Instant::now();
        let window = self.window;
        self.with_entries(|entries| {
            if entries.len() > RETAIN_THRESHOLD {
                entries.retain(|_, e| {
                    e.others.prune(now, window);
                    e.known
                        .retain(|k| now.duration_since(k.seen) < KNOWN_CLIENT_TTL);
                    !e.is_idle()
                });
            }
            let failures = entries.entry(key(username)).or_default().bucket(ip, now);
            failures.prune(now, window);
            failures.0.push_back(now);
        });
    }

    /// A successful login of `username` from `ip`: that address's count starts over and the
    /// address is remembered as the account's (at most [`KNOWN_CLIENTS_PER_USER`], the most
    /// recent).
    pub fn succeeded(&self, username: &str, ip: IpAddr) {
        let now = Instant::now();
        self.with_entries(|entries| {
            let entry = entries.entry(key(username)).or_default();
            entry.known.retain(|k| k.ip != ip);
            entry.known.push(Known {
                ip,
                seen: now,
                failures: Failures::default(),
            });
            if entry.known.len() > KNOWN_CLIENTS_PER_USER {
                entry.known.remove(0);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::num::NonZeroUsize;

    use super::*;

    fn throttle(limit: u32, window_secs: u64) -> FailedLogins {
        FailedLogins::new(&AuthSettings {
            hash_concurrency: NonZeroUsize::MIN,
            hash_queue: 0,
            failed_login_limit: limit,
            failed_login_window: Duration::from_secs(window_secs),
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn failures_from_many_addresses_hold_the_username_only() {
        let t = throttle(3, 600);
        for n in 0..3 {
            assert_eq!(t.check("Alice", ip(n)), Ok(()));
            t.failed("alice", ip(n));
        }
        let wait = t.check("ALICE", ip(9)).unwrap_err();
        assert!((1..=600).contains(&wait), "{wait}");
        assert_eq!(t.check("bob", ip(9)), Ok(()), "other usernames are free");
    }

    #[test]
    fn an_address_that_logged_in_keeps_its_own_count() {
        let t = throttle(2, 600);
        t.succeeded("carol", ip(1));
        for n in 10..20 {
            t.failed("carol", ip(n));
        }
        assert!(t.check("carol", ip(30)).is_err(), "strangers are held");
        assert_eq!(
            t.check("carol", ip(1)),
            Ok(()),
            "the owner's address is not"
        );
        t.failed("carol", ip(1));
        t.failed("carol", ip(1));
        assert!(t.check("carol", ip(1)).is_err(), "its own failures count");
    }

    #[test]
    fn the_window_ends_the_hold() {
        let t = throttle(1, 1);
        t.failed("dave", ip(1));
        assert!(t.check("dave", ip(2)).is_err());
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(t.check("dave", ip(2)), Ok(()));
    }
}
