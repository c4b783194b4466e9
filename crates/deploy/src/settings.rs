//! Per-environment deploy settings, read from the environment's variables (the env file
//! `deploy/env/<env>.env`, overridden by the process environment), with defaults.

use mmkt_stack::interpolate::Variables;

use crate::error::DeployError;

/// How long green may take to answer `/ready` with 200, in seconds (`MMKT_DEPLOY_READY_TIMEOUT_SECS`).
pub const DEFAULT_READY_TIMEOUT_SECS: u64 = 120;
/// How long green's 5xx rate is watched after the switch, in seconds (`MMKT_DEPLOY_WATCH_SECS`).
pub const DEFAULT_WATCH_SECS: u64 = 60;
/// How long blue keeps running after the watch, in seconds (`MMKT_DEPLOY_DRAIN_SECS`).
pub const DEFAULT_DRAIN_SECS: u64 = 30;
/// Breach threshold: percent of green's requests answered 5xx (`MMKT_DEPLOY_MAX_5XX_PERCENT`).
pub const DEFAULT_MAX_5XX_PERCENT: u64 = 5;
/// Breach floor: fewer 5xx than this never breach (`MMKT_DEPLOY_MIN_5XX`).
pub const DEFAULT_MIN_5XX: u64 = 3;
/// How long the runner lease handover may take, in seconds (`MMKT_DEPLOY_LEASE_TIMEOUT_SECS`).
pub const DEFAULT_LEASE_TIMEOUT_SECS: u64 = 90;

/// The timings and thresholds of one deploy or rollback (all durations in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeploySettings {
    /// Seconds green may take to answer `/ready` with 200.
    pub ready_timeout_secs: u64,
    /// Seconds green's `/metrics` is watched after the switch (0: no watch).
    pub watch_secs: u64,
    /// Seconds blue keeps running after the watch before it is stopped.
    pub drain_secs: u64,
    /// A watch breaches when more than this percent of green's requests answered 5xx...
    pub max_5xx_percent: u64,
    /// ...and at least this many did.
    pub min_5xx: u64,
    /// Seconds the runner lease handover (release on one side, acquire on the other) may take.
    pub lease_timeout_secs: u64,
}

impl Default for DeploySettings {
    fn default() -> Self {
        DeploySettings {
            ready_timeout_secs: DEFAULT_READY_TIMEOUT_SECS,
            watch_secs: DEFAULT_WATCH_SECS,
            drain_secs: DEFAULT_DRAIN_SECS,
            max_5xx_percent: DEFAULT_MAX_5XX_PERCENT,
            min_5xx: DEFAULT_MIN_5XX,
            lease_timeout_secs: DEFAULT_LEASE_TIMEOUT_SECS,
        }
    }
}

impl DeploySettings {
    /// Reads the `MMKT_DEPLOY_*` variables; unset ones take their defaults.
    ///
    /// # Errors
    /// [`DeployError::Invalid`] naming a variable that is not a whole number (or a percent
    /// above 100).
    pub fn from_variables(vars: &Variables) -> Result<Self, DeployError> {
        let d = DeploySettings::default();
        let settings = DeploySettings {
            ready_timeout_secs: number(
                vars,
                "MMKT_DEPLOY_READY_TIMEOUT_SECS",
                d.ready_timeout_secs,
            )?,
            watch_secs: number(vars, "MMKT_DEPLOY_WATCH_SECS", d.watch_secs)?,
            drain_secs: number(vars, "MMKT_DEPLOY_DRAIN_SECS", d.drain_secs)?,
            max_5xx_percent: number(vars, "MMKT_DEPLOY_MAX_5XX_PERCENT", d.max_5xx_percent)?,
            min_5xx: number(vars, "MMKT_DEPLOY_MIN_5XX", d.min_5xx)?,
            lease_timeout_secs: number(
                vars,
                "MMKT_DEPLOY_LEASE_TIMEOUT_SECS",
                d.lease_timeout_secs,
            )?,
        };
        if settings.max_5xx_percent > 100 {
            return Err(DeployError::Invalid(format!(
                "MMKT_DEPLOY_MAX_5XX_PERCENT is {}: give a percent from 0 to 100",
                settings.max_5xx_percent
            )));
        }
        Ok(settings)
    }
}

fn number(vars: &Variables, name: &str, default: u64) -> Result<u64, DeployError> {
    match vars.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            DeployError::Invalid(format!(
                "{name} is {v:?}: give a whole number of seconds (or a count)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        let map = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Variables::from_map(map.collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn settings_default_and_parse_and_refuse_bad_values() {
        assert_eq!(
            DeploySettings::from_variables(&vars(&[])).unwrap(),
            DeploySettings::default()
        );
        let s = DeploySettings::from_variables(&vars(&[
            ("MMKT_DEPLOY_WATCH_SECS", "2"),
            ("MMKT_DEPLOY_DRAIN_SECS", "0"),
        ]))
        .unwrap();
        assert_eq!((s.watch_secs, s.drain_secs), (2, 0));
        let err =
            DeploySettings::from_variables(&vars(&[("MMKT_DEPLOY_READY_TIMEOUT_SECS", "2m")]))
                .unwrap_err();
        assert!(
            err.to_string().contains("MMKT_DEPLOY_READY_TIMEOUT_SECS"),
            "{err}"
        );
        let err = DeploySettings::from_variables(&vars(&[("MMKT_DEPLOY_MAX_5XX_PERCENT", "101")]))
            .unwrap_err();
        assert!(err.to_string().contains("0 to 100"), "{err}");
    }
}
