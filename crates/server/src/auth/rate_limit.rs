//! Per-client-IP rate limiting of login and register, and per-account rate limiting of order
//! placement (GCRA from the `governor` crate).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::ClientIpSource;
use crate::error::ApiError;

/// Keys kept before stale ones are dropped (bounds memory under an address-spraying attack).
const RETAIN_THRESHOLD: usize = 10_000;

/// Allows `per_minute` requests per client IP per minute, refilled evenly (a client may burst the
/// whole minute's allowance at once, then gets one more every 60/`per_minute` s).
#[derive(Debug)]
pub struct AuthRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    source: ClientIpSource,
}

impl AuthRateLimiter {
    /// A limiter of `per_minute` requests (0 is treated as 1) per client IP, taken from `source`.
    pub fn new(per_minute: u32, source: ClientIpSource) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            source,
        }
    }

    /// Counts one request from the client of `parts`.
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] with the seconds to wait.
    pub fn check(&self, parts: &Parts) -> Result<(), ApiError> {
        if self.limiter.len() > RETAIN_THRESHOLD {
            self.limiter.retain_recent();
        }
        let ip = client_ip(parts, self.source);
        self.limiter.check_key(&ip).map_err(rate_limited)
    }
}

/// The 429 answer for a refused request: the seconds until the next one is allowed (at least 1).
fn rate_limited(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// Allows `per_minute` requests per account (user id) per minute, refilled evenly: the order
/// rate limit (`MMKT_ORDERS_PER_MINUTE`).
#[derive(Debug)]
pub struct AccountRateLimiter {
    limiter: DefaultKeyedRateLimiter<i64>,
}

impl AccountRateLimiter {
    /// A limiter of `per_minute` requests (0 is treated as 1) per account.
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Counts one request of account `user_id`.
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] with the seconds to wait.
    pub fn check(&self, user_id: i64) -> Result<(), ApiError> {
        if self.limiter.len() > RETAIN_THRESHOLD {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&user_id).map_err(rate_limited)
    }
}

/// The client IP: `X-Real-IP` when configured and valid, else the TCP peer.
pub fn client_ip(parts: &Parts, source: ClientIpSource) -> IpAddr {
    if source == ClientIpSource::XRealIpHeader {
        let header = parts
            .headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        if let Some(ip) = header {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}
