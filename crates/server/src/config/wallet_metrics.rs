//! The wallet metrics setting: how often the wallet collector reads the open escrows' wallets
//! for `monero_wallet_*{role}`, `escrow_observed_piconero` and `escrow_balance_mismatch`.

use std::time::Duration;

use super::custody::parse_interval;
use super::{ConfigError, Environment};

/// Longest accepted `MMKT_WALLET_METRICS_INTERVAL_SECS`: one day.
pub const MAX_WALLET_METRICS_INTERVAL_SECS: u64 = 86_400;

/// Pause between two sweeps of the wallet collector (`MMKT_WALLET_METRICS_INTERVAL_SECS`,
/// 1-86400 s; default 60 s in development, 300 s in staging and production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletMetricsInterval(pub Duration);

impl WalletMetricsInterval {
    /// The interval of `env` overridden by `text` (whole seconds; `None` keeps the default).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for a value that is not a whole number of seconds in
    /// 1..=86400.
    pub fn parse(env: Environment, text: Option<&str>) -> Result<Self, ConfigError> {
        let default = match env {
            Environment::Development => 60,
            Environment::Staging | Environment::Production => 300,
        };
        let Some(text) = text else {
            return Ok(WalletMetricsInterval(Duration::from_secs(default)));
        };
        let interval = parse_interval(
            "MMKT_WALLET_METRICS_INTERVAL_SECS",
            text,
            MAX_WALLET_METRICS_INTERVAL_SECS,
        )?;
        Ok(WalletMetricsInterval(interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_bad_values() {
        let secs = |env, text| WalletMetricsInterval::parse(env, text).map(|i| i.0.as_secs());
        assert_eq!(secs(Environment::Development, None).unwrap(), 60);
        assert_eq!(secs(Environment::Staging, None).unwrap(), 300);
        assert_eq!(secs(Environment::Production, None).unwrap(), 300);
        assert_eq!(secs(Environment::Production, Some("1")).unwrap(), 1);
        assert_eq!(
            secs(Environment::Production, Some("86400")).unwrap(),
            86_400
        );
        for bad in ["0", "86401", "-5", "1.5", "1m", ""] {
            let err = secs(Environment::Development, Some(bad))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("MMKT_WALLET_METRICS_INTERVAL_SECS"),
                "{bad}: {err}"
            );
        }
    }
}
