//! The escrow-mode settings: which modes buyers may choose (`MMKT_ESCROW_MODES`) and how long a
//! party has for each non-custodial round (`MMKT_ESCROW_ROUND_TIMEOUT_SECS`).

use escrow_core::{AllowedModes, RoundTimeout};

use super::ConfigError;

/// Default `MMKT_ESCROW_ROUND_TIMEOUT_SECS`: one hour per round.
pub const DEFAULT_ROUND_TIMEOUT_SECS: u64 = 3600;
/// Longest accepted round timeout: seven days.
pub const MAX_ROUND_TIMEOUT_SECS: u64 = 604_800;

/// The escrow modes offered and the non-custodial round timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowModeSettings {
    /// Modes a buyer may choose (`MMKT_ESCROW_MODES`, comma list of `hosted`, `non_custodial`;
    /// default `hosted`).
    pub allowed: AllowedModes,
    /// Seconds each non-custodial round may take from its start
    /// (`MMKT_ESCROW_ROUND_TIMEOUT_SECS`, 1-604800; default [`DEFAULT_ROUND_TIMEOUT_SECS`]).
    pub round_timeout: RoundTimeout,
}

impl Default for EscrowModeSettings {
    fn default() -> Self {
        EscrowModeSettings {
            allowed: AllowedModes::HOSTED_ONLY,
            round_timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> RoundTimeout {
    RoundTimeout::from_secs(DEFAULT_ROUND_TIMEOUT_SECS).unwrap_or_else(|_| unreachable!())
}

impl EscrowModeSettings {
    /// The settings from the two variables' text (`None`: the default).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the variable: an empty or unknown mode list, or a
    /// timeout that is not a whole number of seconds in 1..=604800.
    pub fn parse(modes: Option<&str>, timeout_secs: Option<&str>) -> Result<Self, ConfigError> {
        let allowed = match modes {
            Some(text) => text
                .parse::<AllowedModes>()
                .map_err(|e| ConfigError::InvalidValue {
                    name: "MMKT_ESCROW_MODES",
                    message: e.to_string(),
                })?,
            None => AllowedModes::HOSTED_ONLY,
        };
        let round_timeout = match timeout_secs {
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_ROUND_TIMEOUT_SECS)
                .and_then(|n| RoundTimeout::from_secs(n).ok())
                .ok_or_else(|| ConfigError::InvalidValue {
                    name: "MMKT_ESCROW_ROUND_TIMEOUT_SECS",
                    message: format!(
                        "`{text}` is not a whole number of seconds between 1 and {MAX_ROUND_TIMEOUT_SECS}"
                    ),
                })?,
            None => default_timeout(),
        };
        Ok(EscrowModeSettings {
            allowed,
            round_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use escrow_core::EscrowMode;

    use super::*;

    #[test]
    fn defaults_overrides_and_bad_values() {
        let default = EscrowModeSettings::parse(None, None).unwrap();
        assert_eq!(default, EscrowModeSettings::default());
        assert!(!default.allowed.contains(EscrowMode::NonCustodial));
        assert_eq!(default.round_timeout.as_secs(), 3600);
        let both = EscrowModeSettings::parse(Some("hosted, non_custodial"), Some("60")).unwrap();
        assert_eq!(both.allowed, AllowedModes::ALL);
        assert_eq!(both.round_timeout.as_secs(), 60);
        for (modes, timeout, name) in [
            (Some(""), None, "MMKT_ESCROW_MODES"),
            (Some("custodial"), None, "MMKT_ESCROW_MODES"),
            (None, Some("0"), "MMKT_ESCROW_ROUND_TIMEOUT_SECS"),
            (None, Some("604801"), "MMKT_ESCROW_ROUND_TIMEOUT_SECS"),
            (None, Some("1h"), "MMKT_ESCROW_ROUND_TIMEOUT_SECS"),
        ] {
            let err = EscrowModeSettings::parse(modes, timeout)
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{modes:?} {timeout:?}: {err}");
        }
    }
}
