//! The escrow runner lease settings (`MMKT_RUNNER_ID`, `MMKT_RUNNER_LEASE_TTL_SECS`).

use std::time::Duration;

use super::ConfigError;

/// Shortest accepted runner lease lifetime (`MMKT_RUNNER_LEASE_TTL_SECS`): renewal runs every
/// third of it, so at least once a second.
pub const MIN_RUNNER_LEASE_TTL_SECS: u64 = 3;
/// Longest accepted runner lease lifetime: a holder that dies keeps escrow jobs waiting that long.
pub const MAX_RUNNER_LEASE_TTL_SECS: u64 = 600;

/// The escrow runner lease: only the server holding it runs escrow jobs (docs/ESCROW.md, "Runner
/// lease").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    /// Holder id of this process in the lease table (`MMKT_RUNNER_ID`, 1-128 characters of
    /// `[A-Za-z0-9._:-]`); `None`: `<hostname>-<random UUID>`, chosen once per process.
    pub id: Option<String>,
    /// How long the lease lasts without renewal (`MMKT_RUNNER_LEASE_TTL_SECS`, 3-600 s, default
    /// 15 s); the holder renews it every third of that.
    pub lease_ttl: Duration,
}

impl RunnerSettings {
    /// Parses `MMKT_RUNNER_ID` and `MMKT_RUNNER_LEASE_TTL_SECS` (unset: generated id, 15 s).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for an id with other characters or over 128 of them, or a
    /// lifetime that is not an integer in 3..=600.
    pub fn parse(id: Option<String>, ttl_secs: Option<String>) -> Result<Self, ConfigError> {
        if let Some(id) = &id {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
            if id.len() > 128 || !id.chars().all(allowed) {
                return Err(ConfigError::InvalidValue {
                    name: "MMKT_RUNNER_ID",
                    message: "use 1-128 characters of A-Z a-z 0-9 . _ : - (or unset it for <hostname>-<uuid>)".into(),
                });
            }
        }
        let lease_ttl = match ttl_secs {
            None => Duration::from_secs(15),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (MIN_RUNNER_LEASE_TTL_SECS..=MAX_RUNNER_LEASE_TTL_SECS).contains(n))
                .map(Duration::from_secs)
                .ok_or(ConfigError::InvalidValue {
                    name: "MMKT_RUNNER_LEASE_TTL_SECS",
                    message: format!(
                        "`{v}` is not a whole number of seconds between {MIN_RUNNER_LEASE_TTL_SECS} and {MAX_RUNNER_LEASE_TTL_SECS}"
                    ),
                })?,
        };
        Ok(RunnerSettings { id, lease_ttl })
    }
}
