//! The deployment environment (`MMKT_ENV`) and what it decides: the per-environment limits,
//! the cookie's `Secure` attribute and the log format.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::{ATOMIC_PER_XMR, ConfigError};

/// Deployment environment, from `MMKT_ENV` (`development`, `staging` or `production`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local work: relaxed limits, generated key file, human-readable logs.
    Development,
    /// Production-like: JSON logs, Secure cookies, a provisioned key file on its own mount and the
    /// wallet-rpc login required.
    Staging,
    /// Real money: strictest limits, every secret and wallet RPC URL required, at least
    /// [`PRODUCTION_MIN_CONFIRMATIONS`](super::PRODUCTION_MIN_CONFIRMATIONS).
    Production,
}

impl Environment {
    /// The lowercase name used in `MMKT_ENV` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// The per-environment limits table: max escrow 10/1/5 XMR, rate limit 1000/100/60 requests
    /// per minute per client, session TTL 24/8/2 h for development/staging/production.
    pub fn limits(self) -> Limits {
        match self {
            Self::Development => Limits {
                max_escrow_atomic: 10 * ATOMIC_PER_XMR,
                rate_limit_per_minute: 1000,
                session_ttl: Duration::from_secs(24 * 3600),
            },
            Self::Staging => Limits {
                max_escrow_atomic: ATOMIC_PER_XMR,
                rate_limit_per_minute: 100,
                session_ttl: Duration::from_secs(8 * 3600),
            },
            Self::Production => Limits {
                max_escrow_atomic: 5 * ATOMIC_PER_XMR,
                rate_limit_per_minute: 60,
                session_ttl: Duration::from_secs(2 * 3600),
            },
        }
    }

    /// Whether the session cookie carries the `Secure` attribute (staging and production).
    pub fn cookie_security(self) -> CookieSecurity {
        match self {
            Self::Development => CookieSecurity::PlainHttpAllowed,
            Self::Staging | Self::Production => CookieSecurity::SecureOnly,
        }
    }

    /// Log output format: JSON lines in staging and production, human-readable text in development.
    pub fn log_format(self) -> LogFormat {
        match self {
            Self::Development => LogFormat::Text,
            Self::Staging | Self::Production => LogFormat::Json,
        }
    }
}

impl FromStr for Environment {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" => Ok(Self::Production),
            other => Err(ConfigError::InvalidValue {
                name: "MMKT_ENV",
                message: format!("`{other}` is not one of development, staging, production"),
            }),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the session cookie is marked `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecurity {
    /// Cookie also sent over plain HTTP (development on loopback).
    PlainHttpAllowed,
    /// Cookie only sent over HTTPS (`Secure` attribute).
    SecureOnly,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line (for Loki/promtail).
    Json,
}

/// Per-environment limits (see [`Environment::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest escrow (order total) accepted, in atomic units.
    pub max_escrow_atomic: u64,
    /// Login and register requests allowed per client IP per minute.
    pub rate_limit_per_minute: u32,
    /// Session lifetime; also the cookie's `Max-Age`.
    pub session_ttl: Duration,
}

impl Limits {
    /// The escrow cap on listing prices and order totals ([`Limits::max_escrow_atomic`]).
    pub fn escrow_cap(&self) -> escrow_core::EscrowCap {
        escrow_core::EscrowCap::new(escrow_core::Amount::from_atomic(self.max_escrow_atomic))
    }
}
